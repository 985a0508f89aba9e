// grad_cam_bench: how long the engine takes to answer one Grad-CAM map (forward pass with the tapped values, backward
// from one logit to the target layer, the map), warm, for bench/localize/grad_cam_bench.py to set beside PyTorch
// autograd on the same weights, image and class.
//
// usage: grad_cam_bench MODEL INPUT.bin 1,C,H,W CLASS [--layer NAME] [--map-out FILE] [--feature-out FILE]
// INPUT.bin: raw float32 of that shape (the model's input size, or any size when its height and width are free). On
// start the tool compiles the tapped model, runs one map (written raw float32 to --map-out; the target value to
// --feature-out, so the caller can find the same layer in PyTorch), and prints one JSON line: target, map and feature
// shapes. Then it reads lines from stdin: each line "N" times N more maps and prints one JSON line with the median wall
// and process CPU milliseconds of one map. That lets the caller interleave its rounds with PyTorch's while the model
// stays loaded. Threads come from OMP_NUM_THREADS.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "engine/localization/grad_cam.h"
#include "modelio/onnx_import.h"
#include "tests/raw_tensor_file.h"

namespace {

namespace engine = fovea::engine;
namespace localization = fovea::engine::localization;

struct Options {
  std::string model, input, shape, layer, map_out, feature_out;
  int64_t class_index = 0;
};

double CpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void WriteFloats(const std::string& path, const engine::Tensor& tensor) {
  if (path.empty()) return;
  std::ofstream(path, std::ios::binary)
      .write(static_cast<const char*>(tensor.raw_data()), static_cast<std::streamsize>(tensor.byte_size()));
}

std::string ShapeJson(const engine::Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

int Fail(const std::string& what, const fovea::Status& status) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), status.ToString().c_str());
  return 1;
}

// One Grad-CAM map of the input for the class: what a Localize request with method GRAD_CAM computes per class.
fovea::StatusOr<localization::ClassGradients> OneMap(const localization::GradCam& grad_cam, const engine::Tensor& input,
                                                     int64_t class_index, engine::Tensor& map) {
  const int64_t classes[] = {class_index};
  FOVEA_ASSIGN_OR_RETURN(auto gradients, grad_cam.Gradients(input, classes));
  FOVEA_ASSIGN_OR_RETURN(map, localization::GradCamMap(gradients.feature, gradients.gradients[0]));
  return gradients;
}

int Run(const Options& options) {
  auto model = fovea::modelio::LoadOnnxModel(options.model);
  if (!model.ok()) return Fail("load", model.status());
  auto grad_cam = localization::GradCam::Create(*model, options.layer);
  if (!grad_cam.ok()) return Fail("Grad-CAM", grad_cam.status());
  const engine::Shape shape = fovea::testing::ParseShapeText(options.shape);
  engine::Tensor input(engine::DataType::kFloat32, shape);
  if (!fovea::testing::ReadRawFloats(options.input, input)) {
    std::fprintf(stderr, "%s holds fewer than the %s floats of the input shape\n", options.input.c_str(),
                 ShapeJson(shape).c_str());
    return 1;
  }
  engine::Tensor map;
  auto first = OneMap(**grad_cam, input, options.class_index, map);
  if (!first.ok()) return Fail("Grad-CAM", first.status());
  WriteFloats(options.map_out, map);
  WriteFloats(options.feature_out, first->feature);
  std::printf("{\"target\": \"%s\", \"map\": %s, \"feature\": %s}\n", (*grad_cam)->tap().target().c_str(),
              ShapeJson(map.shape()).c_str(), ShapeJson(first->feature.shape()).c_str());
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    const int repeats = std::max(1, std::stoi(line));
    std::vector<double> wall, cpu;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      const double cpu_start = CpuSeconds();
      auto run = OneMap(**grad_cam, input, options.class_index, map);
      if (!run.ok()) return Fail("Grad-CAM", run.status());
      cpu.push_back(CpuSeconds() - cpu_start);
      wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::printf("{\"wall_ms\": %.4f, \"cpu_ms\": %.4f}\n", Median(wall) * 1e3, Median(cpu) * 1e3);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr int kPositional = 5;
  if (argc < kPositional) {
    std::fprintf(stderr,
                 "usage: grad_cam_bench MODEL INPUT.bin 1,C,H,W CLASS [--layer NAME] [--map-out FILE] "
                 "[--feature-out FILE]\n");
    return 2;
  }
  Options options{argv[1], argv[2], argv[3], "", "", "", std::stoll(argv[4])};
  for (int i = kPositional; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--layer") {
      options.layer = value;
    } else if (flag == "--map-out") {
      options.map_out = value;
    } else if (flag == "--feature-out") {
      options.feature_out = value;
    } else {
      return std::fprintf(stderr, "unknown flag %s\n", flag.c_str()), 2;
    }
  }
  return Run(options);
}
