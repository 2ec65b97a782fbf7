// stampede-agent: dials a Stampede controller and generates the load it is
// given.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "CLI/CLI.hpp"
#include "agent/agent.h"
#include "agent/guard.h"
#include "common/logging.h"
#include "common/version.h"

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"stampede-agent: generates load for a Stampede controller"};
  stampede::agent::AgentOptions options;
  std::string log_level = "info";
  double connect_timeout_s = 30;
  app.add_option("--controller", options.controller,
                 "controller address HOST:PORT")
      ->required();
  app.add_option("--agent-id", options.agent_id,
                 "name in reports (default: hostname-pid)");
  app.add_option("--workers", options.workers,
                 "load worker threads (default: one per usable CPU (affinity "
                 "and cgroup quota))")
      ->check(CLI::Range(0, 1024));
  app.add_option("--connect-timeout", connect_timeout_s,
                 "seconds to wait for the controller")
      ->check(CLI::PositiveNumber);
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off");
  double skew_ms = 0;
  app.add_option("--simulate-clock-skew", skew_ms,
                 "testing: act as if this host's clock ran this many ms ahead");
  stampede::agent::AgentGuard::Flags guard;
  app.add_option("--allow-targets", guard.allow_targets,
                 "targets this agent may load: comma-separated CIDR[:PORTS] "
                 "or HOSTPATTERN[:PORTS] (default: any but link-local and "
                 "cloud metadata addresses)");
  app.add_option("--max-rate", guard.max_rate,
                 "refuse plans asking this agent for more arrivals per second "
                 "(open model, all scenarios at their peaks)");
  app.add_option("--max-connections", guard.max_connections,
                 "refuse plans asking this agent for more connections "
                 "(max_connections plus peak VUs)")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-duration", guard.max_duration,
                 "refuse plans longer than this (e.g. 1h)");
  app.add_option("--tls-ca", options.tls.ca_file,
                 "control-plane mTLS: CA (PEM) that signed the controller's "
                 "certificate (with --tls-cert, --tls-key; see "
                 "scripts/dev-certs)");
  app.add_option("--tls-cert", options.tls.cert_file,
                 "control-plane mTLS: this agent's certificate (PEM)");
  app.add_option("--tls-key", options.tls.key_file,
                 "control-plane mTLS: this agent's private key (PEM)");
  app.add_option("--tls-server-name", options.tls.server_name,
                 "control-plane mTLS: name the controller's certificate must "
                 "carry (default: the host of --controller)");
  app.add_option("--token", options.tls.token,
                 "control-plane mTLS: bearer token the controller requires "
                 "(default: $STAMPEDE_TOKEN, which ps does not show)");
  app.set_version_flag("--version", std::string(stampede::common::kVersion));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (absl::Status s = stampede::common::InitLogging("agent", log_level);
      !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  absl::StatusOr<std::unique_ptr<stampede::agent::AgentGuard>> made =
      stampede::agent::AgentGuard::Create(guard);
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", std::string(made.status().message()).c_str());
    return 2;
  }
  options.guard = std::move(*made);
  if (!options.tls.enabled() &&
      (!options.tls.server_name.empty() || !options.tls.token.empty())) {
    std::fprintf(stderr,
                 "--tls-server-name and --token need --tls-ca, --tls-cert and "
                 "--tls-key\n");
    return 2;
  }
  if (const char* env = std::getenv("STAMPEDE_TOKEN");
      options.tls.enabled() && options.tls.token.empty() && env != nullptr) {
    options.tls.token = env;  // only with TLS: local agents ignore it
  }
  options.connect_timeout = absl::Seconds(connect_timeout_s);
  options.simulate_clock_skew = absl::Milliseconds(skew_ms);
  options.stop_requested = &g_stop;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  // Each connection is a descriptor: take all the hard limit allows (a shell
  // usually starts us at 1024), as a server would.
  rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 &&
      files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  return stampede::agent::RunAgent(options);
}
