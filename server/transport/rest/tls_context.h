#pragma once
// The OpenSSL server context of the REST port's HTTPS (http_server.h), set up from the same files as the gRPC port's
// TLS: the certificate chain and the key in their own PEM files (--tls-cert, --tls-key), and for mutual TLS the CA
// bundle client certificates must chain to (--tls-client-ca).

#include <openssl/ssl.h>

#include "common/status.h"
#include "server/transport/rest/http_server.h"

namespace fovea::server {

// Loads `security`'s certificate, key and client CA into `context` (borrowed), with TLS 1.2 as the oldest protocol.
// INVALID_ARGUMENT naming the flag, the file and OpenSSL's reason when one cannot be used (a key that does not match
// the certificate names --tls-key).
Status ConfigureServerTls(SSL_CTX& context, const HttpSecurity& security);

}  // namespace fovea::server
