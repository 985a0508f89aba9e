#include "server/ops/cpu_budget.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

namespace fovea::server {
namespace {

namespace fs = std::filesystem;

// A quota file of one group directory, as CPUs; nullopt when the directory sets none.
using QuotaReader = std::function<std::optional<double>(const fs::path& group_dir)>;

std::string ReadSmallFile(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::optional<long long> ParseInteger(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return std::nullopt;
  text = text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> QuotaOf(std::optional<long long> quota_us, std::optional<long long> period_us) {
  if (!quota_us || !period_us || *quota_us <= 0 || *period_us <= 0) return std::nullopt;
  return static_cast<double>(*quota_us) / static_cast<double>(*period_us);
}

std::optional<double> Tighter(std::optional<double> a, std::optional<double> b) {
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

std::optional<double> CpuMaxFile(const fs::path& group_dir) {
  return CpuMaxQuota(ReadSmallFile(group_dir / "cpu.max"));
}

std::optional<double> CfsQuotaFiles(const fs::path& group_dir) {
  return QuotaOf(ParseInteger(ReadSmallFile(group_dir / "cpu.cfs_quota_us")),
                 ParseInteger(ReadSmallFile(group_dir / "cpu.cfs_period_us")));
}

// The tightest quota of `group` (a path from /proc/self/cgroup) and its ancestors in the hierarchy mounted at `mount`.
std::optional<double> HierarchyQuota(const fs::path& mount, std::string_view group, const QuotaReader& read) {
  if (!fs::is_directory(mount)) return std::nullopt;
  std::optional<double> tightest;
  fs::path relative = fs::path(group).relative_path();
  while (true) {
    if (fs::is_directory(mount / relative)) tightest = Tighter(tightest, read(mount / relative));
    if (relative.empty()) return tightest;
    relative = relative.parent_path();
  }
}

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, separator);) parts.push_back(part);
  return parts;
}

int AffinityCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    return static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  }
  return CPU_COUNT(&set);
}

}  // namespace

std::optional<double> CgroupCpuQuota(const fs::path& root, std::string_view proc_self_cgroup) {
  std::optional<double> tightest;
  std::istringstream lines{std::string(proc_self_cgroup)};
  // Each line is "hierarchy-id:controllers:path"; cgroup v2's is "0::path".
  for (std::string line; std::getline(lines, line);) {
    const size_t first = line.find(':');
    const size_t second = first == std::string::npos ? std::string::npos : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string group = line.substr(second + 1);
    if (controllers.empty()) {
      tightest = Tighter(tightest, HierarchyQuota(root, group, CpuMaxFile));
      continue;
    }
    const std::vector<std::string> names = Split(controllers, ',');
    if (std::find(names.begin(), names.end(), "cpu") == names.end()) continue;
    // v1 mounts the cpu controller at cgroup/cpu, or at cgroup/cpu,cpuacct with cgroup/cpu a link to it.
    const fs::path mount = fs::is_directory(root / controllers) ? root / controllers : root / "cpu";
    tightest = Tighter(tightest, HierarchyQuota(mount, group, CfsQuotaFiles));
  }
  return tightest;
}

std::optional<double> CpuMaxQuota(std::string_view cpu_max) {
  std::istringstream fields{std::string(cpu_max)};
  std::string quota;
  std::string period;
  if (!(fields >> quota >> period)) return std::nullopt;
  return QuotaOf(ParseInteger(quota), ParseInteger(period));  // "max" parses as no number: no limit
}

int UsableCpus(int affinity_cpus, std::optional<double> quota_cpus) {
  int usable = std::max(1, affinity_cpus);
  if (quota_cpus) usable = std::min(usable, static_cast<int>(std::floor(*quota_cpus)));
  return std::max(1, usable);
}

CpuBudget DetectCpuBudget() {
  CpuBudget budget;
  budget.affinity_cpus = AffinityCpus();
  budget.quota_cpus = CgroupCpuQuota("/sys/fs/cgroup", ReadSmallFile("/proc/self/cgroup"));
  budget.usable = UsableCpus(budget.affinity_cpus, budget.quota_cpus);
  return budget;
}

}  // namespace fovea::server
