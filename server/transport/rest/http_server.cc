#include "server/transport/rest/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <string_view>

#include "server/ops/security.h"
#include "server/transport/rest/http_compression.h"
#include "server/transport/rest/rest_json.h"
#include "server/transport/rest/tls_context.h"

namespace fovea::server {
namespace {

// Connections served at once: a kept-alive connection holds its thread until it closes or idles past
// kKeepAliveIdleSeconds, and each thread waits while its request runs on the worker pool and the batcher. More
// connections wait in the queue for a free thread.
constexpr size_t kHandlerThreads = 32;
constexpr size_t kKeepAliveMaxRequests = 1000;  // then the connection is closed and the client opens another
constexpr time_t kKeepAliveIdleSeconds = 5;
constexpr time_t kReadTimeoutSeconds = 30;  // one read of a request; a client stalled longer is cut off
constexpr time_t kWriteTimeoutSeconds = 30;
constexpr uint64_t kDiscardFactor = 4;  // ReadBody
constexpr char kRequestIdHeader[] = "X-Request-Id";
constexpr char kInferenceHeaderLength[] = "Inference-Header-Content-Length";
constexpr char kContentEncoding[] = "Content-Encoding";
// Where the pre-routing handler keeps the request's Content-Encoding: a name no client can send, because a ':' ends
// a header name on the wire.
constexpr char kDeferredContentEncoding[] = "fovea:content-encoding";
// The probes stay open without the token, as grpc.health.v1.Health does on the gRPC port: these two paths exactly,
// so that no path that merely starts like them ("/v2/health/../models/m/infer") passes.
constexpr std::string_view kLivePath = "/v2/health/live";
constexpr std::string_view kReadyPath = "/v2/health/ready";
constexpr std::string_view kBearerPrefix = "Bearer ";
constexpr char kMissingTokenChallenge[] = "Bearer realm=\"fovea\"";
constexpr char kInvalidTokenChallenge[] = "Bearer realm=\"fovea\", error=\"invalid_token\"";

// How a response goes out beyond its HttpResponse.
struct Delivery {
  ContentCoding coding = ContentCoding::kIdentity;  // the client's Accept-Encoding choice
  bool close = false;                               // the request's body was not read to its end
  const char* challenge = nullptr;                  // WWW-Authenticate of a 401
};

// Sends `response`. The body goes through a content provider rather than Response::body because cpp-httplib would
// compress a body itself (again, after EncodeContent) and cannot otherwise be told to close the connection: a
// provider that returns false after writing everything ends the connection once the answer is out.
void Send(httplib::Response& out, const HttpResponse& response, const Delivery& delivery) {
  std::optional<std::string> encoded = EncodeContent(delivery.coding, response.body);
  std::shared_ptr<const std::string> body = encoded ? std::make_shared<const std::string>(std::move(*encoded))
                                                    : std::make_shared<const std::string>(response.body);
  out.status = response.status;
  out.set_header("Cache-Control", "no-store");
  out.set_header("Vary", "Accept-Encoding");
  if (encoded) out.set_header(kContentEncoding, ContentCodingName(delivery.coding));
  if (response.inference_header_length) {
    out.set_header(kInferenceHeaderLength, std::to_string(*response.inference_header_length));
  }
  if (!response.request_id.empty()) out.set_header(kRequestIdHeader, response.request_id);
  if (delivery.challenge != nullptr) out.set_header("WWW-Authenticate", delivery.challenge);
  if (delivery.close) out.set_header("Connection", "close");
  if (body->empty()) {  // every answer that closes carries an error message, so an empty one never needs to
    out.set_content("", response.content_type);
    return;
  }
  out.set_content_provider(body->size(), response.content_type.c_str(),
                           [body, close = delivery.close](size_t offset, size_t length, httplib::DataSink& sink) {
                             sink.write(body->data() + offset, length);
                             return !close;
                           });
}

HttpResponse ErrorResponse(int status, const std::string& message) {
  return {status, "application/json", ErrorJson(message), "", std::nullopt};
}

// True when the request may carry a body (it has framing for one), whether or not the route reads it.
bool MayCarryBody(const httplib::Request& request) {
  if (request.has_header("Transfer-Encoding")) return true;
  return request.has_header("Content-Length") && request.get_header_value("Content-Length") != "0";
}

// The 401 message when the request does not carry `token`, nullopt when it may pass.
std::optional<std::pair<std::string, const char*>> AuthorizationProblem(const httplib::Request& request,
                                                                        const std::string& token) {
  if (token.empty() || request.path == kLivePath || request.path == kReadyPath) return std::nullopt;
  if (!request.has_header("Authorization")) {
    return std::make_pair(
        "missing bearer token: send the header 'Authorization: Bearer <token>' with the token in fovea-server's "
        "--auth-token-file (only /v2/health/live and /v2/health/ready are open without it)",
        kMissingTokenChallenge);
  }
  const std::string value = request.get_header_value("Authorization");
  if (!std::string_view(value).starts_with(kBearerPrefix) ||
      !ConstantTimeEquals(std::string_view(value).substr(kBearerPrefix.size()), token)) {
    return std::make_pair(
        "invalid bearer token in the 'Authorization' header: send 'Authorization: Bearer <token>' with the token in "
        "fovea-server's --auth-token-file",
        kInvalidTokenChallenge);
  }
  return std::nullopt;
}

// The HTTP status for a body that cannot be decoded (DecodeContent's and ParseContentEncoding's codes).
int DecodeErrorStatus(const Status& status) {
  if (status.code() == StatusCode::kUnimplemented) return kHttpUnsupportedMediaType;
  if (status.code() == StatusCode::kResourceExhausted) return kHttpPayloadTooLarge;
  return kHttpBadRequest;
}

// The request body decoded from its Content-Encoding, at most `limit` bytes once decoded.
Status DecodeBody(const httplib::Request& request, size_t limit, std::string& body) {
  FOVEA_ASSIGN_OR_RETURN(const ContentCoding coding,
                         ParseContentEncoding(request.get_header_value(kDeferredContentEncoding)));
  if (coding == ContentCoding::kIdentity) return OkStatus();
  FOVEA_ASSIGN_OR_RETURN(body, DecodeContent(coding, body, limit));
  return OkStatus();
}

// cpp-httplib 0.11 decodes gzip, deflate and br request bodies itself while it reads them, with no limit on the
// decoded size and with codings the API refuses. Moving the header aside before the body is read keeps it from doing
// so (DecodeBody then decodes with the limit). Byte ranges are dropped too: an API answer is not a resource to fetch
// in parts. cpp-httplib hands the pre-routing handler a const reference to the request object it owns and reads
// afterwards; that object is not const, so the cast is well defined.
httplib::Server::HandlerResponse DeferDecoding(const httplib::Request& const_request, httplib::Response& /*out*/) {
  auto& request = const_cast<httplib::Request&>(const_request);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  request.ranges.clear();
  request.headers.erase(kDeferredContentEncoding);
  std::string codings;
  for (auto [it, end] = request.headers.equal_range(kContentEncoding); it != end; ++it) {
    codings += (codings.empty() ? "" : ", ") + it->second;
  }
  request.headers.erase(kContentEncoding);
  if (!codings.empty()) request.headers.emplace(kDeferredContentEncoding, codings);
  return httplib::Server::HandlerResponse::Unhandled;
}

enum class BodyRead { kComplete, kTooLarge, kTruncated };

struct BodyOutcome {
  BodyRead read = BodyRead::kComplete;
  bool consumed = true;  // read to its end, so the connection is still in step
};

// Reads the body, at most `limit` bytes. A body over the limit is still read, and thrown away, up to
// kDiscardFactor times the limit: most clients send their whole body before they read the answer, and closing on
// unread bytes would reset the connection under them before they see the 413. One declared longer than that is
// refused at once, unread, and so is a chunked one once it passes that much.
BodyOutcome ReadBody(const httplib::Request& request, const httplib::ContentReader& reader, size_t limit,
                     std::string& body) {
  const uint64_t discard_limit = static_cast<uint64_t>(limit) * kDiscardFactor;
  const bool declared = request.has_header("Content-Length");
  // A request with neither header has no body (RFC 9112, 6.3); cpp-httplib 0.11 would read one until the
  // connection closed, that is until the read timeout on a kept-alive one (tritonclient posts so).
  if (!declared && !request.has_header("Transfer-Encoding")) return {};
  const uint64_t declared_length = declared ? request.get_header_value<uint64_t>("Content-Length") : 0;
  if (declared_length > discard_limit) return {BodyRead::kTooLarge, false};
  bool too_large = declared_length > limit;
  uint64_t received = 0;
  const bool read = reader([&](const char* data, size_t length) {
    received += length;
    too_large = too_large || body.size() + length > limit;
    if (!too_large) {
      body.append(data, length);
    } else {
      body.clear();
    }
    return received <= discard_limit;
  });
  if (too_large) return {BodyRead::kTooLarge, read};
  // A client that closes (or stalls past the read timeout) mid-body must not have a prefix of it served.
  return read ? BodyOutcome{} : BodyOutcome{BodyRead::kTruncated, false};
}

std::string TruncatedMessage(const httplib::Request& request, size_t received) {
  if (!request.has_header("Content-Length")) {
    return "request body ended after " + std::to_string(received) + " bytes, before its last chunk";
  }
  return "request body ended after " + std::to_string(received) + " of the " +
         request.get_header_value("Content-Length") + " bytes its Content-Length declares";
}

HttpRequest ToHttpRequest(const httplib::Request& request) {
  HttpRequest converted;
  converted.method = request.method;
  converted.path = request.path;
  if (const size_t mark = request.target.find('?'); mark != std::string::npos) {
    converted.query = request.target.substr(mark + 1);
  }
  converted.content_type = request.get_header_value("Content-Type");
  converted.request_id = request.get_header_value(kRequestIdHeader);
  if (request.has_header(kInferenceHeaderLength)) {
    converted.inference_header_length = request.get_header_value(kInferenceHeaderLength);
  }
  return converted;
}

// Answers one request: the token, the body (through `reader`, or none for methods without one), then the RestApi.
void Serve(RestApi& api, size_t max_body_bytes, const std::string& token, const httplib::Request& request,
           httplib::Response& out, const httplib::ContentReader* reader) {
  Delivery delivery{ChooseResponseCoding(request.get_header_value("Accept-Encoding"))};
  // A body left unread would be parsed as the next request on a kept-alive connection.
  delivery.close = reader == nullptr && MayCarryBody(request);
  if (auto problem = AuthorizationProblem(request, token)) {
    spdlog::warn("REST {} {}: {}", request.method, request.path, problem->first);
    // The body is read and thrown away (within ReadBody's bounds) for the reason a 413's is: so that a client still
    // sending it sees the 401 rather than a reset connection. It is never parsed.
    if (reader != nullptr) {
      std::string ignored;
      delivery.close = !ReadBody(request, *reader, max_body_bytes, ignored).consumed;
    }
    delivery.challenge = problem->second;
    Send(out, ErrorResponse(kHttpUnauthorized, problem->first), delivery);
    return;
  }
  HttpRequest converted = ToHttpRequest(request);
  const BodyOutcome body =
      reader == nullptr ? BodyOutcome{} : ReadBody(request, *reader, max_body_bytes, converted.body);
  if (body.read != BodyRead::kComplete) {
    const std::string message = body.read == BodyRead::kTooLarge
                                    ? "request body is larger than the limit of " + std::to_string(max_body_bytes) +
                                          " bytes (--max-message-bytes)"
                                    : TruncatedMessage(request, converted.body.size());
    spdlog::warn("REST {} {}: {}", request.method, request.path, message);
    delivery.close = delivery.close || !body.consumed;
    const int status = body.read == BodyRead::kTooLarge ? kHttpPayloadTooLarge : kHttpBadRequest;
    Send(out, ErrorResponse(status, message), delivery);
    return;
  }
  if (const Status decoded = DecodeBody(request, max_body_bytes, converted.body); !decoded.ok()) {
    spdlog::warn("REST {} {}: {}", request.method, request.path, decoded.message());
    Send(out, ErrorResponse(DecodeErrorStatus(decoded), decoded.message()), delivery);
    return;
  }
  Send(out, api.Handle(converted), delivery);
}

}  // namespace

HttpServer::HttpServer(RestApi& api, size_t max_body_bytes, std::string bearer_token)
    : api_(api), max_body_bytes_(max_body_bytes), bearer_token_(std::move(bearer_token)) {}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, RestApi& api) {
  std::unique_ptr<HttpServer> server(new HttpServer(api, options.max_body_bytes, options.security.bearer_token));
  const bool tls = !options.security.tls_cert_file.empty();
  if (tls) {
    Status configured = OkStatus();
    server->http_ = std::make_unique<httplib::SSLServer>([&](SSL_CTX& context) {
      configured = ConfigureServerTls(context, options.security);
      return configured.ok();
    });
    FOVEA_RETURN_IF_ERROR(configured);
  } else {
    server->http_ = std::make_unique<httplib::Server>();
  }
  const std::string address = (tls ? "https://" : "http://") + options.host + ":" + std::to_string(options.port);
  if (!server->http_->is_valid()) return Status(StatusCode::kInternal, "cannot set up TLS for " + address);
  server->Route();
  // --address writes an IPv6 host in brackets ("[::]:50051"); getaddrinfo takes it without them.
  const bool bracketed = options.host.size() > 2 && options.host.front() == '[' && options.host.back() == ']';
  const std::string host = bracketed ? options.host.substr(1, options.host.size() - 2) : options.host;
  if (!server->http_->bind_to_port(host, options.port)) {
    return Status(StatusCode::kUnavailable, "cannot serve REST on " + address);
  }
  server->listener_ = std::thread([http = server->http_.get()] { http->listen_after_bind(); });
  return server;
}

