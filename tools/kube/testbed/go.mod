module vaultca.dev/tools/kube/testbed

go 1.26.0
