#!/bin/sh
# trigger.sh ENDPOINT FROM TO: the webhook in a few lines of shell (curl only).
# Posts the trigger to sami serve, prints the migration's events as they come,
# exits 0 when it ended done, 1 otherwise.
#   SAMI_URL=http://127.0.0.1:8830 SAMI_TOKEN=... ./trigger.sh 10.1.0.5 rack1 rack7
set -eu
[ $# -eq 3 ] || { echo "usage: $0 ENDPOINT FROM TO" >&2; exit 2; }
url=${SAMI_URL:-http://127.0.0.1:8830}
auth="Authorization: Bearer ${SAMI_TOKEN:?set SAMI_TOKEN}"
case "$1$2$3" in *[\"\\]*) echo "$0: quotes and backslashes are not valid here" >&2; exit 2;; esac

answer=$(curl -sS -H "$auth" -H 'Content-Type: application/json' -w '\n%{http_code}' \
  -d "{\"endpoints\":[\"$1\"],\"from\":\"$2\",\"to\":\"$3\"}" "$url/v1/migrations")
code=$(printf '%s\n' "$answer" | tail -n 1)
if [ "$code" != 202 ]; then
  printf '%s\n' "$answer" | sed '$d' >&2   # the problem details say what was wrong
  exit 1
fi
id=$(printf '%s\n' "$answer" | sed -n 's/^  "id": "\(.*\)",$/\1/p')
echo "migration $id"

# Follow the server-sent events to the end event.
status=$(curl -sSN -H "$auth" "$url/v1/migrations/$id/events" | while IFS= read -r line; do
  case $line in
    "data: "*'"type":"end"'*)
      printf '%s\n' "$line" | sed 's/^data: //' | cut -c1-200 >&2
      printf '%s\n' "$line" | sed -n 's/.*"type":"end","status":"\([a-z-]*\)".*/\1/p'
      break ;;
    "data: "*) printf '%s\n' "${line#data: }" >&2 ;;
  esac
done)
echo "status $status"
[ "$status" = done ]
