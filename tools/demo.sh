#!/usr/bin/env bash
# The README's first command: installs what is missing, builds vaultca, and
# runs the end-to-end demo on this machine:
#   1. a real Kubernetes API server (kube-apiserver + etcd, built from Go
#      modules) with istio-system, istiod's service account and pod, and a
#      sleep workload;
#   2. a real Vault (TLS) configured as the seed's "Configure Vault" step
#      does: the kubernetes auth method against that API server, role
#      istiod bound to istiod's service account in istio-system, policy
#      allow_istiod_secrets; the CA put in it as its "Add secrets in Vault"
#      step does;
#   3. vaultca-server logging in to Vault as istiod with istiod's projected,
#      pod-bound service-account token, fetching the CA, and checking
#      workloads' tokens with the API server's TokenReview;
#   4. Istio's own istio-agent CA client (tests/interop, Go) asking for a
#      workload certificate with the sleep pod's token, and printing it;
#   5. a CA rotation in Vault (`vault kv put` of a new intermediate under
#      the same root) and the next certificate, signed by the new CA,
#      without restarting anything.
# Processes are stopped at the end; the state stays in build/demo-state.
#
#   tools/demo.sh                 the demo
#   VAULTCA_DEMO_KEEP=1 ...       leave everything running
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

step "real Kubernetes API server and etcd (built from Go modules once, then cached)"
KUBE_BIN="$(bash tools/kube/build.sh | tail -1)"
echo "$KUBE_BIN: $("$KUBE_BIN/kube-apiserver" --version), etcd $("$KUBE_BIN/etcd" --version | head -1 | awk '{print $3}')"

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

step "the cluster: kube-apiserver on loopback, istio-system, istiod and a workload"
"$KUBE_BIN/kube-testbed" --dir="$STATE/run/kube" >kube.log 2>&1 &
PIDS+=($!)
for _ in $(seq 900); do [[ -f "$STATE/run/kube/env" ]] && break; sleep 0.1; done
[[ -f "$STATE/run/kube/env" ]] || { tail -20 kube.log; echo "the API server did not start" >&2; exit 1; }
# shellcheck disable=SC1091
source "$STATE/run/kube/env"
echo "kube-apiserver $KUBE_API_SERVER ready in ${KUBE_READY_MS} ms"
# kubectl's part, with curl as the cluster admin.
kapi() {  # METHOD PATH [JSON [CONTENT-TYPE]]
  curl -sS --fail-with-body --cacert "$KUBE_CA_FILE" \
    -H "Authorization: Bearer $(cat "$KUBE_ADMIN_TOKEN_FILE")" \
    -H "Content-Type: ${4:-application/json}" -X "$1" "$KUBE_API_SERVER$2" ${3:+-d "$3"}
}
json() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[k]
print(d)' "$1"; }
# A Pod object, Running (no kubelet here). Args: NS NAME SA NODE.
pod() {
  kapi POST "/api/v1/namespaces/$1/pods" "{\"metadata\":{\"name\":\"$2\"},\"spec\":{\"serviceAccountName\":\"$3\",\"nodeName\":\"$4\",\"automountServiceAccountToken\":false,\"containers\":[{\"name\":\"c\",\"image\":\"registry.invalid/c:1\"}]}}" >/dev/null
  kapi PATCH "/api/v1/namespaces/$1/pods/$2/status" '{"status":{"phase":"Running"}}' application/merge-patch+json >/dev/null
}
# A token from the TokenRequest API, bound to a pod as kubelet binds
# projected tokens. Args: NS SA AUDIENCE POD [SECONDS].
token_for() {
  local uid
  uid=$(kapi GET "/api/v1/namespaces/$1/pods/$4" | json metadata.uid)
  kapi POST "/api/v1/namespaces/$1/serviceaccounts/$2/token" "{\"spec\":{\"audiences\":[\"$3\"],\"expirationSeconds\":${5:-3607},\"boundObjectRef\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"name\":\"$4\",\"uid\":\"$uid\"}}}" |
    json status.token
}
# The seed's names: istiod's service account in istio-system, Vault's
# token reviewer "vault" in default.
ISTIOD_SA=istiod-service-account-cp-v115x
for ns in istio-system sleep; do
  kapi POST /api/v1/namespaces "{\"metadata\":{\"name\":\"$ns\"}}" >/dev/null
done
kapi POST /api/v1/namespaces/istio-system/serviceaccounts "{\"metadata\":{\"name\":\"$ISTIOD_SA\"}}" >/dev/null
kapi POST /api/v1/namespaces/default/serviceaccounts '{"metadata":{"name":"vault"}}' >/dev/null
kapi POST /api/v1/namespaces/sleep/serviceaccounts '{"metadata":{"name":"sleep"}}' >/dev/null
# Vault reviews istiod's token; vaultca-server (in istiod's place) reviews
# workloads' tokens: both need system:auth-delegator.
for subject in default/vault "istio-system/$ISTIOD_SA"; do
  kapi POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings "{\"metadata\":{\"name\":\"${subject##*/}-tokenreview\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"system:auth-delegator\"},\"subjects\":[{\"kind\":\"ServiceAccount\",\"namespace\":\"${subject%%/*}\",\"name\":\"${subject##*/}\"}]}" >/dev/null
