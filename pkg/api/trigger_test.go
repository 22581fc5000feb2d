package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/api"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/orchestrator"
	"github.com/sami-netops/sami/pkg/topology"
	"golang.org/x/crypto/ssh"
)

func TestBadTriggers(t *testing.T) {
	s := newSite(t)
	e := s.start(t, envConfig{})
	tests := []struct {
		name        string
		body        string
		query       string
		contentType string
		status      int
		problem     string
		field       string
		detail      string
	}{
		{"bad JSON", `{"endpoints": ["10.1.0.5",}`, "", "", 400, api.ProblemBadRequest, "", "bad JSON at byte"},
		{"truncated JSON", `{"endpoints": ["10.1.0.5"]`, "", "", 400, api.ProblemBadRequest, "", "ends in the middle"},
		{"empty body", ``, "", "", 400, api.ProblemBadRequest, "", "empty body"},
		{"not an object", `["10.1.0.5"]`, "", "", 400, api.ProblemBadRequest, "", "must be a JSON object"},
		{"two objects", `{"endpoints":["10.1.0.5"],"from":"s1","to":"s2"} {}`, "", "", 400, api.ProblemBadRequest, "", "data after the trigger"},
		{"unknown field", `{"endpoints":["10.1.0.5"],"from":"s1","to":"s2","fromm":"s1"}`, "", "", 400, api.ProblemBadRequest, "fromm", "unknown field"},
		{"requester in the body", `{"endpoints":["10.1.0.5"],"from":"s1","to":"s2","requester":"root"}`, "", "", 400, api.ProblemBadRequest, "requester", "authenticated identity"},
		{"wrong type", `{"endpoints":"10.1.0.5","from":"s1","to":"s2"}`, "", "", 400, api.ProblemBadRequest, "endpoints", "want an array"},
		{"no endpoint", `{"from":"s1","to":"s2"}`, "", "", 400, api.ProblemBadRequest, "endpoints", "required"},
		{"bad endpoint address", `{"endpoints":["10.1.0.5","10.1.0.300"],"from":"s1","to":"s2"}`, "", "", 400, api.ProblemBadRequest, "endpoints[1]", "not an IP address"},
		{"empty id endpoint", `{"endpoints":["id:"],"from":"s1","to":"s2"}`, "", "", 400, api.ProblemBadRequest, "endpoints[0]", "empty id"},
		{"no from", `{"endpoints":["10.1.0.5"],"to":"s2"}`, "", "", 400, api.ProblemBadRequest, "from", "required"},
		{"bad kind", `{"endpoints":["10.1.0.5"],"from":"s1","to":"s2","kind":"fast"}`, "", "", 400, api.ProblemBadRequest, "kind", `"fast" is not a kind`},
		{"bad confirm timeout", `{"endpoints":["10.1.0.5"],"from":"s1","to":"s2","confirm-timeout":"90"}`, "", "", 400, api.ProblemBadRequest, "confirm-timeout", "not a duration"},
		{"confirm timeout too short", `{"endpoints":["10.1.0.5"],"from":"s1","to":"s2","confirm-timeout":"10ms"}`, "", "", 400, api.ProblemBadRequest, "confirm-timeout", "out of range"},
		{"bad id", `{"id":"a b","endpoints":["10.1.0.5"],"from":"s1","to":"s2"}`, "", "", 400, api.ProblemBadRequest, "id", "holds"},
		{"bad wait", `{"endpoints":["10.1.0.5"],"from":"s1","to":"s2"}`, "?wait=maybe", "", 400, api.ProblemBadRequest, "wait", "true or false"},
		{"unknown from", `{"endpoints":["10.1.0.5"],"from":"rack9","to":"s2"}`, "", "", 422, api.ProblemUnknownPlace, "from", `location "rack9" is not in the inventory`},
		{"unknown to", `{"endpoints":["10.1.0.5"],"from":"s1","to":"nowhere"}`, "", "", 422, api.ProblemUnknownPlace, "to", `"nowhere"`},
		{"nothing to move", `{"endpoints":["10.1.0.5"],"from":"s1","to":"s1"}`, "", "", 422, api.ProblemNothingToMove, "to", "nothing to move"},
		{"not JSON", `endpoints=10.1.0.5`, "", "application/x-www-form-urlencoded", 415, api.ProblemMediaType, "", "application/json"},
		{"too large", `{"endpoints":["` + strings.Repeat("1", api.MaxTriggerBytes) + `"]}`, "", "", 413, api.ProblemTooLarge, "", "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := "application/json"
			if tc.contentType != "" {
				ct = tc.contentType
			}
			var p api.Problem
			st := e.call("POST", "/v1/migrations"+tc.query, tc.body, &p, "Content-Type", ct)
			if st != tc.status || p.Status != tc.status || p.Name() != tc.problem || p.Field != tc.field || !strings.Contains(p.Detail, tc.detail) {
				t.Fatalf("got %d %+v\nwant %d %s field %q detail ~ %q", st, p, tc.status, tc.problem, tc.field, tc.detail)
			}
			if p.Title == "" || p.Instance != "/v1/migrations" {
				t.Errorf("problem lacks title or instance: %+v", p)
			}
		})
	}
	t.Run("unknown migration", func(t *testing.T) {
		var p api.Problem
		if st := e.call("GET", "/v1/migrations/01NOPE", nil, &p); st != 404 || p.Name() != api.ProblemNotFound || !strings.Contains(p.Detail, "01NOPE") {
			t.Errorf("%d %+v", st, p)
		}
		if st := e.call("GET", "/v1/migrations/01NOPE/events", nil, &p); st != 404 {
			t.Errorf("events of an unknown migration: %d", st)
		}
		if st := e.call("GET", "/v2/whatever", nil, &p); st != 404 || p.Name() != api.ProblemNotFound {
			t.Errorf("unknown path: %d %+v", st, p)
		}
	})
	t.Run("a retried trigger with an id runs once", func(t *testing.T) {
		s.fill(t, "fw1", "10.1.0.8", 2)
		body := map[string]any{"id": "vm-42-move-7", "endpoints": []string{"10.1.0.8"}, "from": "s1", "to": "s2"}
		if st, m, p := e.trigger(body, ""); st != http.StatusAccepted || m.ID != "vm-42-move-7" {
			t.Fatalf("first: %d %+v", st, p)
		}
		st, _, p := e.trigger(body, "")
		if st != http.StatusConflict || p.Name() != api.ProblemConflict || p.Migration != "vm-42-move-7" {
			t.Errorf("retry: %d %+v", st, p)
		}
		e.wait("vm-42-move-7")
	})
	t.Run("list filters", func(t *testing.T) {
		var p api.Problem
		if st := e.call("GET", "/v1/migrations?status=weird", nil, &p); st != 400 || p.Field != "status" {
			t.Errorf("%d %+v", st, p)
		}
		if st := e.call("GET", "/v1/migrations?limit=0", nil, &p); st != 400 || p.Field != "limit" {
			t.Errorf("%d %+v", st, p)
		}
	})
}

