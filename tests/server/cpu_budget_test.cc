#include "server/ops/cpu_budget.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <fstream>
#include <random>

namespace fovea::server {
namespace {

namespace fs = std::filesystem;

// A fake cgroup mount tree in a fresh folder, removed with the fixture.
class CgroupTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("fovea-cgroup-" + std::to_string(std::random_device{}()));
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const fs::path& relative, const std::string& text) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << text;
  }

  fs::path root_;
};

TEST(CpuMaxQuotaTest, ReadsQuotaOverPeriodAndNoLimit) {
  EXPECT_DOUBLE_EQ(CpuMaxQuota("150000 100000\n").value(), 1.5);
  EXPECT_DOUBLE_EQ(CpuMaxQuota("50000 100000").value(), 0.5);
  EXPECT_FALSE(CpuMaxQuota("max 100000\n").has_value());
  EXPECT_FALSE(CpuMaxQuota("").has_value());
  EXPECT_FALSE(CpuMaxQuota("100000").has_value());
  EXPECT_FALSE(CpuMaxQuota("-1 100000").has_value());
  EXPECT_FALSE(CpuMaxQuota("12x 100000").has_value());
}

TEST(UsableCpusTest, TheQuotaRoundsDownAndNeverBelowOne) {
  EXPECT_EQ(UsableCpus(8, std::nullopt), 8);
  EXPECT_EQ(UsableCpus(8, 2.0), 2);
  EXPECT_EQ(UsableCpus(8, 2.9), 2);
  EXPECT_EQ(UsableCpus(8, 0.5), 1);
  EXPECT_EQ(UsableCpus(2, 16.0), 2);
  EXPECT_EQ(UsableCpus(0, std::nullopt), 1);
}

TEST_F(CgroupTree, V2QuotaOfTheGroupAndTheTighterOfItsAncestors) {
  Write("kubepods/pod1/cpu.max", "max 100000\n");
  Write("kubepods/pod1/app/cpu.max", "300000 100000\n");
  EXPECT_DOUBLE_EQ(CgroupCpuQuota(root_, "0::/kubepods/pod1/app\n").value(), 3.0);
  Write("kubepods/cpu.max", "200000 100000\n");
  EXPECT_DOUBLE_EQ(CgroupCpuQuota(root_, "0::/kubepods/pod1/app\n").value(), 2.0);
}

TEST_F(CgroupTree, V2ContainerSeesItsOwnGroupAtTheRoot) {
  // With a cgroup namespace the path is "/"; without one it is the host's path, absent from the container's mount.
  Write("cpu.max", "100000 100000\n");
  EXPECT_DOUBLE_EQ(CgroupCpuQuota(root_, "0::/\n").value(), 1.0);
  EXPECT_DOUBLE_EQ(CgroupCpuQuota(root_, "0::/system.slice/docker-abc.scope\n").value(), 1.0);
}

TEST_F(CgroupTree, NoQuotaAnywhereIsNoLimit) {
  Write("user.slice/cpu.max", "max 100000\n");
  EXPECT_FALSE(CgroupCpuQuota(root_, "0::/user.slice\n").has_value());
  EXPECT_FALSE(CgroupCpuQuota(root_, "").has_value());
  EXPECT_FALSE(CgroupCpuQuota(root_ / "missing", "0::/\n1:cpu:/\n").has_value());
}

TEST_F(CgroupTree, V1CpuControllerQuota) {
  Write("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "250000\n");
  Write("cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  const std::string proc_self_cgroup = "5:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n";
  EXPECT_DOUBLE_EQ(CgroupCpuQuota(root_, proc_self_cgroup).value(), 2.5);
}

TEST_F(CgroupTree, V1UnlimitedQuotaAndOtherControllersAreIgnored) {
  Write("cpu/cpu.cfs_quota_us", "-1\n");
  Write("cpu/cpu.cfs_period_us", "100000\n");
  Write("memory/cpu.cfs_quota_us", "100000\n");  // not the cpu controller's
  Write("memory/cpu.cfs_period_us", "100000\n");
  EXPECT_FALSE(CgroupCpuQuota(root_, "4:memory:/\n1:cpu:/\n").has_value());
}

TEST_F(CgroupTree, HybridLayoutReadsTheV1CpuController) {
  // systemd's hybrid layout: a "0::" line for the unified hierarchy, but the cpu controller is v1.
  Write("unified/cgroup.procs", "");
  Write("cpu/cpu.cfs_quota_us", "100000\n");
  Write("cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_DOUBLE_EQ(CgroupCpuQuota(root_, "1:cpu:/\n0::/\n").value(), 1.0);
}

TEST(DetectCpuBudgetTest, CountsTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  const CpuBudget budget = DetectCpuBudget();
  EXPECT_EQ(budget.affinity_cpus, CPU_COUNT(&set));
  EXPECT_EQ(budget.usable, UsableCpus(budget.affinity_cpus, budget.quota_cpus));
  EXPECT_GE(budget.usable, 1);
}

}  // namespace
}  // namespace fovea::server
