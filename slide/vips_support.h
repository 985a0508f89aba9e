#pragma once
// What every libvips call site here needs: its error message, and a reference that is dropped on scope exit.

#include <vips/vips.h>

#include <string>

namespace fovea::slide {

// libvips' last error message on one line, cleared so the next failure does not repeat it.
inline std::string TakeVipsError() {
  std::string message = vips_error_buffer();
  vips_error_clear();
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  for (char& c : message) {
    if (c == '\n') c = ';';
  }
  return message.empty() ? "libvips gave no reason" : message;
}

// Owns one reference to a vips image (the images a conversion makes on the way), dropped when it goes out of scope.
struct VipsRef {
  VipsImage* image = nullptr;
  VipsRef() = default;
  explicit VipsRef(VipsImage* owned) : image(owned) {}
  VipsRef(const VipsRef&) = delete;
  VipsRef& operator=(const VipsRef&) = delete;
  ~VipsRef() {
    if (image != nullptr) g_object_unref(image);
  }
};

}  // namespace fovea::slide
