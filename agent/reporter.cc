#include "agent/reporter.h"

#include <dirent.h>
#include <sys/resource.h>

namespace stampede::agent {
namespace {

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

}  // namespace

Reporter::Reporter(int workers, std::vector<size_t> requests_per_scenario,
                   EmitFn emit, std::function<void()> on_finished)
    : shape_(std::move(requests_per_scenario)),
      emit_(std::move(emit)),
      on_finished_(std::move(on_finished)),
      workers_(workers) {
  fd_dir_ = opendir("/proc/self/fd");
  thread_ = std::thread([this] { Run(); });
}

Reporter::~Reporter() {
  {
    // Unblock Run() if workers never finished (the run was torn down early).
    absl::MutexLock lock(&mu_);
    for (PerWorker& w : workers_) w.finished = true;
    next_ = UINT64_MAX;
  }
  thread_.join();
  if (fd_dir_ != nullptr) closedir(fd_dir_);
}

int64_t Reporter::OpenFds() {
  // The directory stays open from the start: when the process is out of
  // descriptors, which is when this count matters, opening it would fail.
  if (fd_dir_ == nullptr) return -1;
  rewinddir(fd_dir_);
  int64_t n = 0;
  while (const dirent* entry = readdir(fd_dir_)) {
    if (entry->d_name[0] != '.') ++n;
  }
  return n - 1;  // not the one this directory stream holds
}

void Reporter::Deliver(int worker, std::unique_ptr<Window> window, bool last) {
  absl::MutexLock lock(&mu_);
  PerWorker& w = workers_[worker];
  if (last) {
    w.finished = true;
    w.last_index = window->index;
  }
  w.windows.push_back(std::move(window));
}

bool Reporter::Ready(uint64_t k) const {
  for (const PerWorker& w : workers_) {
    bool has = !w.windows.empty() && w.windows.front()->index == k;
    if (!has &&
        !(w.finished && (w.windows.empty() || w.windows.front()->index > k))) {
      return false;
    }
  }
  return true;
}

bool Reporter::AllFinishedBefore(uint64_t k) const {
  for (const PerWorker& w : workers_) {
    if (!w.finished || !w.windows.empty()) return false;
  }
  return true;
}

void Reporter::Run() {
  double cpu_before = ProcessCpuSeconds();
  while (true) {
    Window merged;
    merged.Shape(shape_);
    uint64_t k;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Reporter* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
            return r->next_ == UINT64_MAX || r->Ready(r->next_) ||
                   r->AllFinishedBefore(r->next_);
          },
          this));
      if (next_ == UINT64_MAX) return;
      k = next_;
      if (AllFinishedBefore(k)) break;
      for (PerWorker& w : workers_) {
        if (!w.windows.empty() && w.windows.front()->index == k) {
          merged.Merge(*w.windows.front());
          w.windows.pop_front();
        }
      }
      ++next_;
    }
    merged.index = k;
    merged.open_fds = OpenFds();
    v1::Interval interval;
    merged.ToProto(&interval);
    double cpu_now = ProcessCpuSeconds();
    interval.mutable_agent()->set_cpu_seconds(cpu_now - cpu_before);
    cpu_before = cpu_now;
    emit_(std::move(interval), merged);
  }
  on_finished_();
}

}  // namespace stampede::agent
