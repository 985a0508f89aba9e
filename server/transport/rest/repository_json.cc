#include "server/transport/rest/repository_json.h"

#include <nlohmann/json.hpp>

namespace fovea::server {
namespace {

namespace oip = ::inference;
using Json = nlohmann::ordered_json;

// `body` as a JSON object ({} when empty), or INVALID_ARGUMENT saying what it is instead.
StatusOr<Json> ObjectBody(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return Json::object();
  Json parsed;
  try {
    // Even without exceptions, nlohmann throws out_of_range for a number too large for a double.
    parsed = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  } catch (const Json::exception& error) {
    return InvalidArgument(std::string("request body is not valid JSON: ") + error.what());
  }
  if (parsed.is_discarded()) return InvalidArgument("request body is not valid JSON");
  if (!parsed.is_object()) return InvalidArgument("request body must be a JSON object");
  return parsed;
}

}  // namespace

StatusOr<oip::RepositoryIndexRequest> ParseRepositoryIndexJson(std::string_view body) {
  FOVEA_ASSIGN_OR_RETURN(const Json object, ObjectBody(body));
  oip::RepositoryIndexRequest request;
  for (const auto& [key, value] : object.items()) {
    if (key == "ready" && value.is_boolean()) {
      request.set_ready(value.get<bool>());
    } else if (key == "repository_name" && value.is_string()) {
      request.set_repository_name(value.get<std::string>());
    } else {
      return InvalidArgument("index request field '" + key +
                             "' is not known or has the wrong type (expected {\"ready\": true|false})");
    }
  }
  return request;
}

StatusOr<oip::RepositoryModelLoadRequest> ParseRepositoryControlJson(std::string_view body, const std::string& name) {
  FOVEA_ASSIGN_OR_RETURN(const Json object, ObjectBody(body));
  oip::RepositoryModelLoadRequest request;
  request.set_model_name(name);
  for (const auto& [key, value] : object.items()) {
    if (key != "parameters" || !value.is_object()) {
      return InvalidArgument("request field '" + key + "' is not known (expected {\"parameters\": {...}})");
    }
    for (const auto& [parameter, setting] : value.items()) {
      oip::ModelRepositoryParameter& stored = (*request.mutable_parameters())[parameter];
      if (setting.is_boolean()) {
        stored.set_bool_param(setting.get<bool>());
      } else if (setting.is_number_integer()) {
        stored.set_int64_param(setting.get<int64_t>());
      } else if (setting.is_string()) {
        stored.set_string_param(setting.get<std::string>());
      } else {
        return InvalidArgument("parameter '" + parameter + "' must be a string, an integer or a boolean");
      }
    }
  }
  return request;
}

std::string RepositoryIndexJson(const oip::RepositoryIndexResponse& response) {
  // As Triton writes it: "version" and "reason" only when there is one.
  Json list = Json::array();
  for (const oip::RepositoryIndexResponse::ModelIndex& model : response.models()) {
    Json entry = {{"name", model.name()}};
    if (!model.version().empty()) entry["version"] = model.version();
    entry["state"] = model.state();
    if (!model.reason().empty()) entry["reason"] = model.reason();
    list.push_back(std::move(entry));
  }
  return list.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace fovea::server
