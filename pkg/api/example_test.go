package api_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/sami-netops/sami/pkg/api"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/orchestrator"
	"github.com/sami-netops/sami/pkg/topology"
	"github.com/sami-netops/sami/plugins"
)

// The daemon in a few lines: an orchestrator with the shutdown hook, the
// API recovering the journal before it turns ready, and a graceful stop.
func ExampleNew() {
	inv, err := topology.LoadFile("/etc/sami/inventory.yaml")
	if err != nil {
		log.Fatal(err)
	}
	reg := device.NewRegistry()
	if err := plugins.Register(reg); err != nil {
		log.Fatal(err)
	}
	j, err := journal.Open("/var/lib/sami/journal.db")
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	o, err := orchestrator.New(inv, reg, j, orchestrator.WithEngineOptions(migrate.WithHook(api.ShutdownHook(nil))))
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := api.LoadTokens("/etc/sami/tokens")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := api.New(o, api.WithTokens(tokens))
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Addr: "127.0.0.1:8830", Handler: srv}
	go hs.ListenAndServe()
	if err := srv.Recover(context.Background()); err != nil {
		log.Print(err) // unreachable devices: those migrations stay unfinished
	}
	// ... on SIGTERM:
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Print(err) // abandoned migrations: the next start resumes them
	}
	hs.Shutdown(context.Background())
}

func ExampleParseTokens() {
	tokens, err := api.ParseTokens(strings.NewReader(`# name:token[:scopes]
vm-manager:3f9a0c5e1b7d4e2f8a6c0b1d9e7f5a3c
grafana:c4e8a2f6b0d3e7a1c5f9b3d7e1a5c9f3:read
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	name, scope, ok := tokens.Lookup("c4e8a2f6b0d3e7a1c5f9b3d7e1a5c9f3")
	fmt.Println(tokens.Names(), name, scope, ok)

	_, err = api.ParseTokens(strings.NewReader("ops:short\n"))
	fmt.Println(err)
	// Output:
	// [vm-manager grafana] grafana read true
	// tokens:1: token of "ops" is 5 characters long: use at least 16 (e.g. openssl rand -hex 32)
}

func ExampleParseTrigger() {
	t, err := api.ParseTrigger([]byte(`{"endpoints": ["10.1.0.5", "id:vm-42"], "from": "rack1", "to": "rack7", "confirm-timeout": "2m"}`))
	fmt.Println(t.Kind, len(t.Endpoints), t.From, t.To, t.ConfirmTimeout, err)
	_, err = api.ParseTrigger([]byte(`{"endpoints": ["10.1.0.500"], "from": "rack1", "to": "rack7"}`))
	fmt.Println(err)
	// Output:
	// planned 2 rack1 rack7 2m0s <nil>
	// endpoints[0]: endpoint "10.1.0.500": not an IP address (use id:NAME for an owner id)
}
