// Command vault is the stock HashiCorp Vault CLI and server, built from a
// pinned MPL-2.0 release so that vaultca's tests can run against a real Vault.
// See build.sh; nothing here is Vault code of our own.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
