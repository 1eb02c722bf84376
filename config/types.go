package config

import (
	"time"
)

// Struct tags understood by the decoder, the defaults and the schema:
//
//	yaml:"key"         the key in ferry.yaml (every field has one)
//	default:"30s"      the value used when the key is absent, parsed like the key's own text
//	enum:"a,b"         the only values allowed
//	required:"true"    the key must be present and non-empty
//
// Defaults that depend on other keys (a namespace named after its pipeline, the
// first environment holding on failure) are set in defaults.go.

// Config is the whole ferry.yaml: the pipelines one daemon runs and the
// services they share.
type Config struct {
	Pipelines []Pipeline `yaml:"pipelines" required:"true"`
	Chat      Chat       `yaml:"chat"`
	Server    Server     `yaml:"server"`
	State     State      `yaml:"state"`
	Timing    Timing     `yaml:"timing"`

	// src locates every key in the file, for problems found after decoding.
	src *source
}

// Pipeline is one Git source, one chart in it, and the environments a
// revision travels through.
type Pipeline struct {
	// Name is a DNS-1123 label, unique in the file; it names the state
	// ConfigMap and the webhook path /hooks/git/{name}.
	Name   string `yaml:"name" required:"true"`
	Source Source `yaml:"source" required:"true"`
	// Chart is the chart's directory, relative to the repository root.
	Chart string `yaml:"chart" required:"true"`
	// Values are pipeline-wide values files (relative to the repository
	// root), layered after the chart's values.yaml and before each
	// environment's own files.
	Values       []string      `yaml:"values"`
	Environments []Environment `yaml:"environments" required:"true"`
}

// Source is the Git repository and branch a pipeline follows.
type Source struct {
	// URL is https://, http://, ssh://, scp-like user@host:path, file:// or
	// an absolute local path.
	URL    string `yaml:"url" required:"true"`
	Branch string `yaml:"branch" default:"main"`
	// Interval is how often the branch head is polled; a webhook only makes
	// the next poll happen at once.
	Interval time.Duration `yaml:"interval" default:"1m"`
	Auth     Auth          `yaml:"auth"`
	// Webhook, when set, enables /hooks/git/{pipeline} for this pipeline.
	Webhook *Webhook `yaml:"webhook,omitempty"`
}

// Auth says how to reach a private repository. Either TokenFile (HTTPS) or
// SSHKeyFile with KnownHostsFile (SSH); neither for a public repository.
// Relative file paths are resolved against the directory of ferry.yaml.
type Auth struct {
	// Username goes with the token for HTTPS basic auth; most forges accept
	// any non-empty name.
	Username       string `yaml:"username,omitempty" default:"git"`
	TokenFile      string `yaml:"tokenFile,omitempty"`
	SSHKeyFile     string `yaml:"sshKeyFile,omitempty"`
	KnownHostsFile string `yaml:"knownHostsFile,omitempty"`
}

// Webhook providers.
const (
	WebhookGitHub  = "github"
	WebhookGitLab  = "gitlab"
	WebhookGitea   = "gitea"
	WebhookGeneric = "generic"
)

// Webhook is how pushes are announced to ferry. The secret verifies each
// delivery (HMAC over the body, or GitLab's token header).
type Webhook struct {
	Provider   string `yaml:"provider" required:"true" enum:"github,gitlab,gitea,generic"`
	SecretFile string `yaml:"secretFile" required:"true"`
}

// Failure policies after a failed verification.
const (
	OnFailureHold     = "hold"
	OnFailureRollback = "rollback"
)

// Drift policies when the live release differs from what ferry applied.
const (
	DriftReport  = "report"
	DriftCorrect = "correct"
)

