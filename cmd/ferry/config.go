package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
)

// configOptions wires deploy's Helm `--set` parser into config validation,
// so config never imports Helm.
func configOptions() config.Options {
	return config.Options{ValidateSet: deploy.ValidateSet, ValidateSetString: deploy.ValidateSetString}
}

// loadConfig reads and validates ferry.yaml for any command.
func loadConfig(path string) (*config.Config, error) {
	return config.Load(path, configOptions())
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check ferry.yaml or print its JSON Schema",
		Example: `  ferry config validate -f ferry.yaml
  ferry config schema > ferry.schema.json`,
	}
	cmd.AddCommand(newConfigValidateCmd(), newConfigSchemaCmd())
	return cmd
}

func newConfigValidateCmd() *cobra.Command {
	file := "ferry.yaml"
	cmd := &cobra.Command{
		Use:     "validate",
		Short:   "Check ferry.yaml and list every problem with its file, line and key",
		Example: `  ferry config validate -f ferry.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(file)
			var problems config.Problems
			if errors.As(err, &problems) {
				for _, p := range problems {
					fmt.Fprintln(cmd.OutOrStdout(), p)
				}
				return exitError{code: 1, msg: fmt.Sprintf("%s: %d problem(s)", file, len(problems))}
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			for i := range c.Pipelines {
				fmt.Fprintln(cmd.OutOrStdout(), c.Pipelines[i].Summary())
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", file, "config file")
	return cmd
}

func newConfigSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "schema",
		Short:   "Print the JSON Schema of ferry.yaml, for editors",
		Example: `  ferry config schema > ferry.schema.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := config.Schema()
			if err != nil {
				return fmt.Errorf("config schema: %w", err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(s))
			return err
		},
	}
}
