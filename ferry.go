// Package ferry holds the contract types that ferry's packages exchange: a
// Git revision, a rendered release, its resource summary, health verdicts, gate
// results, promotions, approvals and the events that chat and history are told.
//
// It is a leaf: it imports nothing of the project, so gitsource, deploy,
// promote, chat and the reconciler can pass these values to each other without
// importing one another and without adapters.
package ferry

import (
	"errors"
	"strconv"
	"time"
)

// Revision is one commit on the tracked branch: the unit that moves from
// environment to environment.
type Revision struct {
	// SHA is the full hexadecimal commit hash.
	SHA string `json:"sha"`
	// Subject is the first line of the commit message.
	Subject string `json:"subject,omitempty"`
	// Author is the commit author's name (and e-mail when known).
	Author string `json:"author,omitempty"`
	// Time is the committer time.
	Time time.Time `json:"time,omitzero"`
	// ChangedFiles lists the repository paths changed since the revision the
	// environment ran before, so chat can say "values-prod.yaml changed".
	// It holds at most MaxChangedFiles paths, sorted; ChangedFilesMore counts
	// the rest, so a commit of generated files cannot swell durable state.
	ChangedFiles     []string `json:"changedFiles,omitempty"`
	ChangedFilesMore int      `json:"changedFilesMore,omitempty"`
}

// MaxChangedFiles bounds Revision.ChangedFiles.
const MaxChangedFiles = 100

// Short returns the abbreviated SHA that people read in chat and tables.
func (r Revision) Short() string {
	if len(r.SHA) > 7 {
		return r.SHA[:7]
	}
	return r.SHA
}

// ObjectRef names one Kubernetes object.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// String gives the short form used in messages: Kind/namespace/name.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Object is one rendered Kubernetes object.
type Object struct {
	ObjectRef
	// Template is the chart template the object came from (for messages).
	Template string `json:"template,omitempty"`
	// Content is the decoded object as the API server would receive it.
	Content map[string]any `json:"content"`
}

// Warning is something that renders without error but is probably not what
// the author meant, located in the input that causes it.
type Warning struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Key     string `json:"key,omitempty"`
	Message string `json:"message"`
}

// String formats the warning as file:line: key: message, leaving out what is unknown.
func (w Warning) String() string {
	s := ""
	if w.File != "" {
		s = w.File
		if w.Line > 0 {
			s += ":" + strconv.Itoa(w.Line)
		}
		s += ": "
	}
	if w.Key != "" {
		s += w.Key + ": "
	}
	return s + w.Message
}

// Rendered is a chart rendered for one environment: exactly what would be applied.
type Rendered struct {
	Release   string `json:"release"`
	Namespace string `json:"namespace"`
	// Manifest is the rendered manifest in Helm's install order, byte-identical
	// to what `helm template` prints for the same inputs.
	Manifest string `json:"manifest"`
	// Objects are the manifest's objects, decoded, in the same order.
	Objects []Object `json:"objects,omitempty"`
	// Hooks are the chart's hook objects, which Helm applies around the release.
	Hooks []Object `json:"hooks,omitempty"`
	// Values are the user-supplied values (files and --set, merged, nulls kept),
	// which is what Helm records with a release.
	Values map[string]any `json:"values,omitempty"`
	// Notes is the rendered NOTES.txt.
	Notes string `json:"notes,omitempty"`
	// Digest identifies everything that determines what is applied: the
	// manifest, release name, namespace, the capabilities used and ferry's
	// render-rules version. Equal digests mean nothing to do.
	Digest string `json:"digest"`
	// KubeVersion is the Kubernetes version the chart was rendered for.
	KubeVersion string `json:"kubeVersion,omitempty"`
	// Summary totals the resources the objects ask for.
	Summary  ResourceSummary `json:"summary"`
	Warnings []Warning       `json:"warnings,omitempty"`
}

// ResourceList maps ResourceQuota resource names ("requests.cpu",
// "limits.memory", "requests.storage", "pods", ...) to amounts: CPU in
// millicores, memory and storage in bytes, object counts as plain numbers.
type ResourceList map[string]int64

// ResourceSummary is what a rendered release asks of its namespace, set
// against the namespace's ResourceQuota where there is one.
type ResourceSummary struct {
	// Requested totals requests and limits at the replica counts the
	// manifests declare (replicas × containers, init containers and hook pods
	// counted the way quota counts them), plus PVC storage.
	Requested ResourceList `json:"requested,omitempty"`
	// AtMaxScale is Requested with every HorizontalPodAutoscaler at its maximum.
	AtMaxScale ResourceList `json:"atMaxScale,omitempty"`
	// Quota is the hard limit of the namespace's ResourceQuota, nil when none.
	Quota ResourceList `json:"quota,omitempty"`
	// QuotaSource says where Quota came from: "rendered" or "live".
	QuotaSource string `json:"quotaSource,omitempty"`
	// Used is the quota's live usage, when read from the cluster.
	Used ResourceList `json:"used,omitempty"`
}

