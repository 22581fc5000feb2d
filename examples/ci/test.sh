#!/usr/bin/env bash
# Runs validate-mappings.sh against sami's own plugins, laid out as a vendor
# mapping repository in a temporary folder, with the real vendor modules of
# $SAMI_VENDOR_YANG (default /work/shared/vendor-yang). Then breaks one
# mapping and expects exit code 7.
set -euo pipefail
cd "$(dirname "$0")/../.."
V=${SAMI_VENDOR_YANG:-/work/shared/vendor-yang}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/sami" ./cmd/sami
mkdir -p "$tmp/repo/mappings" "$tmp/repo/samples/junos-srx" "$tmp/repo/samples/cisco-iosxe-nat"
ln -s "$V" "$tmp/repo/yang"
cp plugins/junos/mapping.yaml "$tmp/repo/mappings/junos-srx.yaml"
cp plugins/ciscoiosxe/mapping.yaml "$tmp/repo/mappings/cisco-iosxe-nat.yaml"
cp plugins/ietfnat/mapping.yaml "$tmp/repo/mappings/ietf-nat.yaml"
cp "$V"/juniper/samples/*.xml "$tmp/repo/samples/junos-srx/"
cp plugins/ciscoiosxe/testdata/nat-data-sample.xml "$tmp/repo/samples/cisco-iosxe-nat/"
cd "$tmp/repo"
SAMI="$tmp/sami" JUNIT="$tmp/report.xml" bash "$OLDPWD/examples/ci/validate-mappings.sh"
grep -q '<testsuites tests="[0-9]*" failures="0"' "$tmp/report.xml"
sed -i 's/path: source-address}/path: source-adress}/' mappings/junos-srx.yaml
rc=0
SAMI="$tmp/sami" bash "$OLDPWD/examples/ci/validate-mappings.sh" >/dev/null || rc=$?
[ "$rc" = 7 ] || { echo "a broken mapping gave exit $rc, want 7" >&2; exit 1; }
echo "examples/ci: ok"
