#pragma once
// Open Inference Protocol v2 inputs → model-ready images, without gRPC. One request input, under the model's input
// name, in one of three forms:
//   FP32  [N, C, H, W]              the model's input as is (C, H, W exactly the model's)
//   UINT8 [N, height, width, 1|3|4] interleaved pixels, converted and resized like a decoded image
//   BYTES [N] or [N, 1]             one encoded PNG/JPEG per image
// Elements come from raw_input_contents (little-endian, row-major; a BYTES element is a 4-byte little-endian length
// and that many bytes, as OVMS and Triton send them) or from the typed contents field the protocol assigns to the
// datatype (fp32_contents, uint_contents, bytes_contents).

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/tensor.h"
#include "inference/grpc_service.pb.h"
#include "server/api/classifier.h"
#include "server/models/model_repository.h"

namespace fovea::server {

namespace oip = ::inference;

// The request's images as model input, [N, C, H, W] floats normalized like Classify's. INVALID_ARGUMENT names the
// input and what was expected (count, name, datatype, shape, element count, undecodable image); RESOURCE_EXHAUSTED
// for a batch over options.max_images_per_request or an image over the byte or pixel limits.
StatusOr<engine::Tensor> ConvertInferInput(const ServedModel& model, const oip::ModelInferRequest& request,
                                           const ClassifyOptions& options);

// Splits raw BYTES contents into `expected_count` elements, each a 4-byte little-endian length and its bytes. The
// views point into `raw`. INVALID_ARGUMENT for a cut-off prefix or element, or a different element count.
StatusOr<std::vector<std::string_view>> SplitBytesElements(std::string_view raw, int64_t expected_count);

// Appends `element` to `raw` in the same length-prefixed form.
void AppendBytesElement(std::string_view element, std::string& raw);

}  // namespace fovea::server
