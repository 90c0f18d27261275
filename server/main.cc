// vaultca-server: an Istio CA (istio.v1.auth.IstioCertificateService) whose
// CA material comes from Vault, an Istio cacerts directory or a self-signed
// root. See examples/server/vaultca.yaml for every option. The same server
// runs as `vaultca serve` (cli/).

#include "server/run.h"

int main(int argc, char** argv) {
  return vaultca::server::RunServer(argc, argv);
}