func TestParseTrigger(t *testing.T) {
	tr, err := api.ParseTrigger([]byte(`{"endpoints":["10.1.0.5","id:vm-42","2001:db8::5|vm-42"],"from":"a","to":"b","kind":"precopy",
		"partial":true,"strip-unsupported":true,"keep-source":true,"confirm-timeout":"90s"}`))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Kind != migrate.PreCopy || len(tr.Endpoints) != 3 || tr.Endpoints[1].ID != "vm-42" || !tr.Endpoints[2].Address.Is6() ||
		!tr.Partial || !tr.StripUnsupported || !tr.KeepSource || tr.ConfirmTimeout != 90*time.Second || tr.From != "a" || tr.To != "b" {
		t.Errorf("parsed %+v", tr)
	}
	_, err = api.ParseTrigger([]byte(`{"endpoints":[]}`))
	var te *api.TriggerError
	if !errors.As(err, &te) || te.Field != "endpoints" || !errors.Is(err, api.ErrBadTrigger) {
		t.Errorf("error %v", err)
	}
}

func FuzzParseTrigger(f *testing.F) {
	for _, s := range []string{
		`{"endpoints":["10.1.0.5"],"from":"s1","to":"s2"}`,
		`{"id":"x","endpoints":["id:vm","::1|vm"],"from":"a","to":"b","kind":"unplanned","confirm-timeout":"1m","dry-run":true}`,
		`{"endpoints":"x"}`, `[]`, `{`, ``, `{"requester":"me"}`, `{"a":1} 2`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := api.ParseTrigger(b)
		if err != nil {
			var te *api.TriggerError
			if !errors.As(err, &te) || !errors.Is(err, api.ErrBadTrigger) || te.Msg == "" {
				t.Fatalf("error %v is not a *TriggerError", err)
			}
			return
		}
		if len(tr.Endpoints) == 0 || tr.From == "" || tr.To == "" || tr.Kind == "" || tr.Requester != "" {
			t.Fatalf("accepted an incomplete trigger: %+v", tr)
		}
	})
}

