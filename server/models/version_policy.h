#pragma once
// VersionPolicy: which versions of each model the server loads, as TensorFlow Serving and Triton name them.
//   latest:N       the N highest versions that load (default latest:1, the default of both)
//   all            every version in the repository
//   specific:1,3   exactly these versions, when present

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace fovea::server {

struct VersionPolicy {
  enum class Kind { kLatest, kAll, kSpecific };
  Kind kind = Kind::kLatest;
  int64_t latest_count = 1;       // kLatest only
  std::vector<int64_t> versions;  // kSpecific only: ascending, unique, positive

  // Whether `version` may be served at all (every version for latest and all).
  bool Allows(int64_t version) const;
  // Whether a model that already serves `served` versions should load another (older) one.
  bool WantsMore(int64_t served) const;
};

// Parses "latest:N", "all" or "specific:V[,V...]"; INVALID_ARGUMENT naming the accepted forms otherwise.
StatusOr<VersionPolicy> ParseVersionPolicy(std::string_view text);

// The policy in the form ParseVersionPolicy reads.
std::string VersionPolicyText(const VersionPolicy& policy);

}  // namespace fovea::server
