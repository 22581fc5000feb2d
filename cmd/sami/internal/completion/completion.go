// Package completion is `sami completion SHELL`: the shell completion
// script (device names complete from the inventory).
package completion

import (
	"fmt"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/spf13/cobra"
)

// New returns the completion command.
func New(a *app.App) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script",
		Long: `Print the completion script for a shell. Load it with, for example:

  bash:        source <(sami completion bash)
  zsh:         sami completion zsh > "${fpath[1]}/_sami"
  fish:        sami completion fish > ~/.config/fish/completions/sami.fish
  powershell:  sami completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return app.Usage(fmt.Errorf("completion needs one shell: bash, zsh, fish or powershell (got %d arguments)", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(a.Out, true)
			case "zsh":
				return root.GenZshCompletion(a.Out)
			case "fish":
				return root.GenFishCompletion(a.Out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(a.Out)
			}
			return app.Usage(fmt.Errorf("completion: unknown shell %q: use bash, zsh, fish or powershell", args[0]))
		},
	}
}
