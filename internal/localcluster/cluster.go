// Package localcluster builds and runs a real Kubernetes control plane on
// loopback for ferry's tests and demo: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok, which stands in for
// kubelets by making pods on fake nodes Running and Ready. Its stages also
// produce the failures users meet (ImagePullBackOff, CrashLoopBackOff, slow
// readiness), so health checks and rollbacks are exercised for real.
//
// The binaries are built once from pinned Go modules (see EnsureBinaries) and
// cached outside the repository. Nothing here is imported by ferry's product
// packages.
package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Markers that make kwok simulate failing workloads (see stages/pod.yaml).
const (
	// MissingImageSuffix: a container whose image tag ends with it sits in
	// ImagePullBackOff and never becomes Ready.
	MissingImageSuffix = "-missing"
	// SimulateLabel on a pod selects a behaviour: SimulateCrashLoop,
	// SimulateSlow or SimulateHang.
	SimulateLabel = "localcluster.ferry.dev/simulate"
	// SimulateCrashLoop pods show CrashLoopBackOff with a rising restart count.
	SimulateCrashLoop = "crashloop"
	// SimulateSlow pods run but turn Ready only after ReadyAfterAnnotation
	// (a Go duration, default 10s).
	SimulateSlow = "slow"
	// SimulateHang pods become Ready but, when they belong to a Job, never
	// complete: a hook Job that keeps Helm waiting.
	SimulateHang = "hang"
	// ReadyAfterAnnotation sets how long a slow pod takes to become Ready.
	ReadyAfterAnnotation = "localcluster.ferry.dev/ready-after"
)

// StorageClass is a class the cluster owns, provisioned by kwok once the
// scheduler has placed the claim's first consumer.
type StorageClass struct {
	Name string
	// Retain keeps the volume when its claim is deleted; otherwise it is deleted.
	Retain bool
	// Default marks the cluster's default class.
	Default bool
}

// Options shape the cluster. The zero value gives the defaults.
type Options struct {
	// Nodes is the number of fake nodes (default 3).
	Nodes int
	// NodeCPU, NodeMemory and NodePods are each node's capacity
	// (defaults "16", "64Gi", 250).
	NodeCPU    string
	NodeMemory string
	NodePods   int
	// StorageClasses default to the seed's: standard (Delete, default),
	// ssd-fast (Delete) and premium-ssd-retained (Retain).
	StorageClasses []StorageClass
	// CRDs are extra CustomResourceDefinition manifests (YAML, several
	// documents allowed) installed and Established before Start returns.
	CRDs [][]byte
	// Progress receives one line per start-up step; nil discards them.
	Progress io.Writer
}

