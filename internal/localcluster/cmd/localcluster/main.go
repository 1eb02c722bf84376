// Command localcluster builds the local control plane's binaries (`build`)
// and runs a cluster for a person to explore (`up`). It backs
// `make controlplane` and `make cluster`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ferry-gitops/ferry/internal/localcluster"
)

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "build" && os.Args[1] != "up") {
		fmt.Fprintln(os.Stderr, "usage: localcluster build|up")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cmd string) error {
	if cmd == "build" {
		dir, err := localcluster.EnsureBinaries(ctx, os.Stdout)
		if err != nil {
			return err
		}
		fmt.Printf("localcluster: control plane %s ready in %s\n", localcluster.KubernetesVersion, dir)
		return nil
	}
	c, err := localcluster.Start(ctx, localcluster.Options{Progress: os.Stdout})
	if err != nil {
		return err
	}
	defer c.Stop()
	fmt.Printf("\nThe local control plane runs (Kubernetes %s, %d fake nodes). Use it with:\n\n  export KUBECONFIG=%s\n  kubectl get nodes\n\nCtrl-C stops it and removes its data.\n",
		localcluster.KubernetesVersion, len(c.NodeNames), c.Kubeconfig)
	<-ctx.Done()
	fmt.Println("\nlocalcluster: stopping")
	return nil
}
