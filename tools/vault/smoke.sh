#!/usr/bin/env bash
# Smoke test of the Vault binary built by build.sh: starts a dev server on
# loopback, exercises what vaultca's tests rely on, seals it and stops it.
#
#   tools/vault/smoke.sh [--tls] [PORT]     (default port 18200)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tls=0
if [[ "${1:-}" == "--tls" ]]; then tls=1; shift; fi
port=${1:-18200}
vault=$("$here/build.sh" | tail -n1)

work=$(mktemp -d)
pid=
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

args=(server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$port")
if ((tls)); then
  args+=(-dev-tls -dev-tls-cert-dir="$work")
  export VAULT_ADDR="https://127.0.0.1:$port" VAULT_CACERT="$work/vault-ca.pem"
else
  export VAULT_ADDR="http://127.0.0.1:$port"
fi
export VAULT_TOKEN=root
unset VAULT_NAMESPACE VAULT_SKIP_VERIFY

"$vault" "${args[@]}" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  "$vault" status >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done

step() { echo "+ vault $*" >&2; "$vault" "$@"; }

step version
step status
step kv put secret/pki/istiod a=b
step kv get -field=a secret/pki/istiod | grep -qx b
step secrets enable -path=kv1 -version=1 kv
step kv put kv1/x y=z
step kv get -field=y kv1/x | grep -qx z
step secrets enable pki
step secrets tune -max-lease-ttl=87600h pki
step write -field=certificate pki/root/generate/internal common_name=smoke.local ttl=8760h >/dev/null
for m in approle jwt kubernetes cert; do step auth enable "$m"; done
step policy write smoke - <<'EOF'
path "secret/data/pki/*" { capabilities = ["read"] }
EOF
tok=$(step token create -policy=smoke -field=token)
VAULT_TOKEN=$tok step kv get -field=a secret/pki/istiod | grep -qx b
step token revoke "$tok"
if VAULT_TOKEN=$tok "$vault" kv get secret/pki/istiod >/dev/null 2>&1; then echo "smoke: revoked token still works" >&2; exit 1; fi
step write auth/approle/role/istiod token_policies=smoke
role_id=$(step read -field=role_id auth/approle/role/istiod/role-id)
secret_id=$(step write -f -field=secret_id auth/approle/role/istiod/secret-id)
ar_tok=$(step write -field=token auth/approle/login role_id="$role_id" secret_id="$secret_id")
VAULT_TOKEN=$ar_tok step kv get -field=a secret/pki/istiod | grep -qx b
step operator seal
if "$vault" kv get secret/pki/istiod >/dev/null 2>&1; then echo "smoke: read succeeded while sealed" >&2; exit 1; fi
"$vault" status >/dev/null 2>&1 && { echo "smoke: status should report sealed (exit 2)" >&2; exit 1; }
unseal_key=$(sed -n 's/^Unseal Key: //p' "$work/server.log")
step operator unseal "$unseal_key" >/dev/null
step kv get -field=a secret/pki/istiod | grep -qx b
echo "smoke: ok ($VAULT_ADDR)"
