#include "server/transport/rest/rest_api.h"

#include <algorithm>
#include <charconv>
#include <exception>
#include <future>
#include <map>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "server/api/localizer.h"
#include "server/api/model_infer_call.h"
#include "server/api/oip_infer.h"
#include "server/api/oip_repository.h"
#include "server/pipeline/admission.h"
#include "server/pipeline/call_log.h"
#include "server/transport/grpc/inference_service.h"
#include "server/transport/grpc/oip_service.h"
#include "server/transport/rest/demo_page.h"
#include "server/transport/rest/proto_json.h"
#include "server/transport/rest/repository_json.h"
#include "server/transport/rest/rest_infer_body.h"
#include "server/transport/rest/rest_json.h"

namespace fovea::server {
namespace {

using Query = std::map<std::string, std::string>;

constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kModelsPrefix = "/v2/models/";
constexpr char kVersionsSegment[] = "versions";
constexpr std::string_view kRepositoryModelsPrefix = "/v2/repository/models/";
constexpr char kAllModelStatisticsPath[] = "/v2/models/stats";
constexpr int kHexBase = 16;

HttpResponse Json(int status, std::string body) {
  return {status, std::string(kJsonType), std::move(body), "", std::nullopt};
}

HttpResponse Error(int status, std::string_view message) { return Json(status, ErrorJson(message)); }

// The answer to a logged call: records it like every gRPC call (log line, metrics), then maps its status.
HttpResponse Finish(const CallLog& log, const Status& status, bool payload_error, std::string ok_body,
                    const std::string& detail) {
  RecordCall(log, status, detail);
  HttpResponse response =
      status.ok() ? Json(kHttpOk, std::move(ok_body)) : Error(HttpStatusFor(status, payload_error), status.message());
  response.request_id = log.request_id;
  return response;
}

// The parts of `text` between `separator`s ("a//b" has an empty middle part).
std::vector<std::string> Split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t found = text.find(separator, start);
    const size_t end = found == std::string_view::npos ? text.size() : found;
    parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

StatusOr<std::string> PercentDecode(std::string_view text) {
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      decoded += ' ';
    } else if (text[i] != '%') {
      decoded += text[i];
    } else {
      int value = 0;
      const char* begin = text.data() + i + 1;
      if (i + 2 >= text.size() || std::from_chars(begin, begin + 2, value, kHexBase).ptr != begin + 2) {
        return InvalidArgument("query has a malformed %-escape");
      }
      decoded += static_cast<char>(value);
      i += 2;
    }
  }
  return decoded;
}

// "a=1&b=2" with only the `allowed` keys (a typo in a parameter name must not be silently ignored).
StatusOr<Query> ParseQuery(std::string_view text, const std::vector<std::string_view>& allowed) {
  Query query;
  for (const std::string& pair : Split(text, '&')) {
    if (pair.empty()) continue;
    const size_t equals = pair.find('=');
    FOVEA_ASSIGN_OR_RETURN(std::string key, PercentDecode(pair.substr(0, equals)));
    FOVEA_ASSIGN_OR_RETURN(std::string value,
                           PercentDecode(equals == std::string::npos ? "" : pair.substr(equals + 1)));
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string names;
      for (std::string_view name : allowed) names += (names.empty() ? "" : ", ") + std::string(name);
      return InvalidArgument("unknown query parameter '" + key + "'; this route takes " +
                             (names.empty() ? std::string("none") : names));
    }
    query[key] = std::move(value);
  }
  return query;
}

template <typename Number>
StatusOr<Number> ParseNumber(const std::string& key, const std::string& text) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return InvalidArgument("query parameter " + key + "='" + text + "' is not a number");
  }
  return value;
}

// An encoded image sent as the whole body; anything else is JSON (curl -d labels JSON as a form). A request with the
// binary tensor data extension's header is JSON and binary data, whatever its Content-Type says.
bool IsImageBody(const HttpRequest& request) {
  const std::string_view content_type = request.content_type;
  return !request.inference_header_length.has_value() &&
         (content_type.starts_with("image/") || content_type.starts_with("application/octet-stream"));
}

