#pragma once
// HttpServer: the REST port (--http-port), served by Debian's cpp-httplib (libcpp-httplib-dev, linked against
// OpenSSL 3), handing every request to a RestApi. Plain HTTP, or HTTPS with the gRPC port's TLS flags: --tls-cert and
// --tls-key, --tls-client-ca for mutual TLS, and --auth-token-file's bearer token on every route but
// /v2/health/live and /v2/health/ready.
//
// Why not civetweb, which the metrics port still uses: Debian 12's civetweb 1.15 loads OpenSSL at run time and looks
// up SSL_get_peer_certificate, which OpenSSL 3 no longer exports (it became a macro for SSL_get1_peer_certificate);
// civetweb then calls the null pointer on every TLS connection, whatever SSL_CTX its init_ssl callback was given. So
// TLS on the REST port needs another library, and cpp-httplib is Debian's HTTP library that links OpenSSL 3.
//
// Connections are kept alive, and the server keeps them in step: the body of a refused request (over
// `max_body_bytes`, or without the token) is read and thrown away up to 4 times that limit; a request whose body is
// still not read to its end (declared longer than that, cut short, a GET that carries a body) is answered with
// "Connection: close" and its connection closed, so unread bytes can never be parsed as a following request. A body
// sent with Content-Encoding gzip or deflate is decoded here, not by cpp-httplib (whose decoder has no size limit):
// refused with 413 as soon as it decodes past `max_body_bytes`, 415 for a coding it does not know; responses are
// compressed for clients whose Accept-Encoding asks (http_compression.h).

#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "server/transport/rest/rest_api.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace fovea::server {

// The REST port's transport security; the same settings as the gRPC port's (security.h checks the combinations).
struct HttpSecurity {
  std::string tls_cert_file;       // PEM certificate chain; empty: plain HTTP
  std::string tls_key_file;        // PEM private key of the certificate
  std::string tls_client_ca_file;  // PEM CA bundle; non-empty: clients must present a certificate it signed
  std::string bearer_token;        // non-empty: "Authorization: Bearer <token>" on every route but the two health ones
};

struct HttpServerOptions {
  std::string host;
  int port = 0;
  size_t max_body_bytes = 0;  // request bodies, before and after decoding their Content-Encoding
  HttpSecurity security;
};

class HttpServer {
 public:
  // Serves `api` (borrowed; must outlive the server) on `options.host`:`options.port`. UNAVAILABLE naming the address
  // when it cannot listen; INVALID_ARGUMENT naming the flag when a TLS file cannot be used.
  static StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, RestApi& api);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops accepting connections and waits for the requests in flight to be answered. Idempotent.
  void Stop();

 private:
  HttpServer(RestApi& api, size_t max_body_bytes, std::string bearer_token);
  void Route();

  RestApi& api_;
  const size_t max_body_bytes_;
  const std::string bearer_token_;
  std::unique_ptr<httplib::Server> http_;  // an httplib::SSLServer with TLS
  std::thread listener_;                   // accepts connections until Stop()
};

}  // namespace fovea::server
