#include "controller/cli.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/logging.h"
#include "common/units.h"
#include "common/version.h"
#include "controller/capacity/capacity_run.h"
#include "controller/report/compare.h"
#include "controller/report/format.h"
#include "controller/report/report.h"
#include "controller/result.h"
#include "controller/run.h"

namespace stampede::controller {
namespace {

// argv as the result records it: joined with spaces, an argument with a
// space or quote in single quotes, and the value of --token (the control
// plane's shared secret, also inside --agent-arg) and --dashboard-token shown
// as <redacted>.
std::string CommandLine(int argc, char** argv) {
  std::string out;
  bool secret_next = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (secret_next) {
      arg = "<redacted>";
      secret_next = false;
    } else if (arg == "--token" || arg == "--dashboard-token") {
      secret_next = true;
    } else if (size_t at = arg.find("-token="); at != std::string::npos) {
      arg = arg.substr(0, at + 7) + "<redacted>";
    }
    if (arg.find_first_of(" \t'\"$") != std::string::npos) {
      std::string quoted = "'";
      for (char c : arg)
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      arg = quoted + "'";
    }
    if (i > 0) out += ' ';
    out += arg;
  }
  return out;
}

// "300/s", "30/m" or a bare "300" (per second).
absl::StatusOr<double> ParseRateFlag(const std::string& flag,
                                     const std::string& text) {
  double v = 0;
  if (absl::SimpleAtod(text, &v) && v > 0) return v;
  absl::StatusOr<double> rate = common::ParseRate(text);
  if (rate.ok() && *rate > 0) return *rate;
  return absl::InvalidArgumentError(
      absl::StrCat(flag, " ", text, ": not a rate above 0 (e.g. 300/s)"));
}

// "20%" or 0.2; growth may be above 100 %.
absl::StatusOr<double> ParsePercentFlag(const std::string& flag,
                                        absl::string_view text) {
  double v = 0;
  absl::string_view number = absl::StripAsciiWhitespace(text);
  const bool percent = absl::ConsumeSuffix(&number, "%");
  if (!absl::SimpleAtod(number, &v) || v < 0 || std::isnan(v) ||
      (percent ? v > 10000 : v > 100)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", text, ": not a percentage (e.g. 20% or 0.2)"));
  }
  return percent ? v / 100 : v;
}

absl::Status ParseProjectionFlags(const std::string& target,
                                  const std::string& growth,
                                  const std::string& from,
                                  const std::string& buffer,
                                  capacity::ProjectionAsk* ask) {
  if (!target.empty()) {
    absl::StatusOr<double> v = ParseRateFlag("--target-rps", target);
    if (!v.ok()) return v.status();
    ask->target_rps = *v;
  }
  absl::StatusOr<double> b = ParsePercentFlag("--buffer", buffer);
  if (!b.ok()) return b.status();
  ask->buffer = *b;
  if (growth.empty()) {
    if (!from.empty())
      return absl::InvalidArgumentError("--from goes with --growth");
    return absl::OkStatus();
  }
  for (absl::string_view g : absl::StrSplit(growth, ',')) {
    absl::StatusOr<double> v = ParsePercentFlag("--growth", g);
    if (!v.ok()) return v.status();
    ask->growth.push_back(*v);
  }
  if (from.empty())
    return absl::InvalidArgumentError(
        "--growth needs --from, today's load (e.g. --from 100/s)");
  absl::StatusOr<double> f = ParseRateFlag("--from", from);
  if (!f.ok()) return f.status();
  ask->from_rps = *f;
  return absl::OkStatus();
}

// One plan, any test type: the flags of common::LoadOverrides, for `run`
// and `validate`.
void AddLoadOverrides(CLI::App* cmd, common::LoadOverrides* overrides) {
  cmd->add_option("--type", overrides->type,
                  "the test type instead of the plan's (smoke, load, stress, "
                  "spike, soak, breakpoint give stages to scenarios without)");
  cmd->add_option("--vus", overrides->vus,
                  "scale each closed-model load's VU stages to this peak");
  cmd->add_option("--rate", overrides->rate,
                  "scale each open-model load's rate stages to this peak, "
                  "e.g. 200/s");
  cmd->add_option("--duration", overrides->duration,
                  "scale each load's stages to last this long, e.g. 90s, 2m");
}

}  // namespace

