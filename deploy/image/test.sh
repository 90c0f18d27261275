#!/usr/bin/env bash
# Tests the vaultca-server image by running it, the way a container runtime
# would, without one:
#   0. runs the builder's Go tests (tools/image);
#   1. builds the image twice (deploy/image/build.sh) and requires the same
#      digest and the same archive bytes (reproducible);
#   2. checks the OCI layout with its own code (python: every blob against
#      its digest and size, the layer's diff ID) and the image config (user
#      65532:65532, entrypoint, ports 15012 and 15014, labels); with skopeo
#      installed, also that skopeo reads the layout and the archive;
#   3. unpacks the layer with tar and checks, with the image's own dynamic
#      loader inside the root file system, that the server's libraries are
#      all there and that nothing unused was shipped;
#   4. runs the image's entrypoint with its environment as uid/gid 65532 in
#      a chroot of the root file system mounted READ-ONLY, in its own mount
#      and network namespaces (so the default ports 15012/15014 cannot clash
#      with anything on this machine), with /proc, a minimal /dev, a tmpfs
#      /tmp, emptyDir-like (0777) volumes on /var/lib/vaultca and
#      /var/run/vaultca, and the configuration (self-signed CA, JWT issuer
#      with a local JWKS) mounted read-only on /etc/vaultca;
#   5. from outside the chroot: /live and /ready on 15014, Istio's own
#      istio-agent client (tests/interop/cmd/istio-agent-client) gets a
#      workload certificate on 15012 that chains to the published root, a
#      token signed by an unknown key is refused, the process is uid 65532
#      without capabilities on a read-only root, and SIGTERM ends it with 0.
# Needs root (mount and network namespaces, chroot). Ends with one line:
# "PASS: deploy/image/test.sh ..." or "FAIL: deploy/image/test.sh: ...".
#
#   deploy/image/test.sh                          bazel build -c opt first
#   VAULTCA_SERVER_BIN=FILE deploy/image/test.sh  test an already built binary
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
START=$SECONDS
WORK="$ROOT/build/image-test"
CHECKS=0
SERVER_PID=""

fail() {
  if [[ -s "$WORK/server.err" ]]; then
    echo "--- server log (last 20 lines) ---" >&2
    tail -20 "$WORK/server.err" >&2
  fi
  echo "FAIL: deploy/image/test.sh: $*" >&2
  exit 1
}
ok() {
  CHECKS=$((CHECKS + 1))
  echo "ok $CHECKS - $*"
}
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'fail "unexpected error at line $LINENO: $BASH_COMMAND"' ERR

[[ $EUID -eq 0 ]] || fail "needs root (mount/network namespaces and chroot)"
for tool in unshare nsenter chroot mount ip curl openssl tar python3 sha256sum; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
rm -rf "$WORK"
mkdir -p "$WORK"

# --- 0. the builder's own tests ----------------------------------------------
(cd tools/image && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go test -count=1 ./... >"$WORK/go-test.txt" 2>&1) ||
  { cat "$WORK/go-test.txt" >&2; fail "go test in tools/image failed"; }
ok "tools/image: go test ($(tail -1 "$WORK/go-test.txt"))"

# --- 1. build, twice -------------------------------------------------------
t0=$SECONDS
bash deploy/image/build.sh >"$WORK/build1.txt" 2>"$WORK/build1.err" ||
  { cat "$WORK/build1.err" >&2; fail "deploy/image/build.sh failed"; }
build_s=$((SECONDS - t0))
cat "$WORK/build1.txt"
IMAGE="$ROOT/build/image"
BIN="$(sed -nE 's/^binary: +(.*) \([0-9.]+ MiB\)$/\1/p' "$WORK/build1.txt")"
[[ -x "$BIN" ]] || fail "build.sh did not name the binary it packed"
t0=$SECONDS
VAULTCA_SERVER_BIN="$BIN" VAULTCA_IMAGE_OUT="$WORK/image2" bash deploy/image/build.sh \
  >"$WORK/build2.txt" 2>&1 || { cat "$WORK/build2.txt" >&2; fail "second build failed"; }
