package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/client-go/kubernetes"
)

// Names and limits of the state ConfigMaps.
const (
	stateKey       = "state.json"
	labelManagedBy = "app.kubernetes.io/managed-by"
	labelPipeline  = "ferry.dev/pipeline"
	// maxStateBytes leaves room under the API server's 1 MiB object limit
	// for metadata and managed fields.
	maxStateBytes = 900 << 10
)

// errStale says the state changed since it was read: another replica or
// worker wrote it. Re-read and decide again; nothing was written.
var errStale = errors.New("state changed since it was read")

// store keeps one ConfigMap per pipeline in the state namespace, each write
// conditional on the resourceVersion read before it.
//
// While the leader's watch of the state runs, reads are served from what it
// delivered and from this replica's own reads and writes instead of a GET
// each. The cache never goes back: it keeps, per pipeline, the newest
// resourceVersion this replica has seen and ignores anything older, so a
// read never misses what this replica wrote (the chat notifier relies on
// that to post a revision's message once). A cached state that another
// replica has since changed is harmless: the write that follows a read is
// conditional, and its conflict sends the retry to the API server.
type store struct {
	client    kubernetes.Interface
	namespace string

	mu sync.Mutex
	// serving says a watch keeps the cache current, so reads may use it.
	serving bool
	cache   map[string]cachedState
}

// cachedState is a pipeline's state as last seen. An entry that is not
// current (a write found it stale, or it was deleted) is not served but
// keeps its resourceVersion as the floor below which nothing is taken.
type cachedState struct {
	data, rv string
	current  bool
}

// configMapName names the state ConfigMap of a pipeline.
func configMapName(pipeline string) string { return "ferry-state-" + pipeline }

// load reads a pipeline's state and its resourceVersion; a pipeline without a
// ConfigMap yet has an empty state and version "".
func (s *store) load(ctx context.Context, pipeline string) (*pipelineState, string, error) {
	s.mu.Lock()
	c, ok := s.cache[pipeline]
	ok = ok && c.current && s.serving
	s.mu.Unlock()
	if ok {
		st, err := decodeState(pipeline, c.data)
		return st, c.rv, err
	}
	cm, err := s.client.CoreV1().ConfigMaps(s.namespace).Get(ctx, configMapName(pipeline), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return newPipelineState(pipeline), "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read state of pipeline %s from configmap %s/%s: %w", pipeline, s.namespace, configMapName(pipeline), err)
	}
	st, err := decodeState(pipeline, cm.Data[stateKey])
	if err != nil {
		return nil, "", fmt.Errorf("configmap %s/%s: %w", s.namespace, cm.Name, err)
	}
	s.seen(pipeline, cm)
	return st, cm.ResourceVersion, nil
}

// list reads every pipeline's state ConfigMap at once.
func (s *store) list(ctx context.Context) (*corev1.ConfigMapList, error) {
	list, err := s.client.CoreV1().ConfigMaps(s.namespace).List(ctx, metav1.ListOptions{LabelSelector: labelManagedBy + "=ferry"})
	if err != nil {
		return nil, fmt.Errorf("read state from configmaps in %s: %w", s.namespace, err)
	}
	return list, nil
}

// decodeState decodes the state.json of a pipeline's ConfigMap.
func decodeState(pipeline, raw string) (*pipelineState, error) {
	st := newPipelineState(pipeline)
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), st); err != nil {
			return nil, fmt.Errorf("decode state of pipeline %s: %w", pipeline, err)
		}
	}
	if st.Version > stateVersion {
		return nil, fmt.Errorf("state of pipeline %s was written by a newer ferry (state version %d, this one knows %d)", pipeline, st.Version, stateVersion)
	}
	st.Version, st.Pipeline = stateVersion, pipeline
	return st, nil
}

// follow starts (on) or stops serving reads from the cache. Starting
// marks every entry not current: what other replicas wrote while no watch
// ran is unknown until the list that follows, or a read, brings it in.
func (s *store) follow(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serving = on
	if on {
		for p, c := range s.cache {
			c.current = false
			s.cache[p] = c
		}
	}
}

