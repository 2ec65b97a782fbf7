// The plan's `setup:` steps, run once for the whole run by the one agent the
// controller asks, before the common start: one user on its own event loop
// and connection (native HTTP/1.1, the plan's DNS, TLS defaults and the
// agent's allow-list), with the flows' templates, captures and checks. Its
// captures go back to the controller, which hands them to every agent with
// Start. Blocking; call it off the session's thread.
#ifndef STAMPEDE_AGENT_LOAD_SETUP_H_
#define STAMPEDE_AGENT_LOAD_SETUP_H_

#include <map>
#include <string>

#include "absl/time/time.h"
#include "agent/load/run_spec.h"

namespace stampede::agent {

struct SetupOutcome {
  bool ok = false;
  std::map<std::string, std::string> values;  // every setup capture
  std::string failed_step;                    // when not ok
  std::string error;                          // why, in words
};

// Runs `spec.plan`'s setup steps; each request has the plan's timeout, and
// the whole setup at most `limit`.
SetupOutcome RunSetupSteps(const RunSpec& spec, absl::Duration limit);

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_LOAD_SETUP_H_
