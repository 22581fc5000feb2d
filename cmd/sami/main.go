// Command sami is the operator's tool: it moves the flow state of a moving
// endpoint between middleboxes (sami migrate), shows devices and their
// sessions, keeps standby copies (sami replicate), inspects the journal,
// runs the orchestrator daemon with its trigger API (sami serve), checks
// vendor mappings (sami validate) and shows it all on a self-contained
// demo (sami demo).
//
// Exit codes are listed by `sami help exit-codes` and in docs/operator.md.
package main

import (
	"os"

	"github.com/sami-netops/sami/cmd/sami/internal/root"
)

func main() {
	os.Exit(root.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
