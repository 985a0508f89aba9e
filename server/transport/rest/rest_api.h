#pragma once
// RestApi: the Open Inference Protocol v2 REST routes, the Fovea localization extension route and the demo page,
// independent of the HTTP library (http_server.h feeds it parsed requests). Every model route translates its request
// into the protobuf message the gRPC service takes and runs the same code: ModelInfer through SubmitModelInfer (the
// worker pool and the model's dynamic batcher), localization through LocalizeImage on the worker pool. So validation,
// limits, batching and metrics are those of gRPC; rpc labels in metrics are "rest.<Method>".
//
//   GET  /                                                  the demo page (HTML)
//   GET  /v2                                                server metadata
//   GET  /v2/health/live, /v2/health/ready                  200, or 503 when not ready
//   GET  /v2/repository/index (or POST, as Triton)          every model folder and version, with its state
//   POST /v2/repository/models/NAME/load, .../unload        load or unload a model (--model-control-mode explicit)
//   GET  /v2/models/stats                                   statistics of every loaded model version
//   GET  /v2/models/NAME[/versions/V]                       model metadata
//   GET  /v2/models/NAME[/versions/V]/config                the configuration the model is served with
//   GET  /v2/models/NAME[/versions/V]/stats                 statistics of the model (or one version)
//   GET  /v2/models/NAME[/versions/V]/ready                 200, 404 for an unknown model or version
//   POST /v2/models/NAME[/versions/V]/infer                 JSON tensors (with the binary tensor data extension:
//                                                           rest_infer_body.h), or one encoded image as the body
//   POST /v2/models/NAME[/versions/V]/localize              one encoded image as the body (Fovea extension)
// Errors are {"error": "..."} with the status mapped from the Status code (docs/server.md, "REST").

#include <atomic>
#include <cstddef>
#include <optional>
#include <string>

#include "server/api/classifier.h"
#include "server/models/model_batchers.h"
#include "server/models/model_repository.h"
#include "server/ops/metrics.h"
#include "server/pipeline/serving_context.h"

namespace fovea::server {

inline constexpr int kHttpOk = 200;
inline constexpr int kHttpBadRequest = 400;
inline constexpr int kHttpUnauthorized = 401;
inline constexpr int kHttpNotFound = 404;
inline constexpr int kHttpMethodNotAllowed = 405;
inline constexpr int kHttpPayloadTooLarge = 413;
inline constexpr int kHttpUnsupportedMediaType = 415;
inline constexpr int kHttpTooManyRequests = 429;
inline constexpr int kHttpInternalError = 500;
inline constexpr int kHttpNotImplemented = 501;
inline constexpr int kHttpServiceUnavailable = 503;
inline constexpr int kHttpGatewayTimeout = 504;

struct HttpRequest {
  std::string method;        // "GET", "POST", ...
  std::string path;          // URL-decoded, without the query
  std::string query;         // raw, without '?'
  std::string content_type;  // "" when absent
  std::string body;          // already decoded from its Content-Encoding (http_server.h)
  std::string request_id;    // the client's x-request-id header, "" when absent
  // The binary tensor data extension's Inference-Header-Content-Length header, nullopt when absent.
  std::optional<std::string> inference_header_length;
};

struct HttpResponse {
  int status = kHttpOk;
  std::string content_type = "application/json";
  std::string body;
  std::string request_id;  // sent back as x-request-id ("" for unlogged routes)
  // Sent as Inference-Header-Content-Length: the body is that many bytes of JSON, then binary output data.
  std::optional<size_t> inference_header_length;
};

class RestApi {
 public:
  // Everything `serving` refers to is borrowed and must outlive the RestApi (the same limits gRPC calls have).
  explicit RestApi(ServingContext serving);

  // From now on readiness answers 503 (the server is draining for shutdown). Thread-safe.
  void SetDraining();

  // Answers one request; blocks the calling thread until the answer is ready. Thread-safe; never throws.
  HttpResponse Handle(const HttpRequest& request);

 private:
  HttpResponse Route(const HttpRequest& request);
  HttpResponse ModelRoute(const HttpRequest& request, const std::string& name, const std::string& version,
                          const std::string& action);
  HttpResponse Metadata(const HttpRequest& request, const std::string& name, const std::string& version);
  HttpResponse Ready(const HttpRequest& request, const std::string& name, const std::string& version);
  HttpResponse Infer(const HttpRequest& request, const std::string& name, const std::string& version);
  HttpResponse Localize(const HttpRequest& request, const std::string& name, const std::string& version);
  HttpResponse RepositoryIndex(const HttpRequest& request);
  HttpResponse RepositoryControl(const HttpRequest& request, const std::string& name, const std::string& action);
  HttpResponse Config(const HttpRequest& request, const std::string& name, const std::string& version);
  HttpResponse Statistics(const HttpRequest& request, const std::string& name, const std::string& version);
  HttpResponse ServerMetadata(const HttpRequest& request);

  ServingContext serving_;
  std::atomic<bool> draining_{false};
};

// The HTTP status for `status` (at `payload_error`: RESOURCE_EXHAUSTED about the request's own size is 413, about
// the server's capacity 429).
int HttpStatusFor(const Status& status, bool payload_error);

}  // namespace fovea::server
