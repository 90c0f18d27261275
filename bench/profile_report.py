#!/usr/bin/env python3
"""Attributes a vaultca-server CPU profile to the parts of a request.

Reads `perf script` output (samples with DWARF call stacks) on stdin and
prints one Markdown table: each part's share of the server's CPU and, given
the measured CPU per request, its microseconds per request.

  perf script -i perf.data | bench/profile_report.py --cpu_ms_per_req 0.27

A sample belongs to the first part whose pattern matches a frame, reading
its stack from the leaf towards the thread's start: the innermost
recognisable frame says what the CPU was doing (a malloc inside CSR parsing
is the allocator's time; a futex wake inside the hand-off is the kernel's).
Frames without a symbol are skipped.
"""

import argparse
import re
import sys
from collections import Counter

# (part, pattern over "symbol (dso)"), first match wins per frame.
PARTS = [
    ("kernel: futex wake/wait (thread hand-off)", r"\bfutex"),
    ("kernel: scheduler / context switch", r"\b(__schedule|schedule|finish_task_switch|pick_next_task)"),
    ("kernel: socket I/O and polling",
     r"\b(tcp_|sock_|__sys_(send|recv)|epoll|ep_poll|__x64_sys_(read|write|sendmsg|recvmsg))"),
    ("allocator (malloc/free)",
     r"^(malloc|free|cfree|realloc|calloc|_int_malloc|_int_free|_int_realloc|tcache_|operator new|operator delete|__libc_(malloc|free))"),
    ("crypto: CSR signature verify", r"vaultca::x509::internal::(VerifyCsrSignature|VerifyEcdsa|VerifyRsa|VerifyEd25519)"),
    ("crypto: leaf signature", r"\b(EVP_DigestSign|EVP_DigestSignFinal|RSA_sign|ECDSA_do_sign|ossl_ecdsa_)"),
    ("TLS records (encrypt/decrypt)",
     r"\b(SSL_read|SSL_write|ssl3_read|ssl3_write|tls_write_records|tls13_enc|aes_gcm|ossl_gcm|gcm_|aesni_)"),
    ("TLS handshake", r"\b(SSL_do_handshake|tls_process_|tls_construct_|ossl_statem|statem)"),
    ("CSR parse (DER, policy)", r"vaultca::x509::(ParsedCsr|internal::(Der|Csr))"),
    ("PEM encode/decode", r"vaultca::.*[Pp]em"),
    ("leaf build (TBS DER, SANs)", r"vaultca::ca::(internal::|LocalCertificateAuthority)"),
    ("caching CA (material lookup)", r"vaultca::ca::CachingCertificateAuthority"),
    ("metrics", r"vaultca::server::(ServerMetrics|.*Metric)|prometheus"),
    ("worker pool hand-off", r"vaultca::server::internal::WorkQueue"),
    ("handler: authentication and identity policy",
     r"vaultca::server::(CertificateHandler|ClientCertAuthenticator|.*Authenticat|ParseSpiffe|IsDns|IdentityPolicy|internal::CheckRequestHeaders)"),
    ("service: request/response (proto)", r"vaultca::server::(CaService|CertificateRequest)|google::protobuf"),
    ("gRPC core", r"\b(grpc|gpr_|absl::)|libgrpc|libgpr|libaddress_sorting|libupb"),
    ("libcrypto (other)", r"libcrypto"),
    ("libc (other)", r"libc\.so"),
]
COMPILED = [(name, re.compile(p)) for name, p in PARTS]
OPENSSL = re.compile(r"libcrypto|libssl")
GENERIC = {"allocator (malloc/free)", "gRPC core"}
FRAME = re.compile(r"^\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")


def classify(frames):
    for sym, dso in frames:
        if sym.startswith("[unknown]"):
            continue
        text = f"{sym} ({dso})"
        for name, rx in COMPILED[:-2]:
            if rx.search(text):
                # OpenSSL's own frames (EC_POINT_mul, BN_mod_exp, ...) do
                # not say what they serve: their caller does.
                if name == "gRPC core" or not OPENSSL.search(dso):
                    return name
                if name not in GENERIC:
                    return name
    # Only unnamed frames: attribute by the leaf's library.
    for sym, dso in frames:
        text = f"{sym} ({dso})"
        for name, rx in COMPILED[-3:]:
            if rx.search(text):
                return name
    return "other"


def samples(lines):
    frames, in_sample = [], False
    for line in lines:
        if not line.strip():
            if in_sample:
                yield frames
            frames, in_sample = [], False
            continue
        if not line.startswith(("\t", " ")):
            in_sample = True
            frames = []
            continue
        m = FRAME.match(line)
        if m:
            sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
            frames.append((sym, m.group(2)))
    if in_sample:
        yield frames


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu_ms_per_req", type=float, default=0.0,
                    help="server CPU per request measured by the load generator")
    ap.add_argument("--title", default="")
    args = ap.parse_args()
    counts = Counter(classify(f) for f in samples(sys.stdin))
    total = sum(counts.values())
    if total == 0:
        print("no samples", file=sys.stderr)
        return 1
    if args.title:
        print(f"#### {args.title}\n")
    print("| part | share of server CPU | us per request |")
    print("| --- | ---: | ---: |")
    for name, n in counts.most_common():
        share = n / total
        us = share * args.cpu_ms_per_req * 1000
        print(f"| {name} | {share * 100:.1f}% | {us:.1f} |")
    print(f"| **total** ({total} samples) | 100% | {args.cpu_ms_per_req * 1000:.1f} |\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