// One encoded image as the whole body → a ModelInferRequest with one BYTES element, and the classification
// parameter from ?classification=K.
StatusOr<InferRequestJson> ImageInferRequest(const HttpRequest& http, const ServedModel& model,
                                             const std::string& version) {
  FOVEA_ASSIGN_OR_RETURN(const Query query, ParseQuery(http.query, {kClassificationParameter}));
  InferRequestJson parsed;
  oip::ModelInferRequest& request = parsed.request;
  request.set_model_name(model.name);
  request.set_model_version(version);
  oip::ModelInferRequest::InferInputTensor& input = *request.add_inputs();
  input.set_name(OipInputName(model));
  input.set_datatype("BYTES");
  input.add_shape(1);
  input.mutable_contents()->add_bytes_contents(http.body);
  const auto k = query.find(kClassificationParameter);
  if (k != query.end()) {
    FOVEA_ASSIGN_OR_RETURN(const int64_t top_k, ParseNumber<int64_t>(k->first, k->second));
    oip::ModelInferRequest::InferRequestedOutputTensor& output = *request.add_outputs();
    output.set_name(model.model->graph().outputs[0].name);
    (*output.mutable_parameters())[kClassificationParameter].set_int64_param(top_k);
  }
  return parsed;
}

StatusOr<v1::LocalizeRequest> LocalizeRequestFrom(const HttpRequest& http, const ServedModel& model) {
  FOVEA_ASSIGN_OR_RETURN(const Query query, ParseQuery(http.query, {"method", "classes", "top_k", "maps", "stride",
                                                                    "threshold", "nms_iou", "overlays", "layer"}));
  v1::LocalizeRequest request;
  request.set_model_name(model.name);
  request.set_model_version(model.version);
  request.mutable_image()->set_encoded(http.body);
  request.set_render_overlays(true);
  for (const auto& [key, value] : query) {
    if (key == "method") {
      FOVEA_ASSIGN_OR_RETURN(const v1::LocalizationMethod method, ParseLocalizationMethod(value));
      request.set_method(method);
    } else if (key == "classes") {
      for (const std::string& item : Split(value, ',')) {
        FOVEA_ASSIGN_OR_RETURN(const int64_t index, ParseNumber<int64_t>(key, item));
        request.add_class_indices(index);
      }
    } else if (key == "top_k") {
      FOVEA_ASSIGN_OR_RETURN(const int32_t top_k, ParseNumber<int32_t>(key, value));
      request.set_top_k(top_k);
    } else if (key == "maps") {
      if (value != "float" && value != "png") {
        return InvalidArgument("query parameter maps='" + value + "' must be float or png");
      }
      request.set_map_format(value == "png" ? v1::HEATMAP_FORMAT_PNG : v1::HEATMAP_FORMAT_FLOAT);
    } else if (key == "stride") {
      FOVEA_ASSIGN_OR_RETURN(const int32_t stride, ParseNumber<int32_t>(key, value));
      request.set_stride(stride);
    } else if (key == "threshold") {
      FOVEA_ASSIGN_OR_RETURN(const float threshold, ParseNumber<float>(key, value));
      request.set_score_threshold(threshold);
    } else if (key == "nms_iou") {
      FOVEA_ASSIGN_OR_RETURN(const float iou, ParseNumber<float>(key, value));
      request.set_nms_iou(iou);
    } else if (key == "layer") {
      request.set_layer(value);
    } else if (key == "overlays") {
      if (value != "true" && value != "false") {
        return InvalidArgument("query parameter overlays='" + value + "' must be true or false");
      }
      request.set_render_overlays(value == "true");
    }
  }
  return request;
}

}  // namespace

int HttpStatusFor(const Status& status, bool payload_error) {
  switch (status.code()) {
    case StatusCode::kOk:
      return kHttpOk;
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kOutOfRange:
      return kHttpBadRequest;
    case StatusCode::kNotFound:
      return kHttpNotFound;
    case StatusCode::kResourceExhausted:
      return payload_error ? kHttpPayloadTooLarge : kHttpTooManyRequests;
    case StatusCode::kUnauthenticated:
      return kHttpUnauthorized;
    case StatusCode::kUnimplemented:
      return kHttpNotImplemented;
    case StatusCode::kDeadlineExceeded:
      return kHttpGatewayTimeout;
    case StatusCode::kUnavailable:
      return kHttpServiceUnavailable;
    default:
      return kHttpInternalError;
  }
}

