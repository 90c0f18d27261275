#!/usr/bin/env bash
# Istio plug-in CA material for the benchmark peers, made once per key type
# with the openssl CLI so every peer signs with the very same keys:
#
#   bench/peers/pki.sh DIR rsa|ec            root + intermediate + leaves
#   bench/peers/pki.sh DIR rsa|ec rotate N   a new intermediate under the
#                                            same root, swapped into
#                                            DIR/cacerts atomically (as
#                                            kubelet updates a Secret)
#   bench/peers/pki.sh DIR rsa|ec prepare N  rotate's two halves, so the key
#   bench/peers/pki.sh DIR rsa|ec install N  generation can happen before the
#                                            measured load
#
# DIR/cacerts/{ca-cert,ca-key,cert-chain,root-cert}.pem is the plug-in
# layout (vaultca files source, Istio's CA, cfssl -ca/-ca-key).
# DIR/client-{chain,key}.pem: a workload certificate (URI SAN
# spiffe://cluster.local/ns/default/sa/sleep) for mutual TLS, so every peer
# authenticates the caller the same way. DIR/serving-{chain,key}.pem: the
# TLS certificate of the echo server and cfssl (istiod.istio-system.svc,
# 127.0.0.1).
set -euo pipefail
DIR="$1"; KT="$2"; ACTION="${3:-init}"
mkdir -p "$DIR/cacerts"
cd "$DIR"

newkey() {  # $1 out: traditional PEM, which every peer parses
  if [[ "$KT" == ec ]]; then
    openssl ecparam -genkey -name prime256v1 -noout -out "$1"
  else
    openssl genrsa -traditional -out "$1" 2048 2>/dev/null
  fi
}

ext() { printf '%s\n' "$@" >"$DIR/ext.cnf"; }

intermediate() {  # $1 tag: makes int-$1.{key,pem}
  newkey "int-$1.key"
  openssl req -new -key "int-$1.key" -subj "/O=cluster.local/CN=bench intermediate $1" -out "int-$1.csr"
  ext "basicConstraints=critical,CA:TRUE,pathlen:0" "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid"
  openssl x509 -req -in "int-$1.csr" -CA root.pem -CAkey root.key -set_serial "0x$(openssl rand -hex 8)" \
    -days 365 -extfile ext.cnf -out "int-$1.pem" 2>/dev/null
}

# DIR/cacerts is laid out as kubelet mounts a Secret (Istio's cacerts):
# each file is a link into ..data, a link to one ..set-<tag> directory. A
# rotation is one rename() of ..data, so no reader sees a mixed set, and
# it costs the benchmark's shared cores two small processes (swap_cacerts,
# which run_all.sh inlines) instead of copying files.
stage_cacerts() {  # $1 tag: cacerts/..set-$1 holding the four files
  local d="cacerts/..set-$1"
  mkdir -p "$d"
  cp "int-$1.pem" "$d/ca-cert.pem"; cp "int-$1.key" "$d/ca-key.pem"
  cat "int-$1.pem" root.pem >"$d/cert-chain.pem"; cp root.pem "$d/root-cert.pem"
}

swap_cacerts() {  # $1 tag
  ln -sfn "..set-$1" cacerts/..data.tmp && mv -Tf cacerts/..data.tmp cacerts/..data
}

leaf() {  # $1 name, $2 SAN, $3 EKU
  openssl ecparam -genkey -name prime256v1 -noout -out "$1-key.pem"
  openssl req -new -key "$1-key.pem" -subj "/O=cluster.local" -out "$1.csr"
  ext "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=$3" "subjectAltName=critical,$2" "authorityKeyIdentifier=keyid"
  openssl x509 -req -in "$1.csr" -CA int-0.pem -CAkey int-0.key -set_serial "0x$(openssl rand -hex 8)" \
    -days 30 -extfile ext.cnf -out "$1.pem" 2>/dev/null
  cat "$1.pem" int-0.pem root.pem >"$1-chain.pem"
}

case "$ACTION" in
  rotate) intermediate "$4"; stage_cacerts "$4"; swap_cacerts "$4"; exit 0 ;;
  prepare) intermediate "$4"; stage_cacerts "$4"; exit 0 ;;
  install) swap_cacerts "$4"; exit 0 ;;
esac

newkey root.key
ext "basicConstraints=critical,CA:TRUE" "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
  "subjectKeyIdentifier=hash"
openssl req -x509 -new -key root.key -subj "/O=cluster.local/CN=bench root" -days 3650 \
  -extensions v3 -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n'; cat ext.cnf) -out root.pem
intermediate 0
stage_cacerts 0
swap_cacerts 0
for f in ca-cert.pem ca-key.pem cert-chain.pem root-cert.pem; do ln -sfn "..data/$f" "cacerts/$f"; done
leaf client "URI:spiffe://cluster.local/ns/default/sa/sleep" "clientAuth,serverAuth"
leaf serving "DNS:istiod.istio-system.svc,IP:127.0.0.1" "serverAuth,clientAuth"
echo '{"signing":{"default":{"usages":["digital signature","key encipherment","server auth","client auth"],"expiry":"24h"}}}' >cfssl-config.json
