// Command kube-apiserver is the stock Kubernetes API server, built from the
// published k8s.io/kubernetes module so that vaultca's tests run against a
// real API server. See ../build.sh; nothing here is Kubernetes code of ours.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