// HealthStatus is the state of one object or a whole release.
type HealthStatus string

// Health statuses, from best to worst.
const (
	HealthHealthy     HealthStatus = "Healthy"
	HealthProgressing HealthStatus = "Progressing"
	HealthUnhealthy   HealthStatus = "Unhealthy"
	HealthUnknown     HealthStatus = "Unknown"
)

// ObjectHealth is the verdict on one object.
type ObjectHealth struct {
	Ref    ObjectRef    `json:"ref"`
	Status HealthStatus `json:"status"`
	// Reason explains a status other than Healthy, e.g.
	// "pod web-7d9 container app: ImagePullBackOff (image nginx:1.2-missing)".
	Reason string `json:"reason,omitempty"`
}

// HealthVerdict is the verdict on every object of a release.
type HealthVerdict struct {
	Status HealthStatus `json:"status"`
	// Reason sums up the verdict in one line for chat.
	Reason  string         `json:"reason,omitempty"`
	Ready   int            `json:"ready"`
	Total   int            `json:"total"`
	Objects []ObjectHealth `json:"objects,omitempty"`
}

// Verdict is the outcome of one gate.
type Verdict string

// Gate verdicts.
const (
	VerdictPassed  Verdict = "Passed"
	VerdictFailed  Verdict = "Failed"
	VerdictPending Verdict = "Pending"
	VerdictError   Verdict = "Error"
)

// GateApproval is the GateResult.Gate name of the manual approval gate. A
// Pending result under this name is what makes chat offer Approve and Reject.
const GateApproval = "approval"

// Figure is one named measurement a gate reports, such as p95 = "142ms".
type Figure struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// GateResult is the verdict of one gate on one promotion, with its figures.
type GateResult struct {
	Gate    string  `json:"gate"`
	Verdict Verdict `json:"verdict"`
	// Reason is human-readable and carries the figures that decided it.
	Reason  string    `json:"reason"`
	Figures []Figure  `json:"figures,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
	// Until, for a Pending verdict, is when the gate should be asked again
	// (a promotion window's next opening, for example).
	Until time.Time `json:"until,omitzero"`
}

// Phase is where a promotion stands.
type Phase string

// Promotion phases. Waiting, Applying, Verifying and RollingBack are active;
// the rest end it.
const (
	PhaseWaiting   Phase = "Waiting"
	PhaseApplying  Phase = "Applying"
	PhaseVerifying Phase = "Verifying"
	// PhaseRollingBack is active: verification failed and the environment is
	// being rolled back to its last good Helm revision; it ends RolledBack
	// (or Failed when the rollback itself fails). A restart in this phase
	// resumes the rollback rather than applying again.
	PhaseRollingBack Phase = "RollingBack"
	PhaseSucceeded   Phase = "Succeeded"
	PhaseFailed      Phase = "Failed"
	PhaseRolledBack  Phase = "RolledBack"
	PhaseSuperseded  Phase = "Superseded"
	PhaseRejected    Phase = "Rejected"
)

// IsTerminal reports whether a promotion in this phase is over.
func (p Phase) IsTerminal() bool {
	switch p {
	case PhaseSucceeded, PhaseFailed, PhaseRolledBack, PhaseSuperseded, PhaseRejected:
		return true
	}
	return false
}

// Promotion is one attempt to bring an environment to a revision.
type Promotion struct {
	ID          string   `json:"id"`
	Pipeline    string   `json:"pipeline"`
	Environment string   `json:"environment"`
	Revision    Revision `json:"revision"`
	// Digest is the render digest for this environment, once rendered.
	Digest string `json:"digest,omitempty"`
	Phase  Phase  `json:"phase"`
	// Reason explains the current phase in one line ("waiting for approval (0 of 1)").
	Reason string `json:"reason,omitempty"`
	// Actor started the promotion: "ferry" for automatic ones, else a user.
	Actor     string       `json:"actor,omitempty"`
	Approvals []Approval   `json:"approvals,omitempty"`
	Gates     []GateResult `json:"gates,omitempty"`
	// Admitted is when the rendered-object admission gates (policy, quota
	// fit) passed; zero while they have not, so a restart knows whether to
	// run them again.
	Admitted time.Time `json:"admitted,omitzero"`
	// HelmRevision is the Helm release revision the apply created, 0 if none.
	HelmRevision int       `json:"helmRevision,omitempty"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
	Ended        time.Time `json:"ended,omitzero"`
}

