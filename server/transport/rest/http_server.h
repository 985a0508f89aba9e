#pragma once
// HttpServer: the REST port (--http-port), served by civetweb (Debian's libcivetweb), handing every request to a
// RestApi. Plaintext only: Debian 12's civetweb 1.15 loads OpenSSL at run time and crashes on the first TLS
// connection with OpenSSL 3, so fovea-server refuses --http-port together with --tls-cert (security.cc) instead of
// serving the API unencrypted beside a TLS gRPC port. Put a TLS-terminating proxy in front for HTTPS.
//
// Each connection is answered and closed (no keep-alive), so an unread oversized body can never be parsed as a
// following request. Bodies over `max_body_bytes` are refused with 413 before they are read. A body sent with
// Content-Encoding gzip or deflate is decoded before RestApi sees it, refused with 413 as soon as it decodes past the
// same limit, 415 for a coding it does not know; responses are compressed for clients whose Accept-Encoding asks
// (http_compression.h).

#include <memory>
#include <string>

#include "common/status.h"
#include "server/transport/rest/rest_api.h"

struct mg_connection;
struct mg_context;

namespace fovea::server {

class HttpServer {
 public:
  // Serves `api` (borrowed; must outlive the server) on http://`host`:`port`. UNAVAILABLE naming the address when it
  // cannot listen.
  static StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& host, int port, size_t max_body_bytes,
                                                     RestApi& api);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops accepting connections and waits for the requests in flight to be answered. Idempotent.
  void Stop();

 private:
  HttpServer(RestApi& api, size_t max_body_bytes) : api_(api), max_body_bytes_(max_body_bytes) {}
  static int HandleRequest(::mg_connection* connection, void* self);

  RestApi& api_;
  const size_t max_body_bytes_;
  mg_context* context_ = nullptr;
};

}  // namespace fovea::server