RestApi::RestApi(ServingContext serving) : serving_(std::move(serving)) {}

void RestApi::SetDraining() { draining_ = true; }

HttpResponse RestApi::Handle(const HttpRequest& request) {
  try {
    return Route(request);
  } catch (const std::exception& error) {
    spdlog::error("REST {} {} failed: {}", request.method, request.path, error.what());
    return Error(kHttpInternalError, std::string("internal error: ") + error.what());
  }
}

HttpResponse RestApi::Route(const HttpRequest& request) {
  const std::string& path = request.path;
  const bool get = request.method == "GET";
  const auto only = [&request](bool allowed) {
    return allowed ? std::optional<HttpResponse>()
                   : Error(kHttpMethodNotAllowed, request.method + " is not allowed on " + request.path);
  };
  if (path == "/") {
    if (auto refused = only(get)) return *refused;
    return {kHttpOk, "text/html; charset=utf-8", std::string(DemoPageHtml()), "", std::nullopt};
  }
  if (path == "/v2/health/live") {
    if (auto refused = only(get)) return *refused;
    return Json(kHttpOk, R"({"live":true})");
  }
  if (path == "/v2/health/ready") {
    if (auto refused = only(get)) return *refused;
    const bool ready = !draining_ && CanServe(serving_.repository);
    return Json(ready ? kHttpOk : kHttpServiceUnavailable, ready ? R"({"ready":true})" : R"({"ready":false})");
  }
  if (path == "/v2") {
    if (auto refused = only(get)) return *refused;
    return ServerMetadata(request);
  }
  if (path == "/v2/repository/index") {
    if (auto refused = only(get || request.method == "POST")) return *refused;
    return RepositoryIndex(request);
  }
  if (path.starts_with(kRepositoryModelsPrefix)) {
    // NAME/load | NAME/unload
    const std::vector<std::string> segments = Split(std::string_view(path).substr(kRepositoryModelsPrefix.size()), '/');
    if (segments.size() == 2 && !segments[0].empty() && (segments[1] == "load" || segments[1] == "unload")) {
      if (auto refused = only(request.method == "POST")) return *refused;
      return RepositoryControl(request, segments[0], segments[1]);
    }
  }
  if (path == kAllModelStatisticsPath) {
    if (auto refused = only(get)) return *refused;
    return Statistics(request, "", "");
  }
  if (path.starts_with(kModelsPrefix)) {
    const std::vector<std::string> segments = Split(std::string_view(path).substr(kModelsPrefix.size()), '/');
    // NAME | NAME/ACTION | NAME/versions/V | NAME/versions/V/ACTION
    const bool versioned = segments.size() >= 3 && segments[1] == kVersionsSegment;
    const size_t action_index = versioned ? 3 : 1;
    const bool shaped =
        !segments[0].empty() && segments.size() <= action_index + 1 && (!versioned || !segments[2].empty());
    if (shaped) {
      const std::string action = segments.size() > action_index ? segments[action_index] : "";
      return ModelRoute(request, segments[0], versioned ? segments[2] : "", action);
    }
  }
  return Error(kHttpNotFound, "no route " + request.method + " " + path + " (see GET / for the demo page, " +
                                  "GET /v2/models/NAME, POST /v2/models/NAME/infer)");
}

HttpResponse RestApi::ModelRoute(const HttpRequest& request, const std::string& name, const std::string& version,
                                 const std::string& action) {
  const bool get = request.method == "GET", post = request.method == "POST";
  if (action.empty() && get) return Metadata(request, name, version);
  if (action == "ready" && get) return Ready(request, name, version);
  if (action == "infer" && post) return Infer(request, name, version);
  if (action == "localize" && post) return Localize(request, name, version);
  if (action == "config" && get) return Config(request, name, version);
  if (action == "stats" && get) return Statistics(request, name, version);
  const bool known = action.empty() || action == "ready" || action == "infer" || action == "localize" ||
                     action == "config" || action == "stats";
  if (known) return Error(kHttpMethodNotAllowed, request.method + " is not allowed on " + request.path);
  return Error(kHttpNotFound, "no route " + request.method + " " + request.path + ": '" + action +
                                  "' is not one of ready, infer, localize, config, stats");
}

