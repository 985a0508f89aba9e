// fovea-slide: `fovea slide`, dense class maps of whole-slide and huge images through fovea-server. A program of its
// own because it links libvips (and through it OpenSlide, ImageMagick, poppler, ...), which the `fovea` CLI and the
// server image do not need; `fovea slide ...` runs it.

#include <iostream>
#include <string>
#include <vector>

#include "slide/openslide_probe.h"
#include "slide/slide_command.h"
#include "slide/slide_image.h"

int main(int argc, char** argv) {
  const fovea::Status started = fovea::slide::InitVips(argv[0]);
  if (!started.ok()) {
    std::cerr << "fovea slide: " << started.ToString() << "\n";
    return 1;
  }
  if (argc == 3 && std::string(argv[1]) == fovea::slide::kProbeFlag) return fovea::slide::RunOpenSlideProbe(argv[2]);
  fovea::slide::SetFileCheck(
      [](const std::string& path) { return fovea::slide::ProbeOpenSlideInChild("/proc/self/exe", path); });
  // Invoked as `fovea-slide slide ...` by `fovea slide ...`, or directly as `fovea-slide ...`.
  int first = 1;
  if (argc > 1 && std::string(argv[1]) == "slide") first = 2;
  return fovea::slide::RunSlide(std::vector<std::string>(argv + first, argv + argc), std::cout, std::cerr);
}
