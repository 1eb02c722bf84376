package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/internal/localcluster"
)

// asMain makes the test binary run ferry's main instead of the tests, so a
// test can run the real command line as a process and read its exit code.
const asMain = "FERRY_TEST_AS_MAIN"

// The local control plane, started by the first test that needs one (most
// of this package's tests do not) and stopped when the tests end.
var (
	clusterOnce sync.Once
	cluster     *localcluster.Shared
	clusterErr  error
)

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	os.Exit(code)
}

// needCluster starts the package's local control plane once; with -short
// the test is skipped instead.
func needCluster(t *testing.T) *localcluster.Shared {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the local control plane (not started with -short)")
	}
	clusterOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		c, err := localcluster.Start(ctx, localcluster.Options{Progress: os.Stderr})
		if err != nil {
			clusterErr = fmt.Errorf("localcluster: %w", err)
			return
		}
		cluster = &localcluster.Shared{Cluster: c}
	})
	if clusterErr != nil {
		t.Fatal(clusterErr)
	}
	return cluster
}
