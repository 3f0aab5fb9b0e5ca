// Package kubernetes holds the tests of greenlight's Kubernetes packaging: the manifests in
// deploy/kubernetes and the chart in deploy/helm, decoded strictly into the Kubernetes API
// types, checked against the image the image package builds and against the greenlight binary
// itself. It is a module of its own
// so the main module does not depend on k8s.io/api or go-containerregistry.
package kubernetes
