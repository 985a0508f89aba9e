#pragma once
// How many CPUs this process may keep busy, as container runtimes and schedulers limit it: the CPUs of its affinity
// mask (taskset, docker --cpuset-cpus, Kubernetes' static CPU manager) and the CFS bandwidth quota of its cgroup or an
// ancestor's (docker --cpus, Kubernetes CPU limits). std::thread::hardware_concurrency() sees neither, so a server
// sized by it in a 1-CPU container would run one engine instance per host core and be throttled.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace fovea::server {

struct CpuBudget {
  int affinity_cpus = 1;             // CPUs in the affinity mask
  std::optional<double> quota_cpus;  // CPU time per period the cgroup quota allows, when there is one
  int usable = 1;                    // see UsableCpus
};

// The budget of the calling process, from sched_getaffinity, /proc/self/cgroup and the files under /sys/fs/cgroup.
CpuBudget DetectCpuBudget();

// The parts, exposed for tests.

// The tightest CPU quota that binds a process whose /proc/self/cgroup reads `proc_self_cgroup`, with the cgroup file
// systems mounted under `root`: cgroup v2 cpu.max and cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us, of the process's
// group and of every ancestor (a parent's limit binds its children). A group path that does not exist under `root`
// (a container's view of its own group is the mount's root) falls back to its nearest existing ancestor. nullopt
// when nothing sets a quota.
std::optional<double> CgroupCpuQuota(const std::filesystem::path& root, std::string_view proc_self_cgroup);

// A cgroup v2 cpu.max file ("150000 100000": quota and period in µs) as CPUs; nullopt for "max ..." (no limit) or
// text that is not a quota.
std::optional<double> CpuMaxQuota(std::string_view cpu_max);

// min(affinity, floor(quota)), at least 1: a fraction of a CPU is not room for one more busy thread.
int UsableCpus(int affinity_cpus, std::optional<double> quota_cpus);

}  // namespace fovea::server
