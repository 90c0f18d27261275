// Command helm is the stock Helm CLI, built from the published helm.sh/helm/v4
// module so that the chart in deploy/helm is linted, rendered and checked by
// the real Helm. See build.sh; nothing here is Helm code of ours: this is
// helm's own cmd/helm main, which a wrapper module cannot import because it
// is package main.
package main

import (
	"errors"
	"log/slog"
	"os"

	helmcmd "helm.sh/helm/v4/pkg/cmd"
	"helm.sh/helm/v4/pkg/kube"
)

func main() {
	// The field manager name Helm records in managedFields; set as helm's own
	// main does so server-side apply ownership looks the same as with stock helm.
	kube.ManagedFieldsManager = "helm"

	cmd, err := helmcmd.NewRootCmd(os.Stdout, os.Args[1:], helmcmd.SetupLogging)
	if err != nil {
		slog.Warn("command failed", slog.Any("error", err))
		os.Exit(1)
	}
	if err := cmd.Execute(); err != nil {
		if cerr, ok := errors.AsType[helmcmd.CommandError](err); ok {
			os.Exit(cerr.ExitCode)
		}
		os.Exit(1)
	}
}
