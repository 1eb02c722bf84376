package gitserver

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func gitOut(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestBuilderIsDeterministic(t *testing.T) {
	var heads []string
	for range 2 {
		srv, err := New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		repo, err := srv.CreateRepo("deploy")
		if err != nil {
			t.Fatal(err)
		}
		shas, err := repo.CommitMany(3, func(i int) (string, []CommitOption) {
			return "commit " + string(rune('a'+i)), []CommitOption{WithFile("values.yaml", strings.Repeat("x", i)), WithSymlink("link", "values.yaml")}
		})
		if err != nil {
			t.Fatal(err)
		}
		heads = append(heads, shas[2])
		if got := gitOut(t, "-C", repo.Dir(), "rev-list", "--count", "main"); got != "3" {
			t.Errorf("main has %s commits, want 3", got)
		}
		if got := gitOut(t, "-C", repo.Dir(), "log", "-1", "--format=%an <%ae> %ct %s", "main"); got != "Ferry Test <test@ferry.invalid> 1735722180 commit c" {
			t.Errorf("head commit = %q", got)
		}
		if got := gitOut(t, "-C", repo.Dir(), "ls-tree", "main"); !strings.Contains(got, "120000 blob") {
			t.Errorf("tree lacks the symlink:\n%s", got)
		}
	}
	if heads[0] != heads[1] {
		t.Errorf("same builder calls gave %s and %s", heads[0], heads[1])
	}
}

func TestBranchesAndOrphans(t *testing.T) {
	srv, _ := New(t.TempDir())
	repo, err := srv.CreateRepo("deploy")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := repo.Commit("one", WithFile("a", "1"))
	second, _ := repo.Commit("two", WithFile("b", "2"), WithoutFile("a"))
	if got := gitOut(t, "-C", repo.Dir(), "rev-parse", second+"^"); got != first {
		t.Errorf("parent of second = %s, want %s", got, first)
	}
	orphan, _ := repo.Commit("fresh", Orphan(), WithFile("c", "3"))
	if got := gitOut(t, "-C", repo.Dir(), "rev-list", "--count", orphan); got != "1" {
		t.Errorf("orphan has %s commits in its history, want 1", got)
	}
	if got := gitOut(t, "-C", repo.Dir(), "ls-tree", "--name-only", orphan); got != "c" {
		t.Errorf("orphan tree = %q, want c alone", got)
	}
	if err := repo.SetBranch("main", first); err != nil {
		t.Fatal(err)
	}
	if err := repo.Tag("v1", second); err != nil {
		t.Fatal(err)
	}
	if got, _ := repo.Head("main"); got != first {
		t.Errorf("main = %s after SetBranch, want %s", got, first)
	}
	if err := repo.DeleteBranch("main"); err != nil {
		t.Fatal(err)
	}
	if got, _ := repo.Head("main"); got != "" {
		t.Errorf("main = %q after delete", got)
	}
	if _, err := srv.CreateRepo("../escape"); err == nil || err.Error() != `repository name "../escape": want a plain name without slashes` {
		t.Errorf("CreateRepo(../escape) error = %v", err)
	}
}

func TestHTTPTokenAndCounting(t *testing.T) {
	srv, _ := New(t.TempDir())
	defer srv.Close()
	repo, _ := srv.CreateRepo("deploy")
	head, _ := repo.Commit("one", WithFile("a", "1"))
	base, err := srv.StartHTTP(HTTPOptions{Token: "tok3n"})
	if err != nil {
		t.Fatal(err)
	}
	withToken := strings.Replace(base, "http://", "http://x:tok3n@", 1) + "/deploy.git"

	got := gitOut(t, "ls-remote", withToken, "refs/heads/main")
	if got != head+"\trefs/heads/main" {
		t.Errorf("ls-remote = %q", got)
	}
	if st := srv.Stats(); st.Advertisements != 1 || st.Negotiations != 0 || st.BytesOut == 0 {
		t.Errorf("after ls-remote: %+v, want one advertisement and no fetch", st)
	}
	srv.ResetStats()
	gitOut(t, "clone", "--quiet", "--bare", withToken, filepath.Join(t.TempDir(), "c.git"))
	if st := srv.Stats(); st.Negotiations != 1 {
		t.Errorf("after clone: %+v, want one fetch", st)
	}
	srv.ResetStats()
	cmd := exec.Command("git", "ls-remote", base+"/deploy.git")
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("ls-remote without a token succeeded: %s", out)
	}
	if st := srv.Stats(); st.AuthFailures != 1 || st.Advertisements != 0 {
		t.Errorf("without token: %+v, want one auth failure", st)
	}
}
