#!/usr/bin/env bash
# Validates every vendor mapping of a mapping repository with `sami validate`.
#
# Layout it expects (adapt the variables):
#   mappings/*.yaml            the mapping files (docs/plugins.md in the sami repository)
#   yang/                      the vendor modules and their imports (one folder per vendor is fine)
#   samples/<mapping>/*.{xml,json}   sample replies, converted with the mapping of that name
#
# Exit code: 0 all mappings valid, 7 a mapping is wrong, 8 the modules cannot be
# loaded, 2 usage. With JUNIT=report.xml the JUnit report is written there too.
set -euo pipefail

SAMI=${SAMI:-sami}
MAPPINGS=${MAPPINGS:-mappings}
YANG=${YANG:-yang}
SAMPLES=${SAMPLES:-samples}

args=()
while IFS= read -r -d '' dir; do
	args+=(--yang-path "$dir")
done < <(find -L "$YANG" -type f -name '*.yang' -printf '%h\0' | sort -zu)
[ ${#args[@]} -gt 0 ] || { echo "no .yang files under $YANG" >&2; exit 2; }

files=()
for m in "$MAPPINGS"/*.yaml; do
	files+=("$m")
	name=$(sed -n 's/^mapping:[[:space:]]*//p' "$m" | head -1)
	for s in "$SAMPLES/$name"/*.xml "$SAMPLES/$name"/*.json; do
		[ -e "$s" ] && args+=(--sample "$name=$s")
	done
done
[ ${#files[@]} -gt 0 ] || { echo "no mappings under $MAPPINGS" >&2; exit 2; }

if [ -n "${JUNIT:-}" ]; then
	rc=0
	"$SAMI" validate -o junit "${args[@]}" "${files[@]}" >"$JUNIT" || rc=$?
	# show the human report too
	"$SAMI" validate "${args[@]}" "${files[@]}" || true
	exit $rc
fi
exec "$SAMI" validate "${args[@]}" "${files[@]}"
