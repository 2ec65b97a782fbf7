// stampede: the controller and the user's CLI. `run` a plan, `validate` one.
#include <csignal>
#include <cstdio>
#include <thread>

#include "CLI/CLI.hpp"
#include "common/logging.h"
#include "common/version.h"
#include "controller/result.h"
#include "controller/run.h"

namespace {

std::atomic<int> g_signals{0};
void OnSignal(int) { g_signals.fetch_add(1); }

}  // namespace

int main(int argc, char** argv) {
  using stampede::controller::kExitInvalid;
  CLI::App app{
      "stampede: distributed load testing with exact, cluster-wide results"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(stampede::common::kVersion));
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str();

  stampede::controller::RunOptions run;
  std::vector<std::string> outs;
  double registration_timeout_s = 60;
  CLI::App* run_cmd = app.add_subcommand("run", "run a test plan");
  run_cmd->add_option("plan", run.plan_file, "plan file (YAML or JSON)")
      ->required();
  run_cmd
      ->add_option("--local-agents", run.local_agents,
                   "local agent processes to spawn (default: one per core)")
      ->check(CLI::Range(1, 256));
  run_cmd->add_option(
      "--listen", run.listen,
      "control-plane address (default 127.0.0.1:0 for local agents)");
  run_cmd
      ->add_option(
          "--expect-agents", run.expect_agents,
          "wait for this many remote agents instead of spawning local ones")
      ->check(CLI::Range(1, 100000));
  run_cmd
      ->add_option("--registration-timeout", registration_timeout_s,
                   "seconds to wait for --expect-agents agents")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  run_cmd->add_flag("--insecure", run.insecure,
                    "allow a non-loopback --listen without mTLS");
  run_cmd->add_flag(
      "--strict", run.strict,
      "fail (exit 7) when the generator, not the target, was the limit");
  run_cmd->add_option("--agent-binary", run.agent_binary,
                      "stampede-agent to spawn (default: beside this binary)");
  run_cmd
      ->add_option("--agent-log-level", run.agent_log_level,
                   "log level of local agents")
      ->capture_default_str();
  run_cmd->add_option("--out", outs,
                      "write the result: json=FILE (repeatable)");

  std::string validate_file;
  CLI::App* validate_cmd =
      app.add_subcommand("validate", "check a plan; exit 0 or 2");
  validate_cmd->add_option("plan", validate_file, "plan file (YAML or JSON)")
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitInvalid;
  }
  if (absl::Status s = stampede::common::InitLogging("stampede", log_level);
      !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return kExitInvalid;
  }
  if (validate_cmd->parsed())
    return stampede::controller::Validate(validate_file);

  for (const std::string& out : outs) {
    size_t eq = out.find('=');
    std::string format = out.substr(0, eq);
    if (eq == std::string::npos || eq + 1 == out.size() || format != "json") {
      std::fprintf(stderr, "--out %s: expected json=FILE\n", out.c_str());
      return kExitInvalid;
    }
    run.outputs.emplace_back(format, out.substr(eq + 1));
  }
  if (run.expect_agents > 0 && run.local_agents > 0) {
    std::fprintf(stderr,
                 "--local-agents and --expect-agents exclude each other\n");
    return kExitInvalid;
  }
  run.registration_timeout = absl::Seconds(registration_timeout_s);
  run.signals = &g_signals;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  return stampede::controller::Run(run);
}
