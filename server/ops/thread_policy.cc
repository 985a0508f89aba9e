#include "server/ops/thread_policy.h"

#include <sched.h>

#include <cerrno>
#include <cstring>

namespace fovea::server {
namespace {

Status SetThisThreadPolicy(int policy) {
  const sched_param parameters{};  // priority 0: the only one SCHED_OTHER and SCHED_BATCH take
  // On Linux, pid 0 with sched_setscheduler means the calling thread, not the whole process.
  if (sched_setscheduler(0, policy, &parameters) != 0) {
    return Internal(std::string("sched_setscheduler failed: ") + std::strerror(errno));
  }
  return OkStatus();
}

}  // namespace

StatusOr<ServingThreadPolicy> ParseServingThreadPolicy(const std::string& text) {
  if (text == "batch") return ServingThreadPolicy::kBatch;
  if (text == "normal") return ServingThreadPolicy::kNormal;
  return InvalidArgument("serving thread policy '" + text + "' is not batch or normal");
}

const char* ServingThreadPolicyName(ServingThreadPolicy policy) {
  return policy == ServingThreadPolicy::kBatch ? "batch" : "normal";
}

Status ApplyServingThreadPolicy(ServingThreadPolicy policy) {
  return SetThisThreadPolicy(policy == ServingThreadPolicy::kBatch ? SCHED_BATCH : SCHED_OTHER);
}

void UseComputeThreadPolicy() {
  // Switching between the two non-real-time policies needs no privilege; if it fails anyway, the thread keeps the
  // serving policy, which is slower under load but correct.
  (void)SetThisThreadPolicy(SCHED_OTHER);
}

}  // namespace fovea::server
