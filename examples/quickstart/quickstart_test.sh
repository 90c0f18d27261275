#!/usr/bin/env bash
# The quick start works end to end and is idempotent: the root generated on
# the first run is re-used on the second, and each leaf verifies against it
# with the openssl CLI for both client and server use.
set -euo pipefail
bin="${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-vaultca}/examples/quickstart/quickstart"
[[ -x "$bin" ]] || bin="$1"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT

"$bin" --state_dir="$dir/state" >"$dir/run1.txt"
"$bin" --state_dir="$dir/state" >"$dir/run2.txt"

[[ "$(stat -c %a "$dir/state/ca-key.pem")" == "600" ]] || { echo "key not 0600"; exit 1; }
serial1="$(sed -n 's/.*serial \([0-9a-f]*\).*/\1/p' "$dir/run1.txt")"
serial2="$(sed -n 's/.*serial \([0-9a-f]*\).*/\1/p' "$dir/run2.txt")"
[[ -n "$serial1" && "$serial1" == "$serial2" ]] || { echo "root not re-used: $serial1 vs $serial2"; exit 1; }

# Split the PEM chain: leaf first, root bundle last.
awk '/BEGIN CERTIFICATE/{n++} n{print > ("'"$dir"'/cert" n ".pem")} /END CERTIFICATE/{}' "$dir/run2.txt"
[[ -f "$dir/cert1.pem" && -f "$dir/cert2.pem" ]] || { echo "expected a 2-element chain"; exit 1; }
grep -q "URI:spiffe://cluster.local/ns/default/sa/demo" "$dir/run2.txt"
openssl verify -purpose sslclient -CAfile "$dir/cert2.pem" "$dir/cert1.pem"
openssl verify -purpose sslserver -CAfile "$dir/cert2.pem" "$dir/cert1.pem"
echo "quickstart: OK"