int RunCli(int argc, char** argv, const std::atomic<int>* signals) {
  CLI::App app{
      "stampede: distributed load testing with exact, cluster-wide results"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(common::kVersion));
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str();
  app.footer(
      "Exit codes: 0 passed, 1 internal error, 2 invalid plan or flags, 3 "
      "thresholds failed "
      "(or a regression), 4 aborted, 5 not enough agents, 6 agents lost, 7 "
      "generator "
      "saturated (--strict), 8 the plan's setup failed.");

  RunOptions run;
  std::vector<std::string> outs;
  double registration_timeout_s = 60;
  double metrics_hold_s = 0;
  double max_clock_skew_ms = 500;
  // What `run` and `capacity` share: the plan, the agents, the control plane.
  auto add_agent_options = [&](CLI::App* cmd) {
    cmd->add_option("plan", run.plan_file, "plan file (YAML or JSON)")
        ->required();
    cmd->add_option(
           "--local-agents", run.local_agents,
           "local agent processes to spawn (default: one per usable CPU "
           "(affinity and cgroup quota))")
        ->check(CLI::Range(1, 256));
    cmd->add_option(
        "--listen", run.listen,
        "control-plane address (default 127.0.0.1:0 for local agents)");
    cmd->add_option(
           "--expect-agents", run.expect_agents,
           "wait for this many remote agents instead of spawning local ones")
        ->check(CLI::Range(1, 100000));
    cmd->add_option("--registration-timeout", registration_timeout_s,
                    "seconds to wait for --expect-agents agents")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->add_option("--max-clock-skew", max_clock_skew_ms,
                    "milliseconds an agent's clock may be off the controller's "
                    "(estimated from heartbeats) before the run is refused "
                    "(exit 5); above 50 a warning")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option(
           "--split", run.split,
           "how the plan is divided: equal shares, or weighted by each "
           "agent's cores, or by its worker threads (one per usable CPU "
           "(affinity and cgroup quota) unless the agent was given "
           "--workers)")
        ->check(CLI::IsMember({"equal", "cores", "workers"}))
        ->capture_default_str();
    cmd->add_flag("--insecure", run.insecure,
                  "allow a non-loopback --listen without mTLS");
    cmd->add_option("--tls-ca", run.tls.ca_file,
                    "control-plane mTLS: CA (PEM) that signed the agents' "
                    "certificates (with --tls-cert, --tls-key; see "
                    "scripts/dev-certs)");
    cmd->add_option("--tls-cert", run.tls.cert_file,
                    "control-plane mTLS: this controller's certificate (PEM)");
    cmd->add_option("--tls-key", run.tls.key_file,
                    "control-plane mTLS: this controller's private key (PEM)");
    cmd->add_option("--agent-san", run.tls.agent_san,
                    "control-plane mTLS: agents' certificates must name a "
                    "SAN matching this pattern ('*': one or more "
                    "characters), e.g. 'agent-*.stampede.local'");
    cmd->add_option("--token", run.tls.token,
                    "control-plane mTLS: agents must also send this bearer "
                    "token (default: $STAMPEDE_TOKEN, which ps does not "
                    "show)");
    cmd->add_flag(
        "--strict", run.strict,
        "fail (exit 7) when the generator, not the target, was the limit");
    cmd->add_option("--agent-binary", run.agent_binary,
                    "stampede-agent to spawn (default: beside this binary)");
    cmd->add_option("--agent-log-level", run.agent_log_level,
                    "log level of local agents")
        ->capture_default_str();
    cmd->add_option("--agent-arg", run.agent_args,
                    "an argument for every local agent, e.g. "
                    "--agent-arg=--allow-targets=127.0.0.0/8 (repeatable)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--out", outs,
                    "write the result: FORMAT=FILE, FORMAT "
                    "json|md|junit|csv|summary|hdr|html "
                    "(repeatable; FILE - is standard output)");
  };
  CLI::App* run_cmd = app.add_subcommand("run", "run a test plan");
  add_agent_options(run_cmd);
  run_cmd->add_option(
      "--metrics-listen", run.metrics_listen,
      "serve live, merged Prometheus metrics on GET /metrics at HOST:PORT "
      "(a bare PORT or :PORT binds 127.0.0.1; 0.0.0.0:9464 for all "
      "interfaces). Read-only; off by default");
  run_cmd
      ->add_option("--metrics-hold", metrics_hold_s,
                   "seconds to keep serving /metrics after the run ended, so "
                   "a last scrape sees the final counts (a signal cuts it)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  run_cmd->add_option(
      "--dashboard-listen", run.dashboard_listen,
      "serve the live dashboard (the report's charts, pushed each interval by "
      "server-sent events) on GET / there: HOST:PORT, or a bare PORT for "
      "127.0.0.1; read-only without --dashboard-token; off by default");
  run_cmd->add_option("--dashboard-token", run.dashboard_token,
                      "a secret that allows POST /stop from the dashboard's "
                      "own page (Authorization: Bearer TOKEN): the run stops "
                      "as on SIGINT (exit 4, every output written)");

  CapacityOptions capacity;
  std::string target_rps, growth, growth_from, buffer = "20%";
  CLI::App* capacity_cmd = app.add_subcommand(
      "capacity",
      "search the highest rate of the plan's capacity: scenario that meets "
      "its fail thresholds (growth, bisection, a final trial), and project "
      "the instances it needs");
  add_agent_options(capacity_cmd);
  capacity_cmd->add_option("--width", capacity.width,
                           "stop when (upper - lower) / upper is this close "
                           "(default: the plan's capacity.width, else 5%)");
  capacity_cmd->add_option(
      "--exceed-ratio", capacity.exceed_ratio,
      "the share of a step's judged seconds that may be bad while it passes "
      "(default: the plan's capacity.exceed_ratio, else 10%)");
  capacity_cmd->add_flag("--per-instance", capacity.per_instance,
                         "project per instance: the answer divided by "
                         "--instances");
  capacity_cmd
      ->add_option("--instances", capacity.projection.instances,
                   "instances of the service the search ran against")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  auto add_projection = [&](CLI::App* cmd) {
    cmd->add_option("--target-rps", target_rps,
                    "instances needed for this load, e.g. 300/s (or 300)");
    cmd->add_option("--growth", growth,
                    "yearly growth scenarios, e.g. 20%,50%,100% (with --from "
                    "and --years)");
    cmd->add_option("--years", capacity.projection.years,
                    "years of growth to project (rows 0 = today .. N)")
        ->check(CLI::Range(1, 50))
        ->capture_default_str();
    cmd->add_option("--from", growth_from,
                    "today's load that --growth grows from, e.g. 100/s");
    cmd->add_option("--buffer", buffer,
                    "headroom added to every instance count, rounded up")
        ->capture_default_str();
  };
  add_projection(capacity_cmd);
  std::string per_instance_rate;
  CLI::App* project_cmd = app.add_subcommand(
      "project",
      "instances needed for a target or growth, from a known per-instance "
      "rate: ceil(rps / per instance) + ceil(that x buffer)");
  project_cmd
      ->add_option("--per-instance", per_instance_rate,
                   "what one instance takes, e.g. 50/s")
      ->required();
  add_projection(project_cmd);
  AddLoadOverrides(run_cmd, &run.overrides);

  std::string validate_file;
  CLI::App* validate_cmd =
      app.add_subcommand("validate", "check a plan; exit 0 or 2");
  validate_cmd->add_option("plan", validate_file, "plan file (YAML or JSON)")
      ->required();
  AddLoadOverrides(validate_cmd, &run.overrides);  // one subcommand parses

  std::string report_file, report_format = "summary", report_out,
                           report_baseline;
  CLI::App* report_cmd = app.add_subcommand(
      "report", "re-render a result written by --out json=FILE");
  report_cmd->add_option("result", report_file, "result JSON")->required();
  report_cmd
      ->add_option("--format", report_format,
                   "json|md|junit|csv|summary|hdr|html")
      ->check(CLI::IsMember(
          {"json", "md", "junit", "csv", "summary", "hdr", "html"}))
      ->capture_default_str();
  report_cmd->add_option(
      "--baseline", report_baseline,
      "html: draw this older result's latency distribution beside, with the "
      "compare verdict");
  report_cmd->add_option("--output", report_out,
                         "file to write (default: stdout)");

  std::vector<std::string> compare_files;
  std::string max_regression = "20%";
  std::string latency_floor = "5ms";
  CompareCommandOptions compare;
  CLI::App* compare_cmd = app.add_subcommand(
      "compare",
      "compare a result with a baseline, run-wide, per scenario and per "
      "request; exit 3 on a regression, 2 when the plans differ");
  compare_cmd
      ->add_option("results", compare_files,
                   "BASELINE.json NEW.json, or NEW.json with --baseline-dir")
      ->required()
      ->expected(1, 2);
  compare_cmd
      ->add_option("--max-regression", max_regression,
                   "worse than this share is a regression (rps lower; error "
                   "rate, p50/p95/p99 higher)")
      ->capture_default_str();
  compare_cmd
      ->add_option("--latency-floor", latency_floor,
                   "a latency must also be worse by more than this (and, with "
                   "4 or more steady intervals in each run, beyond the noise: "
                   "Mann-Whitney over per-interval percentiles, p < 0.05)")
      ->capture_default_str();
  compare_cmd->add_flag(
      "--allow-plan-change", compare.compare.allow_plan_change,
      "compare results whose plan fingerprints differ (warns; default: refuse, "
      "exit 2)");
  compare_cmd->add_option(
      "--baseline-dir", compare.baseline_dir,
      "the baseline is DIR/<plan name>.json (none yet: say so, exit 0)");
  compare_cmd->add_flag("--update-baseline", compare.update_baseline,
                        "with --baseline-dir: replace the baseline with NEW "
                        "when NEW passed and did not regress");
  compare_cmd->footer(
      "A latency regresses when worse by --max-regression, by --latency-floor "
      "and beyond run-to-run noise; an error rate when worse by "
      "--max-regression and by 0.1 points; rps when lower by "
      "--max-regression.\n"
      "Exit codes: 0 no regression (or no baseline yet), 1 the baseline "
      "could not be written, 2 bad input or plans "
      "that differ (without --allow-plan-change), 3 a regression.\n"
      "In CI: stampede compare --baseline-dir baselines/ --update-baseline "
      "result.json");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitPassed : kExitInvalid;
  }
  if (absl::Status s = common::InitLogging("stampede", log_level); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return kExitInvalid;
  }
  run.command_line = CommandLine(argc, argv);
  if (validate_cmd->parsed()) return Validate(validate_file, run.overrides);
  if (capacity_cmd->parsed() || project_cmd->parsed()) {
    capacity::ProjectionAsk& ask = capacity.projection;
    absl::Status s =
        ParseProjectionFlags(target_rps, growth, growth_from, buffer, &ask);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      return kExitInvalid;
    }
    if (project_cmd->parsed()) {
      absl::StatusOr<double> per =
          ParseRateFlag("--per-instance", per_instance_rate);
      if (!per.ok()) {
        std::fprintf(stderr, "%s\n",
                     std::string(per.status().message()).c_str());
        return kExitInvalid;
      }
      if (ask.target_rps <= 0 && ask.growth.empty()) {
        std::fprintf(stderr,
                     "project: give --target-rps or --growth with --from\n");
        return kExitInvalid;
      }
      ask.instances = 1;
      v1::CapacityProjection projection = capacity::Project(*per, ask);
      projection.set_from(absl::StrCat("--per-instance ", per_instance_rate));
      std::printf("%s", FormatProjection(projection).c_str());
      return kExitPassed;
    }
  }
  if (report_cmd->parsed())
    return ReportCommand(report_file, report_format, report_out,
                         report_baseline);
  if (compare_cmd->parsed()) {
    absl::StatusOr<double> limit = common::ParseFraction(max_regression);
    absl::StatusOr<absl::Duration> floor = common::ParseDuration(latency_floor);
    if (!limit.ok() || !floor.ok()) {
      std::fprintf(
          stderr, "%s: %s\n",
          limit.ok() ? "--latency-floor" : "--max-regression",
          std::string((limit.ok() ? floor.status() : limit.status()).message())
              .c_str());
      return kExitInvalid;
    }
    compare.compare.max_regression = *limit;
    compare.compare.latency_floor_ms = absl::ToDoubleMilliseconds(*floor);
    if (compare.baseline_dir.empty() == (compare_files.size() == 1)) {
      std::fprintf(stderr,
                   "compare: give BASELINE.json NEW.json, or NEW.json with "
                   "--baseline-dir DIR\n");
      return kExitInvalid;
    }
    if (compare.update_baseline && compare.baseline_dir.empty()) {
      std::fprintf(stderr, "compare: --update-baseline needs --baseline-dir\n");
      return kExitInvalid;
    }
    if (compare_files.size() == 2) compare.baseline = compare_files[0];
    compare.next = compare_files.back();
    return CompareCommand(compare);
  }

  for (const std::string& out : outs) {
    size_t eq = out.find('=');
    std::string format = out.substr(0, eq);
    if (eq == std::string::npos || eq + 1 == out.size() || !IsFormat(format)) {
      std::fprintf(stderr,
                   "--out %s: expected FORMAT=FILE, FORMAT "
                   "json|md|junit|csv|summary|hdr|html\n",
                   out.c_str());
      return kExitInvalid;
    }
    run.outputs.emplace_back(format, out.substr(eq + 1));
  }
  if (!run.tls.enabled() &&
      (!run.tls.agent_san.empty() || !run.tls.token.empty())) {
    std::fprintf(stderr,
                 "--agent-san and --token need --tls-ca, --tls-cert and "
                 "--tls-key\n");
    return kExitInvalid;
  }
  if (const char* env = std::getenv("STAMPEDE_TOKEN");
      run.tls.enabled() && run.tls.token.empty() && env != nullptr) {
    run.tls.token = env;  // only with TLS: a local run ignores it
  }
  if (run.tls.enabled() && run.expect_agents <= 0) {
    std::fprintf(stderr,
                 "--tls-ca, --tls-cert and --tls-key are for remote agents "
                 "(--expect-agents); local agents talk over loopback\n");
    return kExitInvalid;
  }
  if (run.expect_agents > 0 && run.local_agents > 0) {
    std::fprintf(stderr,
                 "--local-agents and --expect-agents exclude each other\n");
    return kExitInvalid;
  }
  run.registration_timeout = absl::Seconds(registration_timeout_s);
  run.metrics_hold = absl::Seconds(metrics_hold_s);
  run.max_clock_skew = absl::Milliseconds(max_clock_skew_ms);
  run.signals = signals;
  if (capacity_cmd->parsed()) {
    capacity.run = run;
    return Capacity(capacity);
  }
  return Run(run);
}

}  // namespace stampede::controller
