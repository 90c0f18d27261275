#!/usr/bin/env bash
# The README's first command: installs what is missing, builds vaultca, and
# runs the end-to-end demo on this machine:
#   1. a real Vault (dev mode, TLS) configured as the seed's "Configure
#      Vault" step does (policy allow_istiod_secrets, role istiod), with the
#      CA put in it as its "Add secrets in Vault" step does;
#   2. vaultca-server fetching that CA from Vault (logging in as istiod);
#   3. Istio's own istio-agent CA client (tests/interop, Go) asking for a
#      workload certificate, and printing what it got;
#   4. a CA rotation in Vault (`vault kv put` of a new intermediate under
#      the same root) and the next certificate, signed by the new CA,
#      without restarting anything.
# Processes are stopped at the end; the state stays in build/demo-state.
#
#   tools/demo.sh                 the demo
#   VAULTCA_DEMO_KEEP=1 ...       leave Vault and vaultca-server running
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=tools/lib.sh
source "$ROOT/tools/lib.sh"
START=$SECONDS

STATE="$ROOT/build/demo-state"
VAULT_PORT="${VAULTCA_DEMO_VAULT_PORT:-18200}"
PIDS=()
cleanup() {
  if [[ -z "${VAULTCA_DEMO_KEEP:-}" ]]; then
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
  fi
}
trap cleanup EXIT

step "setup"
bash tools/setup.sh

step "real Vault (built from Go modules once, then cached)"
VAULT="$(vaultca_vault_bin)"
echo "$VAULT: $("$VAULT" version)"

step "build vaultca-server and Istio's istio-agent client"
bazel build //server:vaultca-server 2>&1 | grep -vE 'linux-sandbox' | tail -2
SERVER_BIN="$(bazel info bazel-bin 2>/dev/null)/server/vaultca-server"
mkdir -p "$STATE/bin"
(cd tests/interop && GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
  go build -o "$STATE/bin/istio-agent-client" ./cmd/istio-agent-client)
AGENT="$STATE/bin/istio-agent-client"

rm -rf "$STATE/run" && mkdir -p "$STATE/run" && cd "$STATE/run"
step "the CA (a self-signed root, as the seed's vault-ca.crt/.key)"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt \
  -days 3650 -subj "/O=demo.vaultca/CN=Demo Root CA" \
  -addext "basicConstraints=critical,CA:true" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl x509 -in ca.crt -noout -subject -enddate

step "Vault (dev mode with TLS, as the seed's https://vault.default:8200)"
mkdir -p "$STATE/run/vault-tls"
"$VAULT" server -dev -dev-tls -dev-tls-cert-dir="$STATE/run/vault-tls" \
  -dev-root-token-id=demo-root-token \
  -dev-listen-address="127.0.0.1:$VAULT_PORT" >vault.log 2>&1 &
PIDS+=($!)
export VAULT_ADDR="https://127.0.0.1:$VAULT_PORT"
export VAULT_CACERT="$STATE/run/vault-tls/vault-ca.pem"
export VAULT_TOKEN=demo-root-token
for _ in $(seq 100); do "$VAULT" status >/dev/null 2>&1 && break; sleep 0.2; done
"$VAULT" status | grep -E 'Sealed|Version'

step "Configure Vault (the seed's step 1: policy and role for istiod)"
# The seed binds the role to istiod's Kubernetes service account through
# Vault's kubernetes auth. With no cluster here, the same role lives on
# Vault's jwt auth, which checks a service-account-shaped token locally.
"$VAULT" policy write allow_istiod_secrets - <<'EOF'
path "secret/data/pki/istiod" { capabilities = ["read", "list"] }
EOF
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa-signer.key 2>/dev/null
openssl pkey -in sa-signer.key -pubout -out sa-signer.pub
"$VAULT" auth enable jwt >/dev/null
"$VAULT" write auth/jwt/config jwt_validation_pubkeys=@sa-signer.pub >/dev/null
"$VAULT" write auth/jwt/role/istiod role_type=jwt user_claim=sub \
  bound_subject=system:serviceaccount:istio-system:istiod \
  bound_audiences=vault token_policies=allow_istiod_secrets token_ttl=1h >/dev/null
echo "policy allow_istiod_secrets, role istiod (jwt auth)"

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# istiod's projected service-account token, signed by the "API server" key.
now=$(date +%s)
header=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
claims=$(printf '{"iss":"https://kubernetes.default.svc.cluster.local","sub":"system:serviceaccount:istio-system:istiod","aud":["vault"],"iat":%d,"nbf":%d,"exp":%d}' \
  "$now" "$now" $((now + 3600)) | b64url)
signature=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -sign sa-signer.key | b64url)
printf '%s.%s.%s' "$header" "$claims" "$signature" >istiod-token
chmod 600 istiod-token

