package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
	"github.com/ferry-gitops/ferry/internal/gitserver"
	"github.com/ferry-gitops/ferry/internal/localcluster"
)

// ScaleOptions shape one scale run.
type ScaleOptions struct {
	// Envs is the number of environments (in pipelines of three).
	Envs int
	// Workers is ferry's timing.workers.
	Workers int
	// Binary is the ferry binary to run.
	Binary string
	// Timeout bounds the wait for every environment to be healthy.
	Timeout time.Duration
	// Goal, when set, is a deadline to count against: the result says how
	// many environments were healthy that long after ferry started.
	Goal time.Duration
	// Progress receives a line per step and a progress line now and then.
	Progress io.Writer
}

// ScaleResult is what one scale run measured.
type ScaleResult struct {
	Envs      int `json:"envs"`
	Pipelines int `json:"pipelines"`
	Workers   int `json:"workers"`
	// Healthy is how many environments reached a revision marked good
	// (verified healthy) before the timeout; Succeeded and Failed are
	// ferry's own counts of ended promotions.
	Healthy int `json:"healthy"`
	// HealthyByGoal is how many were healthy at ScaleOptions.Goal.
	HealthyByGoal int     `json:"healthyByGoal,omitempty"`
	GoalSeconds   float64 `json:"goalSeconds,omitempty"`
	Succeeded     int     `json:"succeeded"`
	Failed        int     `json:"failed"`
	// Seconds is the time from starting ferry to the last environment
	// verified healthy (or to the timeout); the tiers' times are when the
	// last of each tier was.
	Seconds     float64            `json:"seconds"`
	TierSeconds map[string]float64 `json:"tierSeconds"`
	// PeakRSSMiB is ferry's VmHWM; CPUSeconds its user+system time.
	PeakRSSMiB float64 `json:"peakRSSMiB"`
	CPUSeconds float64 `json:"cpuSeconds"`
	// API are ferry's requests as the API server counted them.
	API FerryRequests `json:"apiRequests"`
	// Git counts what the Git server served.
	GitBytes           int64   `json:"gitBytesServed"`
	GitAdvertisements  int     `json:"gitAdvertisements"`
	GitNegotiations    int     `json:"gitNegotiations"`
	ClusterStartSecond float64 `json:"clusterStartSeconds"`
	// Err says what cut the run short, if anything.
	Err string `json:"error,omitempty"`
}

// Scale starts a fresh local cluster with room for opts.Envs pods, a Git
// server with the tiny chart, and ferry with a generated ferry.yaml of
// opts.Envs environments; then measures the cold start: from starting
// ferry until every environment's release is verified healthy.
func Scale(ctx context.Context, opts ScaleOptions) (ScaleResult, error) {
	res := ScaleResult{Envs: opts.Envs, Workers: opts.Workers, TierSeconds: map[string]float64{}}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(progress, "scale %d: "+format+"\n", append([]any{opts.Envs}, args...)...)
	}

	dir, err := os.MkdirTemp("", "ferry-scale-")
	if err != nil {
		return res, fmt.Errorf("bench: scale directory: %w", err)
	}
	defer os.RemoveAll(dir)

	// Pods need room: three fake nodes of 250 pods hold 750.
	nodes := 3
	perNode := max(250, (opts.Envs+nodes-1)/nodes+50)
	t0 := time.Now()
	cluster, err := localcluster.Start(ctx, localcluster.Options{Nodes: nodes, NodePods: perNode})
	if err != nil {
		return res, fmt.Errorf("bench: local cluster: %w", err)
	}
	defer cluster.Stop()
	res.ClusterStartSecond = time.Since(t0).Seconds()
	logf("cluster ready in %.1fs (%d nodes of %d pods)", res.ClusterStartSecond, nodes, perNode)
	kubeconfig, err := FerryIdentity(ctx, cluster)
	if err != nil {
		return res, err
	}
	api, err := NewAPIServer(cluster)
	if err != nil {
		return res, err
	}

	git, err := gitserver.New(filepath.Join(dir, "git"))
	if err != nil {
		return res, fmt.Errorf("bench: git server: %w", err)
	}
	defer git.Close()
	if _, err := git.StartHTTP(gitserver.HTTPOptions{}); err != nil {
		return res, fmt.Errorf("bench: git server: %w", err)
	}
	repo, err := git.CreateRepo("tiny")
	if err != nil {
		return res, fmt.Errorf("bench: git repository: %w", err)
	}
	files, err := tinyChartFiles()
	if err != nil {
		return res, err
	}
	var commit []gitserver.CommitOption
	for _, p := range sortedKeys(files) {
		commit = append(commit, gitserver.WithFile(p, files[p]))
	}
	if _, err := repo.Commit("tiny chart", commit...); err != nil {
		return res, fmt.Errorf("bench: commit the tiny chart: %w", err)
	}

	listen, err := freeAddr()
	if err != nil {
		return res, err
	}
	layout := ScaleLayout{
		Envs: opts.Envs, RepoURL: git.HTTPURL("tiny"), Listen: listen, Workers: opts.Workers,
		Poll: time.Minute, HealthTimeout: 2 * time.Minute, StateNamespace: "ferry-system", Prefix: "t",
	}
	res.Pipelines = len(layout.Pipelines())
	cfgText, err := layout.Config()
	if err != nil {
		return res, err
	}
	cfgPath := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgPath, cfgText, 0o644); err != nil {
		return res, fmt.Errorf("bench: write ferry.yaml: %w", err)
	}
	if _, err := config.Load(cfgPath, config.Options{ValidateSet: deploy.ValidateSet, ValidateSetString: deploy.ValidateSetString}); err != nil {
		return res, fmt.Errorf("bench: the generated ferry.yaml does not load: %w", err)
	}
	admin, err := cluster.Clientset()
	if err != nil {
		return res, fmt.Errorf("bench: cluster client: %w", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: layout.StateNamespace}}
	if _, err := admin.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return res, fmt.Errorf("bench: create ferry's namespace: %w", err)
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	good, err := watchGoodReleases(watchCtx, cluster)
	if err != nil {
		return res, err
	}
	before, err := api.Ferry(ctx)
	if err != nil {
		return res, err
	}
	git.ResetStats()

	logf("starting ferry: %d environments in %d pipelines, %d workers", opts.Envs, res.Pipelines, opts.Workers)
	ferry, err := startFerry(opts.Binary, cfgPath, filepath.Join(dir, "data"), dir, kubeconfig, filepath.Join(dir, "ferry.log"))
	if err != nil {
		return res, err
	}
	defer ferry.stop(30 * time.Second)

	want := map[string]bool{}
	for _, r := range layout.Releases() {
		want[r] = true
	}
	waitErr := waitAllGood(ctx, good, want, ferry, opts.Timeout, func(n int, at time.Duration) {
		logf("%4d/%d healthy after %.0fs", n, opts.Envs, at.Seconds())
	})
	stats, procErr := ReadProc(ferry.pid())
	at := good.times()
	res.Healthy = len(at)
	var last time.Duration
	for key, t := range at {
		d := t.Sub(ferry.started)
		last = max(last, d)
		if opts.Goal > 0 && d <= opts.Goal {
			res.HealthyByGoal++
		}
		tier := key[strings.LastIndexByte(key, '-')+1:]
		res.TierSeconds[tier] = max(res.TierSeconds[tier], d.Seconds())
	}
	res.Seconds = last.Seconds()
	res.GoalSeconds = opts.Goal.Seconds()
	if waitErr != nil {
		res.Seconds = time.Since(ferry.started).Seconds()
		res.Err = waitErr.Error()
	}
	if procErr == nil {
		res.PeakRSSMiB = float64(stats.PeakRSS) / (1 << 20)
		res.CPUSeconds = stats.CPU.Seconds()
	}
	after, err := api.Ferry(ctx)
	if err != nil {
		return res, err
	}
	res.API = after.Sub(before)
	gs := git.Stats()
	res.GitBytes, res.GitAdvertisements, res.GitNegotiations = gs.BytesOut, gs.Advertisements, gs.Negotiations
	if m, err := scrape(ctx, "http://"+listen); err == nil {
		res.Succeeded = int(m.Sum("ferry_promotions_total", map[string]string{"result": "Succeeded"}))
		res.Failed = int(m.Sum("ferry_promotions_total", map[string]string{"result": "Failed"}))
	}
	if waitErr != nil {
		return res, fmt.Errorf("%w\nlast lines of ferry's log:\n%s", waitErr, ferry.logTail(20))
	}
	if procErr != nil {
		return res, procErr
	}
	return res, nil
}

