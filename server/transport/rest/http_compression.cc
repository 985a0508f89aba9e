#include "server/transport/rest/http_compression.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <memory>
#include <optional>

namespace fovea::server {
namespace {

constexpr int kMaxWindowBits = 15;                    // zlib's largest window, 32 KiB: what every encoder may use
constexpr int kGzipWindowBits = kMaxWindowBits + 16;  // zlib's convention: +16 selects the gzip wrapper
constexpr int kRawWindowBits = -kMaxWindowBits;       // negative: raw deflate data without a wrapper
constexpr int kMemoryLevel = 8;                       // zlib's default
// Responses are mostly float tensors, which no level compresses much; the fastest level costs the least CPU.
constexpr int kResponseLevel = 1;
// Output grows by this much per inflate call, so the limit is checked at least this often.
constexpr size_t kChunkBytes = size_t{64} << 10;
// A zlib header: the low 4 bits of its first byte name the method (8, deflate); the two bytes, big-endian, are a
// multiple of 31.
constexpr unsigned kZlibMethodMask = 0x0f;
constexpr unsigned kZlibHeaderCheck = 31;
constexpr size_t kMaxEchoedChars = 40;

std::string_view Trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower;
}

// A header value as it appears in a message: clients control it, so it is cut short.
std::string Echo(std::string_view text) {
  return text.size() <= kMaxEchoedChars ? std::string(text) : std::string(text.substr(0, kMaxEchoedChars)) + "...";
}

bool HasZlibHeader(std::string_view body) {
  if (body.size() < 2) return false;
  const unsigned first = static_cast<unsigned char>(body[0]);
  const unsigned second = static_cast<unsigned char>(body[1]);
  return (first & kZlibMethodMask) == Z_DEFLATED && ((first << CHAR_BIT) | second) % kZlibHeaderCheck == 0;
}

// Hands zlib the next piece of `pending` when it has consumed the last one (zlib counts input in 32-bit units).
void Feed(z_stream& stream, std::string_view& pending) {
  if (stream.avail_in != 0 || pending.empty()) return;
  const size_t piece = std::min<size_t>(pending.size(), UINT_MAX);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(pending.data()));
  stream.avail_in = static_cast<uInt>(piece);
  pending.remove_prefix(piece);
}

// Runs `step` (inflate or deflate) once into kChunkBytes more of `out`; returns its result.
template <typename Step>
int StepIntoChunk(z_stream& stream, std::string& out, Step step) {
  const size_t before = out.size();
  out.resize(before + kChunkBytes);
  stream.next_out = reinterpret_cast<Bytef*>(out.data() + before);
  stream.avail_out = static_cast<uInt>(kChunkBytes);
  const int result = step(stream);
  out.resize(before + kChunkBytes - stream.avail_out);
  return result;
}

using InflateStream = std::unique_ptr<z_stream, int (*)(z_streamp)>;

StatusOr<std::string> Inflate(std::string_view body, int window_bits, bool members, const char* name,
                              size_t max_bytes) {
  z_stream state{};
  if (inflateInit2(&state, window_bits) != Z_OK) return Internal("zlib cannot start inflating");
  const InflateStream stream(&state, &inflateEnd);
  std::string out;
  std::string_view pending = body;
  const std::string what = std::string(name) + " request body";
  while (true) {
    Feed(state, pending);
    const int result = StepIntoChunk(state, out, [](z_stream& s) { return inflate(&s, Z_NO_FLUSH); });
    if (out.size() > max_bytes) {
      return ResourceExhausted("decoded " + what + " is larger than the limit of " + std::to_string(max_bytes) +
                               " bytes (--max-message-bytes)");
    }
    const size_t left = state.avail_in + pending.size();
    if (result == Z_STREAM_END) {
      if (left == 0) return out;
      // gzip allows several members back to back (concatenated files); deflate data has one end.
      if (!members) return InvalidArgument(what + " has " + std::to_string(left) + " bytes after its compressed data");
      inflateReset(&state);
    } else if (result == Z_OK || result == Z_BUF_ERROR) {
      if (left == 0 && state.avail_out != 0) return InvalidArgument(what + " ends before its compressed data does");
    } else {
      return InvalidArgument(what + " is not valid " + name + " data" +
                             (state.msg != nullptr ? std::string(": ") + state.msg : std::string()));
    }
  }
}

