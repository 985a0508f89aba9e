// JPEG decoding with libjpeg-turbo's libjpeg API. libjpeg reports errors by calling error_exit, which must not
// return; we longjmp back into the one small function that made the failing call. Those functions hold only trivially
// destructible locals, so the jump skips no destructor.

#include <algorithm>
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE declared first
#include <string>
#include <vector>

#include <jerror.h>
#include <jpeglib.h>

#include "imageio/decode_internal.h"
#include "imageio/image.h"

namespace fovea::imageio::internal {
namespace {

constexpr int kCmykChannels = 4;
constexpr int kRgbChannels = 3;
constexpr int kMaxSample = 255;
// A legitimate progressive JPEG has about ten scans; thousands of tiny repeated scans are a known way to make libjpeg
// spend minutes on a few kilobytes, so decoding stops past this count.
constexpr int kMaxProgressiveScans = 500;

// libjpeg's error manager plus where to jump and what went wrong. `manager` must stay the first member: libjpeg hands
// back a pointer to it and we cast to the enclosing struct.
struct JpegErrorState {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

[[noreturn]] void JumpWithMessage(j_common_ptr cinfo) {
  auto* state = reinterpret_cast<JpegErrorState*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, state->message);
  std::longjmp(state->jump, 1);
}

void OnJpegError(j_common_ptr cinfo) { JumpWithMessage(cinfo); }

// libjpeg only warns when the data runs out (it pads with a fake end-of-image marker); we treat that as an error so
// a truncated upload never becomes a half-gray image. Other corrupt-data warnings are tolerated, as most decoders do.
void OnJpegMessage(j_common_ptr cinfo, int msg_level) {
  constexpr int kWarningLevel = -1;
  if (msg_level != kWarningLevel) return;
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
    reinterpret_cast<JpegErrorState*>(cinfo->err)->truncated = true;
    JumpWithMessage(cinfo);
  }
  ++cinfo->err->num_warnings;
}

void OnJpegProgress(j_common_ptr cinfo) {
  const auto* decompress = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (!cinfo->is_decompressor || decompress->input_scan_number <= kMaxProgressiveScans) return;
  auto* state = reinterpret_cast<JpegErrorState*>(cinfo->err);
  std::snprintf(state->message, sizeof(state->message), "more than %d progressive scans", kMaxProgressiveScans);
  std::longjmp(state->jump, 1);
}

// Owns one libjpeg decompressor; each step returns false after a libjpeg error (see ErrorStatus()).
class JpegDecompressor {
 public:
  JpegDecompressor() {
    cinfo_.err = jpeg_std_error(&errors_.manager);
    errors_.manager.error_exit = OnJpegError;
    errors_.manager.emit_message = OnJpegMessage;
    errors_.truncated = false;
    errors_.message[0] = '\0';
    jpeg_create_decompress(&cinfo_);
    progress_.progress_monitor = OnJpegProgress;
    cinfo_.progress = &progress_;
  }
  ~JpegDecompressor() { jpeg_destroy_decompress(&cinfo_); }
  JpegDecompressor(const JpegDecompressor&) = delete;
  JpegDecompressor& operator=(const JpegDecompressor&) = delete;

  jpeg_decompress_struct& cinfo() { return cinfo_; }

  bool ReadHeader(std::span<const uint8_t> bytes) {
    if (setjmp(errors_.jump)) return false;
    jpeg_mem_src(&cinfo_, bytes.data(), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&cinfo_, TRUE);
    return true;
  }

  bool Start() {
    if (setjmp(errors_.jump)) return false;
    jpeg_start_decompress(&cinfo_);
    return true;
  }

  // Decodes every scanline into `pixels` (output_height rows of `row_bytes`) and reads up to the end marker.
  bool ReadAll(uint8_t* pixels, size_t row_bytes) {
    if (setjmp(errors_.jump)) return false;
    while (cinfo_.output_scanline < cinfo_.output_height) {
      JSAMPROW row = pixels + cinfo_.output_scanline * row_bytes;
      jpeg_read_scanlines(&cinfo_, &row, 1);
    }
    jpeg_finish_decompress(&cinfo_);
    return true;
  }

  // The InvalidArgument for the libjpeg failure that made a step return false.
  Status ErrorStatus(size_t size) const {
    if (errors_.truncated) {
      return InvalidArgument("truncated JPEG (" + std::to_string(size) + " bytes): " + errors_.message);
    }
    return InvalidArgument(std::string("corrupt or unsupported JPEG: ") + errors_.message);
  }

 private:
  jpeg_decompress_struct cinfo_{};
  JpegErrorState errors_{};
  jpeg_progress_mgr progress_{};
};

// Chooses libjpeg's output colour space: gray stays gray, CMYK/YCCK come out as CMYK for our own conversion,
// everything else is converted to RGB by libjpeg.
J_COLOR_SPACE OutputColorSpace(J_COLOR_SPACE jpeg_color_space) {
  switch (jpeg_color_space) {
    case JCS_GRAYSCALE:
      return JCS_GRAYSCALE;
    case JCS_CMYK:
    case JCS_YCCK:
      return JCS_CMYK;
    default:
      return JCS_RGB;
  }
}

// Converts CMYK pixels to RGB in place. Adobe-marked files store inverted ink (255 = no ink), others store ink.
void CmykToRgbInPlace(std::vector<uint8_t>& pixels, bool adobe_inverted) {
  const size_t pixel_count = pixels.size() / kCmykChannels;
  for (size_t i = 0; i < pixel_count; ++i) {
    const uint8_t* cmyk = pixels.data() + i * kCmykChannels;
    const int black = adobe_inverted ? cmyk[3] : kMaxSample - cmyk[3];
    uint8_t rgb[kRgbChannels];
    for (int c = 0; c < kRgbChannels; ++c) {
      const int ink = adobe_inverted ? cmyk[c] : kMaxSample - cmyk[c];
      rgb[c] = static_cast<uint8_t>((ink * black + kMaxSample / 2) / kMaxSample);
    }
    std::copy_n(rgb, kRgbChannels, pixels.data() + i * kRgbChannels);  // never overtakes the CMYK read position
  }
  pixels.resize(pixel_count * kRgbChannels);
}

}  // namespace

StatusOr<Image> DecodeJpeg(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  JpegDecompressor decompressor;
  jpeg_decompress_struct& cinfo = decompressor.cinfo();
  if (!decompressor.ReadHeader(bytes)) return decompressor.ErrorStatus(bytes.size());
  FOVEA_RETURN_IF_ERROR(CheckDimensions("JPEG", cinfo.image_width, cinfo.image_height, limits));

  cinfo.out_color_space = OutputColorSpace(cinfo.jpeg_color_space);
  if (!decompressor.Start()) return decompressor.ErrorStatus(bytes.size());
  const int64_t width = cinfo.output_width;
  const int64_t height = cinfo.output_height;
  const int64_t decoded_channels = cinfo.output_components;
  std::vector<uint8_t> pixels(static_cast<size_t>(width * height * decoded_channels));
  if (!decompressor.ReadAll(pixels.data(), static_cast<size_t>(width * decoded_channels))) {
    return decompressor.ErrorStatus(bytes.size());
  }

  Image image{.width = width, .height = height, .channels = decoded_channels, .pixels = std::move(pixels)};
  if (cinfo.out_color_space == JCS_CMYK) {
    CmykToRgbInPlace(image.pixels, cinfo.saw_Adobe_marker);
    image.channels = kRgbChannels;
  }
  return image;
}

}  // namespace fovea::imageio::internal
