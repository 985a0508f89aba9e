// grad_cam_run: loads an ONNX model with modelio, runs Grad-CAM for one class on one image, and prints the raw map
// (Σ_k mean(∂logit/∂A_k) · A_k, before the ReLU and scaling the Localize answer applies) for tests/zoo/grad_cam.py
// to compare with PyTorch autograd's; without a LAYER, also the raw CAM map (Σ_k w[class, k] · F_k of the pooled map
// F) or why the model has none. The input is a raw little-endian float32 file, its shape given as text.
//
// usage: grad_cam_run MODEL INPUT.bin 1,C,H,W CLASS [LAYER]
// prints "target NAME", "map H W v...", "logits v...", "seconds S" (the Grad-CAM pass alone) and, without a LAYER,
// "cam H W v..." or "cam unavailable REASON", one line each.

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "engine/localization/cam.h"
#include "engine/localization/grad_cam.h"
#include "modelio/onnx_import.h"
#include "tests/raw_tensor_file.h"

namespace {

namespace engine = fovea::engine;

void PrintValues(const char* label, const engine::Tensor& tensor) {
  std::cout << label;
  for (float v : tensor.floats()) std::printf(" %.9g", static_cast<double>(v));
  std::cout << "\n";
}

int Fail(const std::string& what, const fovea::Status& status) {
  std::cerr << what << ": " << status.ToString() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr int kMinArgs = 5, kMaxArgs = 6;
  if (argc < kMinArgs || argc > kMaxArgs) {
    std::cerr << "usage: grad_cam_run MODEL INPUT.bin 1,C,H,W CLASS [LAYER]\n";
    return 2;
  }
  auto model = fovea::modelio::LoadOnnxModel(argv[1]);
  if (!model.ok()) return Fail("load failed", model.status());
  auto grad_cam = engine::localization::GradCam::Create(*model, argc == kMaxArgs ? argv[5] : "");
  if (!grad_cam.ok()) return Fail("Grad-CAM", grad_cam.status());
  engine::Tensor input(engine::DataType::kFloat32, fovea::testing::ParseShapeText(argv[3]));
  if (!fovea::testing::ReadRawFloats(argv[2], input)) {
    std::cerr << "input file is shorter than the shape says\n";
    return 1;
  }
  const int64_t classes[] = {std::stoll(argv[4])};
  const auto started = std::chrono::steady_clock::now();
  auto gradients = (*grad_cam)->Gradients(input, classes);
  if (!gradients.ok()) return Fail("Grad-CAM", gradients.status());
  auto map = engine::localization::GradCamMap(gradients->feature, gradients->gradients[0]);
  if (!map.ok()) return Fail("Grad-CAM map", map.status());
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  std::cout << "target " << (*grad_cam)->tap().target() << "\n";
  std::cout << "map " << map->dim(0) << " " << map->dim(1);
  PrintValues("", *map);
  PrintValues("logits", gradients->run.logits);
  std::cout << "seconds " << elapsed.count() << "\n";
  if (argc == kMaxArgs) return 0;
  // With the default layer, CAM as well: its map of the pooled feature, or why the model has none.
  const auto& tap = (*grad_cam)->tap();
  auto linear = engine::localization::GapLinearHead((*model)->graph(), tap.head());
  if (!linear.ok()) {
    std::cout << "cam unavailable " << linear.status().message() << "\n";
    return 0;
  }
  auto cam_tap = engine::localization::FeatureTap::Create(*model, linear->feature);
  if (!cam_tap.ok()) return Fail("CAM", cam_tap.status());
  auto run = (*cam_tap)->Run(input);
  if (!run.ok()) return Fail("CAM", run.status());
  auto cam = engine::localization::ClassActivationMap(run->values.at(linear->feature), *linear, classes[0]);
  if (!cam.ok()) return Fail("CAM", cam.status());
  std::cout << "cam " << cam->dim(0) << " " << cam->dim(1);
  PrintValues("", *cam);
  return 0;
}
