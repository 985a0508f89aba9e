// dense_run: loads an ONNX model with modelio and builds its dense sliding-window map (engine/localization/dense_map.h)
// for tests/zoo/dense_maps.py: whether the model allows one (and why not), its natural stride and window, and the
// map of one image at the natural stride. SIZE is the model input's side, declared as fovea.input.height/width the
// way a served model's config would (some zoo exports leave height and width free). The input is a raw little-endian
// float32 file, its shape given as text.
//
// usage: dense_run MODEL SIZE [INPUT.bin 1,C,H,W]
// prints "dense refused CODE MESSAGE", or "dense stride S window H W" and, with an input, "map K R C v..." (classes,
// rows, cols), "geometry STRIDE_X STRIDE_Y OFFSET_X OFFSET_Y WINDOW_W WINDOW_H" and "seconds S" (Compute alone).

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "engine/localization/dense_map.h"
#include "modelio/onnx_import.h"
#include "tests/raw_tensor_file.h"

namespace {

namespace engine = fovea::engine;

int Fail(const std::string& what, const fovea::Status& status) {
  std::cerr << what << ": " << status.ToString() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr int kInfoArgs = 3, kMapArgs = 5;
  if (argc != kInfoArgs && argc != kMapArgs) {
    std::cerr << "usage: dense_run MODEL SIZE [INPUT.bin 1,C,H,W]\n";
    return 2;
  }
  const fovea::modelio::MetadataOverrides size = {{"fovea.input.height", argv[2]}, {"fovea.input.width", argv[2]}};
  auto model = fovea::modelio::LoadOnnxModel(argv[1], {}, {}, size);
  if (!model.ok()) return Fail("load failed", model.status());
  auto mapper = engine::localization::DenseMapper::Create(**model);
  if (!mapper.ok()) {
    std::cout << "dense refused " << fovea::StatusCodeName(mapper.status().code()) << " " << mapper.status().message()
              << "\n";
    return 0;
  }
  const auto& dense = **mapper;
  std::cout << "dense stride " << dense.natural_stride() << " window " << dense.window_height() << " "
            << dense.window_width() << "\n";
  if (argc == kInfoArgs) return 0;
  engine::Tensor input(engine::DataType::kFloat32, fovea::testing::ParseShapeText(argv[4]));
  if (!fovea::testing::ReadRawFloats(argv[3], input)) {
    std::cerr << "input file is shorter than the shape says\n";
    return 1;
  }
  const auto started = std::chrono::steady_clock::now();
  auto maps = dense.Compute(input, dense.natural_stride());
  if (!maps.ok()) return Fail("dense map", maps.status());
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  const engine::Tensor& values = maps->values;
  std::cout << "map " << values.dim(0) << " " << values.dim(1) << " " << values.dim(2);
  for (float v : values.floats()) std::printf(" %.9g", static_cast<double>(v));
  const auto& g = maps->geometry;
  std::cout << "\ngeometry " << g.stride_x << " " << g.stride_y << " " << g.offset_x << " " << g.offset_y << " "
            << g.window_width << " " << g.window_height << "\n";
  std::cout << "seconds " << elapsed.count() << "\n";
  return 0;
}
