#pragma once
// `fovea slide SLIDE... --out DIR`: dense class maps of whole-slide and huge images, tile by tile through the server,
// stitched exactly (tile_plan.h), resumable (slide_store.h), written as the files slide_outputs.h describes.

#include <ostream>
#include <string>
#include <vector>

namespace fovea::slide {

// Exit status as the other `fovea` commands: 0 success, 1 some work failed, 2 usage error.
int RunSlide(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace fovea::slide
