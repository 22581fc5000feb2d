package ietfnat

import (
	_ "embed"
	"sync"

	"github.com/sami-netops/sami/pkg/mapping"
)

// MappingFile is the declarative mapping's path in the repository (for
// messages).
const MappingFile = "plugins/ietfnat/mapping.yaml"

//go:embed mapping.yaml
var mappingYAML []byte

// Declarative is the driver's conversion written in the mapping format
// (mapping.yaml), parsed once. The driver converts in Go (Mapping); this
// is what sami validate checks and the capability report
// (mapping.Survives) compares, so ietf-nat is treated like other vendors.
var Declarative = sync.OnceValue(func() *mapping.Mapping { return mapping.MustParse(MappingFile, mappingYAML) })

// MappingYAML returns the mapping file as embedded.
func MappingYAML() []byte { return append([]byte(nil), mappingYAML...) }
