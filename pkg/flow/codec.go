package flow

import (
	"fmt"

	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// Modules returns the modules of the sami-flow-state schema, with their
// namespaces, for the XML codec.
func Modules() []yangxml.Module {
	out := make([]yangxml.Module, 0, len(flowstate.YANGModules))
	for _, m := range flowstate.YANGModules {
		out = append(out, yangxml.Module{Name: m.Name, Prefix: m.Prefix, Namespace: m.Namespace})
	}
	return out
}

// NewCodec compiles the XML codec for the sami-flow-state model. The codec
// is immutable and safe for concurrent use; build it once and share it.
func NewCodec() (*yangxml.Codec, error) {
	schema, err := flowstate.Schema()
	if err != nil {
		return nil, fmt.Errorf("flow: load generated schema: %w", err)
	}
	return yangxml.New(schema, Modules())
}

// SessionsPath is the schema path of the session list, for
// yangxml.WithListHandler and Codec.NewListEncoder.
const SessionsPath = "/flow-state/sessions/session"

// ModuleCapabilities are the NETCONF capability URIs announcing the model's
// modules (namespace?module=NAME&revision=DATE), for a server's hello.
func ModuleCapabilities() []string {
	var out []string
	for _, m := range flowstate.YANGModules {
		out = append(out, m.Namespace+"?module="+m.Name+"&revision="+m.Revision)
	}
	return out
}
