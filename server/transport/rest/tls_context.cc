#include "server/transport/rest/tls_context.h"

#include <openssl/err.h>

#include <array>
#include <string>

namespace fovea::server {
namespace {

// Sessions resumed under mutual TLS must come from this server's context; OpenSSL refuses to resume without an id.
constexpr unsigned char kSessionIdContext[] = "fovea-rest";
constexpr size_t kErrorTextBytes = 256;

// INVALID_ARGUMENT naming the flag and file, with the reason OpenSSL queued (the queue is emptied).
Status FlagError(const char* flag, const std::string& path, const std::string& problem) {
  std::string reason;
  while (const unsigned long code = ERR_get_error()) {
    std::array<char, kErrorTextBytes> text{};
    ERR_error_string_n(code, text.data(), text.size());
    reason += std::string(reason.empty() ? "" : "; ") + text.data();
  }
  return InvalidArgument(std::string("--") + flag + ": " + path + " " + problem +
                         (reason.empty() ? "" : " (" + reason + ")"));
}

}  // namespace

Status ConfigureServerTls(SSL_CTX& context, const HttpSecurity& security) {
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(&context, TLS1_2_VERSION);
  SSL_CTX_set_options(&context, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(&context, security.tls_cert_file.c_str()) != 1) {
    return FlagError("tls-cert", security.tls_cert_file, "is not a readable PEM certificate chain");
  }
  if (SSL_CTX_use_PrivateKey_file(&context, security.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return FlagError("tls-key", security.tls_key_file, "is not a readable PEM private key");
  }
  if (SSL_CTX_check_private_key(&context) != 1) {
    return FlagError("tls-key", security.tls_key_file, "does not match the certificate of --tls-cert");
  }
  SSL_CTX_set_session_id_context(&context, kSessionIdContext, sizeof(kSessionIdContext) - 1);
  if (security.tls_client_ca_file.empty()) return OkStatus();
  if (SSL_CTX_load_verify_locations(&context, security.tls_client_ca_file.c_str(), nullptr) != 1) {
    return FlagError("tls-client-ca", security.tls_client_ca_file, "is not a readable PEM CA bundle");
  }
  // Named in the handshake, so a client holding several certificates knows which CA's to present.
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(security.tls_client_ca_file.c_str());
  if (names == nullptr) return FlagError("tls-client-ca", security.tls_client_ca_file, "holds no CA certificate");
  SSL_CTX_set_client_CA_list(&context, names);  // takes ownership
  SSL_CTX_set_verify(&context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return OkStatus();
}

}  // namespace fovea::server
