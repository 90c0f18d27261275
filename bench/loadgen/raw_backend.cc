// The raw OpenSSL ceiling, no RPC: per request one X509_REQ_verify (the CSR's
// proof of possession) and one X509_sign of an equivalent leaf with the CA
// key, the two public-key operations any CA must do. Each worker has its
// own copies because X509_sign rewrites the certificate it signs.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/loadgen/backends.h"
#include "bench/loadgen/worker_pool.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace bench {
namespace {

using ::vaultca::internal::SslUniquePtr;

SslUniquePtr<BIO> MemBio(const std::string& s) {
  return SslUniquePtr<BIO>(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

struct Item {
  SslUniquePtr<X509_REQ> csr;
  SslUniquePtr<X509> leaf;
};

class RawBackend : public Backend {
 public:
  explicit RawBackend(const BackendOptions& o) : options_(o) {
    SslUniquePtr<BIO> bio = MemBio(o.ca_cert_pem);
    ca_cert_.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    bio = MemBio(o.ca_key_pem);
    ca_key_.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    digest_.reset(EVP_MD_fetch(nullptr, "SHA256", nullptr));
    ok_ = ca_cert_ != nullptr && ca_key_ != nullptr && digest_ != nullptr;
    items_.resize(o.workers);
    for (int w = 0; ok_ && w < o.workers; ++w) {
      for (const std::string& pem : o.csrs) {
        Item item;
        bio = MemBio(pem);
        item.csr.reset(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
        item.leaf = EquivalentLeaf(item.csr.get());
        ok_ = ok_ && item.csr != nullptr && item.leaf != nullptr;
        items_[w].push_back(std::move(item));
      }
    }
    pool_ = std::make_unique<WorkerPool>(o.workers);
  }
  ~RawBackend() override { pool_.reset(); }

  bool Prepare() override {
    if (!ok_) std::fprintf(stderr, "loadgen: raw: bad --ca_cert/--ca_key or CSRs\n");
    return ok_ && Do(0, 0) == 0;
  }

  void Issue(int csr, std::function<void(int)> done) override {
    pool_->Submit([this, csr, done = std::move(done)](int worker) {
      done(Do(worker, csr));
    });
  }

  int IssueFresh(int csr) override { return Do(0, csr); }

 private:
  // A leaf shaped like the CA's: the CSR's key and extensions (URI SAN),
  // the CA as issuer, a serial, a validity.
  SslUniquePtr<X509> EquivalentLeaf(X509_REQ* csr) {
    if (csr == nullptr) return nullptr;
    SslUniquePtr<X509> leaf(X509_new());
    X509_set_version(leaf.get(), X509_VERSION_3);
    ASN1_INTEGER_set_int64(X509_get_serialNumber(leaf.get()), 0x1234567890abcdefLL);
    X509_set_issuer_name(leaf.get(), X509_get_subject_name(ca_cert_.get()));
    X509_gmtime_adj(X509_getm_notBefore(leaf.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(leaf.get()), 86400);
    X509_set_pubkey(leaf.get(), X509_REQ_get0_pubkey(csr));
    STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(csr);
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
      X509_add_ext(leaf.get(), sk_X509_EXTENSION_value(exts, i), -1);
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return leaf;
  }

  int Do(int worker, int csr) {
    Item& item = items_[worker][csr];
    X509_REQ* req = item.csr.get();
    if (X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1) return 3;
    if (X509_sign(item.leaf.get(), ca_key_.get(), digest_.get()) <= 0) return 13;
    return 0;
  }

  const BackendOptions options_;
  SslUniquePtr<X509> ca_cert_;
  SslUniquePtr<EVP_PKEY> ca_key_;
  SslUniquePtr<EVP_MD> digest_;
  bool ok_ = false;
  // items_[worker][csr]: touched only by that worker's thread.
  std::vector<std::vector<Item>> items_;
  std::unique_ptr<WorkerPool> pool_;
};

}  // namespace

std::unique_ptr<Backend> NewRawBackend(const BackendOptions& options) {
  return std::make_unique<RawBackend>(options);
}

}  // namespace bench
}  // namespace vaultca
