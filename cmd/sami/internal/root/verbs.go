package root

import (
	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/cmd/sami/internal/caps"
	"github.com/sami-netops/sami/cmd/sami/internal/completion"
	"github.com/sami-netops/sami/cmd/sami/internal/demo"
	"github.com/sami-netops/sami/cmd/sami/internal/devices"
	"github.com/sami-netops/sami/cmd/sami/internal/get"
	"github.com/sami-netops/sami/cmd/sami/internal/journal"
	"github.com/sami-netops/sami/cmd/sami/internal/migrate"
	"github.com/sami-netops/sami/cmd/sami/internal/replicate"
	"github.com/sami-netops/sami/cmd/sami/internal/serve"
	"github.com/sami-netops/sami/cmd/sami/internal/validate"
	"github.com/spf13/cobra"
)

// verbs are the top-level commands, each in its own package under
// cmd/sami/internal, in help order. One line per verb.
var verbs = []func(*app.App) *cobra.Command{
	demo.New,
	devices.New,
	caps.New,
	get.New,
	migrate.New,
	replicate.New,
	journal.New,
	serve.New,
	validate.New,
	completion.New,
}