step "Add secrets in Vault (the seed's step: vault kv put ... privateKey=@... certificate=@...)"
"$VAULT" kv put secret/pki/istiod privateKey=@ca.key certificate=@ca.crt >/dev/null
"$VAULT" kv get -format=json secret/pki/istiod | grep -E '"version"' | head -1

step "vaultca-server, logging in to Vault as istiod"
"$AGENT" -new-jwt-key "$STATE/run/workload-jwt" >/dev/null
cat >vaultca.yaml <<EOF
trust_domain: cluster.local
cluster_id: Kubernetes
listen:
  grpc: 127.0.0.1:0
  http: 127.0.0.1:0
ca:
  source: vault
  vault:
    cert_ref: vault:secret/data/pki/istiod#certificate
    key_ref: vault:secret/data/pki/istiod#privateKey
  refresh_interval: 2s
  root_cert_file: $STATE/run/root-cert.pem
auth:
  client_certificate: true
  jwt:
    - issuer: https://kubernetes.default.svc.cluster.local
      jwks_file: $STATE/run/workload-jwt/jwks.json
      audiences: [istio-ca]
serving:
  cert_dir: $STATE/run/serving
EOF
unset VAULT_TOKEN  # vaultca-server logs in with the role, as vault-env did.
VAULT_AUTH_METHOD=jwt VAULT_PATH=jwt VAULT_ROLE=istiod \
  VAULT_JWT_FILE="$STATE/run/istiod-token" \
  "$SERVER_BIN" --config=vaultca.yaml >server.out 2>server.log &
PIDS+=($!)
for _ in $(seq 150); do grep -q grpc_port= server.out 2>/dev/null && break; sleep 0.2; done
GRPC_PORT=$(sed -nE 's/.*grpc_port=([0-9]+).*/\1/p' server.out)
HTTP_PORT=$(sed -nE 's/.*http_port=([0-9]+).*/\1/p' server.out)
if [[ -z "$GRPC_PORT" ]]; then
  tail -20 server.log
  echo "vaultca-server did not start" >&2
  exit 1
fi
echo "vaultca-server: grpc 127.0.0.1:$GRPC_PORT, /ready: $(curl -s "http://127.0.0.1:$HTTP_PORT/ready")"

request() {
  # istio-agent checks a localhost CA_ADDR as istiod.istio-system.svc,
  # a name vaultca's serving certificate carries.
  "$AGENT" -ca-addr "localhost:$GRPC_PORT" -root "$STATE/run/root-cert.pem" \
    -jwt-key "$STATE/run/workload-jwt/jwt-key.pem" \
    -namespace default -sa sleep -out "$1"
}

step "istio-agent asks for a workload certificate"
request "$STATE/run/cert-1" | tee first.txt

step "rotate the CA in Vault: a new intermediate under the same root"
openssl req -newkey rsa:2048 -nodes -keyout ca2.key -out ca2.csr \
  -subj "/O=demo.vaultca/CN=Demo Intermediate CA 2" 2>/dev/null
printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n' >ca2.ext
openssl x509 -req -in ca2.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
  -days 1825 -extfile ca2.ext -out ca2.crt 2>/dev/null
cat ca2.crt ca.crt >ca2-fullchain.pem
VAULT_TOKEN=demo-root-token "$VAULT" kv put secret/pki/istiod \
  privateKey=@ca2.key certificate=@ca2-fullchain.pem >/dev/null
echo "vault kv put secret/pki/istiod privateKey=@ca2.key certificate=@ca2-fullchain.pem"
rotated=""
for _ in $(seq 30); do
  sleep 1
  if grep -q "rotated\|swapped" server.log 2>/dev/null; then rotated=1; break; fi
done
[[ -n "$rotated" ]] || echo "(no rotation logged yet; asking anyway)"

step "the next certificate (same vaultca-server process, no restart)"
request "$STATE/run/cert-2" | tee second.txt
old_issuer=$(sed -nE 's/^issuer: +//p' first.txt)
new_issuer=$(sed -nE 's/^issuer: +//p' second.txt)
echo
echo "issuer before rotation: $old_issuer"
echo "issuer after rotation:  $new_issuer"
if [[ "$old_issuer" == "$new_issuer" ]]; then
  echo "the issuer did not change: see $STATE/run/server.log" >&2
  exit 1
fi

echo
echo "demo done in $((SECONDS - START)) s. State: $STATE/run (Vault and vaultca-server"
echo "logs, the CA, the workload certificates cert-1/ and cert-2/, vaultca.yaml)."
if [[ -n "${VAULTCA_DEMO_KEEP:-}" ]]; then
  echo "still running: Vault $VAULT_ADDR, vaultca-server 127.0.0.1:$GRPC_PORT (pids ${PIDS[*]})"
else
  echo "Vault and vaultca-server are stopped."
fi
