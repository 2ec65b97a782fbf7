#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/data_split.h"
#include "common/schedule.h"
#include "controller/liveness.h"
#include "controller/report/format.h"
#include "controller/report/report.h"
#include "controller/result.h"
#include "controller/run_internal.h"
#include "controller/thresholds.h"
#include "spdlog/spdlog.h"

namespace stampede::controller::run_internal {

const char* StateName(AgentState state) {
  switch (state) {
    case AgentState::kRegistered:
      return "registered";
    case AgentState::kReady:
      return "ready";
    case AgentState::kRunning:
      return "running";
    case AgentState::kFinished:
      return "finished";
    case AgentState::kLost:
      return "lost";
    case AgentState::kStopped:
      return "stopped";
  }
  return "lost";
}

void Controller::PublishMetrics() {
  if (metrics_ == nullptr) return;
  MetricsInput in;
  in.plan = &plan_;
  in.run_id = run_id_;
  in.phase = phase_;
  if (start_at_ != absl::Time() && absl::Now() > start_at_) {
    in.elapsed_s = absl::ToDoubleSeconds(
        (end_at_ != absl::Time() ? end_at_ : absl::Now()) - start_at_);
  }
  if (aggregator_ != nullptr) in.cells = &aggregator_->cells();
  if (!intervals_.empty()) in.last_interval = &intervals_.back();
  for (AgentState state :
       {AgentState::kRegistered, AgentState::kReady, AgentState::kRunning,
        AgentState::kFinished, AgentState::kLost, AgentState::kStopped}) {
    in.agents.emplace_back(
        StateName(state),
        std::count_if(agents_.begin(), agents_.end(),
                      [&](const Agent& a) { return a.state == state; }));
  }
  std::vector<LiveThresholds::Current> current;
  if (live_ != nullptr) current = live_->current();
  for (int i = 0; i < plan_.thresholds_size(); ++i) {
    MetricsThreshold t;
    t.expression = ThresholdExpression(plan_.thresholds(i));
    if (static_cast<size_t>(i) < current.size()) {
      t.judged = current[i].judged;
      t.failing = current[i].failing;
      t.actual = current[i].actual;
    }
    in.thresholds.push_back(std::move(t));
  }
  metrics_->Publish(RenderMetrics(in));
}

void Controller::HoldMetrics() {
  if (metrics_ == nullptr || options_.metrics_hold <= absl::ZeroDuration())
    return;
  Print(absl::StrCat("serving http://", metrics_->address(), "/metrics for ",
                     absl::FormatDuration(options_.metrics_hold),
                     " more (--metrics-hold)\n"));
  const absl::Time until = absl::Now() + options_.metrics_hold;
  const int signals_before =
      options_.signals != nullptr ? options_.signals->load() : 0;
  while (absl::Now() < until) {
    if (options_.signals != nullptr &&
        options_.signals->load() > signals_before)
      return;
    absl::SleepFor(std::min(absl::Milliseconds(100), until - absl::Now()));
  }
}

int Controller::Finish() {
  end_at_ = absl::Now();
  hub_.FinishAll();
  hub_.AllDone(absl::Seconds(5));
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  local_.Reap(absl::Seconds(5));

  const absl::Duration longest = common::PlanLength(plan_);
  RunFacts facts;
  facts.plan = &plan_;
  facts.plan_as_run = plan_as_run_;
  facts.command_line = options_.command_line;
  facts.aggregator = aggregator_.get();
  facts.run_id = run_id_;
  facts.started_at = start_at_;
  // rps is over the scheduled length, or until the stop when the run was cut
  // short.
  absl::Duration elapsed = std::max(absl::ZeroDuration(), end_at_ - start_at_);
  facts.duration_s =
      absl::ToDoubleSeconds(aborted_ ? std::min(elapsed, longest) : longest);
  uint64_t weight_sum = 0;
  std::vector<uint32_t> weights;
  std::vector<bool> lost;
  for (const Agent& a : agents_) {
    weight_sum += a.weight;
    weights.push_back(a.weight);
    lost.push_back(a.state != AgentState::kFinished);
  }
  facts.lost_share = LostShare(weights, lost);
  facts.aborted_for_loss = aborted_for_loss_;
  for (const Agent& a : agents_) {
    facts.agents.push_back(
        {a.id, a.host,
         a.state == AgentState::kFinished  ? "finished"
         : a.state == AgentState::kStopped ? "stopped"
                                           : "lost",
         static_cast<double>(a.clock_offset_us) / 1000.0,
         a.clock_rtt_us < 0 ? -1 : static_cast<double>(a.clock_rtt_us) / 1000.0,
         a.first_send_late_us < 0
             ? -1
             : static_cast<double>(a.first_send_late_us) / 1000.0,
         static_cast<double>(a.weight) / static_cast<double>(weight_sum),
         PlannedRequests(plan_, weights, facts.agents.size()), a.cores,
         a.workers});
  }
  facts.intervals = intervals_;
  facts.engines = engines_;
  for (const std::string& set : common::DataSetNames(plan_)) {
    int64_t rows = 0;
    if (data_ != nullptr) {
      if (auto it = data_->find(set); it != data_->end())
        rows = static_cast<int64_t>(it->second.rows.size());
    }
    facts.data_rows.push_back(rows);
  }
  facts.insecure =
      !options_.tls.enabled() &&
      !IsLoopbackListen(options_.listen.empty() ? std::string("127.0.0.1:0")
                                                : options_.listen);
  facts.strict = options_.strict;
  facts.aborted = aborted_;
  facts.abort_reason = abort_reason_;
  facts.live = live_.get();
  facts.setup = &setup_result_;
  v1::RunResult result = BuildResult(facts);
  if (amend_result_) amend_result_(&result);
  phase_ = "done";
  PublishMetrics();
  if (aggregator_->late_intervals() > 0) {
    spdlog::warn(
        "{} intervals arrived after they were shown; they are in the totals",
        aggregator_->late_intervals());
  }
  if (dashboard_ != nullptr) dashboard_->PublishDone(result);
  Print(FormatSummary(result));
  int code = result.exit_code();
  for (const auto& [format, file] : options_.outputs) {
    if (!WriteFile(file, Render(format, result))) {
      std::fprintf(stderr, "--out %s=%s: cannot write the file\n",
                   format.c_str(), file.c_str());
      code = kExitInternal;
    }
  }
  HoldMetrics();
  return code;
}

}  // namespace stampede::controller::run_internal
