#pragma once
// Text helpers shared by the server (JSON log lines) and the client (JSON output), which must not depend on each other.

#include <string>
#include <string_view>

namespace fovea::common {

// `text` escaped for use inside a JSON string literal (quotes, backslashes and control characters), without the
// surrounding quotes.
std::string JsonEscape(std::string_view text);

}  // namespace fovea::common