func FuzzParseTokens(f *testing.F) {
	f.Add("ops:0123456789abcdef0123\n")
	f.Add("# c\nro:0123456789abcdef0123:read\nrw:fedcba9876543210fedc:read,trigger\n")
	f.Add("a:b:c:d\n::\n")
	f.Fuzz(func(t *testing.T, in string) {
		tok, err := api.ParseTokens(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, api.ErrTokens) {
				t.Fatalf("error %v does not wrap ErrTokens", err)
			}
			return
		}
		// Every accepted line's token is found again under its name.
		for line := range strings.SplitSeq(in, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			parts := strings.Split(line, ":")
			name, _, ok := tok.Lookup(strings.TrimSpace(parts[1]))
			if !ok || name != strings.TrimSpace(parts[0]) {
				t.Fatalf("line %q: lookup gives %q %v", line, name, ok)
			}
		}
	})
}

// TestAnnounce: an agent announces itself through the API's directory and
// becomes a device (and a location) migrations can use.
func TestAnnounce(t *testing.T) {
	s := newSite(t)
	dir := topology.NewDirectory()
	e := s.start(t, envConfig{
		opts:     []api.Option{api.WithAnnounce(dir, "announce-secret-123456"), api.WithTokens(testTokens(t))},
		orchOpts: []orchestrator.Option{orchestrator.WithDirectory(dir)},
	})
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	sp, _ := ssh.NewPublicKey(pub)
	ann := topology.Announcement{Name: "fw9", Address: "127.0.0.1:1830", Driver: "sami", Domain: "dc", Location: "rack9",
		HostKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))), TTL: time.Minute}
	if _, err := topology.AnnounceOnce(context.Background(), e.url, "wrong-token", ann); !errors.Is(err, topology.ErrUnauthorized) {
		t.Errorf("announce with a wrong token: %v", err)
	}
	if _, err := topology.AnnounceOnce(context.Background(), e.url, "announce-secret-123456", ann); err != nil {
		t.Fatalf("announce: %v", err)
	}
	e.token = viewerToken
	var devs []api.Device
	if st := e.call("GET", "/v1/devices", nil, &devs); st != http.StatusOK {
		t.Fatalf("devices: %d", st)
	}
	var found *api.Device
	for i := range devs {
		if devs[i].Name == "fw9" {
			found = &devs[i]
		}
	}
	if found == nil || !found.Discovered || found.Address != ann.Address || found.Location != "rack9" || found.LastSeen == nil || found.Expires == nil {
		t.Fatalf("announced device: %+v in %+v", found, devs)
	}
	// The announced location can be named in a trigger.
	e.token = opsToken
	var p api.Problem
	if st := e.call("POST", "/v1/migrations", `{"endpoints":["10.1.0.5"],"from":"rack9","to":"s2","dry-run":true}`, &p); st == http.StatusUnprocessableEntity && p.Name() == api.ProblemUnknownPlace {
		t.Errorf("announced location unknown: %+v", p)
	}
}