HttpResponse RestApi::ServerMetadata(const HttpRequest& request) {
  const CallLog log = StartCall(request.request_id, "rest.ServerMetadata", serving_.metrics);
  oip::ServerMetadataResponse response;
  DescribeOipServer(response);
  // An HTTP-only extension (rest_infer_body.h), so the REST route adds it rather than the shared description.
  response.add_extensions("binary_tensor_data");
  return Finish(log, OkStatus(), false, ServerMetadataJson(response), "");
}

HttpResponse RestApi::RepositoryIndex(const HttpRequest& request) {
  const CallLog log = StartCall(request.request_id, "rest.RepositoryIndex", serving_.metrics);
  StatusOr<oip::RepositoryIndexRequest> index_request = ParseRepositoryIndexJson(request.body);
  if (!index_request.ok()) return Finish(log, index_request.status(), false, "", "");
  Status status = CheckRepositoryName(index_request->repository_name());
  if (!status.ok()) return Finish(log, status, false, "", "");
  oip::RepositoryIndexResponse response;
  DescribeRepositoryIndex(serving_.poller.Index(), index_request->ready(), response);
  // Triton's REST answer is the bare list of models.
  return Finish(log, OkStatus(), false, RepositoryIndexJson(response), "");
}

HttpResponse RestApi::RepositoryControl(const HttpRequest& request, const std::string& name,
                                        const std::string& action) {
  const bool load = action == "load";
  const CallLog log =
      StartCall(request.request_id, load ? "rest.RepositoryModelLoad" : "rest.RepositoryModelUnload", serving_.metrics);
  StatusOr<oip::RepositoryModelLoadRequest> control = ParseRepositoryControlJson(request.body, name);
  if (!control.ok()) return Finish(log, control.status(), false, "", "");
  StatusOr<std::string> config = load ? LoadConfigParameter(*control) : std::string();
  const Status status = !config.ok() ? config.status()
                        : load       ? serving_.poller.Load(name, *config)
                                     : serving_.poller.Unload(name);
  return Finish(log, status, false, status.ok() ? "{}" : "", "model=" + name);
}

HttpResponse RestApi::Config(const HttpRequest& request, const std::string& name, const std::string& version) {
  CallLog log = StartCall(request.request_id, "rest.ModelConfig", serving_.metrics);
  StatusOr<std::shared_ptr<const ServedModel>> model = Admit(FindOipModel(serving_.repository, name, version), log);
  StatusOr<BatchingOptions> batching = model.ok() ? serving_.batchers.OptionsFor(**model) : model.status();
  if (!batching.ok()) return Finish(log, batching.status(), false, "", "");
  oip::ModelConfig config;
  DescribeModelConfig(**model, *batching, config);
  return Finish(log, OkStatus(), false, ProtoToJson(config), "model=" + name);
}

HttpResponse RestApi::Statistics(const HttpRequest& request, const std::string& name, const std::string& version) {
  const CallLog log = StartCall(request.request_id, "rest.ModelStatistics", serving_.metrics);
  StatusOr<oip::ModelStatisticsResponse> statistics =
      DescribeStatistics(serving_.repository, serving_.metrics, name, version);
  if (!statistics.ok()) return Finish(log, statistics.status(), false, "", "");
  return Finish(log, OkStatus(), false, ProtoToJson(*statistics), "model=" + name);
}

HttpResponse RestApi::Metadata(const HttpRequest& request, const std::string& name, const std::string& version) {
  CallLog log = StartCall(request.request_id, "rest.ModelMetadata", serving_.metrics);
  StatusOr<std::shared_ptr<const ServedModel>> model = Admit(FindOipModel(serving_.repository, name, version), log);
  if (!model.ok()) return Finish(log, model.status(), false, "", "");
  oip::ModelMetadataResponse response;
  DescribeOipModel(**model, VersionsOf(*serving_.repository.Snapshot(), (*model)->name), response);
  return Finish(log, OkStatus(), false, ModelMetadataJson(response), "model=" + name);
}

