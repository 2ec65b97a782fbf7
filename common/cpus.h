// How many CPUs this process may really use: the CPUs in its affinity mask,
// capped by the cgroup v2 CPU quota (cpu.max) of its cgroup and its ancestors,
// as Go's and Java's runtimes size themselves in containers. Sizing threads by
// std::thread::hardware_concurrency() instead starts 64 workers in a pod
// limited to 2 CPUs, and the CFS quota then throttles them all.
// Thread-safe: the functions read files and the affinity mask, nothing shared.
#ifndef STAMPEDE_COMMON_CPUS_H_
#define STAMPEDE_COMMON_CPUS_H_

#include <optional>
#include <string>
#include <string_view>

namespace stampede::common {

// The number, and a few words on where it came from for a log line, e.g.
// "2 of 64 CPUs: cgroup cpu.max 200000 100000 in /kubepods/pod1" or
// "1 of 2 CPUs: affinity".
struct CpuCount {
  int cpus = 1;  // at least 1
  std::string source;
};

// ceil(quota / period) of a cgroup v2 cpu.max file ("QUOTA PERIOD"), at least
// 1: a quota of 1.5 CPUs can keep two threads busy part of the time, so the
// second is worth having. nullopt for "max ..." (no limit) and for anything
// that does not parse, which is then no limit either.
std::optional<int> CpusFromCpuMax(std::string_view contents);

// The cgroup v2 path ("/a/b") from the contents of /proc/self/cgroup: its
// "0::PATH" line. nullopt when there is none (cgroup v1 only).
std::optional<std::string> CgroupV2Path(std::string_view proc_self_cgroup);

// The tightest cpu.max limit on cgroup `path` under `root` (a cgroup v2 mount
// such as /sys/fs/cgroup): the cgroup's own and every ancestor's up to and
// including `root`, since a child cannot use more than its parent allows. In a
// container with its own cgroup namespace the path is "/" and `root` itself
// carries the pod's limit.
struct CgroupCpuLimit {
  int cpus = 0;
  std::string cpu_max;  // the file's contents, trimmed: "200000 100000"
  std::string cgroup;   // the cgroup that set it, e.g. "/kubepods/pod1"
};
std::optional<CgroupCpuLimit> CgroupCpuLimitAt(const std::string& root,
                                               const std::string& path);

// Combines the pieces: `affinity_cpus` (<= 0: unknown) and `online_cpus` (the
// machine's, for the source text), and the cgroup limit found from
// `proc_self_cgroup` (nullopt: unreadable) under `cgroup_root`.
CpuCount CountCpus(int affinity_cpus, int online_cpus,
                   const std::optional<std::string>& proc_self_cgroup,
                   const std::string& cgroup_root);

// CountCpus for this process: sched_getaffinity(0), /proc/self/cgroup and
// /sys/fs/cgroup.
CpuCount CountUsableCpus();

// CountUsableCpus().cpus.
int UsableCpus();

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_CPUS_H_
