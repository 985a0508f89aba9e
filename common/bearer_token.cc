#include "common/bearer_token.h"

namespace fovea::common {
namespace {

constexpr std::string_view kWhitespace = " \t\r\n";
constexpr char kPrintableFirst = '!';  // printable ASCII without the space
constexpr char kPrintableLast = '~';

}  // namespace

StatusOr<std::string> ParseBearerToken(std::string_view content) {
  const size_t first = content.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return InvalidArgument("the token file is empty");
  const std::string_view token = content.substr(first, content.find_last_not_of(kWhitespace) - first + 1);
  for (char c : token) {
    if (c < kPrintableFirst || c > kPrintableLast) {
      return InvalidArgument("the token must be printable ASCII without spaces (it is sent as a header)");
    }
  }
  return std::string(token);
}

}  // namespace fovea::common
