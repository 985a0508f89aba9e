#pragma once
// Images and requests shared by the integration tests.

#include <cstdint>
#include <string>

#include "fovea/v1/inference.pb.h"
#include "tests/integration/png_fixtures.h"

namespace fovea::testing {

inline constexpr int kTinySize = 28;  // the `tiny` test model's input side
inline constexpr int kTinyClasses = 10;

// A deterministic pattern (diagonal stripes shifted by `seed`) as an 8-bit gray value of pixel (x, y).
inline uint8_t Pattern(uint32_t x, uint32_t y, int seed) {
  return static_cast<uint8_t>((x * 7 + y * 3 + static_cast<uint32_t>(seed) * 40) % 256);
}

// An 8-bit gray PNG of the pattern.
inline std::string GrayPng(uint32_t size, int seed) {
  return MakePng(size, size, 8, PngColor::kGray,
                 [seed](uint32_t x, uint32_t y, uint32_t) { return Pattern(x, y, seed); });
}

inline v1::ImageInput EncodedImage(const std::string& bytes, const std::string& id = "") {
  v1::ImageInput image;
  image.set_encoded(bytes);
  image.set_id(id);
  return image;
}

inline v1::ClassifyRequest TinyRequest() {
  v1::ClassifyRequest request;
  request.set_model_name("tiny");
  return request;
}

}  // namespace fovea::testing