// seen records a pipeline's ConfigMap as the watch delivered it or a read
// or write returned it, unless the cache already holds a newer version.
func (s *store) seen(pipeline string, cm *corev1.ConfigMap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.cache[pipeline]; ok {
		if cmp, err := resourceversion.CompareResourceVersion(old.rv, cm.ResourceVersion); err == nil && cmp > 0 {
			return
		}
	}
	if s.cache == nil {
		s.cache = map[string]cachedState{}
	}
	s.cache[pipeline] = cachedState{data: cm.Data[stateKey], rv: cm.ResourceVersion, current: true}
}

// forget stops serving a pipeline's cached state, keeping its version as
// the floor: it was deleted, or a write found it stale.
func (s *store) forget(pipeline string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[pipeline]; ok {
		c.current = false
		s.cache[pipeline] = c
	}
}

// save writes st if the ConfigMap still has resourceVersion rv ("" creates
// it) and returns the new resourceVersion. A conflict gives errStale.
func (s *store) save(ctx context.Context, st *pipelineState, rv string) (string, error) {
	data, err := encodeState(st)
	if err != nil {
		return "", err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:            configMapName(st.Pipeline),
			Namespace:       s.namespace,
			ResourceVersion: rv,
			Labels:          map[string]string{labelManagedBy: "ferry", labelPipeline: st.Pipeline},
		},
		Data: map[string]string{stateKey: string(data)},
	}
	cms := s.client.CoreV1().ConfigMaps(s.namespace)
	var out *corev1.ConfigMap
	if rv == "" {
		out, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: "ferry"})
		if apierrors.IsAlreadyExists(err) {
			s.forget(st.Pipeline)
			return "", errStale
		}
	} else {
		out, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "ferry"})
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			s.forget(st.Pipeline)
			return "", errStale
		}
	}
	if err != nil {
		// The write may have landed all the same: read it afresh next time.
		s.forget(st.Pipeline)
		return "", fmt.Errorf("write state of pipeline %s to configmap %s/%s: %w", st.Pipeline, s.namespace, cm.Name, err)
	}
	s.seen(st.Pipeline, out)
	return out.ResourceVersion, nil
}

// update applies fn to the freshest state and saves it, re-reading and
// re-applying on conflict. fn must be free of side effects: it may run
// several times. An error from fn is returned as is and nothing is written.
func (s *store) update(ctx context.Context, pipeline string, fn func(*pipelineState) error) error {
	for {
		st, rv, err := s.load(ctx, pipeline)
		if err != nil {
			return err
		}
		if err := fn(st); err != nil {
			return err
		}
		if _, err := s.save(ctx, st, rv); !errors.Is(err, errStale) {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("write state of pipeline %s: %w", pipeline, err)
		}
	}
}

// encodeState serialises st, trimming what can be lost without harm until it
// fits maxStateBytes: the oldest outbox events first (counted in Dropped and
// told in chat), and only then the oldest chat message states. A message
// state is what keeps a revision to one Slack message: losing it while the
// revision's events wait in the outbox would post a second message.
func encodeState(st *pipelineState) ([]byte, error) {
	for {
		data, err := json.Marshal(st)
		if err != nil {
			return nil, fmt.Errorf("encode state of pipeline %s: %w", st.Pipeline, err)
		}
		if len(data) <= maxStateBytes {
			return data, nil
		}
		switch {
		case len(st.Outbox) > 1:
			n := len(st.Outbox) / 2
			st.Dropped += n
			st.Outbox = st.Outbox[n:]
		case len(st.Messages) > 1:
			st.Messages = st.Messages[len(st.Messages)/2:]
		default:
			return nil, fmt.Errorf("state of pipeline %s is %d bytes, over the %d a ConfigMap can hold: lower state.historyLimit", st.Pipeline, len(data), maxStateBytes)
		}
	}
}
