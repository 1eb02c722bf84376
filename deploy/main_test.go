package deploy

import (
	"os"
	"testing"

	"github.com/ferry-gitops/ferry/internal/localcluster"
)

// cluster is one real control plane (etcd, kube-apiserver, controllers) that
// the package's tests share, each in its own namespace; nil with -short.
var cluster *localcluster.Shared

func TestMain(m *testing.M) {
	// The interrupt tests start this binary again to apply in a process
	// they can kill; that process applies and exits, it runs no test.
	if job := os.Getenv(childEnv); job != "" {
		os.Exit(runChild(job))
	}
	os.Exit(localcluster.RunTests(m, localcluster.Options{}, &cluster))
}
