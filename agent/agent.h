// The agent's control logic: dial the controller, say Hello, build the workers
// for this agent's share on Prepare, start them at Start's time, stream every
// merged interval, and end with Final. Run() is called once, from main's
// thread, which it uses as the control thread; workers and the reporter run on
// their own threads.
#ifndef STAMPEDE_AGENT_AGENT_H_
#define STAMPEDE_AGENT_AGENT_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/control_tls.h"

namespace stampede::agent {

class AgentGuard;

struct AgentOptions {
  std::string controller;  // HOST:PORT
  std::string agent_id;    // default: hostname-pid
  int workers = 0;         // 0: one per usable CPU (common/cpus.h)
  absl::Duration connect_timeout = absl::Seconds(30);
  // For tests of clock handling: this agent's wall clock reads this much
  // ahead of the real one.
  absl::Duration simulate_clock_skew;
  // Set (e.g. by a signal handler) to stop load, drain and say Final.
  const std::atomic<bool>* stop_requested = nullptr;
  // The owner's allow-list and caps (--allow-targets, --max-*); null: the
  // default guard (no caps; all but link-local and metadata addresses).
  std::shared_ptr<const AgentGuard> guard;
  // mTLS to the controller (--tls-ca/--tls-cert/--tls-key, --tls-server-name,
  // --token); not enabled(): plaintext.
  common::ControlTlsOptions tls;
};

// Returns the process exit code: 0 after a run ended with Final; 1 when the
// controller was unreachable, refused this agent, or vanished mid-run.
int RunAgent(const AgentOptions& options);

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_AGENT_H_