// Environment is one deployment target of a pipeline and the checks a
// revision must pass there.
type Environment struct {
	// Name is a DNS-1123 label, unique within the pipeline.
	Name string `yaml:"name" required:"true"`
	// From is the environment whose succeeded revisions this one takes;
	// empty for the first environment, which follows the branch head.
	From string `yaml:"from,omitempty"`
	// Kubeconfig is a kubeconfig file on ferry's host; empty means in-cluster
	// or $KUBECONFIG. Relative paths are resolved against ferry.yaml's directory.
	Kubeconfig string `yaml:"kubeconfig,omitempty"`
	// Context is the kubeconfig context; empty means its current context.
	Context string `yaml:"context,omitempty"`
	// Namespace defaults to "<pipeline>-<environment>".
	Namespace       string            `yaml:"namespace"`
	CreateNamespace bool              `yaml:"createNamespace"`
	NamespaceLabels map[string]string `yaml:"namespaceLabels,omitempty"`
	// Release is the Helm release name (at most 53 characters); it defaults
	// to "<pipeline>-<environment>".
	Release string `yaml:"release"`
	// Values are this environment's values files, relative to the repository
	// root, layered after the pipeline's.
	Values []string `yaml:"values"`
	// Set and SetString are `helm --set` and `--set-string` expressions,
	// applied in order after all values files.
	Set       []string `yaml:"set"`
	SetString []string `yaml:"setString"`
	Gates     Gates    `yaml:"gates"`
	// Approval, when set, makes promotions wait for people.
	Approval *Approval `yaml:"approval,omitempty"`
	// Windows, when set, are the only times a promotion may be applied.
	Windows []Window `yaml:"windows,omitempty"`
	// OnFailure is what a failed verification does: "rollback" to the last
	// good Helm revision, or "hold". Defaults to hold for the first
	// environment and rollback for every other.
	OnFailure string `yaml:"onFailure" enum:"hold,rollback"`
	Drift     string `yaml:"drift" default:"report" enum:"report,correct"`
	// MaxHistory is the number of Helm revisions kept (0 keeps all); the
	// last good one is never pruned.
	MaxHistory int `yaml:"maxHistory" default:"10"`
}

// Gates are the checks of one environment. Policy runs before applying;
// health and the load test verify after.
type Gates struct {
	Health   HealthGate    `yaml:"health"`
	LoadTest *LoadTestGate `yaml:"loadTest,omitempty"`
	Policy   *PolicyGate   `yaml:"policy,omitempty"`
}

// HealthGate waits until every rendered object is healthy. It always runs.
type HealthGate struct {
	// Timeout is how long objects may take to become healthy before the
	// verification fails.
	Timeout time.Duration `yaml:"timeout" default:"5m"`
}

// LoadTestGate sends HTTP traffic at a fixed rate and checks the result
// against service-level objectives.
type LoadTestGate struct {
	// URLs are hit in turn (http or https).
	URLs []string `yaml:"urls" required:"true"`
	// Method is the HTTP method of every request.
	Method   string        `yaml:"method" default:"GET"`
	Rate     Rate          `yaml:"rate" default:"10/s"`
	Duration time.Duration `yaml:"duration" default:"30s"`
	// Timeout bounds each request.
	Timeout time.Duration `yaml:"timeout" default:"5s"`
	SLO     SLO           `yaml:"slo"`
}

// SLO are the objectives of a load test. A zero latency objective is not
// checked.
type SLO struct {
	P95         time.Duration `yaml:"p95,omitempty"`
	P99         time.Duration `yaml:"p99,omitempty"`
	SuccessRate Percent       `yaml:"successRate" default:"99%"`
	// MinRequests is how many requests must have been sent for the result to
	// count; fewer is a failure, not a pass.
	MinRequests int `yaml:"minRequests,omitempty"`
}

// Pod Security Standard levels.
const (
	PodSecurityPrivileged = "privileged"
	PodSecurityBaseline   = "baseline"
	PodSecurityRestricted = "restricted"
)

// PolicyGate checks the rendered manifest before it is applied.
type PolicyGate struct {
	// PodSecurity is the Pod Security Standard every pod must meet; empty
	// checks nothing.
	PodSecurity string `yaml:"podSecurity,omitempty" enum:"privileged,baseline,restricted"`
	// RequireNetworkPolicy fails a release whose pods no NetworkPolicy selects.
	RequireNetworkPolicy bool `yaml:"requireNetworkPolicy,omitempty"`
	// QuotaFit fails a release whose resources, at maximum autoscaling, do not
	// fit the namespace's ResourceQuota.
	QuotaFit bool         `yaml:"quotaFit,omitempty"`
	Rules    []PolicyRule `yaml:"rules,omitempty"`
}

