#include "server/models/version_policy.h"

#include <algorithm>
#include <charconv>

namespace fovea::server {
namespace {

constexpr std::string_view kLatestPrefix = "latest:";
constexpr std::string_view kSpecificPrefix = "specific:";
constexpr int64_t kMaxLatestCount = 1 << 20;

// A whole positive decimal number, or 0.
int64_t ParsePositive(std::string_view text) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value <= 0) return 0;
  return value;
}

Status BadPolicy(std::string_view text) {
  std::string message = "'";  // appended step by step: GCC 12 misreports "x" + std::string under -Wrestrict
  message.append(text).append(
      "' is not a version policy (latest:N with N >= 1, all, or specific:V[,V...] with positive versions)");
  return InvalidArgument(std::move(message));
}

}  // namespace

bool VersionPolicy::Allows(int64_t version) const {
  return kind != Kind::kSpecific || std::binary_search(versions.begin(), versions.end(), version);
}

bool VersionPolicy::WantsMore(int64_t served) const { return kind != Kind::kLatest || served < latest_count; }

StatusOr<VersionPolicy> ParseVersionPolicy(std::string_view text) {
  VersionPolicy policy;
  if (text == "all") {
    policy.kind = VersionPolicy::Kind::kAll;
    return policy;
  }
  if (text.starts_with(kLatestPrefix)) {
    policy.latest_count = ParsePositive(text.substr(kLatestPrefix.size()));
    if (policy.latest_count == 0 || policy.latest_count > kMaxLatestCount) return BadPolicy(text);
    return policy;
  }
  if (!text.starts_with(kSpecificPrefix)) return BadPolicy(text);
  policy.kind = VersionPolicy::Kind::kSpecific;
  std::string_view list = text.substr(kSpecificPrefix.size());
  while (true) {
    const size_t comma = list.find(',');
    const int64_t version = ParsePositive(list.substr(0, comma));
    if (version == 0) return BadPolicy(text);
    policy.versions.push_back(version);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  std::sort(policy.versions.begin(), policy.versions.end());
  policy.versions.erase(std::unique(policy.versions.begin(), policy.versions.end()), policy.versions.end());
  return policy;
}

std::string VersionPolicyText(const VersionPolicy& policy) {
  switch (policy.kind) {
    case VersionPolicy::Kind::kAll:
      return "all";
    case VersionPolicy::Kind::kLatest:
      return std::string(kLatestPrefix) + std::to_string(policy.latest_count);
    case VersionPolicy::Kind::kSpecific:
      break;
  }
  std::string text(kSpecificPrefix);
  for (const int64_t version : policy.versions) {
    if (text.size() > kSpecificPrefix.size()) text += ',';
    text += std::to_string(version);
  }
  return text;
}

}  // namespace fovea::server
