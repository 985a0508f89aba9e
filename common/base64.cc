#include "common/base64.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace fovea::common {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kPad = '=';
constexpr int kInvalid = -1;
constexpr size_t kQuantumChars = 4;  // 4 characters carry 3 bytes
constexpr size_t kQuantumBytes = 3;

// The 6-bit value of each character, kInvalid outside the alphabet.
const std::array<int, 256>& DecodeTable() {
  static const std::array<int, 256> table = [] {
    std::array<int, 256> values{};
    values.fill(kInvalid);
    for (size_t i = 0; i < kAlphabet.size(); ++i)
      values[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
    return values;
  }();
  return table;
}

}  // namespace

std::string Base64Encode(std::string_view data) {
  std::string text;
  text.reserve((data.size() + kQuantumBytes - 1) / kQuantumBytes * kQuantumChars);
  for (size_t i = 0; i < data.size(); i += kQuantumBytes) {
    const size_t available = std::min(kQuantumBytes, data.size() - i);
    uint32_t bits = 0;
    for (size_t j = 0; j < kQuantumBytes; ++j) {
      bits = (bits << 8) | (j < available ? static_cast<unsigned char>(data[i + j]) : 0U);
    }
    for (size_t j = 0; j < kQuantumChars; ++j) {
      // `available` bytes fill available + 1 characters; the rest is padding.
      text += j <= available ? kAlphabet[(bits >> (18 - 6 * j)) & 0x3F] : kPad;
    }
  }
  return text;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % kQuantumChars != 0) return std::nullopt;
  const std::array<int, 256>& table = DecodeTable();
  std::string data;
  data.reserve(text.size() / kQuantumChars * kQuantumBytes);
  for (size_t i = 0; i < text.size(); i += kQuantumChars) {
    // Only the last quantum may end in one or two '='; anywhere else '=' is outside the alphabet.
    size_t padding = 0;
    if (i + kQuantumChars == text.size() && text[i + 3] == kPad) padding = text[i + 2] == kPad ? 2 : 1;
    uint32_t bits = 0;
    for (size_t j = 0; j < kQuantumChars; ++j) {
      int value = 0;
      if (j < kQuantumChars - padding) {
        value = table[static_cast<unsigned char>(text[i + j])];
        if (value == kInvalid) return std::nullopt;
      }
      bits = (bits << 6) | static_cast<uint32_t>(value);
    }
    for (size_t j = 0; j < kQuantumBytes - padding; ++j) data += static_cast<char>((bits >> (16 - 8 * j)) & 0xFF);
  }
  return data;
}

}  // namespace fovea::common
