package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// BuildFerry builds ./cmd/ferry of the module the current directory is in
// into dir and returns the binary's path. The Go build cache makes a
// rebuild of unchanged sources quick.
func BuildFerry(ctx context.Context, dir string) (string, error) {
	return BuildFerryTags(ctx, dir)
}

// BuildFerryTags is BuildFerry with build tags (go build -tags a,b). It
// builds as `make build` does, without cgo (see the Makefile).
func BuildFerryTags(ctx context.Context, dir string, tags ...string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("harness: binary directory: %w", err)
	}
	bin := filepath.Join(dir, "ferry")
	args := []string{"build", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/ferry")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("harness: go %s ./cmd/ferry: %w\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// moduleRoot is the directory of the go.mod governing the working directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("harness: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("harness: not inside the ferry module (go env GOMOD is empty)")
	}
	return filepath.Dir(gomod), nil
}

// Process is ferry running as its own process, its output going to a log file.
type Process struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// Stop sends SIGTERM, waits up to grace for a clean exit, then kills.
// It returns the process's exit error of a clean stop, or the kill's.
// It is safe to call more than once.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("ferry did not stop within %s of SIGTERM and was killed", grace)
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogTail returns the last n lines of the process's output.
func (p *Process) LogTail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogPath is the file that receives ferry's output.
func (w *World) LogPath() string { return filepath.Join(w.Dir, "ferry.log") }

// Ferry is the running ferry process, nil when stopped.
func (w *World) Ferry() *Process { return w.ferry }

// StartFerry starts `ferry run -f ferry.yaml --data-dir DIR/data` in the
// run's directory, its output appended to LogPath, and waits until it answers /readyz. It is not
// safe to call concurrently with StopFerry.
func (w *World) StartFerry(ctx context.Context) error {
	return w.StartFerryEnv(ctx)
}

// StartFerryEnv is StartFerry with extra environment variables (KEY=value)
// for the ferry process, such as a ferrytest build's FERRY_TEST_CRASH_AT.
func (w *World) StartFerryEnv(ctx context.Context, env ...string) error {
	if w.ferry != nil {
		if exited, _ := w.ferry.Exited(); !exited {
			return errors.New("harness: ferry is already running")
		}
	}
	logf, err := os.OpenFile(w.LogPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("harness: ferry log: %w", err)
	}
	cmd := exec.Command(w.Binary, "run", "-f", w.ConfigPath, "--data-dir", filepath.Join(w.Dir, "data"))
	cmd.Dir = w.Dir
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+w.Cluster.Kubeconfig), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("harness: start ferry: %w", err)
	}
	p := &Process{cmd: cmd, log: w.LogPath(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	w.ferry = p
	w.logf("started `ferry run -f %s` (pid %d, log %s)", filepath.Base(w.ConfigPath), p.PID(), w.LogPath())
	if err := w.waitReady(ctx, 90*time.Second); err != nil {
		_ = p.Stop(5 * time.Second)
		return fmt.Errorf("%w\nlast lines of the ferry log:\n%s", err, p.LogTail(30))
	}
	w.logf("  ferry is ready on %s", w.APIURL)
	return nil
}

// StopFerry stops ferry with SIGTERM (killing it after 30s) and reports how
// it ended.
func (w *World) StopFerry() error {
	if w.ferry == nil {
		return nil
	}
	err := w.ferry.Stop(30 * time.Second)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("ferry exited with %s after SIGTERM", exit)
	}
	return err
}

// waitReady polls /readyz until it answers 200, the process ends or
// the timeout passes.
func (w *World) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		if exited, err := w.ferry.Exited(); exited {
			return fmt.Errorf("harness: ferry exited before it was ready: %v", err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.APIURL+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("harness: readiness request: %w", err)
		}
		resp, err := w.http.Do(req)
		if err == nil {
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("HTTP %d %s", resp.StatusCode, strings.TrimSpace(body.String()))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("harness: ferry not ready on %s/readyz within %s (last answer: %s)", w.APIURL, timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
