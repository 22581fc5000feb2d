package journal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/sami-netops/sami/pkg/journal"
)

// The engine writes each phase before acting on it; after a crash it finds
// the migrations left running, with the data it needs to finish them.
func Example() {
	dir, err := os.MkdirTemp("", "journal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "journal.db")
	ctx := context.Background()

	j, err := journal.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	r := &journal.Record{Kind: "migrate", Requester: "alice",
		Plan: json.RawMessage(`{"sources":["fwA"],"destinations":["fwB"]}`)}
	if err := j.Create(ctx, r); err != nil { // r.ID is now a new time-ordered id
		log.Fatal(err)
	}
	for _, e := range []journal.Entry{
		{Phase: "stage", Device: "fwB", Note: "120 sessions"},
		{Phase: "commit", Device: "fwB", Data: json.RawMessage(`{"persist_id":"sami-42"}`)},
	} {
		if _, err := j.Append(ctx, r.ID, e); err != nil { // on disk when it returns
			log.Fatal(err)
		}
	}
	j.Close() // the engine stops here, without Finish

	// After the restart:
	j, err = journal.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	unfinished, err := j.Unfinished(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range unfinished {
		last := r.Entries[len(r.Entries)-1]
		fmt.Printf("%s by %s stopped at %s on %s: %s\n", r.Kind, r.Requester, r.Phase, last.Device, last.Data)
		// ... cancel the confirmed commit on fwB with the persist id, then:
		if err := j.Finish(ctx, r.ID, journal.RolledBack, json.RawMessage(`{"cancelled":["fwB"]}`), ""); err != nil {
			log.Fatal(err)
		}
	}
	unfinished, _ = j.Unfinished(ctx)
	fmt.Println("left running:", len(unfinished))
	// Output:
	// migrate by alice stopped at commit on fwB: {"persist_id":"sami-42"}
	// left running: 0
}