void HttpServer::Route() {
  httplib::Server& http = *http_;
  http.new_task_queue = [] { return new httplib::ThreadPool(kHandlerThreads); };
  http.set_keep_alive_max_count(kKeepAliveMaxRequests);
  http.set_keep_alive_timeout(kKeepAliveIdleSeconds);
  http.set_read_timeout(kReadTimeoutSeconds);
  http.set_write_timeout(kWriteTimeoutSeconds);
  // Headers and body go out in separate writes: with Nagle's algorithm the body waits for the client's delayed ACK
  // (40 ms on Linux) on a kept-alive connection. Accepted sockets inherit the option from the listening one.
  http.set_tcp_nodelay(true);
  http.set_pre_routing_handler(&DeferDecoding);
  const auto without_body = [this](const httplib::Request& request, httplib::Response& out) {
    Serve(api_, max_body_bytes_, bearer_token_, request, out, nullptr);
  };
  const auto with_body = [this](const httplib::Request& request, httplib::Response& out,
                                const httplib::ContentReader& reader) {
    Serve(api_, max_body_bytes_, bearer_token_, request, out, &reader);
  };
  constexpr char kAnyPath[] = ".*";
  http.Get(kAnyPath, without_body);  // and HEAD
  http.Options(kAnyPath, without_body);
  http.Post(kAnyPath, with_body);
  http.Put(kAnyPath, with_body);
  http.Patch(kAnyPath, with_body);
  http.Delete(kAnyPath, with_body);
  // What cpp-httplib refuses itself (a malformed request line or header, a method no route takes) gets the API's
  // error form too, unless Send already wrote the answer.
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& request, httplib::Response& out) {
        if (out.has_header("Content-Type")) return httplib::Server::HandlerResponse::Unhandled;
        out.set_content(ErrorJson("HTTP " + std::to_string(out.status) + " for " + request.method + " " + request.path),
                        "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (!listener_.joinable()) return;
  // The listener stops accepting; the connections it handed out finish the request they are answering and close.
  http_->stop();
  listener_.join();
}

}  // namespace fovea::server
