// Spawns and reaps the local stampede-agent processes of the embedded default.
// Only the PIDs it started are ever signalled. Not thread-safe: used from the
// run's thread.
#ifndef STAMPEDE_CONTROLLER_LOCAL_AGENTS_H_
#define STAMPEDE_CONTROLLER_LOCAL_AGENTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace stampede::controller {

class LocalAgents {
 public:
  LocalAgents() = default;
  ~LocalAgents();  // reaps, killing any still alive
  LocalAgents(const LocalAgents&) = delete;
  LocalAgents& operator=(const LocalAgents&) = delete;

  // The agent binary: `explicit_path` if set, else stampede-agent beside this
  // executable.
  static absl::StatusOr<std::string> FindBinary(
      const std::string& explicit_path);

  absl::Status Spawn(const std::string& binary, const std::string& controller,
                     int count, int workers_each, const std::string& log_level,
                     const std::vector<std::string>& extra_args = {});
  // How many spawned agents have exited so far (reaping them).
  int Exited();
  // Waits up to `grace` for every agent to exit, then SIGKILLs the rest.
  void Reap(absl::Duration grace);

 private:
  std::vector<int> pids_;  // 0 once reaped
};

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_LOCAL_AGENTS_H_
