package api_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sami-netops/sami/pkg/api"
	"github.com/sami-netops/sami/pkg/topology"
	"go.yaml.in/yaml/v3"
)

// TestDocsCoverTheAPI keeps docs/openapi.yaml and docs/api.md in step with
// the code: every route is documented and every documented route exists;
// every problem name has its section (a problem's type URI points there).
func TestDocsCoverTheAPI(t *testing.T) {
	s := newSite(t)
	e := s.start(t, envConfig{opts: []api.Option{api.WithAnnounce(topology.NewDirectory(), "announce-token-0123456789")}})
	raw, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                               `yaml:"openapi"`
		Paths   map[string]map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q, want 3.1", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	code := e.srv.Patterns()
	for _, p := range code {
		if !slices.Contains(documented, p) {
			t.Errorf("route %s is not in docs/openapi.yaml", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(code, p) {
			t.Errorf("docs/openapi.yaml documents %s, which the server does not serve", p)
		}
	}
	md, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{api.ProblemBadRequest, api.ProblemUnauthorized, api.ProblemForbidden, api.ProblemNotFound, api.ProblemBusy,
		api.ProblemConflict, api.ProblemTooLarge, api.ProblemMediaType, api.ProblemUnknownPlace, api.ProblemNothingToMove, api.ProblemRefused,
		api.ProblemUnavailable, api.ProblemInternal, api.ProblemDryRunFailed} {
		if !strings.Contains(string(md), "\n### "+name+"\n") {
			t.Errorf("docs/api.md has no section %q for the problem type", "### "+name)
		}
	}
}