func (o *Options) setDefaults() {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.NodeCPU == "" {
		o.NodeCPU = "16"
	}
	if o.NodeMemory == "" {
		o.NodeMemory = "64Gi"
	}
	if o.NodePods == 0 {
		o.NodePods = 250
	}
	if o.StorageClasses == nil {
		o.StorageClasses = []StorageClass{
			{Name: "standard", Default: true},
			{Name: "ssd-fast"},
			{Name: "premium-ssd-retained", Retain: true},
		}
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Ports are the loopback ports the control plane listens on.
type Ports struct {
	EtcdClient, EtcdPeer, APIServer, ControllerManager, Scheduler, Kwok int
}

// Cluster is a running local control plane.
type Cluster struct {
	// Kubeconfig is the path of the admin kubeconfig (system:masters).
	Kubeconfig string
	// Server is the API server's URL.
	Server string
	Ports  Ports
	// DataDir holds certificates, logs and etcd data; Stop removes it.
	DataDir string
	// NodeNames are the fake nodes, all Ready when Start returns.
	NodeNames []string

	opts     Options
	pki      *pki
	procs    []*process
	stopOnce sync.Once
}

// Start builds what is missing (see EnsureBinaries), starts the control plane
// on 127.0.0.1 with free ports and fresh certificates, and returns when the
// API server is ready and every fake node is Ready.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	opts.setDefaults()
	binDir, err := EnsureBinaries(ctx, opts.Progress)
	if err != nil {
		return nil, err
	}
	if err := reapOrphans(binDir); err != nil {
		return nil, fmt.Errorf("reap leftovers of earlier runs: %w", err)
	}
	if err := os.MkdirAll(runRoot(), 0o755); err != nil {
		return nil, err
	}
	dataDir, err := os.MkdirTemp(runRoot(), "cluster-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dataDir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return nil, err
	}
	c := &Cluster{DataDir: dataDir, opts: opts}
	if err := c.start(ctx, binDir); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, binDir string) error {
	t0 := time.Now()
	step := func(msg string) {
		fmt.Fprintf(c.opts.Progress, "localcluster: %s (%s)\n", msg, time.Since(t0).Round(10*time.Millisecond))
	}
	var err error
	if c.pki, err = newPKI(filepath.Join(c.DataDir, "pki")); err != nil {
		return err
	}
	ports, err := freePorts(6)
	if err != nil {
		return err
	}
	c.Ports = Ports{EtcdClient: ports[0], EtcdPeer: ports[1], APIServer: ports[2], ControllerManager: ports[3], Scheduler: ports[4], Kwok: ports[5]}
	c.Server = fmt.Sprintf("https://127.0.0.1:%d", c.Ports.APIServer)
	c.Kubeconfig = filepath.Join(c.DataDir, "admin.kubeconfig")
	kcmConfig := filepath.Join(c.DataDir, "controller-manager.kubeconfig")
	schedConfig := filepath.Join(c.DataDir, "scheduler.kubeconfig")
	for _, kc := range []struct {
		path, user string
		kp         keyPair
	}{
		{c.Kubeconfig, "admin", c.pki.admin},
		{kcmConfig, "system:kube-controller-manager", c.pki.controller},
		{schedConfig, "system:kube-scheduler", c.pki.scheduler},
	} {
		if err := writeKubeconfig(kc.path, c.Server, c.pki.ca.certPEM, kc.user, kc.kp); err != nil {
			return err
		}
	}
	logs := filepath.Join(c.DataDir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	run := func(name string, args ...string) (*process, error) {
		p, err := startProcess(name, filepath.Join(binDir, name), args, filepath.Join(logs, name+".log"))
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, p)
		if err := recordPIDs(c.DataDir, c.procs); err != nil {
			return nil, err
		}
		return p, nil
	}

	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", c.Ports.EtcdClient)
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", c.Ports.EtcdPeer)
	etcd, err := run("etcd",
		"--name=ferry", "--data-dir="+filepath.Join(c.DataDir, "etcd"),
		"--listen-client-urls="+etcdClient, "--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer, "--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=ferry="+etcdPeer,
		"--unsafe-no-fsync", "--log-level=warn", "--quota-backend-bytes=2147483648")
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, etcd, plainClient(), etcdClient+"/health", `"health":"true"`, time.Minute); err != nil {
		return err
	}
	step("etcd healthy")

	p := c.pki
	api, err := run("kube-apiserver",
		"--etcd-servers="+etcdClient,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(c.Ports.APIServer),
		"--tls-cert-file="+p.servingCert, "--tls-private-key-file="+p.servingKey,
		"--client-ca-file="+p.caFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p.saPublicKey,
		"--service-account-signing-key-file="+p.saPrivateKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=Node,RBAC",
		"--endpoint-reconciler-type=none",
		"--requestheader-client-ca-file="+p.frontCAFile,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file="+p.frontCert, "--proxy-client-key-file="+p.frontKey,
		"--profiling=false")
	if err != nil {
		return err
	}
	adminHTTP, err := c.adminHTTPClient()
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, api, adminHTTP, c.Server+"/readyz", "ok", 2*time.Minute); err != nil {
		return err
	}
	step("kube-apiserver ready")

	client, err := c.Clientset()
	if err != nil {
		return err
	}
	// The controller manager runs every controller under its own identity
	// (--use-service-account-credentials=false), whose bootstrap role cannot
	// create ReplicaSets or Pods; grant it what it needs to act for all of them.
	if err := grantControllerManager(ctx, client); err != nil {
		return err
	}
	// RBAC's cache lags the binding: wait until the grant is in force, or the
	// controller manager exits on its first read of kube-system.
	kcmConfigREST, err := restConfigFrom(kcmConfig)
	if err != nil {
		return err
	}
	kcmClient, err := kubernetes.NewForConfig(kcmConfigREST)
	if err != nil {
		return err
	}
	err = poll(ctx, time.Minute, func() (bool, string, error) {
		_, err := kcmClient.CoreV1().ConfigMaps("kube-system").Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
	if err != nil {
		return fmt.Errorf("controller manager's access: %w", err)
	}
	kcm, err := run("kube-controller-manager",
		"--kubeconfig="+kcmConfig,
		"--authentication-kubeconfig="+kcmConfig,
		"--authorization-kubeconfig="+kcmConfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(c.Ports.ControllerManager),
		"--controllers=*", "--use-service-account-credentials=false", "--leader-elect=false",
		"--root-ca-file="+p.caFile, "--service-account-private-key-file="+p.saPrivateKey,
		"--cluster-signing-cert-file="+p.caFile,
		"--service-cluster-ip-range=10.96.0.0/16",
		// The default 20 QPS would make the deployment and ReplicaSet
		// controllers the slowest part of a cluster carrying hundreds of
		// releases (ferry's scale benchmark); clusters of that size run
		// their controller manager with limits of this order.
		"--kube-api-qps=200", "--kube-api-burst=400",
		"--profiling=false")
	if err != nil {
		return err
	}
	sched, err := run("kube-scheduler",
		"--kubeconfig="+schedConfig,
		"--authentication-kubeconfig="+schedConfig,
		"--authorization-kubeconfig="+schedConfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(c.Ports.Scheduler),
		"--leader-elect=false", "--profiling=false",
		"--kube-api-qps=200", "--kube-api-burst=400")
	if err != nil {
		return err
	}
	kwokConfig := filepath.Join(c.DataDir, "kwok.yaml")
	if err := os.WriteFile(kwokConfig, stageConfig(c.opts.StorageClasses), 0o600); err != nil {
		return err
	}
	kwok, err := run("kwok",
		"--kubeconfig="+c.Kubeconfig, "--config="+kwokConfig,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--server-address=127.0.0.1:"+strconv.Itoa(c.Ports.Kwok),
		"--node-ip=127.0.0.1", "--cidr=10.244.0.0/16",
		// The kwok binary defaults to no node lease (kwokctl passes 40): without
		// one the node controller marks nodes Unknown after about 50 s and
		// their pods turn unready for good.
		"--node-lease-duration-seconds=40")
	if err != nil {
		return err
	}
	insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if err := waitHTTP(ctx, kcm, insecure, fmt.Sprintf("https://127.0.0.1:%d/healthz", c.Ports.ControllerManager), "ok", time.Minute); err != nil {
		return err
	}
	if err := waitHTTP(ctx, sched, insecure, fmt.Sprintf("https://127.0.0.1:%d/healthz", c.Ports.Scheduler), "ok", time.Minute); err != nil {
		return err
	}
	if err := waitHTTP(ctx, kwok, plainClient(), fmt.Sprintf("http://127.0.0.1:%d/healthz", c.Ports.Kwok), "ok", time.Minute); err != nil {
		return err
	}
	step("controller manager, scheduler and kwok healthy")

	if err := createStorageClasses(ctx, client, c.opts.StorageClasses); err != nil {
		return err
	}
	if c.NodeNames, err = createNodes(ctx, client, c.opts); err != nil {
		return err
	}
	if err := waitNodesReady(ctx, client, c.NodeNames, time.Minute); err != nil {
		return fmt.Errorf("%w\nkwok log:\n%s", err, kwok.logTail())
	}
	step(fmt.Sprintf("%d nodes Ready", len(c.NodeNames)))
	if len(c.opts.CRDs) > 0 {
		if err := c.InstallCRDs(ctx, c.opts.CRDs...); err != nil {
			return err
		}
		step("CRDs established")
	}
	return nil
}

// Stop ends every process the cluster started, in reverse order, and removes
// its data. It is safe to call more than once.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		for i := len(c.procs) - 1; i >= 0; i-- {
			c.procs[i].stop(10 * time.Second)
		}
		os.RemoveAll(c.DataDir)
	})
}

