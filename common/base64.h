#pragma once
// Base64 (RFC 4648, standard alphabet, '=' padding): binary data inside JSON, such as encoded images in REST requests
// and PNG overlays in REST responses.

#include <optional>
#include <string>
#include <string_view>

namespace fovea::common {

// `data` as padded base64 text.
std::string Base64Encode(std::string_view data);

// The bytes `text` encodes, or std::nullopt when it is not padded base64 (wrong length, a character outside the
// alphabet, padding in the middle). Whitespace is not accepted.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace fovea::common
