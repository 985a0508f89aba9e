#include "server/transport/rest/http_server.h"

#include <civetweb.h>
#include <spdlog/spdlog.h>

#include "server/transport/rest/http_compression.h"
#include "server/transport/rest/rest_json.h"

namespace fovea::server {
namespace {

// Connections served at once; each waits while its request runs on the worker pool and the batcher.
constexpr char kHandlerThreads[] = "16";
constexpr size_t kReadChunkBytes = size_t{64} << 10;
constexpr char kRequestIdHeader[] = "X-Request-Id";
constexpr char kInferenceHeaderLength[] = "Inference-Header-Content-Length";

std::string HeaderOr(const mg_connection* connection, const char* name) {
  const char* value = mg_get_header(connection, name);
  return value == nullptr ? "" : value;
}

// Sends `response`, its body encoded in `coding` (the client's Accept-Encoding choice).
void Send(mg_connection* connection, const HttpResponse& response, ContentCoding coding) {
  const std::optional<std::string> encoded = EncodeContent(coding, response.body);
  const std::string& body = encoded ? *encoded : response.body;
  mg_response_header_start(connection, response.status);
  mg_response_header_add(connection, "Content-Type", response.content_type.c_str(), -1);
  mg_response_header_add(connection, "Content-Length", std::to_string(body.size()).c_str(), -1);
  mg_response_header_add(connection, "Cache-Control", "no-store", -1);
  mg_response_header_add(connection, "Vary", "Accept-Encoding", -1);
  if (encoded) mg_response_header_add(connection, "Content-Encoding", ContentCodingName(coding), -1);
  if (response.inference_header_length) {
    mg_response_header_add(connection, kInferenceHeaderLength,
                           std::to_string(*response.inference_header_length).c_str(), -1);
  }
  if (!response.request_id.empty()) {
    mg_response_header_add(connection, kRequestIdHeader, response.request_id.c_str(), -1);
  }
  mg_response_header_send(connection);
  mg_write(connection, body.data(), body.size());
}

// The HTTP status for a body that cannot be decoded (DecodeContent's and ParseContentEncoding's codes).
int DecodeErrorStatus(const Status& status) {
  if (status.code() == StatusCode::kUnimplemented) return kHttpUnsupportedMediaType;
  if (status.code() == StatusCode::kResourceExhausted) return kHttpPayloadTooLarge;
  return kHttpBadRequest;
}

// The request body decoded from its Content-Encoding, at most `limit` bytes once decoded.
Status DecodeBody(const mg_connection* connection, size_t limit, std::string& body) {
  FOVEA_ASSIGN_OR_RETURN(const ContentCoding coding, ParseContentEncoding(HeaderOr(connection, "Content-Encoding")));
  if (coding == ContentCoding::kIdentity) return OkStatus();
  FOVEA_ASSIGN_OR_RETURN(body, DecodeContent(coding, body, limit));
  return OkStatus();
}

enum class BodyRead { kComplete, kTooLarge, kTruncated };

// Reads the body, at most `limit` bytes: refused from the declared length before reading, or once more arrives.
BodyRead ReadBody(mg_connection* connection, long long declared_length, size_t limit, std::string& body) {
  if (declared_length > static_cast<long long>(limit)) return BodyRead::kTooLarge;
  std::string chunk(kReadChunkBytes, '\0');
  while (true) {
    const int read = mg_read(connection, chunk.data(), chunk.size());
    if (read <= 0) break;
    body.append(chunk.data(), static_cast<size_t>(read));
    if (body.size() > limit) return BodyRead::kTooLarge;
  }
  // A client that closes (or stalls past civetweb's request timeout) mid-body must not have a prefix of it served.
  const bool short_body = declared_length >= 0 && body.size() < static_cast<size_t>(declared_length);
  return short_body ? BodyRead::kTruncated : BodyRead::kComplete;
}

}  // namespace

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& host, int port, size_t max_body_bytes,
                                                        RestApi& api) {
  std::unique_ptr<HttpServer> server(new HttpServer(api, max_body_bytes));
  const std::string address = host + ":" + std::to_string(port);
  const char* options[] = {
      "listening_ports", address.c_str(), "num_threads", kHandlerThreads, "enable_keep_alive", "no", nullptr};
  mg_callbacks callbacks{};
  // civetweb logs through this callback; a non-zero return keeps it from printing to stderr itself.
  callbacks.log_message = [](const mg_connection* /*connection*/, const char* message) {
    spdlog::debug("civetweb: {}", message);
    return 1;
  };
  server->context_ = mg_start(&callbacks, nullptr, options);
  if (server->context_ == nullptr) return Status(StatusCode::kUnavailable, "cannot serve HTTP on " + address);
  mg_set_request_handler(server->context_, "/", &HttpServer::HandleRequest, server.get());
  return server;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (context_ == nullptr) return;
  mg_stop(context_);
  context_ = nullptr;
}

int HttpServer::HandleRequest(mg_connection* connection, void* self) {
  const HttpServer& server = *static_cast<HttpServer*>(self);
  const mg_request_info* info = mg_get_request_info(connection);
  HttpRequest request;
  request.method = info->request_method;
  request.path = info->local_uri != nullptr ? info->local_uri : "";
  request.query = info->query_string != nullptr ? info->query_string : "";
  request.content_type = HeaderOr(connection, "Content-Type");
  request.request_id = HeaderOr(connection, kRequestIdHeader);
  if (const char* length = mg_get_header(connection, kInferenceHeaderLength); length != nullptr) {
    request.inference_header_length = length;
  }
  const ContentCoding answer_coding = ChooseResponseCoding(HeaderOr(connection, "Accept-Encoding"));
  const BodyRead read = ReadBody(connection, info->content_length, server.max_body_bytes_, request.body);
  if (read != BodyRead::kComplete) {
    const std::string message = read == BodyRead::kTooLarge
                                    ? "request body is larger than the limit of " +
                                          std::to_string(server.max_body_bytes_) + " bytes (--max-message-bytes)"
                                    : "request body ended after " + std::to_string(request.body.size()) + " of the " +
                                          std::to_string(info->content_length) + " bytes its Content-Length declares";
    spdlog::warn("REST {} {}: {}", request.method, request.path, message);
    const int status = read == BodyRead::kTooLarge ? kHttpPayloadTooLarge : kHttpBadRequest;
    Send(connection, {status, "application/json", ErrorJson(message), "", std::nullopt}, answer_coding);
    return status;
  }
  if (const Status decoded = DecodeBody(connection, server.max_body_bytes_, request.body); !decoded.ok()) {
    spdlog::warn("REST {} {}: {}", request.method, request.path, decoded.message());
    const int status = DecodeErrorStatus(decoded);
    Send(connection, {status, "application/json", ErrorJson(decoded.message()), "", std::nullopt}, answer_coding);
    return status;
  }
  const HttpResponse response = server.api_.Handle(request);
  Send(connection, response, answer_coding);
  return response.status;
}

}  // namespace fovea::server
