package localcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Shared is one cluster that all tests of a package use, started by RunTests
// from TestMain. Each test takes its own namespace with Namespace.
type Shared struct {
	*Cluster
}

// RunTests starts one cluster for the test package, runs the tests, stops
// the cluster and returns the exit code for os.Exit. Use it from TestMain:
//
//	var cluster *localcluster.Shared
//	func TestMain(m *testing.M) { os.Exit(localcluster.RunTests(m, localcluster.Options{}, &cluster)) }
//
// With -short the cluster is not started and *shared stays nil; tests that
// need it should call Require.
func RunTests(m *testing.M, opts Options, shared **Shared) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	if opts.Progress == nil {
		opts.Progress = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	c, err := Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		return 1
	}
	*shared = &Shared{Cluster: c}
	code := m.Run()
	c.Stop()
	return code
}

// Require skips the test in -short mode, where RunTests starts no cluster.
func Require(t testing.TB, s *Shared) *Shared {
	t.Helper()
	if s == nil {
		t.Skip("needs the local control plane (not started with -short)")
	}
	return s
}

// Namespace creates a namespace of its own for the test, named after it,
// waits until its default ServiceAccount exists (pods are refused before
// that), and deletes it when the test ends.
func (s *Shared) Namespace(t testing.TB, labels map[string]string) string {
	t.Helper()
	client, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	name := namespaceName(t.Name())
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	err = poll(ctx, 30*time.Second, func() (bool, string, error) {
		_, err := client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, "ServiceAccount default not created yet", nil
	})
	if err != nil {
		t.Fatalf("namespace %s: %v", name, err)
	}
	return name
}

// namespaceName turns a test name into a unique DNS-1123 label.
func namespaceName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	base := strings.Trim(b.String(), "-")
	if len(base) > 50 {
		base = strings.Trim(base[:50], "-")
	}
	suffix := make([]byte, 3)
	rand.Read(suffix)
	return base + "-" + hex.EncodeToString(suffix)
}
