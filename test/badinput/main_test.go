// Package badinput sends ferry every kind of bad input the product must
// refuse, through the interfaces it arrives by (ferry.yaml, commits on the
// tracked branch, Git webhooks, Slack clicks, API calls), against the real
// daemon on a local control plane. Each case asserts the exact message the
// user sees, naming the file, line or key at fault, and that nothing changed:
// every environment keeps its last good revision and its live objects.
//
// The package also runs a story with known secret values and searches every
// output for them, and checks that each caller is who it says it is.
package badinput

import (
	"os"
	"testing"

	"github.com/ferry-gitops/ferry/internal/localcluster"
)

// cluster is the package's control plane; nil with -short.
var cluster *localcluster.Shared

func TestMain(m *testing.M) {
	os.Exit(localcluster.RunTests(m, localcluster.Options{}, &cluster))
}
