#pragma once
// The raw tensor files the Python drivers (tests/pytorch, tests/zoo, bench/localize) hand to the engine's runner
// tools: little-endian float32 values in a file, the shape given separately as text ("1,3,224,224").

#include <fstream>
#include <sstream>
#include <string>

#include "engine/tensor.h"

namespace fovea::testing {

// "1,3,224,224" → {1, 3, 224, 224}.
inline engine::Shape ParseShapeText(const std::string& text) {
  engine::Shape shape;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) shape.push_back(std::stoll(part));
  return shape;
}

// Fills `tensor` from the file at `path`; false when the file holds fewer bytes than the tensor.
inline bool ReadRawFloats(const std::string& path, engine::Tensor& tensor) {
  std::ifstream in(path, std::ios::binary);
  in.read(static_cast<char*>(tensor.raw_data()), static_cast<std::streamsize>(tensor.byte_size()));
  return in.gcount() == static_cast<std::streamsize>(tensor.byte_size());
}

}  // namespace fovea::testing
