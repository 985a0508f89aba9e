// libFuzzer target: an HTTP infer request body as the REST port receives it, through what the server does with it
// before the model: the Content-Encoding decoder (gzip, deflate, identity, or an unknown coding), then the infer body
// parser with the binary tensor data extension (rest_infer_body.h, rest_json.h). A request that parses is echoed back
// as a response (each input as an output of the same datatype and shape, the binary outputs as it asked) through the
// response writer, whose output is checked and round-tripped through gzip.
//
// Input: line 1 is the Content-Encoding header, line 2 the Inference-Header-Content-Length header ("-" when absent),
// the rest is the body. Seeds: tests/fuzz/corpus/rest_body_fuzz/ (make_seeds.py).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/transport/rest/http_compression.h"
#include "server/transport/rest/rest_infer_body.h"

namespace {

// Small, so that a compressed input which decodes to more is refused quickly, as the server refuses it at its limit.
constexpr size_t kMaxDecodedBytes = size_t{1} << 20;
constexpr size_t kMaxRoundTripBytes = size_t{64} << 10;
constexpr char kAbsent[] = "-";

std::string_view NextLine(std::string_view& text) {
  const size_t end = text.find('\n');
  const std::string_view line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  return line;
}

// The request's inputs as a response's outputs: what the writer must render whatever the shapes and sizes.
inference::ModelInferResponse Echo(const inference::ModelInferRequest& request) {
  inference::ModelInferResponse response;
  response.set_model_name(request.model_name());
  response.set_id(request.id());
  for (int i = 0; i < request.inputs_size(); ++i) {
    auto* output = response.add_outputs();
    output->set_name(request.inputs(i).name());
    output->set_datatype(request.inputs(i).datatype());
    *output->mutable_shape() = request.inputs(i).shape();
    response.add_raw_output_contents(i < request.raw_input_contents_size() ? request.raw_input_contents(i) : "");
  }
  return response;
}

void CheckRendered(const fovea::server::InferResponseBody& rendered) {
  const size_t json_length = rendered.json_length.value_or(rendered.body.size());
  if (json_length > rendered.body.size()) std::abort();
  if (!nlohmann::json::accept(std::string_view(rendered.body).substr(0, json_length))) std::abort();
  if (rendered.body.size() > kMaxRoundTripBytes) return;
  using fovea::server::ContentCoding;
  const std::optional<std::string> encoded = fovea::server::EncodeContent(ContentCoding::kGzip, rendered.body);
  if (!encoded) std::abort();
  const auto decoded = fovea::server::DecodeContent(ContentCoding::kGzip, *encoded, rendered.body.size());
  if (!decoded.ok() || *decoded != rendered.body) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view encoding = NextLine(input);
  const std::string_view header = NextLine(input);
  const auto coding = fovea::server::ParseContentEncoding(encoding);
  if (!coding.ok()) return 0;
  const auto body = fovea::server::DecodeContent(*coding, input, kMaxDecodedBytes);
  if (!body.ok()) return 0;
  if (body->size() > kMaxDecodedBytes) std::abort();
  const std::optional<std::string> json_length =
      header == kAbsent ? std::nullopt : std::optional<std::string>(std::string(header));
  const auto parsed = fovea::server::ParseInferRequestBody(*body, json_length, "model", "");
  if (!parsed.ok()) return 0;
  const int raw = parsed->request.raw_input_contents_size();
  if (raw != 0 && raw != parsed->request.inputs_size()) std::abort();  // the protobuf's all-or-none rule
  const auto rendered = fovea::server::RenderInferResponse(Echo(parsed->request), parsed->binary_outputs);
  if (rendered.ok()) CheckRendered(*rendered);
  return 0;
}
