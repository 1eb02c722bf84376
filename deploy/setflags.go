// Package deploy is where ferry meets Helm and Kubernetes: it renders charts
// with the Helm SDK, computes digests and diffs, applies releases, judges their
// health and rolls them back. It is the only package that imports the Helm SDK.
package deploy

import (
	"fmt"

	"helm.sh/helm/v3/pkg/strvals"
)

// ValidateSet checks one `--set` expression with Helm's own parser, so that
// config validation accepts exactly what `helm --set` accepts (commas split
// keys unless escaped as `\,`).
func ValidateSet(expr string) error {
	if err := strvals.ParseInto(expr, map[string]any{}); err != nil {
		return fmt.Errorf("not a valid --set expression %q: %w", expr, err)
	}
	return nil
}

// ValidateSetString checks one `--set-string` expression with Helm's parser.
func ValidateSetString(expr string) error {
	if err := strvals.ParseIntoString(expr, map[string]any{}); err != nil {
		return fmt.Errorf("not a valid --set-string expression %q: %w", expr, err)
	}
	return nil
}
