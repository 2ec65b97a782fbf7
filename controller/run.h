// `stampede run`: load the plan, gather agents (spawned locally or dialling
// in), prepare them, start them together, merge what they stream, print the
// live view and the summary, judge thresholds and write the outputs. Returns
// the exit code (see result.h).
#ifndef STAMPEDE_CONTROLLER_RUN_H_
#define STAMPEDE_CONTROLLER_RUN_H_

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/control_tls.h"
#include "common/test_types.h"

namespace stampede::controller {

struct RunOptions {
  std::string plan_file;
  int local_agents = 0;   // 0: one per usable CPU (embedded default)
  std::string listen;     // empty: 127.0.0.1:0 for local agents
  int expect_agents = 0;  // > 0: wait for remote agents instead of spawning
  bool insecure = false;  // allow a non-loopback listen without mTLS
  // mTLS for the control plane (--tls-ca/--tls-cert/--tls-key, --agent-san,
  // --token); not enabled(): plaintext, allowed on loopback only.
  common::ControlTlsOptions tls;
  bool strict = false;  // a generator-limited run fails (exit 7)
  absl::Duration registration_timeout = absl::Seconds(60);
  absl::Duration max_clock_skew = absl::Milliseconds(500);
  // "equal" (default), "cores" or "workers": each agent's share weighted by
  // its cores, or by its worker threads (one per usable CPU unless the agent
  // says otherwise).
  std::string split = "equal";
  std::string
      agent_binary;  // for local agents; default: beside this executable
  std::string agent_log_level = "warn";
  // Passed as they are to every local agent (--agent-arg, e.g. the agent's
  // guard rails --allow-targets, --max-rate).
  std::vector<std::string> agent_args;
  std::vector<std::pair<std::string, std::string>> outputs;  // (format, file)
  absl::Duration interval = absl::Seconds(1);
  // --metrics-listen: serve Prometheus text on GET /metrics there (empty: off;
  // a bare port binds 127.0.0.1). --metrics-hold: keep serving this long
  // after the run ended, so a last scrape sees the final counts.
  std::string metrics_listen;
  absl::Duration metrics_hold = absl::ZeroDuration();
  // --dashboard-listen: the live page and its events there (empty: off; a
  // bare port binds 127.0.0.1); --dashboard-token: POST /stop is allowed
  // with it (empty: read-only).
  std::string dashboard_listen;
  std::string dashboard_token;
  // The command as typed (argv joined with spaces), for the result.
  std::string command_line;
  // --type, --vus, --rate, --duration: applied to the plan as it is loaded.
  common::LoadOverrides overrides;
  // Incremented by the signal handler; 1: stop and drain, 2: exit at once.
  const std::atomic<int>* signals = nullptr;
};

int Run(const RunOptions& options);

// `stampede validate`: 0 when the plan (with `overrides` applied) is valid,
// else prints every issue and returns 2.
int Validate(const std::string& plan_file,
             const common::LoadOverrides& overrides = {});

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_RUN_H_
