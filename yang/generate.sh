#!/bin/sh
# Generates the Go structs for the YANG modules in this directory with ygot.
# Run from generated/ (go generate ./generated/... does that). The output must
# be byte-for-byte reproducible on any machine, so machine-specific paths that
# ygot writes into the header (module cache, tool binary) are normalized.
set -eu
YGOT_DIR=$(go list -m -f '{{.Dir}}' github.com/openconfig/ygot)
YGOT_VER=$(go list -m -f '{{.Version}}' github.com/openconfig/ygot)
# RFC 6991 ietf-inet-types / ietf-yang-types, as shipped in the ygot module.
IETF="$YGOT_DIR/demo/getting_started/yang"
OUT=flowstate/flowstate.go
mkdir -p flowstate
go tool generator \
  -path="../yang,$IETF" \
  -output_file="$OUT" \
  -package_name=flowstate \
  -generate_fakeroot -fakeroot_name=device \
  -compress_paths=false \
  -exclude_modules=ietf-inet-types,ietf-yang-types \
  -generate_getters -generate_leaf_getters -generate_append -generate_delete \
  -generate_simple_unions -generate_populate_defaults \
  -yangpresence -shorten_enum_leaf_names -typedef_enum_with_defmod \
  -include_model_data \
  ../yang/sami-flow-state.yang
sed -i \
  -e "s#by [^ ]*/genutil/names.go#by ygot $YGOT_VER generator#" \
  -e "s#$IETF/\.\.\.#ietf-inet-types, ietf-yang-types (RFC 6991) from github.com/openconfig/ygot@$YGOT_VER/demo/getting_started/yang#" \
  "$OUT"
gofmt -s -w "$OUT"
go run ../pkg/yangschema/internal/genmodules -package flowstate -o flowstate/modules.go \
  -path "../yang,$IETF" ../yang/sami-flow-state.yang