std::optional<std::string> Deflate(std::string_view body, int window_bits) {
  z_stream state{};
  if (deflateInit2(&state, kResponseLevel, Z_DEFLATED, window_bits, kMemoryLevel, Z_DEFAULT_STRATEGY) != Z_OK) {
    return std::nullopt;
  }
  const InflateStream stream(&state, &deflateEnd);
  std::string out;
  std::string_view pending = body;
  int result = Z_OK;
  while (result != Z_STREAM_END) {
    Feed(state, pending);
    const int flush = pending.empty() ? Z_FINISH : Z_NO_FLUSH;
    result = StepIntoChunk(state, out, [flush](z_stream& s) { return deflate(&s, flush); });
    if (result == Z_STREAM_ERROR) return std::nullopt;
  }
  return out;
}

// The q value of one Accept-Encoding item's parameters (";q=0.5"); 1 when absent, 0 when malformed.
double Quality(std::string_view parameters) {
  const size_t q = Lower(parameters).find("q=");
  if (q == std::string_view::npos) return 1;
  const std::string_view text = Trim(parameters.substr(q + 2));
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() ? value : 0;
}

}  // namespace

StatusOr<ContentCoding> ParseContentEncoding(std::string_view header) {
  const std::string coding = Lower(Trim(header));
  if (coding.empty() || coding == "identity") return ContentCoding::kIdentity;
  if (coding == "gzip" || coding == "x-gzip") return ContentCoding::kGzip;
  if (coding == "deflate") return ContentCoding::kDeflate;
  return Unimplemented("Content-Encoding '" + Echo(header) + "' is not supported; send gzip, deflate or identity");
}

StatusOr<std::string> DecodeContent(ContentCoding coding, std::string_view body, size_t max_bytes) {
  switch (coding) {
    case ContentCoding::kGzip:
      return Inflate(body, kGzipWindowBits, true, "gzip", max_bytes);
    case ContentCoding::kDeflate:
      return Inflate(body, HasZlibHeader(body) ? kMaxWindowBits : kRawWindowBits, false, "deflate", max_bytes);
    case ContentCoding::kIdentity:
      break;
  }
  return std::string(body);
}

ContentCoding ChooseResponseCoding(std::string_view accept_encoding) {
  std::optional<bool> gzip, deflate;
  bool any = false;
  while (!accept_encoding.empty()) {
    const size_t comma = accept_encoding.find(',');
    const std::string_view item = accept_encoding.substr(0, comma);
    accept_encoding.remove_prefix(comma == std::string_view::npos ? accept_encoding.size() : comma + 1);
    const size_t semicolon = item.find(';');
    const std::string token = Lower(Trim(item.substr(0, semicolon)));
    const bool accepted = semicolon == std::string_view::npos || Quality(item.substr(semicolon + 1)) > 0;
    if (token == "gzip" || token == "x-gzip") gzip = accepted;
    if (token == "deflate") deflate = accepted;
    if (token == "*") any = accepted;
  }
  if (gzip.value_or(any)) return ContentCoding::kGzip;
  if (deflate.value_or(any)) return ContentCoding::kDeflate;
  return ContentCoding::kIdentity;
}

std::optional<std::string> EncodeContent(ContentCoding coding, std::string_view body) {
  switch (coding) {
    case ContentCoding::kGzip:
      return Deflate(body, kGzipWindowBits);
    case ContentCoding::kDeflate:
      return Deflate(body, kMaxWindowBits);
    case ContentCoding::kIdentity:
      break;
  }
  return std::nullopt;
}

const char* ContentCodingName(ContentCoding coding) {
  switch (coding) {
    case ContentCoding::kGzip:
      return "gzip";
    case ContentCoding::kDeflate:
      return "deflate";
    case ContentCoding::kIdentity:
      break;
  }
  return "identity";
}

}  // namespace fovea::server
