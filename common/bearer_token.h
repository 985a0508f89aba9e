#pragma once
// The bearer token file format, shared by fovea-server (--auth-token-file) and the fovea client (--auth-token-file).

#include <string>
#include <string_view>

#include "common/status.h"

namespace fovea::common {

// The token in a token file's `content`: surrounding whitespace (such as a trailing newline) is dropped, and what
// remains must be non-empty printable ASCII without spaces, because it travels in an HTTP/2 header. INVALID_ARGUMENT
// saying why when the content is not a usable token.
StatusOr<std::string> ParseBearerToken(std::string_view content);

}  // namespace fovea::common
