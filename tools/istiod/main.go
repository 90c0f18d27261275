// Command pilot-discovery is the stock istiod control plane, built from the
// istio.io/istio module that tests/interop pins, so that the mesh end-to-end
// test runs the real istiod. See build.sh; nothing here is Istio code of ours.
package main

import (
	"os"

	"istio.io/istio/pilot/cmd/pilot-discovery/app"
	"istio.io/istio/pkg/log"
)

func main() {
	log.EnableKlogWithCobra()
	rootCmd := app.NewRootCommand()
	if err := rootCmd.Execute(); err != nil {
		log.Error(err)
		os.Exit(-1)
	}
}
