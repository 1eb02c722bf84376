//go:build tools

// Package tools pins the control-plane commands that internal/localcluster
// builds. It lives in its own module so that the main module never depends on
// k8s.io/kubernetes and the API server keeps the dependency set Kubernetes tested.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
