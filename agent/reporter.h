// Collects every worker's window for interval k, merges them on its own thread,
// and emits one Interval per k, in order. When every worker has delivered its
// last window it emits nothing more and calls `on_finished`. Deliver is
// thread-safe; the callbacks run on the reporter's thread.
#ifndef STAMPEDE_AGENT_REPORTER_H_
#define STAMPEDE_AGENT_REPORTER_H_

#include <dirent.h>

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "agent/load/measurement.h"
#include "agent/load/worker.h"
#include "stampede/v1/agent.pb.h"

namespace stampede::agent {

class Reporter : public WindowSink {
 public:
  using EmitFn =
      std::function<void(v1::Interval interval, const Window& merged)>;
  Reporter(int workers, std::vector<size_t> requests_per_scenario, EmitFn emit,
           std::function<void()> on_finished);
  ~Reporter() override;

  void Deliver(int worker, std::unique_ptr<Window> window, bool last) override;

 private:
  struct PerWorker {
    std::deque<std::unique_ptr<Window>> windows;
    bool finished = false;
    uint64_t last_index = 0;
  };
  void Run();
  // Descriptors this process holds (-1 if unknown); on the reporter's thread
  // only.
  int64_t OpenFds();
  // Whether interval k can be emitted: each worker has delivered it or has
  // finished before it.
  bool Ready(uint64_t k) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AllFinishedBefore(uint64_t k) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<size_t> shape_;
  EmitFn emit_;
  std::function<void()> on_finished_;
  absl::Mutex mu_;
  std::vector<PerWorker> workers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  DIR* fd_dir_ = nullptr;  // /proc/self/fd, open for the reporter's life
  std::thread thread_;
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_REPORTER_H_
