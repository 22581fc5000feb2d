// Package generated holds Go code generated from the YANG modules in ../yang.
//
// Everything below this directory except this file is produced by
// `make generate` (go generate ./generated/...) and checked in; CI regenerates
// it and fails on any difference. Never edit the generated files by hand:
// change the YANG module and regenerate.
package generated

//go:generate sh ../yang/generate.sh