HttpResponse RestApi::Ready(const HttpRequest& request, const std::string& name, const std::string& version) {
  CallLog log = StartCall(request.request_id, "rest.ModelReady", serving_.metrics);
  StatusOr<std::shared_ptr<const ServedModel>> model = Admit(FindOipModel(serving_.repository, name, version), log);
  if (!model.ok()) return Finish(log, model.status(), false, "", "");
  if (draining_) return Finish(log, {StatusCode::kUnavailable, "server is shutting down"}, false, "", "");
  return Finish(log, OkStatus(), false, R"({"ready":true})", "model=" + name + " ready=true");
}

HttpResponse RestApi::Infer(const HttpRequest& request, const std::string& name, const std::string& version) {
  CallLog log = StartCall(request.request_id, "rest.ModelInfer", serving_.metrics);
  StatusOr<std::shared_ptr<const ServedModel>> model = Admit(FindOipModel(serving_.repository, name, version), log);
  if (!model.ok()) return Finish(log, model.status(), false, "", "");
  StatusOr<InferRequestJson> infer_request =
      IsImageBody(request) ? ImageInferRequest(request, **model, version)
                           : ParseInferRequestBody(request.body, request.inference_header_length, name, version);
  if (!infer_request.ok()) return Finish(log, infer_request.status(), true, "", "");
  oip::ModelInferResponse response;
  std::promise<std::pair<Status, InferStage>> answered;
  CallHooks hooks;
  hooks.done = [&answered](const Status& status, InferStage stage) { answered.set_value({status, stage}); };
  SubmitModelInfer(serving_, *model, infer_request->request, response, std::move(hooks));
  const auto [status, stage] = answered.get_future().get();
  if (!status.ok()) return Finish(log, status, stage == InferStage::kConvert, "", InferSummary(response));
  StatusOr<InferResponseBody> rendered = RenderInferResponse(response, infer_request->binary_outputs);
  if (!rendered.ok()) return Finish(log, rendered.status(), false, "", InferSummary(response));
  HttpResponse http = Finish(log, OkStatus(), false, std::move(rendered->body), InferSummary(response));
  if (rendered->json_length.has_value()) {
    http.content_type = "application/octet-stream";
    http.inference_header_length = rendered->json_length;
  }
  return http;
}

HttpResponse RestApi::Localize(const HttpRequest& request, const std::string& name, const std::string& version) {
  CallLog log = StartCall(request.request_id, "rest.Localize", serving_.metrics);
  StatusOr<std::shared_ptr<const ServedModel>> model = Admit(FindOipModel(serving_.repository, name, version), log);
  if (!model.ok()) return Finish(log, model.status(), false, "", "");
  if (request.content_type.starts_with(kJsonType)) {
    return Finish(log,
                  InvalidArgument("localize takes the encoded PNG or JPEG image as the body (Content-Type image/png, "
                                  "image/jpeg or application/octet-stream), its options in the query"),
                  true, "", "");
  }
  StatusOr<v1::LocalizeRequest> localize_request = LocalizeRequestFrom(request, **model);
  if (!localize_request.ok()) return Finish(log, localize_request.status(), true, "", "");
  v1::LocalizeResponse response;
  std::promise<Status> answered;
  // Like every engine call, it runs on the worker pool; this thread only waits.
  RunOnWorkers(
      serving_.workers,
      [&, model = *model] {
        try {
          answered.set_value(LocalizeImage(*model, *localize_request, LocalizeOptionsFor(serving_.options), response));
        } catch (const std::exception& error) {
          answered.set_value(Internal(std::string("localization failed: ") + error.what()));
        }
      },
      [&answered](const Status& refused) { answered.set_value(refused); });
  const Status status = answered.get_future().get();
  return Finish(log, status, true, status.ok() ? LocalizeResponseJson(response) : "",
                "model=" + name + " heatmaps=" + std::to_string(response.heatmaps_size()));
}

}  // namespace fovea::server