// goodReleases records when each release ("namespace/release") first had a
// revision marked good.
type goodReleases struct {
	mu    sync.Mutex
	first map[string]time.Time
	// changed is signalled (without blocking) on every new release.
	changed chan struct{}
}

func (g *goodReleases) saw(obj any) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return
	}
	key := m.Namespace + "/" + m.Labels["name"]
	g.mu.Lock()
	_, seen := g.first[key]
	if !seen {
		g.first[key] = time.Now()
	}
	g.mu.Unlock()
	if !seen {
		select {
		case g.changed <- struct{}{}:
		default:
		}
	}
}

func (g *goodReleases) times() map[string]time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]time.Time, len(g.first))
	for k, v := range g.first {
		out[k] = v
	}
	return out
}

// watchGoodReleases watches, as admin and by metadata only, the Helm
// release Secrets that ferry has marked good: the sign that a revision
// passed its verification there. It costs ferry nothing.
func watchGoodReleases(ctx context.Context, c *localcluster.Cluster) (*goodReleases, error) {
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, fmt.Errorf("bench: cluster config: %w", err)
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: metadata client: %w", err)
	}
	selector := "owner=helm," + deploy.LabelGood + "=true"
	f := metadatainformer.NewFilteredSharedInformerFactory(mc, 0, metav1.NamespaceAll, func(o *metav1.ListOptions) { o.LabelSelector = selector })
	inf := f.ForResource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Informer()
	g := &goodReleases{first: map[string]time.Time{}, changed: make(chan struct{}, 1)}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    g.saw,
		UpdateFunc: func(_, obj any) { g.saw(obj) },
	}); err != nil {
		return nil, fmt.Errorf("bench: watch Helm releases: %w", err)
	}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("bench: watch Helm releases: %w", ctx.Err())
	}
	return g, nil
}

// waitAllGood waits until every wanted release is good, ferry exits or the
// timeout passes, telling progress every ten seconds.
func waitAllGood(ctx context.Context, g *goodReleases, want map[string]bool, ferry *ferryProcess, timeout time.Duration, progress func(n int, at time.Duration)) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	count := func() int {
		n := 0
		for k := range g.times() {
			if want[k] {
				n++
			}
		}
		return n
	}
	for {
		if count() == len(want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ferry.done:
			return fmt.Errorf("%w: %v", errExited, ferry.err)
		case <-deadline.C:
			return fmt.Errorf("only %d of %d environments healthy after %s", count(), len(want), timeout)
		case <-tick.C:
			progress(count(), time.Since(ferry.started))
		case <-g.changed:
		}
	}
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: find a free port: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
