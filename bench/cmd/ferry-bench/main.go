package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-gitops/ferry/bench"
	"github.com/ferry-gitops/ferry/internal/harness"
)

func main() {
	envs := flag.Int("envs", 100, "")
	workers := flag.Int("workers", 4, "")
	binary := flag.String("binary", "", "")
	flag.Parse()
	ctx := context.Background()
	bin := *binary
	var err error
	if bin == "" {
		bin, err = harness.BuildFerry(ctx, filepath.Join(os.TempDir(), "ferry-bench-bin"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	res, err := bench.Scale(ctx, bench.ScaleOptions{Envs: *envs, Workers: *workers, Binary: bin, Timeout: 6 * time.Minute, Progress: os.Stderr})
	b, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(b))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
