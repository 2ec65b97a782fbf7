// The agent owner's guard rails: which targets this agent may load
// (--allow-targets, checked here at Prepare and by every transport on each
// new connection) and how much of a plan it takes on (--max-rate,
// --max-connections, --max-duration). A controller cannot talk an agent past
// them. Immutable once created; thread-safe.
#ifndef STAMPEDE_AGENT_GUARD_H_
#define STAMPEDE_AGENT_GUARD_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/load/run_spec.h"
#include "common/allow_list.h"

namespace stampede::agent {

class AgentGuard {
 public:
  // The flags' text; empty (or 0) leaves that one unset.
  struct Flags {
    std::string allow_targets;  // common::AllowList's syntax
    std::string max_rate;       // "100", "100/s", "6000/m"
    int64_t max_connections = 0;
    std::string max_duration;  // "1h", "30m"
  };

  // An error names the flag and what is wrong with it.
  static absl::StatusOr<std::unique_ptr<AgentGuard>> Create(const Flags& flags);
  // No caps, the default allow-list (all but link-local and metadata).
  static const AgentGuard& Default();

  // OK, or why this agent (`agent_id`) refuses its share of the plan: a
  // scenario over a cap, or a request URL (or its proxy) that resolves to an
  // address the allow-list denies. Blocks on DNS for named hosts.
  absl::Status CheckPlan(const RunSpec& spec,
                         const std::string& agent_id) const;

  // What the transports check each new connection against; lives as long as
  // the guard.
  const common::AllowList& allow_list() const { return allow_; }

 private:
  AgentGuard() = default;

  common::AllowList allow_;
  double max_rate_ = 0;  // per second; 0: none
  int64_t max_connections_ = 0;
  absl::Duration max_duration_ = absl::ZeroDuration();  // zero: none
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_GUARD_H_
