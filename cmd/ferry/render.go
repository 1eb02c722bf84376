package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
	"github.com/ferry-gitops/ferry/gitsource"
)

// renderFlags are shared by `ferry render` and `ferry diff`: which
// environment, and which files of the repository to render.
type renderFlags struct {
	file     string
	pipeline string
	revision string
	dir      string
}

func (f *renderFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "ferry.yaml", "config file")
	cmd.Flags().StringVar(&f.pipeline, "pipeline", "", "pipeline (needed when the config has several)")
	cmd.Flags().StringVar(&f.revision, "revision", "", "render this commit of the pipeline's repository")
	cmd.Flags().StringVar(&f.dir, "dir", "", "render the files of this work tree instead of a commit")
	cmd.MarkFlagsMutuallyExclusive("revision", "dir")
}

// target loads the config and finds the environment.
func (f *renderFlags) target(env string) (*config.Pipeline, *config.Environment, error) {
	c, err := loadConfig(f.file)
	if err != nil {
		return nil, nil, err
	}
	p, err := c.Pipeline(f.pipeline)
	if err != nil {
		return nil, nil, err
	}
	e, err := p.Environment(env)
	if err != nil {
		return nil, nil, err
	}
	return p, e, nil
}

// source gives the repository files: a work tree with --dir, else the
// commit given by --revision (default: the branch head), read from Git
// objects without a checkout.
func (f *renderFlags) source(ctx context.Context, p *config.Pipeline) (fs.FS, error) {
	if f.dir != "" {
		if _, err := os.Stat(f.dir); err != nil {
			return nil, fmt.Errorf("--dir: %w", err)
		}
		return os.DirFS(f.dir), nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, err
	}
	auth, err := gitAuth(ctx, p.Source.Auth)
	if err != nil {
		return nil, err
	}
	src, err := gitsource.New(gitsource.Options{
		URL: p.Source.URL, Branch: p.Source.Branch, Auth: auth,
		CacheDir: filepath.Join(cache, "ferry", "git", p.Name),
	})
	if err != nil {
		return nil, err
	}
	sha := f.revision
	if sha == "" {
		head, err := src.Head(ctx)
		if err != nil {
			return nil, err
		}
		sha = head.SHA
	}
	if err := src.Fetch(ctx, sha); err != nil {
		return nil, err
	}
	files, _, err := src.Snapshot(ctx, sha, "")
	return files, err
}

// gitAuth reads the credentials the config names.
func gitAuth(ctx context.Context, a config.Auth) (gitsource.Auth, error) {
	out := gitsource.Auth{Username: a.Username}
	var err error
	if a.TokenFile != "" {
		if out.Token, err = config.ReadSecret(ctx, slog.Default(), a.TokenFile); err != nil {
			return out, err
		}
	}
	if a.SSHKeyFile != "" {
		if out.SSHKey, err = os.ReadFile(a.SSHKeyFile); err != nil {
			return out, err
		}
	}
	if a.KnownHostsFile != "" {
		if out.KnownHosts, err = os.ReadFile(a.KnownHostsFile); err != nil {
			return out, err
		}
	}
	return out, nil
}

func newRenderCmd() *cobra.Command {
	var f renderFlags
	var kubeVersion string
	var apiVersions []string
	var fromCluster bool
	cmd := &cobra.Command{
		Use:   "render ENV",
		Short: "Print the manifest ferry would apply to an environment, exactly as helm template prints it",
		Long: `Render the pipeline's chart for one environment with its values files and
--set overrides, and print the manifest (byte-identical to helm template with the
same flags). Warnings, such as large integers that Helm prints as floats, go to
stderr. Capabilities are helm template's defaults unless --kube-version and
--api-versions are given, or --cluster reads them from the environment's cluster.`,
		Example: `  ferry render prod -f ferry.yaml
  ferry render staging --dir . --kube-version 1.32.0 -a monitoring.coreos.com/v1
  ferry render prod --revision 1a2b3c4 --cluster --pipeline shop`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, e, err := f.target(args[0])
			if err != nil {
				return err
			}
			spec := deploy.SpecFor(p, e)
			if fromCluster {
				cluster, err := environmentCluster(e)
				if err != nil {
					return err
				}
				if spec.Capabilities, err = cluster.Capabilities(ctx); err != nil {
					return err
				}
			} else if spec.Capabilities, err = deploy.OfflineCapabilities(kubeVersion, apiVersions); err != nil {
				return err
			}
			files, err := f.source(ctx, p)
			if err != nil {
				return err
			}
			r, err := deploy.Render(ctx, files, spec)
			if err != nil {
				return err
			}
			printWarnings(cmd.ErrOrStderr(), r.Warnings)
			_, err = io.WriteString(cmd.OutOrStdout(), r.Manifest)
			return err
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&kubeVersion, "kube-version", "", "Kubernetes version for .Capabilities (like helm template)")
	cmd.Flags().StringSliceVarP(&apiVersions, "api-versions", "a", nil, "extra API versions for .Capabilities (like helm template)")
	cmd.Flags().BoolVar(&fromCluster, "cluster", false, "read capabilities from the environment's cluster")
	cmd.MarkFlagsMutuallyExclusive("cluster", "kube-version")
	cmd.MarkFlagsMutuallyExclusive("cluster", "api-versions")
	return cmd
}

// environmentCluster connects to the cluster an environment deploys to.
func environmentCluster(e *config.Environment) (*deploy.Cluster, error) {
	cfg, err := deploy.RESTConfig(e.Kubeconfig, e.Context)
	if err == nil {
		var c *deploy.Cluster
		if c, err = deploy.NewCluster(cfg); err == nil {
			return c, nil
		}
	}
	return nil, fmt.Errorf("cluster of environment %s: %w", e.Name, err)
}

func printWarnings(w io.Writer, warnings []ferry.Warning) {
	for _, warn := range warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
}
