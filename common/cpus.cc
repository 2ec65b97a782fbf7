#include "common/cpus.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace stampede::common {
namespace {

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

// CPUs in this process's affinity mask; 0 if it cannot be read. The mask is
// grown until the kernel accepts it, for machines with more than 1024 CPUs.
int AffinityCpus() {
  for (int size = 1024; size <= (1 << 16); size *= 2) {
    cpu_set_t* set = CPU_ALLOC(size);
    if (set == nullptr) return 0;
    const size_t bytes = CPU_ALLOC_SIZE(size);
    CPU_ZERO_S(bytes, set);
    if (sched_getaffinity(0, bytes, set) == 0) {
      const int count = CPU_COUNT_S(bytes, set);
      CPU_FREE(set);
      return count;
    }
    CPU_FREE(set);
    if (errno != EINVAL) return 0;
  }
  return 0;
}

int OnlineCpus() {
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (online > 0) return static_cast<int>(online);
  return static_cast<int>(std::thread::hardware_concurrency());
}

}  // namespace

std::optional<int> CpusFromCpuMax(std::string_view contents) {
  // absl::string_view is not std::string_view in every Abseil build.
  const absl::string_view text(contents.data(), contents.size());
  std::vector<absl::string_view> fields = absl::StrSplit(
      absl::StripAsciiWhitespace(text), ' ', absl::SkipWhitespace());
  if (fields.size() != 2) return std::nullopt;
  int64_t quota = 0, period = 0;
  if (fields[0] == "max") return std::nullopt;
  if (!absl::SimpleAtoi(fields[0], &quota) ||
      !absl::SimpleAtoi(fields[1], &period) || quota <= 0 || period <= 0) {
    return std::nullopt;
  }
  const int64_t cpus = (quota + period - 1) / period;
  return static_cast<int>(std::min<int64_t>(cpus, 1 << 20));
}

std::optional<std::string> CgroupV2Path(std::string_view proc_self_cgroup) {
  const absl::string_view text(proc_self_cgroup.data(),
                               proc_self_cgroup.size());
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    // v1 lines are "ID:CONTROLLERS:PATH"; the one v2 line has ID 0 and no
    // controllers.
    if (absl::ConsumePrefix(&line, "0::")) {
      line = absl::StripTrailingAsciiWhitespace(line);
      if (!line.empty() && line.front() == '/') return std::string(line);
    }
  }
  return std::nullopt;
}

std::optional<CgroupCpuLimit> CgroupCpuLimitAt(const std::string& root,
                                               const std::string& path) {
  std::optional<CgroupCpuLimit> tightest;
  std::string cgroup = path;
  while (true) {
    // "/a/b" -> root + "/a/b"; "/" -> root itself.
    const std::string dir = cgroup == "/" ? root : root + cgroup;
    if (std::optional<std::string> text = ReadSmallFile(dir + "/cpu.max")) {
      if (std::optional<int> cpus = CpusFromCpuMax(*text);
          cpus && (!tightest || *cpus < tightest->cpus)) {
        tightest = CgroupCpuLimit{
            *cpus, std::string(absl::StripAsciiWhitespace(*text)), cgroup};
      }
    }
    if (cgroup == "/" || cgroup.empty()) break;
    const size_t slash = cgroup.find_last_of('/');
    cgroup = slash == 0 || slash == std::string::npos ? "/"
                                                      : cgroup.substr(0, slash);
  }
  return tightest;
}

CpuCount CountCpus(int affinity_cpus, int online_cpus,
                   const std::optional<std::string>& proc_self_cgroup,
                   const std::string& cgroup_root) {
  const int machine = std::max(1, online_cpus);
  const int affinity = affinity_cpus > 0 ? affinity_cpus : machine;
  std::optional<CgroupCpuLimit> limit;
  if (proc_self_cgroup) {
    if (std::optional<std::string> path = CgroupV2Path(*proc_self_cgroup)) {
      limit = CgroupCpuLimitAt(cgroup_root, *path);
    }
  }
  CpuCount count;
  count.cpus = limit ? std::min(affinity, limit->cpus) : affinity;
  std::string why;
  if (limit && limit->cpus == count.cpus && count.cpus < machine) {
    why =
        absl::StrCat("cgroup cpu.max ", limit->cpu_max, " in ", limit->cgroup);
  } else if (affinity < machine) {
    why = "affinity";
  } else {
    why = "neither affinity nor a cgroup quota limits them";
  }
  count.cpus = std::max(1, count.cpus);
  count.source = absl::StrCat(count.cpus, " of ", machine, " CPUs: ", why);
  return count;
}

CpuCount CountUsableCpus() {
  return CountCpus(AffinityCpus(), OnlineCpus(),
                   ReadSmallFile("/proc/self/cgroup"), "/sys/fs/cgroup");
}

int UsableCpus() { return CountUsableCpus().cpus; }

}  // namespace stampede::common
