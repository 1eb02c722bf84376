//go:build ferrytest

package reconciler

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
)

// This build of ferry has the reliability suite's hooks (see crashpoint.go).

var (
	crashAt   = os.Getenv("FERRY_TEST_CRASH_AT")
	sigtermAt = os.Getenv("FERRY_TEST_SIGTERM_AT")
	sigterm   sync.Once
	passes    = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ferry_test_point_passes_total",
		Help: "Passes of each crash point (ferrytest builds only).",
	}, []string{"point"})
)

// crashpoint exits at once, without cleanup, when FERRY_TEST_CRASH_AT names
// point, and sends this process SIGTERM the first time FERRY_TEST_SIGTERM_AT
// names it.
func crashpoint(point string) {
	passes.WithLabelValues(point).Inc()
	if point == crashAt {
		fmt.Fprintf(os.Stderr, "ferrytest: exiting hard at crash point %s\n", point)
		os.Exit(3)
	}
	if point == sigtermAt {
		sigterm.Do(func() {
			fmt.Fprintf(os.Stderr, "ferrytest: SIGTERM at crash point %s\n", point)
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		})
	}
}

// crashWhileApplying, when a variable names CrashHelmApplying, watches the
// environment's Helm release records during an apply and passes that point
// as soon as Helm stores a revision as pending-*: Helm is then still at work
// (the chart's pre-upgrade hook, the objects). stop ends the watch.
func crashWhileApplying(ctx context.Context, env *config.Environment) (stop func()) {
	if crashAt != CrashHelmApplying && sigtermAt != CrashHelmApplying {
		return func() {}
	}
	rc, err := deploy.RESTConfig(env.Kubeconfig, env.Context)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferrytest: no watch of Helm records: %v\n", err)
		return func() {}
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferrytest: no watch of Helm records: %v\n", err)
		return func() {}
	}
	// The watch is open before Helm is called, so no record it writes is missed.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	wi, err := kube.CoreV1().Secrets(env.Namespace).Watch(wctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + env.Release})
	if err != nil {
		cancel()
		fmt.Fprintf(os.Stderr, "ferrytest: no watch of Helm records: %v\n", err)
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer wi.Stop()
		for ev := range wi.ResultChan() {
			s, ok := ev.Object.(*corev1.Secret)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			if strings.HasPrefix(s.Labels["status"], "pending-") {
				crashpoint(CrashHelmApplying)
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

// registerTestMetrics adds the pass counts and the Go runtime's and the
// process's metrics (goroutines, resident memory) to reg.
func registerTestMetrics(reg prometheus.Registerer) {
	for _, c := range []prometheus.Collector{passes, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		_ = reg.Register(c)
	}
}
