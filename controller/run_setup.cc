// The plan's setup steps: run once, on the first agent, between every agent's
// Ready and the common Start; their captures go to every agent with Start.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "controller/aggregator.h"
#include "controller/live_thresholds.h"
#include "controller/result.h"
#include "controller/run_internal.h"

namespace stampede::controller::run_internal {
namespace {

// The agent gives its setup 60 s; this covers that and the messages.
constexpr absl::Duration kSetupWait = absl::Seconds(75);

}  // namespace

int Controller::RunSetup() {
  if (plan_.setup().empty()) return kExitPassed;
  Agent& runner = agents_[0];
  phase_ = "setup";
  PublishMetrics();
  Print(absl::StrCat("setup: ", plan_.setup_size(), " step",
                     plan_.setup_size() == 1 ? "" : "s", " on agent ",
                     runner.id, "\n"));
  v1::ControllerMessage ask;
  ask.mutable_run_setup()->set_run_id(run_id_);
  hub_.Send(runner.session, std::move(ask));
  setup_result_.set_ran(true);
  setup_result_.set_agent(runner.id);
  const absl::Time deadline = absl::Now() + kSetupWait;
  std::optional<v1::SetupDone> done;
  while (!done) {
    if (Interrupted()) return kExitAborted;
    if (absl::Now() > deadline) {
      v1::SetupDone late;
      late.set_error(
          absl::StrCat("no answer within ", absl::FormatDuration(kSetupWait)));
      done = late;
      break;
    }
    std::optional<Hub::Event> event = hub_.NextEvent(absl::Milliseconds(100));
    if (!event) continue;
    Agent* agent = BySession(event->session);
    if (agent == nullptr) continue;
    if (!event->message) {
      std::fprintf(stderr, "agent %s left before the start\n",
                   agent->id.c_str());
      return kExitNotEnoughAgents;
    }
    if (agent == &runner && event->message->has_setup_done() &&
        event->message->setup_done().run_id() == run_id_) {
      done = event->message->setup_done();
    }
  }
  if (done->ok()) {
    setup_result_.set_passed(true);
    for (const auto& [name, value] : done->values()) {
      setup_values_[name] = value;
    }
    for (const auto& [name, value] : setup_values_)
      setup_result_.add_captured(name);
    Print(absl::StrCat("setup: passed",
                       setup_values_.empty() ? "" : ", captured ",
                       absl::StrJoin(setup_result_.captured(), ", "), "\n"));
    return kExitPassed;
  }
  // No load goes out: the agents are stopped before their start, and the
  // report says which step failed and why.
  setup_result_.set_failed_step(done->failed_step());
  setup_result_.set_error(done->error());
  std::fprintf(stderr, "setup failed%s%s: %s\n",
               done->failed_step().empty() ? "" : " at step ",
               done->failed_step().c_str(), done->error().c_str());
  for (Agent& a : agents_) {
    v1::ControllerMessage stop;
    stop.mutable_stop()->set_run_id(run_id_);
    stop.mutable_stop()->set_reason("the setup failed");
    hub_.Send(a.session, std::move(stop));
    a.state = AgentState::kStopped;
  }
  aggregator_ = std::make_unique<Aggregator>(plan_, agents_.size());
  live_ = std::make_unique<LiveThresholds>(plan_, options_.interval);
  start_at_ = absl::Now();
  aborted_ = true;  // cut before its start: no planned length to report
  abort_reason_ = "the setup failed";
  return Finish();
}

}  // namespace stampede::controller::run_internal
