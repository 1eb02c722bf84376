package localcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestReapOrphans plays a test binary that died without stopping its
// cluster: its data directory names a dead owner and a running etcd. The
// next start must kill that etcd and remove the directory, and must leave a
// live owner's cluster alone.
func TestReapOrphans(t *testing.T) {
	binDir, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	if missing, _ := Missing(); len(missing) > 0 {
		t.Skipf("control plane not built (missing %v)", missing)
	}
	deadOwner := exec.Command("true")
	if err := deadOwner.Run(); err != nil {
		t.Fatal(err)
	}
	orphanDir := orphanCluster(t, binDir, deadOwner.Process.Pid)
	liveDir := orphanCluster(t, binDir, os.Getpid())
	orphanPID := readChildPID(t, orphanDir)
	livePID := readChildPID(t, liveDir)
	t.Cleanup(func() {
		syscall.Kill(livePID, syscall.SIGKILL)
		os.RemoveAll(liveDir)
	})

	if err := reapOrphans(binDir); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(orphanPID) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(orphanPID) {
		t.Errorf("orphaned etcd %d still runs after reapOrphans", orphanPID)
	}
	if _, err := os.Stat(orphanDir); !os.IsNotExist(err) {
		t.Errorf("orphaned data dir %s not removed", orphanDir)
	}
	if !alive(livePID) {
		t.Errorf("etcd %d of a live owner was killed", livePID)
	}
	if _, err := os.Stat(liveDir); err != nil {
		t.Errorf("data dir of a live owner removed: %v", err)
	}
}

// orphanCluster starts an etcd recorded as the child of owner, the way Start
// records its processes, without a parent-death tie to this test.
func orphanCluster(t *testing.T, binDir string, owner int) string {
	t.Helper()
	if err := os.MkdirAll(runRoot(), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(runRoot(), "cluster-")
	if err != nil {
		t.Fatal(err)
	}
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	cmd := exec.Command(filepath.Join(binDir, "etcd"), "--name=orphan", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer, "--initial-cluster=orphan="+peer,
		"--log-level=error")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait() // reap it once killed, so it does not linger as a zombie
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(owner)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, pidsFile), []byte(fmt.Sprintf("%d etcd\n", cmd.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readChildPID(t *testing.T, dir string) int {
	t.Helper()
	var pid int
	var name string
	b, err := os.ReadFile(filepath.Join(dir, pidsFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(string(b), "%d %s", &pid, &name); err != nil {
		t.Fatal(err)
	}
	return pid
}
