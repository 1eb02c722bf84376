// Package daemontest runs ferry's HTTP server over the reconciler's real
// daemon: a local control plane, a real Git server, Helm releases, two
// replicas sharing state through the cluster. It is a package of its own so
// the server's fast HTTP-layer tests do not start a cluster.
package daemontest

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