rebuild_s=$((SECONDS - t0))
digest1="$(sed -nE 's/^digest: +//p' "$WORK/build1.txt")"
digest2="$(sed -nE 's/^digest: +//p' "$WORK/build2.txt")"
[[ -n "$digest1" && "$digest1" == "$digest2" ]] || fail "two builds of the same inputs differ: $digest1 vs $digest2"
cmp -s "$IMAGE/image.tar" "$WORK/image2/image.tar" || fail "two builds give different image.tar bytes"
ok "reproducible: both builds are $digest1, image.tar identical (build ${build_s} s, rebuild ${rebuild_s} s)"

# --- 2. the layout and the config, checked independently -------------------
python3 - "$IMAGE/layout" "$digest1" "$WORK/config.json" "$WORK/layer.tar.gz" <<'PY' || fail "the OCI layout is not valid"
import gzip, hashlib, json, os, shutil, sys
layout, want_digest, config_out, layer_out = sys.argv[1:]
def blob(desc):
    alg, hexd = desc["digest"].split(":")
    path = os.path.join(layout, "blobs", alg, hexd)
    data = open(path, "rb").read()
    assert hashlib.sha256(data).hexdigest() == hexd, "digest mismatch: " + path
    assert len(data) == desc["size"], "size mismatch: " + path
    return path, data
assert json.load(open(os.path.join(layout, "oci-layout")))["imageLayoutVersion"] == "1.0.0"
index = json.load(open(os.path.join(layout, "index.json")))
assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
[desc] = index["manifests"]
assert desc["digest"] == want_digest, (desc["digest"], want_digest)
assert desc["platform"]["os"] == "linux", desc["platform"]
_, raw = blob(desc)
manifest = json.loads(raw)
assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
_, raw = blob(manifest["config"])
config = json.loads(raw)
[layer] = manifest["layers"]
assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
path, data = blob(layer)
diff_id = "sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest()
assert config["rootfs"] == {"type": "layers", "diff_ids": [diff_id]}, "diff_id mismatch"
json.dump(config, open(config_out, "w"))
shutil.copyfile(path, layer_out)
PY
ok "OCI layout: index -> manifest -> config and layer match their digests and sizes; layer diff ID matches"

python3 - "$WORK/config.json" "$WORK/run.env" <<'PY' || fail "the image config is not what the chart expects"
import json, shlex, sys
c = json.load(open(sys.argv[1]))
cfg = c["config"]
assert cfg["User"] == "65532:65532", cfg["User"]
assert cfg["Entrypoint"] == ["/usr/local/bin/vaultca-server"], cfg["Entrypoint"]
assert sorted(cfg["ExposedPorts"]) == ["15012/tcp", "15014/tcp"], cfg["ExposedPorts"]
labels = cfg["Labels"]
for k in ("org.opencontainers.image.version", "org.opencontainers.image.revision"):
    assert labels.get(k), "label %s missing" % k
assert c["os"] == "linux" and c["created"] == labels["org.opencontainers.image.created"]
# chroot starts in /, as a runtime starts in WorkingDir.
assert cfg.get("WorkingDir", "/") == "/", cfg["WorkingDir"]
with open(sys.argv[2], "w") as f:
    f.write("IMAGE_USER=%s\n" % shlex.quote(cfg["User"]))
    f.write("IMAGE_ENTRYPOINT=(%s)\n" % " ".join(shlex.quote(a) for a in cfg["Entrypoint"] + (cfg.get("Cmd") or [])))
    f.write("IMAGE_ENV=(%s)\n" % " ".join(shlex.quote(e) for e in cfg["Env"]))
PY
# shellcheck disable=SC1091
source "$WORK/run.env"
ok "image config: User $IMAGE_USER, Entrypoint ${IMAGE_ENTRYPOINT[*]}, ports 15012+15014, OCI labels"

