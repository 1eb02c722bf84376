package reconciler

import (
	"context"
	"errors"
	"testing"

	"github.com/ferry-gitops/ferry/chat"
	"github.com/ferry-gitops/ferry/internal/localcluster"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The state cache never serves a version older than one this replica wrote
// or read, whatever order the watch delivers in and whatever conflicts came
// between: the chat notifier reads its message state with no write after
// it, and an older copy without the message's ts would post the revision a
// second time.
func TestStoreCacheNeverGoesBack(t *testing.T) {
	t.Parallel()
	localcluster.Require(t, cluster)
	ctx := context.Background()
	cs, err := cluster.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ns := cluster.Namespace(t, nil)
	other := &store{client: cs, namespace: ns}
	get := func() *corev1.ConfigMap {
		t.Helper()
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, configMapName("app"), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm
	}
	key := chat.MessageKey{Pipeline: "app", Revision: "abc123"}

	cases := []struct {
		name string
		// late is run after this replica recorded the message's ts: what a
		// watch or list lagging behind delivers, and what comes between.
		late func(t *testing.T, ours *store, before *corev1.ConfigMap)
	}{
		{"late event after a conflict", func(t *testing.T, ours *store, before *corev1.ConfigMap) {
			rv := get().ResourceVersion
			if err := other.update(ctx, "app", func(st *pipelineState) error { st.Leader = "other"; return nil }); err != nil {
				t.Fatal(err)
			}
			st, _, err := ours.load(ctx, "app")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ours.save(ctx, st, rv); !errors.Is(err, errStale) {
				t.Fatalf("write on a stale version: got %v, want errStale", err)
			}
			ours.seen("app", before)
		}},
		{"list older than own write when the watch restarts", func(t *testing.T, ours *store, before *corev1.ConfigMap) {
			ours.follow(false)
			ours.follow(true)
			ours.seen("app", before)
		}},
		{"event older than a read", func(t *testing.T, ours *store, before *corev1.ConfigMap) {
			if _, _, err := ours.load(ctx, "app"); err != nil {
				t.Fatal(err)
			}
			ours.seen("app", before)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, configMapName("app"), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Fatal(err)
			}
			ours := &store{client: cs, namespace: ns}
			ours.follow(true)
			msgs := &messageStore{store: ours}
			if err := msgs.Put(ctx, chat.MessageState{Key: key, Channel: "C1", Posting: true}); err != nil {
				t.Fatal(err)
			}
			before := get()
			if err := msgs.Put(ctx, chat.MessageState{Key: key, Channel: "C1", TS: "1700000000.000100"}); err != nil {
				t.Fatal(err)
			}
			c.late(t, ours, before)
			ms, found, err := msgs.Get(ctx, key)
			if err != nil || !found {
				t.Fatalf("message state: found %v, err %v", found, err)
			}
			if ms.TS != "1700000000.000100" || ms.Posting {
				t.Errorf("message state read back as ts %q posting %v, want the ts this replica wrote", ms.TS, ms.Posting)
			}
		})
	}
}
