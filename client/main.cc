// fovea: the command-line client of fovea-server (classify, localize, models, health).

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "client/commands.h"

namespace {

constexpr char kUsage[] =
    "Usage: fovea COMMAND [FLAGS] [ARGS]\n\n"
    "Commands:\n"
    "  classify PATH...   classify image files, folders and globs\n"
    "  localize IMAGE...  heatmap overlays and detections (--out DIR)\n"
    "  models             list the served models\n"
    "  health             check that the server is SERVING\n"
    "  bench [IMAGE...]   load-test the server: throughput, latency percentiles, errors\n"
    "  slide SLIDE...     dense class maps of whole-slide and huge images (--out DIR; runs fovea-slide)\n\n"
    "Every command takes --server HOST:PORT (default localhost:50051), or a comma-separated list of IP:PORT or a\n"
    "dns:///NAME:PORT to balance round-robin over replicas; `fovea COMMAND --help` describes its flags.\n";

// `fovea slide ...` runs fovea-slide (a separate program: it links libvips), from fovea's own folder, else the PATH.
int RunSlideProgram(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  args.push_back(nullptr);
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::string sibling = (self.parent_path() / "fovea-slide").string();
  if (!error) execv(sibling.c_str(), args.data());
  execvp("fovea-slide", args.data());
  std::cerr << "fovea: `fovea slide` runs fovea-slide, which is not installed next to fovea or on the PATH ("
            << std::strerror(errno) << "); build it with libvips-dev installed (cmake -DFOVEA_SLIDE=ON, the default)\n";
  return fovea::client::kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fovea::client;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    (argc < 2 ? std::cerr : std::cout) << kUsage;
    return argc < 2 ? kExitUsage : kExitSuccess;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "classify") return RunClassify(args, std::cout, std::cerr);
  if (command == "localize") return RunLocalize(args, std::cout, std::cerr);
  if (command == "models") return RunModels(args, std::cout, std::cerr);
  if (command == "health") return RunHealth(args, std::cout, std::cerr);
  if (command == "bench") return RunBench(args, std::cout, std::cerr);
  if (command == "slide") return RunSlideProgram(argc, argv);
  std::cerr << "fovea: unknown command '" << command << "'\n" << kUsage;
  return kExitUsage;
}