done
pod istio-system istiod-0 "$ISTIOD_SA" demo-node
pod default vault-0 vault demo-node
pod sleep sleep-0 sleep demo-node
echo "namespaces istio-system, sleep; pods istiod-0 ($ISTIOD_SA), vault-0, sleep-0 on demo-node"

# istiod's projected token as kubelet writes it (a ..data link swapped in
# one rename) and rewrites it before it expires (at 80% of its life);
# vaultca-server re-reads the file at every Vault login.
project_istiod_token() {
  local dir="$STATE/run/istiod-token" ts
  ts="..$(date +%s%N)"
  mkdir -p "$dir/$ts"
  token_for istio-system "$ISTIOD_SA" "$KUBE_SA_ISSUER" istiod-0 >"$dir/$ts/token"
  chmod 600 "$dir/$ts/token"
  ln -sfn "$ts" "$dir/..data_tmp" && mv -T "$dir/..data_tmp" "$dir/..data"
  [[ -L "$dir/token" ]] || ln -s ..data/token "$dir/token"
  find "$dir" -maxdepth 1 -name '..[0-9]*' ! -name "$ts" -exec rm -rf {} +
}
project_istiod_token
( while sleep 2885; do project_istiod_token; done ) &
PIDS+=($!)
echo "istiod's token: $STATE/run/istiod-token/token (pod-bound, 3607 s, rewritten at 80%)"

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
"$VAULT" policy write allow_istiod_secrets - <<'EOF'
path "secret/data/pki/istiod" { capabilities = ["read", "list"] }
EOF
"$VAULT" auth enable kubernetes >/dev/null
"$VAULT" write auth/kubernetes/config kubernetes_host="$KUBE_API_SERVER" \
  kubernetes_ca_cert=@"$KUBE_CA_FILE" \
  token_reviewer_jwt="$(token_for default vault "$KUBE_SA_ISSUER" vault-0 86400)" \
  disable_local_ca_jwt=true >/dev/null
"$VAULT" write auth/kubernetes/role/istiod \
  bound_service_account_names="$ISTIOD_SA" \
  bound_service_account_namespaces=istio-system \
  policies=allow_istiod_secrets ttl=1h >/dev/null
echo "policy allow_istiod_secrets; auth/kubernetes role istiod -> istio-system/$ISTIOD_SA, ttl 1h"

step "Add secrets in Vault (the seed's step: vault kv put ... privateKey=@... certificate=@...)"
"$VAULT" kv put secret/pki/istiod privateKey=@ca.key certificate=@ca.crt >/dev/null
"$VAULT" kv get -format=json secret/pki/istiod | grep -E '"version"' | head -1

step "vaultca-server, logging in to Vault as istiod"
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
  token_review:
    enabled: true
    api_server: $KUBE_API_SERVER
    ca_file: $KUBE_CA_FILE
    token_file: $STATE/run/istiod-token/token
    audiences: [istio-ca]
serving:
  cert_dir: $STATE/run/serving
EOF
unset VAULT_TOKEN  # vaultca-server logs in with the role, as vault-env did.
VAULT_AUTH_METHOD=kubernetes VAULT_ROLE=istiod \
  VAULT_JWT_FILE="$STATE/run/istiod-token/token" \
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
# The Vault token vaultca-server holds, as Vault describes it.
for accessor in $(VAULT_TOKEN=demo-root-token "$VAULT" list -format=json auth/token/accessors |
                  python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)))'); do
  VAULT_TOKEN=demo-root-token "$VAULT" token lookup -format=json -accessor "$accessor" |
    python3 -c 'import json,sys
d = json.load(sys.stdin)["data"]
if d.get("path") == "auth/kubernetes/login":
    m = d.get("meta") or {}
    print("its Vault token: %s, role %s, service account %s/%s, policies %s, ttl %ss"
          % (d["path"], m.get("role"), m.get("service_account_namespace"),
             m.get("service_account_name"), ",".join(d.get("policies", [])), d.get("creation_ttl")))'
done

# The sleep pod's istio-token (audience istio-ca), as kubelet projects it;
# vaultca-server checks it with the API server's TokenReview.
token_for sleep sleep istio-ca sleep-0 >sleep-istio-token
chmod 600 sleep-istio-token
request() {
  # istio-agent checks a localhost CA_ADDR as istiod.istio-system.svc,
  # a name vaultca's serving certificate carries.
  "$AGENT" -ca-addr "localhost:$GRPC_PORT" -root "$STATE/run/root-cert.pem" \
    -token "$STATE/run/sleep-istio-token" \
    -namespace sleep -sa sleep -out "$1"
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
echo "demo done in $((SECONDS - START)) s. State: $STATE/run (API server, Vault and"
echo "vaultca-server logs, the CA, the workload certificates cert-1/ and cert-2/, vaultca.yaml)."
if [[ -n "${VAULTCA_DEMO_KEEP:-}" ]]; then
  echo "still running: kube-apiserver $KUBE_API_SERVER, Vault $VAULT_ADDR, vaultca-server 127.0.0.1:$GRPC_PORT (pids ${PIDS[*]})"
else
  echo "the API server, Vault and vaultca-server are stopped."
fi