// PIDs returns the process IDs of the running control-plane processes.
func (c *Cluster) PIDs() []int {
	var pids []int
	for _, p := range c.procs {
		pids = append(pids, p.pid())
	}
	return pids
}

// RESTConfig returns a client configuration for the admin identity, with
// rate limits raised for tests that create many objects.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	return restConfigFrom(c.Kubeconfig)
}

// Clientset returns a typed client for the admin identity.
func (c *Cluster) Clientset() (*kubernetes.Clientset, error) {
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// Identity writes a kubeconfig for a non-admin user authenticated by a client
// certificate (user name as CN, groups as O) and returns its path. The user
// can do only what RBAC grants it, so least-privilege roles are tested for real.
func (c *Cluster) Identity(name string, groups []string) (string, error) {
	kp, err := c.pki.ca.issue(name, groups, false, nil, nil)
	if err != nil {
		return "", err
	}
	safe := strings.NewReplacer(":", "_", "/", "_").Replace(name)
	path := filepath.Join(c.DataDir, "identity-"+safe+".kubeconfig")
	if err := writeKubeconfig(path, c.Server, c.pki.ca.certPEM, name, kp); err != nil {
		return "", err
	}
	return path, nil
}

// LogTail returns the last lines of one control-plane process's log
// ("kube-apiserver", "kwok", ...), for diagnosing a failed test.
func (c *Cluster) LogTail(name string) string {
	for _, p := range c.procs {
		if p.name == name {
			return p.logTail()
		}
	}
	return ""
}

func restConfigFrom(kubeconfig string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS = 200
	cfg.Burst = 400
	return cfg, nil
}

func (c *Cluster) adminHTTPClient() (*http.Client, error) {
	cert, err := tls.X509KeyPair(c.pki.admin.certPEM, c.pki.admin.keyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.pki.ca.cert)
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
	}}, nil
}

func plainClient() *http.Client { return &http.Client{Timeout: 2 * time.Second} }

// waitHTTP polls url until its body contains want, the process exits, or the
// timeout passes; errors carry the end of the process's log.
func waitHTTP(ctx context.Context, p *process, client *http.Client, url, want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		if p.exited() {
			return fmt.Errorf("%s exited during start-up: %v\n%s", p.name, p.err, p.logTail())
		}
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if strings.Contains(string(body), want) {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, tail(string(body), 5))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s (last answer: %s)\n%s", p.name, timeout, last, p.logTail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freePorts asks the kernel for n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// PortFree reports whether nothing listens on the loopback port.
func PortFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
