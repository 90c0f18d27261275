// Command etcd is the stock etcd server, built from the published
// go.etcd.io/etcd/server/v3 module as the storage of the real kube-apiserver
// in vaultca's tests. See ../build.sh; nothing here is etcd code of ours.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
