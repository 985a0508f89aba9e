// onnx_run: loads an ONNX model with modelio, runs it once through an engine Session, and writes the outputs.
// The PyTorch cross-check drives it: inputs and outputs are raw little-endian float32 files, shapes given as text.
//
// usage: onnx_run MODEL INPUT.bin N,C,H,W OUTPUT_PREFIX
// writes OUTPUT_PREFIX<i>.bin for each graph output and prints one line per output: "<i> <dims comma-separated>".

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "engine/session.h"
#include "modelio/onnx_import.h"
#include "tests/raw_tensor_file.h"

namespace {}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: onnx_run MODEL INPUT.bin N,C,H,W OUTPUT_PREFIX\n";
    return 2;
  }
  auto model = fovea::modelio::LoadOnnxModel(argv[1]);
  if (!model.ok()) {
    std::cerr << "load failed: " << model.status().ToString() << "\n";
    return 1;
  }
  auto session = fovea::engine::Session::Create(*model);
  if (!session.ok()) {
    std::cerr << session.status().ToString() << "\n";
    return 1;
  }
  fovea::engine::Tensor input(fovea::engine::DataType::kFloat32, fovea::testing::ParseShapeText(argv[3]));
  if (!fovea::testing::ReadRawFloats(argv[2], input)) {
    std::cerr << "input file is shorter than the shape says\n";
    return 1;
  }
  auto outputs = (*session)->Run(std::span<const fovea::engine::Tensor>(&input, 1));
  if (!outputs.ok()) {
    std::cerr << "run failed: " << outputs.status().ToString() << "\n";
    return 1;
  }
  for (size_t i = 0; i < outputs->size(); ++i) {
    const auto& t = (*outputs)[i];
    std::ofstream out(std::string(argv[4]) + std::to_string(i) + ".bin", std::ios::binary);
    out.write(static_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.byte_size()));
    std::cout << i << " ";
    for (size_t d = 0; d < t.shape().size(); ++d) std::cout << (d ? "," : "") << t.shape()[d];
    std::cout << "\n";
  }
  return 0;
}
