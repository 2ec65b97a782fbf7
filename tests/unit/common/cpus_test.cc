#include "common/cpus.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace stampede::common {
namespace {

TEST(CpusFromCpuMaxTest, MaxMeansNoLimit) {
  EXPECT_EQ(CpusFromCpuMax("max 100000\n"), std::nullopt);
}

TEST(CpusFromCpuMaxTest, WholeCpus) {
  EXPECT_EQ(CpusFromCpuMax("200000 100000\n"), 2);
  EXPECT_EQ(CpusFromCpuMax("100000 100000"), 1);
}

TEST(CpusFromCpuMaxTest, PartsOfACpuRoundUp) {
  EXPECT_EQ(CpusFromCpuMax("150000 100000\n"), 2);
  EXPECT_EQ(CpusFromCpuMax("50000 100000\n"), 1);
  EXPECT_EQ(CpusFromCpuMax("1000 100000\n"), 1);
}

TEST(CpusFromCpuMaxTest, GarbageIsNoLimit) {
  EXPECT_EQ(CpusFromCpuMax(""), std::nullopt);
  EXPECT_EQ(CpusFromCpuMax("garbage"), std::nullopt);
  EXPECT_EQ(CpusFromCpuMax("200000"), std::nullopt);
  EXPECT_EQ(CpusFromCpuMax("200000 100000 7"), std::nullopt);
  EXPECT_EQ(CpusFromCpuMax("-5 100000"), std::nullopt);
  EXPECT_EQ(CpusFromCpuMax("200000 0"), std::nullopt);
  EXPECT_EQ(CpusFromCpuMax("2e5 1e5"), std::nullopt);
}

TEST(CgroupV2PathTest, PureV2) {
  EXPECT_EQ(CgroupV2Path("0::/kubepods/burstable/pod1/c1\n"),
            "/kubepods/burstable/pod1/c1");
  EXPECT_EQ(CgroupV2Path("0::/\n"), "/");
}

TEST(CgroupV2PathTest, HybridV1AndV2) {
  EXPECT_EQ(CgroupV2Path("12:cpu,cpuacct:/docker/abc\n"
                         "4:memory:/docker/abc\n"
                         "1:name=systemd:/docker/abc\n"
                         "0::/system.slice/docker-abc.scope\n"),
            "/system.slice/docker-abc.scope");
}

TEST(CgroupV2PathTest, NoneWithV1Only) {
  EXPECT_EQ(CgroupV2Path("12:cpu,cpuacct:/docker/abc\n"
                         "1:name=systemd:/docker/abc\n"),
            std::nullopt);
  EXPECT_EQ(CgroupV2Path(""), std::nullopt);
}

// A fake cgroup v2 tree in a temporary directory.
class FakeCgroupTree : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/stampede-cpus-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // Makes cgroup `path` ("/a/b") and, unless empty, its cpu.max.
  void Cgroup(const std::string& path, const std::string& cpu_max) {
    std::string dir = root_;
    for (size_t i = 1; i <= path.size(); ++i) {
      if (i == path.size() || path[i] == '/') {
        dir = root_ + path.substr(0, i);
        mkdir(dir.c_str(), 0755);
      }
    }
    if (!cpu_max.empty()) std::ofstream(dir + "/cpu.max") << cpu_max << "\n";
  }

  std::string root_;
};

TEST_F(FakeCgroupTree, OwnLimit) {
  Cgroup("/pod", "max 100000");
  Cgroup("/pod/c", "300000 100000");
  std::optional<CgroupCpuLimit> limit = CgroupCpuLimitAt(root_, "/pod/c");
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(limit->cpus, 3);
  EXPECT_EQ(limit->cpu_max, "300000 100000");
  EXPECT_EQ(limit->cgroup, "/pod/c");
}

TEST_F(FakeCgroupTree, ParentWithALowerLimitWins) {
  Cgroup("/kubepods", "max 100000");
  Cgroup("/kubepods/pod", "200000 100000");
  Cgroup("/kubepods/pod/c", "800000 100000");
  std::optional<CgroupCpuLimit> limit =
      CgroupCpuLimitAt(root_, "/kubepods/pod/c");
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(limit->cpus, 2);
  EXPECT_EQ(limit->cgroup, "/kubepods/pod");
}

TEST_F(FakeCgroupTree, NamespaceRootCarriesThePodLimit) {
  // Inside a cgroup namespace /proc/self/cgroup says "0::/" and the mount's
  // own cpu.max is the container's.
  std::ofstream(root_ + "/cpu.max") << "150000 100000\n";
  std::optional<CgroupCpuLimit> limit = CgroupCpuLimitAt(root_, "/");
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(limit->cpus, 2);
  EXPECT_EQ(limit->cgroup, "/");
}

TEST_F(FakeCgroupTree, NoFilesNoLimit) {
  Cgroup("/a/b", "");
  EXPECT_FALSE(CgroupCpuLimitAt(root_, "/a/b").has_value());
  EXPECT_FALSE(CgroupCpuLimitAt(root_, "/not/there").has_value());
}

TEST_F(FakeCgroupTree, CountTakesTheLowerOfAffinityAndQuota) {
  Cgroup("/pod", "200000 100000");
  CpuCount quota = CountCpus(64, 64, "0::/pod\n", root_);
  EXPECT_EQ(quota.cpus, 2);
  EXPECT_EQ(quota.source, "2 of 64 CPUs: cgroup cpu.max 200000 100000 in /pod");

  CpuCount affinity = CountCpus(1, 64, "0::/pod\n", root_);
  EXPECT_EQ(affinity.cpus, 1);
  EXPECT_EQ(affinity.source, "1 of 64 CPUs: affinity");
}

TEST_F(FakeCgroupTree, CountWithoutLimits) {
  EXPECT_EQ(CountCpus(1, 2, std::nullopt, root_).source,
            "1 of 2 CPUs: affinity");
  CpuCount all = CountCpus(2, 2, "12:cpu:/x\n", root_);
  EXPECT_EQ(all.cpus, 2);
  EXPECT_EQ(all.source,
            "2 of 2 CPUs: neither affinity nor a cgroup quota limits them");
  // An unreadable affinity mask falls back to the machine's count.
  EXPECT_EQ(CountCpus(0, 4, std::nullopt, root_).cpus, 4);
}

TEST(UsableCpusTest, ThisProcessHasAtLeastOne) {
  const int cpus = UsableCpus();
  EXPECT_GE(cpus, 1);
  const unsigned machine = std::thread::hardware_concurrency();
  if (machine > 0) {
    EXPECT_LE(cpus, static_cast<int>(machine));
  }
  EXPECT_NE(CountUsableCpus().source.find(" CPUs: "), std::string::npos);
}

}  // namespace
}  // namespace stampede::common