// Approval records one person's decision on one revision in one environment.
// Approving revision R never approves R+1.
type Approval struct {
	Actor       string `json:"actor"`
	Pipeline    string `json:"pipeline"`
	Environment string `json:"environment"`
	// Revision is the SHA that was approved or rejected.
	Revision string    `json:"revision"`
	Time     time.Time `json:"time"`
	// Via is the channel it came through: "slack", "api" or "cli".
	Via string `json:"via"`
	// Rejected marks a rejection; Reason says why.
	Rejected bool   `json:"rejected,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// EventKind says what happened.
type EventKind string

// Event kinds that chat and history are told about.
const (
	EventRevisionDetected EventKind = "RevisionDetected"
	EventPhaseChanged     EventKind = "PhaseChanged"
	EventGateResult       EventKind = "GateResult"
	EventApproval         EventKind = "Approval"
	EventDiff             EventKind = "Diff"
	EventDrift            EventKind = "Drift"
	EventError            EventKind = "Error"
)

// Event is what chat and history are told: data, never pre-rendered text for a
// particular chat system.
type Event struct {
	Kind        EventKind `json:"kind"`
	Time        time.Time `json:"time"`
	Pipeline    string    `json:"pipeline"`
	Environment string    `json:"environment,omitempty"`
	Revision    Revision  `json:"revision"`
	// Promotion is a copy of the promotion as it stands after the event.
	Promotion *Promotion   `json:"promotion,omitempty"`
	Gates     []GateResult `json:"gates,omitempty"`
	Approval  *Approval    `json:"approval,omitempty"`
	// Summary and Diff carry the resource summary and the diff summary text
	// for EventDiff; secrets are already masked.
	Summary *ResourceSummary `json:"summary,omitempty"`
	Diff    string           `json:"diff,omitempty"`
	// Previous, for EventDiff, is the resource summary of what the environment
	// runs now, so chat can show deltas; nil for a first install.
	Previous *ResourceSummary `json:"previous,omitempty"`
	// Message is a detail such as an error with its file and line.
	Message  string    `json:"message,omitempty"`
	Warnings []Warning `json:"warnings,omitempty"`
}

// EnvironmentStatus is where one environment of a pipeline stands: what
// `ferry status`, the API and the metrics report.
type EnvironmentStatus struct {
	Pipeline    string `json:"pipeline"`
	Environment string `json:"environment"`
	// From is the environment this one takes revisions from ("" for the first).
	From string `json:"from,omitempty"`
	// Current is the revision the environment runs (zero when none yet).
	Current Revision `json:"current"`
	// Phase is the phase of the active or latest promotion ("" when none).
	Phase Phase     `json:"phase,omitempty"`
	Since time.Time `json:"since,omitzero"`
	// WaitingFor says what a waiting promotion needs ("approval (0 of 1)",
	// "window opens 2024-01-15T09:00Z"), empty otherwise.
	WaitingFor string `json:"waitingFor,omitempty"`
	Paused     bool   `json:"paused,omitempty"`
	// Active is the promotion in progress, if any.
	Active *Promotion `json:"active,omitempty"`
	// Last is the latest ended promotion when none is in progress: its
	// revision may differ from Current (a rejected or failed one).
	Last *Promotion `json:"last,omitempty"`
}

// Errors that callers of the daemon's operations (API, CLI, chat) must tell
// apart. Wrap them with detail; test with errors.Is.
var (
	// ErrNotFound: the pipeline, environment, revision or promotion does not exist.
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the actor may not do this (not an approver, no token).
	ErrForbidden = errors.New("forbidden")
	// ErrConflict: the request does not fit the current state (the revision
	// is not waiting for approval, or has not passed upstream).
	ErrConflict = errors.New("conflict")
)

// AuditEntry records one write made through ferry's operations (API, CLI,
// chat): who did what to which environment, and when. The daemon keeps the
// newest entries per environment beside its promotion history.
type AuditEntry struct {
	Time        time.Time `json:"time"`
	Actor       string    `json:"actor"`
	Pipeline    string    `json:"pipeline"`
	Environment string    `json:"environment"`
	// Action is what was done: "approve", "reject", "promote", "pause" or "resume".
	Action string `json:"action"`
	// Revision is the SHA the action was about, when it was about one.
	Revision string `json:"revision,omitempty"`
	// Detail is a short free text, such as a rejection's reason.
	Detail string `json:"detail,omitempty"`
}
