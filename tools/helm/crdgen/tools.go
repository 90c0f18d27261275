//go:build tools

// Package tools pins what monitoring-crds.sh (one level up) uses: the
// stock controller-gen, and the prometheus-operator API types it turns into
// the monitoring.coreos.com CustomResourceDefinitions, exactly as
// prometheus-operator generates its own. The version of the types is the
// CRDs' version. Nothing here is built into vaultca.
package tools

import (
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
