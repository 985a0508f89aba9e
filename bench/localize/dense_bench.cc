// dense_bench: the dense sliding-window map of one image in one fully-convolutional pass, against classifying every
// window separately with the same engine, plus how far the two answers are apart (the zero-padding trap: a window
// classified alone sees zero padding at its border where the dense pass sees the real neighbours).
//
// usage: dense_bench MODEL [--image FLOATS] [--size 224] [--stride 4] [--rounds 5] [--map-out FILE]
// --image: raw float32 [size, size] pixels already normalized for the model (e.g. from make_example_scene.py with
// bench/localize/run.py); default: uniform noise. --map-out writes the dense map as raw float32 [classes, rows, cols]
// for the PyTorch peer to compare. Threads come from OMP_NUM_THREADS. Prints one JSON object.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "engine/localization/dense_map.h"
#include "engine/session.h"
#include "modelio/onnx_import.h"

namespace {

namespace engine = fovea::engine;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string model;
  std::string image;
  std::string map_out;
  int64_t size = 224;
  int64_t stride = 4;
  int rounds = 5;
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Seconds of this process's CPU time (all threads): on a shared machine it tracks the work done, where wall time also
// counts the time other processes held the cores.
double CpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

struct Timing {
  double wall_s = 0, cpu_s = 0;  // medians over the rounds
};

template <typename Fn>
Timing MedianTimes(int rounds, Fn&& fn) {
  std::vector<double> wall, cpu;
  for (int r = 0; r < rounds; ++r) {
    const auto start = Clock::now();
    const double cpu_start = CpuSeconds();
    fn();
    cpu.push_back(CpuSeconds() - cpu_start);
    wall.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  return {Median(wall), Median(cpu)};
}

engine::Tensor LoadImage(const Options& options) {
  engine::Tensor image(engine::DataType::kFloat32, {1, 1, options.size, options.size});
  if (options.image.empty()) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> dist(0.0f, 1.0f);
    for (float& v : image.floats()) v = dist(rng);
  } else {
    std::ifstream in(options.image, std::ios::binary);
    in.read(reinterpret_cast<char*>(image.raw_data()), static_cast<std::streamsize>(image.byte_size()));
  }
  return image;
}

engine::Tensor Window(const engine::Tensor& image, int64_t top, int64_t left, int64_t window) {
  engine::Tensor crop(engine::DataType::kFloat32, {1, 1, window, window});
  for (int64_t y = 0; y < window; ++y) {
    std::copy_n(image.data<float>() + (top + y) * image.dim(3) + left, window, crop.data<float>() + y * window);
  }
  return crop;
}

// Agreement between the dense map and per-window answers: largest difference, top-1 agreement over every window and
// over windows that are not blank (any pixel above zero), which are the ones that matter on a black canvas.
struct Agreement {
  float max_abs_difference = 0;
  int windows = 0, agree = 0, non_blank = 0, non_blank_agree = 0;
};

int ArgMax(const float* values, int64_t count, int64_t step) {
  int best = 0;
  for (int64_t k = 1; k < count; ++k) {
    if (values[k * step] > values[best * step]) best = static_cast<int>(k);
  }
  return best;
}

int Run(const Options& options) {
  auto model = fovea::modelio::LoadOnnxModel(options.model);
  if (!model.ok()) return std::fprintf(stderr, "%s\n", model.status().ToString().c_str()), 1;
  auto session = engine::Session::Create(*model);
  auto mapper = engine::localization::DenseMapper::Create(**model);
  if (!mapper.ok()) return std::fprintf(stderr, "%s\n", mapper.status().ToString().c_str()), 1;
  const engine::Tensor image = LoadImage(options);
  const int64_t window = (*mapper)->window_width();

  engine::localization::ClassMaps maps;
  (void)(*mapper)->Compute(image, options.stride);  // compiles and caches the plan
  const Timing dense = MedianTimes(options.rounds, [&] { maps = (*mapper)->Compute(image, options.stride).value(); });

  const int64_t classes = maps.values.dim(0), rows = maps.values.dim(1), cols = maps.values.dim(2);
  std::vector<float> per_window(static_cast<size_t>(rows * cols * classes));
  (void)(*session)->Run(std::vector<engine::Tensor>{Window(image, 0, 0, window)});
  // Separately: one Run per window, batch 1, the way a sliding-window loop over a classifier works.
  const Timing windows = MedianTimes(std::max(1, options.rounds / 2), [&] {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        auto out =
            (*session)->Run(std::vector<engine::Tensor>{Window(image, r * options.stride, c * options.stride, window)});
        std::copy_n(out.value()[0].data<float>(), classes, per_window.data() + (r * cols + c) * classes);
      }
    }
  });

  Agreement a;
  for (int64_t cell = 0; cell < rows * cols; ++cell) {
    const float* expected = per_window.data() + cell * classes;
    const float* dense = maps.values.data<float>() + cell;
    for (int64_t k = 0; k < classes; ++k) {
      a.max_abs_difference = std::max(a.max_abs_difference, std::fabs(expected[k] - dense[k * rows * cols]));
    }
    const bool same = ArgMax(expected, classes, 1) == ArgMax(dense, classes, rows * cols);
    const engine::Tensor crop = Window(image, cell / cols * options.stride, cell % cols * options.stride, window);
    const bool blank = *std::max_element(crop.floats().begin(), crop.floats().end()) <= 0.0f;
    ++a.windows;
    a.agree += same;
    a.non_blank += !blank;
    a.non_blank_agree += !blank && same;
  }
  if (!options.map_out.empty()) {
    std::ofstream(options.map_out, std::ios::binary)
        .write(reinterpret_cast<const char*>(maps.values.raw_data()),
               static_cast<std::streamsize>(maps.values.byte_size()));
  }
  std::printf(
      "{\"size\": %ld, \"stride\": %ld, \"windows\": %d, \"dense_ms\": %.3f, \"per_window_ms\": %.3f, "
      "\"speedup\": %.1f, \"dense_cpu_ms\": %.3f, \"per_window_cpu_ms\": %.3f, \"cpu_speedup\": %.1f, "
      "\"max_abs_difference\": %.6f, \"top1_agreement\": %.4f, \"non_blank_windows\": %d, "
      "\"non_blank_top1_agreement\": %.4f}\n",
      static_cast<long>(options.size), static_cast<long>(options.stride), a.windows, dense.wall_s * 1e3,
      windows.wall_s * 1e3, windows.wall_s / dense.wall_s, dense.cpu_s * 1e3, windows.cpu_s * 1e3,
      windows.cpu_s / dense.cpu_s, a.max_abs_difference, static_cast<double>(a.agree) / a.windows, a.non_blank,
      a.non_blank > 0 ? static_cast<double>(a.non_blank_agree) / a.non_blank : 0.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: dense_bench MODEL [--image FLOATS] [--size N] [--stride N] [--rounds N] "
                 "[--map-out FILE]\n");
    return 2;
  }
  Options options;
  options.model = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--image")
      options.image = value;
    else if (flag == "--size")
      options.size = std::stoll(value);
    else if (flag == "--stride")
      options.stride = std::stoll(value);
    else if (flag == "--rounds")
      options.rounds = std::stoi(value);
    else if (flag == "--map-out")
      options.map_out = value;
    else
      return std::fprintf(stderr, "unknown flag %s\n", flag.c_str()), 2;
  }
  return Run(options);
}