if command -v skopeo >/dev/null; then
  sk_layout="$(skopeo inspect --format '{{.Digest}}' "oci:$IMAGE/layout")" || fail "skopeo cannot read the layout"
  sk_archive="$(skopeo inspect --format '{{.Digest}}' "oci-archive:$IMAGE/image.tar")" || fail "skopeo cannot read the oci-archive"
  [[ "$sk_layout" == "$digest1" && "$sk_archive" == "$digest1" ]] || fail "skopeo sees $sk_layout / $sk_archive, not $digest1"
  skopeo inspect --config "docker-archive:$IMAGE/image.tar" >"$WORK/docker-config.json" ||
    fail "skopeo cannot read image.tar as a docker-archive (docker load's format)"
  cmp -s <(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["config"], sort_keys=True))' "$WORK/docker-config.json") \
    <(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["config"], sort_keys=True))' "$WORK/config.json") ||
    fail "the docker-archive view has another config"
  ok "skopeo reads oci:layout and oci-archive (same digest) and docker-archive (same config)"
else
  echo "skip - skopeo not installed: the layout was checked by python only"
fi

# --- 3. the root file system -------------------------------------------------
ROOTFS="$WORK/rootfs"
mkdir -p "$ROOTFS"
tar -xzf "$WORK/layer.tar.gz" -C "$ROOTFS" --numeric-owner --same-permissions
[[ ! -e "$ROOTFS/bin/sh" && ! -e "$ROOTFS/usr/bin/sh" ]] || fail "the image has a shell"
[[ "$(stat -c '%u:%g %a' "$ROOTFS/var/run/vaultca")" == "65532:65532 700" ]] ||
  fail "/var/run/vaultca is $(stat -c '%u:%g %a' "$ROOTFS/var/run/vaultca")"
grep -q '^nonroot:x:65532:65532:' "$ROOTFS/etc/passwd" || fail "no nonroot user in /etc/passwd"
openssl x509 -in "$ROOTFS/etc/ssl/certs/ca-certificates.crt" -noout 2>/dev/null || fail "no CA bundle"
ok "root file system: no shell, nonroot 65532 in /etc/passwd, CA bundle, /var/run/vaultca 65532 0700"

# The image's own loader, run inside the root file system, resolves every
# library as the server's start will.
interp="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["interpreter"])' "$IMAGE/image.json")"
chroot "$ROOTFS" "$interp" --list /usr/local/bin/vaultca-server >"$WORK/ldd.txt" 2>&1 ||
  { cat "$WORK/ldd.txt" >&2; fail "the loader inside the image cannot load the server"; }
if grep -q 'not found' "$WORK/ldd.txt"; then grep 'not found' "$WORK/ldd.txt" >&2; fail "libraries missing"; fi
loaded="$(sed -nE 's/^\s*\S+ => (\S+) .*/\1/p' "$WORK/ldd.txt" | sort)"
shipped="$(cd "$ROOTFS" && find usr/lib -name '*.so*' ! -name 'ld-linux*' -printf '/%p\n' | sort)"
[[ "$loaded" == "$shipped" ]] ||
  fail "libraries loaded and shipped differ: $(diff <(echo "$loaded") <(echo "$shipped") | grep '^[<>]' | head -5 | tr '\n' ' ')"
host_sonames="$(ldd "$BIN" | sed -nE 's/^\s*(\S+) => .*/\1/p' | sort)"
image_sonames="$(sed -nE 's/^\s*(\S+) => .*/\1/p' "$WORK/ldd.txt" | sort)"
[[ "$host_sonames" == "$image_sonames" ]] || fail "ldd on the host and the loader in the image disagree"
ok "the image's loader finds all $(wc -l <<<"$loaded") libraries in the image, exactly those shipped, the same as ldd on the host"

# --- 4. run it: read-only root, uid 65532 ---------------------------------------
AGENT="$(bash tools/gobuild.sh istio-agent-client tests/interop ./cmd/istio-agent-client | tail -1)"
"$AGENT" -new-jwt-key "$WORK/jwt" >/dev/null
"$AGENT" -new-jwt-key "$WORK/jwt-other" >/dev/null
CONF="$WORK/etc-vaultca"
mkdir -p "$CONF"
cp "$WORK/jwt/jwks.json" "$CONF/jwks.json"
# Listen addresses, CA state and serving directories are the image's
# defaults; only what a deployment must choose is set.
cat >"$CONF/vaultca.yaml" <<'EOF'
trust_domain: cluster.local
ca:
  source: self-signed
  root_cert_file: /var/run/vaultca/root-cert.pem
