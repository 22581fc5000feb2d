// Package samiid holds the identity mapping of the sami model ("sami"):
// every canonical leaf maps to itself. The sami driver (plugins/sami) does
// not need it to convert anything; it exists so the capability report
// (mapping.Survives) and sami validate treat sami like any other vendor.
package samiid

import (
	_ "embed"
	"sync"

	"github.com/sami-netops/sami/pkg/mapping"
)

// Name is the mapping name.
const Name = "sami"

//go:embed mapping.yaml
var mappingYAML []byte

// MappingFile is the mapping's path in the repository (for messages).
const MappingFile = "plugins/samiid/mapping.yaml"

// Mapping is the identity mapping, parsed once.
var Mapping = sync.OnceValue(func() *mapping.Mapping { return mapping.MustParse(MappingFile, mappingYAML) })
