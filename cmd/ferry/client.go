package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-gitops/ferry/server/api"
)

// Environment variables the client commands read when flags are not given.
const (
	envServer      = "FERRY_SERVER"
	envToken       = "FERRY_TOKEN"
	defaultAddress = "http://127.0.0.1:8080"
)

// clientDeps are what the client commands take from the world, so tests
// can fix the clock, the environment and the polling pace.
type clientDeps struct {
	now    func() time.Time
	getenv func(string) string
	http   *http.Client
	// poll is the pause between two looks at a promotion under --wait.
	poll time.Duration
}

func defaultClientDeps() clientDeps {
	return clientDeps{now: time.Now, getenv: os.Getenv, http: &http.Client{Timeout: 30 * time.Second}, poll: 2 * time.Second}
}

// clientFlags are the flags every command that talks to the API shares.
type clientFlags struct {
	deps     clientDeps
	server   string
	token    string
	output   string
	pipeline string
}

// bind registers the flags on cmd; withPipeline adds --pipeline.
func (f *clientFlags) bind(cmd *cobra.Command, withPipeline bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "ferry's address (default $"+envServer+", else "+defaultAddress+")")
	fl.StringVar(&f.token, "token", "", "API token (default $"+envToken+"; prefer the variable, flags show in ps)")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	if withPipeline {
		fl.StringVar(&f.pipeline, "pipeline", "", "pipeline, when the environment name is in several")
	}
}

// client checks the output format and builds the API client from flags,
// then the environment, then the default address.
func (f *clientFlags) client() (*api.Client, error) {
	if f.output != "table" && f.output != "json" {
		return nil, fmt.Errorf("--output %q: want table or json", f.output)
	}
	server := f.server
	if server == "" {
		server = f.deps.getenv(envServer)
	}
	if server == "" {
		server = defaultAddress
	}
	token := f.token
	if token == "" {
		token = f.deps.getenv(envToken)
	}
	return api.NewClient(server, token, f.deps.http)
}

// json reports whether -o json was asked for.
func (f *clientFlags) json() bool { return f.output == "json" }

// resolvePipeline names the pipeline env belongs to: --pipeline when given,
// else the only pipeline that has an environment called env.
func (f *clientFlags) resolvePipeline(ctx context.Context, c *api.Client, env string) (string, error) {
	if f.pipeline != "" {
		return f.pipeline, nil
	}
	pipelines, err := c.Pipelines(ctx)
	if err != nil {
		return "", fmt.Errorf("list pipelines: %w", explain(err))
	}
	var names, having []string
	for _, p := range pipelines {
		names = append(names, p.Name)
		if slices.ContainsFunc(p.Environments, func(e api.Environment) bool { return e.Name == env }) {
			having = append(having, p.Name)
		}
	}
	switch len(having) {
	case 1:
		return having[0], nil
	case 0:
		return "", fmt.Errorf("no pipeline has an environment %q (pipelines: %s)", env, strings.Join(names, ", "))
	}
	return "", fmt.Errorf("environment %q is in pipelines %s: choose one with --pipeline", env, strings.Join(having, ", "))
}

// explain adds what to do to an authentication failure.
func explain(err error) error {
	var e *api.Error
	if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
		return fmt.Errorf("%w (set --token or $%s)", err, envToken)
	}
	return err
}

// writeJSONTo prints v as indented JSON, for -o json.
func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