auth:
  client_certificate: true
  jwt:
    - issuer: https://kubernetes.default.svc.cluster.local
      jwks_file: /etc/vaultca/jwks.json
      audiences: [istio-ca]
limits:
  shutdown_grace: 5s
EOF
chmod 0755 "$CONF" && chmod 0644 "$CONF"/*
# emptyDir volumes: world-writable, root-owned, like the kubelet makes them.
mkdir -p "$WORK/vol/state" "$WORK/vol/run"
chmod 0777 "$WORK/vol/state" "$WORK/vol/run"
# Mount points a runtime creates before it makes the root read-only.
mkdir -p "$ROOTFS/proc" "$ROOTFS/dev"
MNT="$WORK/mnt"
mkdir -p "$MNT"

# Runs in new mount and network namespaces and ends by exec'ing the server,
# so this process id is the server's.
read -r -d '' INNER <<'EOF' || true
set -euo pipefail
ROOTFS=$1 MNT=$2 CONF=$3 VOL=$4 USER_SPEC=$5
shift 5
ip link set lo up
mount --bind "$ROOTFS" "$MNT"
mount -o remount,bind,ro "$MNT"
mount -t proc -o nosuid,nodev,noexec proc "$MNT/proc"
mount -t tmpfs -o nosuid,noexec,mode=0755,size=64k tmpfs "$MNT/dev"
for d in null zero random urandom; do
  touch "$MNT/dev/$d" && mount --bind "/dev/$d" "$MNT/dev/$d"
done
mount -t tmpfs -o nosuid,nodev,mode=1777,size=16m tmpfs "$MNT/tmp"
mount --bind "$VOL/state" "$MNT/var/lib/vaultca"
mount --bind "$VOL/run" "$MNT/var/run/vaultca"
mount --bind "$CONF" "$MNT/etc/vaultca"
mount -o remount,bind,ro "$MNT/etc/vaultca"
exec chroot --userspec="$USER_SPEC" --groups= "$MNT" "$@"
EOF
env -i "${IMAGE_ENV[@]}" HOME=/home/nonroot HOSTNAME=vaultca-image-test \
  unshare --mount --net --propagation private -- \
  /bin/bash -c "$INNER" inner "$ROOTFS" "$MNT" "$CONF" "$WORK/vol" "$IMAGE_USER" \
  "${IMAGE_ENTRYPOINT[@]}" --config=/etc/vaultca/vaultca.yaml \
  >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!

innet() { nsenter --target "$SERVER_PID" --net -- "$@"; }
ready=""
for _ in $(seq 300); do
  kill -0 "$SERVER_PID" 2>/dev/null || break
  if [[ "$(innet curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:15014/ready 2>/dev/null)" == 200 ]]; then
    ready=1
    break
  fi
  sleep 0.2
done
[[ -n "$ready" ]] || fail "the server in the image did not become ready on :15014/ready"
grep -q 'grpc_port=15012 http_port=15014' "$WORK/server.out" || fail "the server did not listen on 15012/15014: $(cat "$WORK/server.out")"
[[ "$(innet curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:15014/live)" == 200 ]] || fail "/live is not 200"
innet curl -sf http://127.0.0.1:15014/metrics | grep -q '^vaultca_' || fail "/metrics has no vaultca_ metrics"
ok "server started from the image: gRPC :15012, /ready 200, /live 200, /metrics on :15014"

status="$(cat "/proc/$SERVER_PID/status")"
grep -qE '^Uid:\s+65532\s+65532\s+65532\s+65532$' <<<"$status" || fail "not uid 65532: $(grep ^Uid <<<"$status")"
grep -qE '^Gid:\s+65532\s+65532\s+65532\s+65532$' <<<"$status" || fail "not gid 65532: $(grep ^Gid <<<"$status")"
grep -qE '^Groups:\s*$' <<<"$status" || fail "supplementary groups: $(grep ^Groups <<<"$status")"
grep -qE '^CapEff:\s+0+$' <<<"$status" || fail "has capabilities: $(grep ^CapEff <<<"$status")"
[[ "$(readlink "/proc/$SERVER_PID/exe")" == */usr/local/bin/vaultca-server ]] || fail "pid $SERVER_PID is not the server"
root_mount="$(awk '$5 == "/" {print $6}' "/proc/$SERVER_PID/mountinfo")"
[[ ",$root_mount," == *,ro,* ]] || fail "the server's root is mounted $root_mount, not ro"
if nsenter --target "$SERVER_PID" --mount -- touch "$MNT/usr/local/bin/probe" 2>"$WORK/touch.err"; then
  fail "the root file system is writable"