// PolicyRule is a CEL expression that every rendered object must satisfy.
type PolicyRule struct {
	Name string `yaml:"name" required:"true"`
	// CEL sees the object as `object` and must return true.
	CEL string `yaml:"cel" required:"true"`
	// Message is shown when the rule fails; defaults to the rule's name.
	Message string `yaml:"message,omitempty"`
}

// Approval makes a promotion wait until Required different approvers
// approved that exact revision.
type Approval struct {
	Required int `yaml:"required" default:"1"`
	// Approvers are ferry identities (see Chat.Users and the API tokens file).
	Approvers []string `yaml:"approvers"`
}

// Window is a time when promotions may be applied: it opens on each
// Schedule activation and stays open for Duration.
type Window struct {
	// Schedule is a five-field cron expression, optionally prefixed with
	// CRON_TZ=<zone> or TZ=<zone>; ParseSchedule reads it.
	Schedule string        `yaml:"schedule" required:"true"`
	Duration time.Duration `yaml:"duration" required:"true"`
}

// Chat says where promotions are told. Without Slack, events go to the
// console only.
type Chat struct {
	Slack *Slack `yaml:"slack,omitempty"`
	// Users maps Slack users to ferry identities, used for approvals. A key
	// is a Slack user ID (U024BE7LH) or the e-mail address of the Slack
	// account (alice@example.com, matched case-insensitively); an ID key wins
	// over an e-mail key for the same person. E-mail keys make ferry look up
	// the clicker's address with Slack's users.info, which needs the app's
	// users:read and users:read.email scopes; lookups are cached for 10
	// minutes.
	Users map[string]string `yaml:"users,omitempty"`
}

// Slack is the Slack app ferry posts as.
type Slack struct {
	TokenFile         string `yaml:"tokenFile" required:"true"`
	SigningSecretFile string `yaml:"signingSecretFile" required:"true"`
	// Channel is a channel ID (C0123456789), not a name, so a rename does
	// not break ferry.
	Channel string `yaml:"channel" required:"true"`
	// APIURL replaces https://slack.com/api/, for a Slack-protocol server in tests.
	APIURL string `yaml:"apiURL,omitempty"`
}

// Server is ferry's HTTP endpoint (health, metrics, webhooks, Slack, API).
type Server struct {
	Listen string `yaml:"listen" default:":8080"`
	// APITokensFile holds one "token user" pair per line; without it the
	// write API is disabled.
	APITokensFile string `yaml:"apiTokensFile,omitempty"`
}

// State says where ferry keeps its durable state: ConfigMaps and the
// leader Lease in one namespace of the cluster ferry runs in.
type State struct {
	Namespace string `yaml:"namespace" default:"ferry-system"`
	// Kubeconfig and Context reach that cluster; empty means in-cluster or
	// $KUBECONFIG.
	Kubeconfig string `yaml:"kubeconfig,omitempty"`
	Context    string `yaml:"context,omitempty"`
	// LeaseName is the leader-election Lease.
	LeaseName string `yaml:"leaseName" default:"ferry-leader"`
	// HistoryLimit caps the promotions kept per environment, so a ConfigMap
	// stays far below its 1 MiB limit.
	HistoryLimit int `yaml:"historyLimit" default:"20"`
}

// Timing holds every wait ferry makes, so tests can run at test scale.
type Timing struct {
	// Resync re-checks every environment this often even without a trigger.
	Resync time.Duration `yaml:"resync" default:"10m"`
	// Workers is how many environments are reconciled in parallel.
	Workers        int            `yaml:"workers" default:"4"`
	LeaderElection LeaderElection `yaml:"leaderElection"`
	ChatRetry      Backoff        `yaml:"chatRetry"`
}

// LeaderElection are client-go's leader-election durations.
type LeaderElection struct {
	LeaseDuration time.Duration `yaml:"leaseDuration" default:"15s"`
	RenewDeadline time.Duration `yaml:"renewDeadline" default:"10s"`
	RetryPeriod   time.Duration `yaml:"retryPeriod" default:"2s"`
}

// Backoff is an exponential retry delay, doubling from Initial up to Max.
type Backoff struct {
	Initial time.Duration `yaml:"initial" default:"1s"`
	Max     time.Duration `yaml:"max" default:"5m"`
}
