// Command vault_go_client measures KV v2 read latency with HashiCorp's
// official Go client (github.com/hashicorp/vault/api), the same way
// vault/kv_read_benchmark does with vaultca's C++ client, so the two can be
// compared against one Vault in one run (see bench/vault_read_compare.sh).
//
//	vault_go_client [PATH] [COUNT]
//
// PATH is the API path of a KV v2 secret (default secret/data/vaultca-bench:
// mount "secret", secret "vaultca-bench"), COUNT the number of timed reads
// (default 1000). The Vault comes from the standard environment (VAULT_ADDR,
// VAULT_TOKEN, VAULT_CACERT, ...), read by the client itself. One untimed
// read first opens the connection. Prints min, median, p90, p99, max and
// mean in microseconds, in kv_read_benchmark's format.
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "vault_go_client: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	path := "secret/data/vaultca-bench"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	count := 1000
	if len(os.Args) > 2 {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil || n <= 0 {
			fmt.Fprintln(os.Stderr, "COUNT must be a positive integer")
			os.Exit(2)
		}
		count = n
	}
	// KVv2 takes the mount and the secret's path below data/.
	parts := strings.SplitN(path, "/data/", 2)
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		fail("PATH %q is not a KV v2 API path (<mount>/data/<secret>)", path)
	}
	mount, secret := parts[0], parts[1]

	config := vault.DefaultConfig() // Reads VAULT_ADDR, VAULT_CACERT, ...
	if config.Error != nil {
		fail("config: %v", config.Error)
	}
	client, err := vault.NewClient(config) // Reads VAULT_TOKEN.
	if err != nil {
		fail("client: %v", err)
	}
	kv := client.KVv2(mount)
	ctx := context.Background()
	if _, err := kv.Get(ctx, secret); err != nil {
		fail("reading %s: %v", path, err)
	}

	micros := make([]float64, 0, count)
	for i := 0; i < count; i++ {
		start := time.Now()
		s, err := kv.Get(ctx, secret)
		took := time.Since(start)
		if err != nil || s == nil || s.Data == nil {
			fail("read %d: %v", i, err)
		}
		micros = append(micros, float64(took.Nanoseconds())/1000)
	}
	sorted := append([]float64(nil), micros...)
	sort.Float64s(sorted)
	pct := func(p float64) float64 {
		i := int(p*float64(len(sorted)-1) + 0.5)
		if i >= len(sorted) {
			i = len(sorted) - 1
		}
		return sorted[i]
	}
	sum := 0.0
	for _, m := range micros {
		sum += m
	}
	fmt.Printf("vault_go_client: %d KV reads of %s (github.com/hashicorp/vault/api)\n", count, path)
	fmt.Printf("  min    %g us\n", sorted[0])
	fmt.Printf("  median %g us\n", pct(0.5))
	fmt.Printf("  p90    %g us\n", pct(0.9))
	fmt.Printf("  p99    %g us\n", pct(0.99))
	fmt.Printf("  max    %g us\n", sorted[len(sorted)-1])
	fmt.Printf("  mean   %g us\n", sum/float64(count))
}
