package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/reconciler"
)

// runOptions are the flags of `ferry run`.
type runOptions struct {
	file      string
	once      bool
	logFormat string
	dataDir   string
	listen    string
}

func (o *runOptions) bindFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "ferry.yaml", "config file")
	f.BoolVar(&o.once, "once", false, "reconcile one pass and exit")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "directory for the Git caches")
	f.StringVar(&o.listen, "listen", "", "HTTP address for health, metrics, webhooks, Slack and the API (default: server.listen)")
}

func newRunCmd() *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the daemon: follow each pipeline's branch and promote revisions through its environments",
		Example: `  ferry run -f ferry.yaml
  ferry run -f ferry.yaml --once --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.ErrOrStderr())
		},
	}
	o.bindFlags(cmd)
	return cmd
}

// daemonParts is what `ferry run` builds; the HTTP server (--listen) is
// mounted on the same daemon and registry.
type daemonParts struct {
	cfg      *config.Config
	log      *slog.Logger
	registry *prometheus.Registry
	daemon   *reconciler.Daemon
}

func (o *runOptions) run(ctx context.Context, stderr io.Writer) error {
	log, err := newLogger(o.logFormat, stderr)
	if err != nil {
		return err
	}
	parts, err := o.build(ctx, log)
	if err != nil {
		return err
	}
	if o.once {
		return parts.daemon.RunOnce(ctx)
	}
	log.InfoContext(ctx, "ferry starting", "version", version, "identity", parts.daemon.Identity(), "pipelines", len(parts.cfg.Pipelines))
	err = parts.serveWhile(ctx, o.listen, parts.daemon.Run)
	log.Info("ferry stopped")
	return err
}

// build loads the config, checks its secrets and builds the daemon.
func (o *runOptions) build(ctx context.Context, log *slog.Logger) (*daemonParts, error) {
	cfg, err := loadConfig(o.file)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckSecrets(ctx, log); err != nil {
		return nil, err
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = cfg.State.Kubeconfig
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: cfg.State.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("state cluster: %w", err)
	}
	rc.QPS, rc.Burst = reconciler.StateClientQPS, reconciler.StateClientBurst
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("state cluster: %w", err)
	}
	reg := prometheus.NewRegistry()
	d, err := reconciler.New(ctx, reconciler.Options{
		Config: cfg, Client: client, Targets: reconciler.DeployTargets(),
		DataDir: o.dataDir, Registerer: reg, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	return &daemonParts{cfg: cfg, log: log, registry: reg, daemon: d}, nil
}

// newLogger makes the process's one logger.
func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, got %q", format)
}

// defaultDataDir is $XDG_STATE_HOME/ferry or ~/.local/state/ferry.
func defaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "ferry")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "ferry")
	}
	return "ferry-data"
}
