package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Pinned versions of the control plane. They name the cache directory, so a
// change of pin builds a fresh set of binaries next to the old one.
const (
	KubernetesVersion = "v1.36.3"
	EtcdVersion       = "v3.6.8"
	KwokVersion       = "v0.8.0"
)

// binary is one program of the control plane and where it is built from.
type binary struct {
	name   string
	module string // directory of its go.mod, relative to this package
	pkg    string
	// stamped binaries get Kubernetes' version variables; without them the API
	// server reports v0.0.0-master and Helm refuses charts with kubeVersion.
	stamped bool
}

// controlPlaneBinaries lists the programs in build order: etcd first, then the
// API server (which compiles most of what the controller manager and scheduler
// reuse), then kwok from its own module.
func controlPlaneBinaries() []binary {
	return []binary{
		{name: "etcd", module: "tools", pkg: "go.etcd.io/etcd/server/v3"},
		{name: "kube-apiserver", module: "tools", pkg: "k8s.io/kubernetes/cmd/kube-apiserver", stamped: true},
		{name: "kube-controller-manager", module: "tools", pkg: "k8s.io/kubernetes/cmd/kube-controller-manager", stamped: true},
		{name: "kube-scheduler", module: "tools", pkg: "k8s.io/kubernetes/cmd/kube-scheduler", stamped: true},
		{name: "kwok", module: "tools-kwok", pkg: "sigs.k8s.io/kwok/cmd/kwok"},
	}
}

// CacheRoot is where everything localcluster keeps between runs lives:
// ${XDG_CACHE_HOME:-$HOME/.cache}/ferry/localcluster.
func CacheRoot() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find cache directory: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "ferry", "localcluster"), nil
}

// BinDir is the directory holding the binaries of the pinned versions.
func BinDir() (string, error) {
	root, err := CacheRoot()
	if err != nil {
		return "", err
	}
	key := fmt.Sprintf("k8s-%s_etcd-%s_kwok-%s", KubernetesVersion, EtcdVersion, KwokVersion)
	return filepath.Join(root, key, "bin"), nil
}

// BuildLog is the file every build appends one line per binary to.
func BuildLog() (string, error) {
	dir, err := BinDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(dir), "build.log"), nil
}

// sourceDir finds this package's directory, which holds the tools modules.
// The binaries are built on the developer's machine from the checkout, so the
// path recorded by the compiler is where the sources are.
func sourceDir() (string, error) {
	if dir := os.Getenv("FERRY_LOCALCLUSTER_SRC"); dir != "" {
		return dir, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate internal/localcluster sources; set FERRY_LOCALCLUSTER_SRC")
	}
	dir := filepath.Dir(file)
	if _, err := os.Stat(filepath.Join(dir, "tools", "go.mod")); err != nil {
		return "", fmt.Errorf("internal/localcluster sources not found at %s (set FERRY_LOCALCLUSTER_SRC): %w", dir, err)
	}
	return dir, nil
}

// Missing lists the control-plane binaries that are not built yet.
func Missing() ([]string, error) {
	dir, err := BinDir()
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, b := range controlPlaneBinaries() {
		if _, err := os.Stat(filepath.Join(dir, b.name)); err != nil {
			missing = append(missing, b.name)
		}
	}
	return missing, nil
}

// EnsureBinaries builds the control-plane binaries that are missing, one at
// a time (each link of the API server takes over 2 GB), printing one progress
// line per binary to progress. Binaries already built are never rebuilt. A
// file lock keeps concurrent callers from building the same binary twice.
func EnsureBinaries(ctx context.Context, progress io.Writer) (string, error) {
	dir, err := BinDir()
	if err != nil {
		return "", err
	}
	missing, err := Missing()
	if err != nil || len(missing) == 0 {
		return dir, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	unlock, err := lockFile(filepath.Join(filepath.Dir(dir), "build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()

	src, err := sourceDir()
	if err != nil {
		return "", err
	}
	logPath, err := BuildLog()
	if err != nil {
		return "", err
	}
	all := controlPlaneBinaries()
	fmt.Fprintf(progress, "localcluster: building the control plane into %s (first time only; about 15 minutes on 2 cores)\n", dir)
	start := time.Now()
	for i, b := range all {
		out := filepath.Join(dir, b.name)
		if _, err := os.Stat(out); err == nil {
			continue // built meanwhile by another caller, or before
		}
		t0 := time.Now()
		fmt.Fprintf(progress, "localcluster: [%d/%d] building %s ...\n", i+1, len(all), b.name)
		if err := buildOne(ctx, filepath.Join(src, b.module), b, out); err != nil {
			return "", err
		}
		took := time.Since(t0).Round(time.Second)
		fmt.Fprintf(progress, "localcluster: [%d/%d] built %s in %s (total %s)\n", i+1, len(all), b.name, took, time.Since(start).Round(time.Second))
		if err := appendLine(logPath, fmt.Sprintf("%s built %s in %s", time.Now().UTC().Format(time.RFC3339), b.name, took)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func buildOne(ctx context.Context, moduleDir string, b binary, out string) error {
	tmp := out + ".tmp"
	args := []string{"build", "-trimpath", "-o", tmp}
	if b.stamped {
		args = append(args, "-ldflags", versionLDFlags())
	}
	args = append(args, b.pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleDir
	// The tools modules carry their own go.mod and go.sum; a workspace file
	// of the caller must not pull them into another build list.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	output, err := cmd.CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("build %s: %w\n%s", b.name, err, tail(string(output), 40))
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("install %s: %w", b.name, err)
	}
	return nil
}

// versionLDFlags stamps the Kubernetes version into the client and component
// libraries, as the Kubernetes release build does.
func versionLDFlags() string {
	minor := strings.Split(strings.TrimPrefix(KubernetesVersion, "v"), ".")[1]
	var flags []string
	for _, p := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X", p+".gitVersion="+KubernetesVersion,
			"-X", p+".gitMajor=1",
			"-X", p+".gitMinor="+minor,
			"-X", p+".gitTreeState=clean",
			"-X", p+".buildDate=1970-01-01T00:00:00Z",
		)
	}
	return strings.Join(flags, " ")
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open build lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("write build log: %w", err)
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, line)
	return err
}

// tail returns the last n lines of s, for error messages.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