fi
grep -q 'Read-only file system' "$WORK/touch.err" || fail "writing the root failed otherwise: $(cat "$WORK/touch.err")"
ok "process: uid/gid 65532, no supplementary groups, no capabilities, root mounted ro (a write gets EROFS)"

[[ -s "$WORK/vol/run/root-cert.pem" ]] || fail "no root published to /var/run/vaultca/root-cert.pem"
[[ "$(stat -c '%u %a' "$WORK/vol/run/serving")" == "65532 700" ]] || fail "serving dir is $(stat -c '%u %a' "$WORK/vol/run/serving")"
[[ "$(stat -c '%u %a' "$WORK/vol/state/self-signed")" == "65532 700" ]] || fail "state dir is $(stat -c '%u %a' "$WORK/vol/state/self-signed")"
ok "writes only to its volumes: self-signed root in /var/lib/vaultca/self-signed, serving cert in /var/run/vaultca/serving (both 65532 0700)"

# --- 5. a certificate, with Istio's own client ---------------------------------
innet "$AGENT" -ca-addr localhost:15012 -root "$WORK/vol/run/root-cert.pem" \
  -jwt-key "$WORK/jwt/jwt-key.pem" -namespace image-test -sa sleep -out "$WORK/cert" \
  >"$WORK/agent.txt" 2>&1 || { cat "$WORK/agent.txt" >&2; fail "istio-agent-client got no certificate"; }
sed 's/^/    /' "$WORK/agent.txt"
grep -q '^verify: *OK' "$WORK/agent.txt" || fail "Istio's verification of the certificate failed"
openssl verify -CAfile "$WORK/vol/run/root-cert.pem" "$WORK/cert/cert-chain.pem" >/dev/null 2>"$WORK/verify.err" ||
  fail "the certificate does not chain to the published root: $(cat "$WORK/verify.err")"
cmp -s "$WORK/cert/root-cert.pem" "$WORK/vol/run/root-cert.pem" || fail "the response's root is not the published root"
openssl x509 -in "$WORK/cert/cert-chain.pem" -noout -ext subjectAltName |
  grep -q 'URI:spiffe://cluster.local/ns/image-test/sa/sleep' || fail "the certificate lacks the workload's SPIFFE ID"
ok "istio-agent (Istio's client) got spiffe://cluster.local/ns/image-test/sa/sleep; openssl verifies it against the published root"

if innet "$AGENT" -ca-addr localhost:15012 -root "$WORK/vol/run/root-cert.pem" \
  -jwt-key "$WORK/jwt-other/jwt-key.pem" -namespace image-test -sa sleep >"$WORK/agent-bad.txt" 2>&1; then
  fail "a token signed by a key outside the JWKS got a certificate"
fi
grep -q 'code = Unauthenticated' "$WORK/agent-bad.txt" || fail "refused for another reason: $(tail -2 "$WORK/agent-bad.txt")"
ok "a token signed by a key outside the JWKS is refused (Unauthenticated)"

kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
SERVER_PID=""
[[ $rc -eq 0 ]] || fail "the server exited $rc after SIGTERM"
ok "SIGTERM: graceful shutdown, exit 0"

echo "PASS: deploy/image/test.sh ($CHECKS checks, image $digest1, $((SECONDS - START)) s)"
