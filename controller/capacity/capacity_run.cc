#include "controller/capacity/capacity_run.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/capacity_plan.h"
#include "common/histogram.h"
#include "common/plan_loader.h"
#include "common/units.h"
#include "controller/live_thresholds.h"
#include "controller/report/format.h"
#include "controller/result.h"
#include "controller/run_internal.h"
#include "controller/thresholds.h"

namespace stampede::controller {
namespace {

using capacity::Decision;
using capacity::Second;
using capacity::Verdict;
using run_internal::Controller;
using run_internal::Print;

std::string RateText(double r) { return absl::StrFormat("%g/s", r); }

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  out->set_seconds(ns / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

// A step's plan: the searched scenario alone, at `rate` from its first
// instant for `length`; thresholds as the plan has them, except those judged
// on a stage of stages the step replaced.
v1::TestPlan StepPlan(const v1::TestPlan& plan, int scenario, double rate,
                      absl::Duration length) {
  v1::TestPlan step = plan;
  step.clear_capacity();
  step.clear_load();
  step.clear_scenarios();
  v1::Scenario* s = step.add_scenarios();
  *s = plan.scenarios(scenario);
  s->clear_start_after();
  v1::ArrivalRate* ar = s->mutable_load()->mutable_arrival_rate();
  ar->clear_stages();
  v1::RateStage* jump = ar->add_stages();
  jump->mutable_to()->set_per_second(rate);
  SetDuration(absl::ZeroDuration(), jump->mutable_over());
  SetDuration(length, ar->add_stages()->mutable_hold());
  step.clear_thresholds();
  for (const v1::Threshold& t : plan.thresholds()) {
    if (t.stage() == 0) *step.add_thresholds() = t;
  }
  return step;
}

// What one trial of a step measured in its judged seconds.
struct Trial {
  std::vector<Second> seconds;
  common::Histogram latency;
  int64_t requests = 0;
  // The step's last interval also holds what completed after its end (the
  // drain of requests in flight): left out of the achieved rate.
  int64_t drained_requests = 0;
  int drained_seconds = 0;
  int64_t errors = 0;
  int64_t skipped = 0;
  double in_flight_sum = 0;
  int incomplete = 0;  // seconds some agent's report missed: not judged
  int empty = 0;       // seconds with load asked and nothing completed
  std::map<std::string, int> failed_by;  // expression -> bad seconds
  std::string limited_note;              // the first limited second's why
  std::string refused;                   // an agent refused the step
  IntervalView merged;  // every judged second, for the final trial's verdicts
  bool any = false;

  void Add(Trial&& other) {
    seconds.insert(seconds.end(), other.seconds.begin(), other.seconds.end());
    latency.Merge(other.latency);
    requests += other.requests;
    drained_requests += other.drained_requests;
    drained_seconds += other.drained_seconds;
    errors += other.errors;
    skipped += other.skipped;
    in_flight_sum += other.in_flight_sum;
    incomplete += other.incomplete;
    empty += other.empty;
    for (const auto& [k, v] : other.failed_by) failed_by[k] += v;
    if (limited_note.empty()) limited_note = other.limited_note;
  }
};

// Runs one trial of `rate` and judges each of its seconds after the warm-up.
// Returns kExitPassed when it ran (or an agent refused it: trial->refused).
int RunTrial(Controller& controller, const v1::TestPlan& plan,
             const common::CapacitySettings& cs, double rate,
             absl::Duration judged, absl::Duration interval, Trial* trial,
             v1::TestPlan* step_plan) {
  *step_plan = StepPlan(plan, cs.scenario, rate, cs.warmup + judged);
  const LiveThresholds judge(*step_plan, interval);
  const uint64_t warm = static_cast<uint64_t>(
      std::llround(absl::FDivDuration(cs.warmup, interval)));
  // The controller folds the drain into the step's last interval, end - 1.
  const uint64_t end = static_cast<uint64_t>(
      std::ceil(absl::FDivDuration(cs.warmup + judged, interval)));
  const size_t agents = controller.agent_count();
  const v1::TestPlan& sp = *step_plan;
  controller.SetIntervalHook(
      [&](const IntervalView& view, const v1::IntervalResult& r) {
        if (view.index < warm) return;
        if (view.agents.size() < agents) {
          ++trial->incomplete;
          return;
        }
        Second second;
        // The generator's own limits: its CPU, its event loops, its local
        // resources. Sends skipped because every connection was held by the
        // target are the target's doing, and count against it.
        std::vector<std::string> why;
        if (r.local_errors() > 0)
          why.push_back(
              absl::StrCat(r.local_errors(), " sends failed on local limits"));
        if (r.generator_busy() >= kSaturatedWorkerBusy)
          why.push_back(absl::StrCat("a worker thread was ",
                                     static_cast<int>(r.generator_busy() * 100),
                                     "% busy"));
        if (r.loop_stall_max_ms() >= kLoopStallMs)
          why.push_back("an agent's event loop stalled");
        second.limited = !why.empty();
        if (second.limited && trial->limited_note.empty())
          trial->limited_note = absl::StrJoin(why, "; ");
        for (int i = 0; i < sp.thresholds_size(); ++i) {
          const v1::Threshold& t = sp.thresholds(i);
          if (IsWarning(t)) continue;
          bool has_data = false;
          const v1::ThresholdResult res =
              judge.JudgeInterval(static_cast<size_t>(i), view, &has_data);
          if (has_data && !res.passed()) {
            second.bad = true;
            ++trial->failed_by[res.expression()];
          }
        }
        if (view.requests == 0 && rate * absl::ToDoubleSeconds(interval) >= 2) {
          second.bad = true;
          ++trial->empty;
        }
        trial->seconds.push_back(second);
        trial->latency.Merge(view.latency);
        trial->requests += view.requests;
        if (view.index + 1 >= end) {
          trial->drained_requests += view.requests;
          ++trial->drained_seconds;
        }
        trial->errors += view.errors;
        trial->skipped += view.sends_skipped;
        trial->in_flight_sum += static_cast<double>(view.in_flight);
        IntervalView copy = view;
        if (!trial->any) {
          trial->merged = std::move(copy);
          trial->any = true;
        } else {
          MergeInto(&trial->merged, std::move(copy));
        }
      });
  const int code = controller.RunStep(*step_plan);
  controller.SetIntervalHook(nullptr);
  if (code != kExitPassed && !controller.ready_error().empty()) {
    trial->refused = controller.ready_error();
    return kExitPassed;
  }
  return code;
}

// The step's row, from its (pooled) trials.
v1::CapacityStep StepRow(int number, const std::string& phase, double rate,
                         const Trial& t) {
  v1::CapacityStep row;
  row.set_number(number);
  row.set_phase(phase);
  row.set_rate(rate);
  int judged = 0, bad = 0, limited = 0;
  for (const Second& s : t.seconds) {
    if (s.limited) {
      ++limited;
    } else {
      ++judged;
      bad += s.bad;
    }
  }
  row.set_judged_seconds(judged);
  row.set_bad_seconds(bad);
  row.set_generator_limited_seconds(limited);
  const double secs = static_cast<double>(t.seconds.size());
  row.set_requests(t.requests);
  // Completions per second, the drain-holding last interval left out
  // (unless it is all there is).
  const double steady = secs - t.drained_seconds;
  row.set_achieved(
      steady > 0 ? static_cast<double>(t.requests - t.drained_requests) / steady
      : secs > 0 ? static_cast<double>(t.requests) / secs
                 : 0);
  row.set_error_rate(t.requests > 0 ? static_cast<double>(t.errors) /
                                          static_cast<double>(t.requests)
                                    : 0);
  row.set_in_flight(secs > 0 ? t.in_flight_sum / secs : 0);
  if (t.latency.Count() > 0) {
    row.set_p50_ms(static_cast<double>(t.latency.ValueAtPercentile(50)) / 1e3);
    row.set_p95_ms(static_cast<double>(t.latency.ValueAtPercentile(95)) / 1e3);
    row.set_p99_ms(static_cast<double>(t.latency.ValueAtPercentile(99)) / 1e3);
  }
  return row;
}

// Why a step ended as it did, in words.
std::string Why(Decision d, const v1::CapacityStep& row, const Trial& t,
                double exceed_ratio) {
  if (!t.refused.empty())
    return absl::StrCat("the generator refused the rate: ", t.refused);
  if (row.judged_seconds() + row.generator_limited_seconds() == 0)
    return "no second could be judged";
  std::string out = absl::StrFormat(
      "%d of %d judged seconds bad (allowed: %g%%)", row.bad_seconds(),
      row.judged_seconds(), exceed_ratio * 100);
  if (d == Decision::kInconclusive) {
    out = absl::StrFormat(
        "the generator was the limit in %d of %d seconds (%s)",
        row.generator_limited_seconds(),
        row.judged_seconds() + row.generator_limited_seconds(), t.limited_note);
  } else if (d == Decision::kUndecided) {
    absl::StrAppend(&out, ": too close to call on one trial, measured again");
  }
  // The threshold that failed most, and what else did.
  std::vector<std::pair<int, std::string>> failed;
  for (const auto& [expr, n] : t.failed_by) failed.push_back({n, expr});
  std::sort(failed.rbegin(), failed.rend());
  for (size_t i = 0; i < failed.size() && i < 2; ++i)
    absl::StrAppend(&out, "; ", failed[i].second, " failed in ",
                    failed[i].first, "s");
  if (t.empty > 0)
    absl::StrAppend(&out, "; ", t.empty, "s with nothing completed");
  if (t.skipped > 0)
    absl::StrAppend(&out, "; ", t.skipped,
                    " sends skipped (every connection was held by the target)");
  if (t.incomplete > 0)
    absl::StrAppend(&out, "; ", t.incomplete,
                    "s not judged (an agent's report came late)");
  return out;
}

std::string StepLine(const v1::CapacityStep& s) {
  return absl::StrFormat(
      "  step %2d %-9s %9s  achieved %8.1f/s  p50 %7.2f  p95 %7.2f  p99 %7.2f "
      "ms"
      "  errors %5.2f%%  %-12s %s\n",
      s.number(), s.phase(), RateText(s.rate()), s.achieved(), s.p50_ms(),
      s.p95_ms(), s.p99_ms(), s.error_rate() * 100, s.verdict(), s.why());
}

}  // namespace

int Capacity(const CapacityOptions& options) {
  std::vector<common::PlanIssue> issues;
  absl::StatusOr<common::LoadedPlan> loaded =
      common::LoadAndValidatePlan(options.run.plan_file, &issues);
  if (!loaded.ok()) {
    for (const common::PlanIssue& issue : issues)
      std::fprintf(stderr, "%s\n", issue.ToString().c_str());
    return kExitInvalid;
  }
  const v1::TestPlan& plan = loaded->plan;
  if (!plan.has_capacity()) {
    std::fprintf(stderr,
                 "%s: the plan has no capacity: block (the scenario to search "
                 "and its bounds; see the README, \"Capacity runs\")\n",
                 options.run.plan_file.c_str());
    return kExitInvalid;
  }
  common::CapacitySettings cs = common::CapacitySettingsOf(plan);
  auto share = [](const std::string& flag, const std::string& text,
                  double* out) {
    if (text.empty()) return true;
    auto v = common::ParseFraction(text);
    if (!v.ok() || *v < 0 || *v >= 1) {
      std::fprintf(stderr, "%s %s: not a share below 100%% (e.g. 5%%)\n",
                   flag.c_str(), text.c_str());
      return false;
    }
    *out = *v;
    return true;
  };
  if (!share("--width", options.width, &cs.width) ||
      !share("--exceed-ratio", options.exceed_ratio, &cs.exceed_ratio))
    return kExitInvalid;
  if (cs.width <= 0) {
    std::fprintf(stderr, "--width must be above 0%%\n");
    return kExitInvalid;
  }
  const bool project = options.per_instance ||
                       options.projection.target_rps > 0 ||
                       !options.projection.growth.empty();

  v1::TestPlan as_run = plan;
  common::RedactPlan(loaded->env_values, &as_run);
  Controller controller(options.run, plan, &loaded->data);
  controller.SetPlanAsRun(&as_run);
  if (int code = controller.Gather(); code != kExitPassed) return code;

  const std::string scenario = plan.scenarios(cs.scenario).name();
  Print(absl::StrFormat(
      "capacity: scenario %s from %s, at most %s; steps of %s after a %s "
      "warm-up, growth x%g, width %g%%, exceed ratio %g%%, final trial %s; %zu "
      "agents\n",
      scenario, RateText(cs.from), RateText(cs.max),
      absl::FormatDuration(cs.step), absl::FormatDuration(cs.warmup), cs.growth,
      cs.width * 100, cs.exceed_ratio * 100, absl::FormatDuration(cs.final),
      controller.agent_count()));

  v1::CapacityResult cap;
  cap.set_scenario(scenario);
  cap.set_from(cs.from);
  cap.set_max(cs.max);
  cap.set_width(cs.width);
  cap.set_growth(cs.growth);
  cap.set_exceed_ratio(cs.exceed_ratio);
  cap.set_step_seconds(absl::ToDoubleSeconds(cs.step));
  cap.set_warmup_seconds(absl::ToDoubleSeconds(cs.warmup));
  cap.set_final_seconds(absl::ToDoubleSeconds(cs.final));

  capacity::Search search({cs.from, cs.max, cs.growth, cs.width});
  int stop_code = kExitPassed;
  std::string stop_why;
  int number = 0;
  Trial last_final;  // the last final trial, for the result's verdicts
  v1::TestPlan last_plan;
  bool final_is_last = false;
  while (std::optional<capacity::Search::Probe> probe = search.Next()) {
    const bool final = probe->phase == "final";
    const absl::Duration judged = final ? cs.final : cs.step;
    Trial pooled;
    Decision decision = Decision::kInconclusive;
    for (int attempt = 0; attempt < 2; ++attempt) {
      Trial trial;
      v1::TestPlan step_plan;
      const int code = RunTrial(controller, plan, cs, probe->rate, judged,
                                options.run.interval, &trial, &step_plan);
      if (code != kExitPassed) {
        stop_code = code;
        stop_why = code == kExitAgentsLost ? "an agent was lost"
                                           : "the step could not run";
        break;
      }
      last_plan = step_plan;
      final_is_last = final;
      const std::string phase = attempt == 0 ? probe->phase : "repeat";
      const std::string refused = trial.refused;
      IntervalView merged = std::move(trial.merged);
      const bool any = trial.any;
      pooled.Add(std::move(trial));
      pooled.refused = refused;
      decision = !refused.empty()
                     ? Decision::kInconclusive
                     : capacity::Decide(pooled.seconds, cs.exceed_ratio,
                                        final || attempt == 1);
      if (final) {
        last_final = pooled;
        last_final.merged = std::move(merged);
        last_final.any = any;
      }
      v1::CapacityStep row = StepRow(++number, phase, probe->rate, pooled);
      row.set_verdict(decision == Decision::kPass        ? "pass"
                      : decision == Decision::kFail      ? "fail"
                      : decision == Decision::kUndecided ? "undecided"
                                                         : "inconclusive");
      row.set_why(Why(decision, row, pooled, cs.exceed_ratio));
      Print(StepLine(row));
      *cap.add_steps() = row;
      if (controller.Interrupted() || controller.aborted_for_loss() ||
          !controller.AllAgentsUsable()) {
        stop_code = controller.Interrupted() ? kExitAborted : kExitAgentsLost;
        stop_why = controller.Interrupted() ? "interrupted by signal"
                                            : "an agent was lost";
        break;
      }
      if (decision != Decision::kUndecided) break;
    }
    if (stop_code != kExitPassed) break;
    const Verdict verdict = decision == Decision::kPass ? Verdict::kPass
                            : decision == Decision::kFail
                                ? Verdict::kFail
                                : Verdict::kInconclusive;
    search.Record(verdict);
  }

  // The answer.
  cap.set_max_rate(search.answer());
  cap.set_confirmed(search.confirmed());
  cap.set_lower(search.lower());
  cap.set_upper(search.upper());
  cap.set_generator_limited(search.upper_inconclusive());
  std::vector<double> xs, ys;
  std::vector<double> rates;
  for (const v1::CapacityStep& s : cap.steps()) {
    if ((s.verdict() == "pass" || s.verdict() == "fail") && s.requests() > 0 &&
        s.phase() != "final") {
      xs.push_back(s.achieved());
      ys.push_back(s.p95_ms());
      rates.push_back(s.rate());
    }
  }
  if (int k = capacity::KneeIndex(xs, ys); k >= 0) cap.set_knee_rate(rates[k]);
  std::string answer;
  if (stop_code != kExitPassed) {
    answer = absl::StrCat("the search stopped early (", stop_why, ")");
    if (search.lower() > 0)
      absl::StrAppend(&answer, "; the highest rate that passed so far was ",
                      RateText(search.lower()), ", not confirmed");
  } else if (search.confirmed()) {
    answer =
        absl::StrCat("max rate ", RateText(search.answer()),
                     " (measured, and confirmed by a final trial of ",
                     absl::FormatDuration(cs.final), "): ", search.Summary());
    if (search.upper_inconclusive())
      absl::StrAppend(&answer,
                      "; the generator limited the search: the service "
                      "takes at least this much");
  } else {
    answer = absl::StrCat("no rate met the thresholds: ", search.Summary());
  }
  cap.set_answer(answer);

  if (project && search.answer() > 0) {
    *cap.mutable_projection() =
        capacity::Project(search.answer(), options.projection);
    double p95_s = 0, in_flight = 0;
    for (const v1::CapacityStep& s : cap.steps()) {
      if (s.phase() == "final" && s.verdict() == "pass") {
        p95_s = s.p95_ms() / 1e3;
        in_flight = s.in_flight();
      }
    }
    cap.mutable_projection()->set_littles_law_concurrency(search.answer() *
                                                          p95_s);
    cap.mutable_projection()->set_measured_in_flight(in_flight);
  }

  const bool strict = options.run.strict;
  controller.SetResultAmend([&](v1::RunResult* r) {
    *r->mutable_capacity() = cap;
    r->set_test_type("capacity");
    // The final trial's thresholds, judged on its judged seconds (its
    // warm-up left out), as the search judged it.
    if (final_is_last && last_final.any) {
      const absl::Duration judged_length =
          options.run.interval *
          static_cast<double>(std::max<size_t>(1, last_final.seconds.size()));
      const LiveThresholds judge(last_plan, judged_length);
      for (int i = 0;
           i < r->thresholds_size() && i < last_plan.thresholds_size(); ++i) {
        bool has_data = false;
        v1::ThresholdResult res = judge.JudgeInterval(
            static_cast<size_t>(i), last_final.merged, &has_data);
        res.set_severity(r->thresholds(i).severity());
        *r->mutable_thresholds(i) = res;
      }
    }
    if (stop_code != kExitPassed) {
      r->set_status(stop_code == kExitAborted ? "aborted" : "degraded");
      r->set_exit_code(stop_code);
    } else if (!search.confirmed()) {
      r->set_status("failed");
      r->set_exit_code(kExitThresholds);
    } else if (strict && search.upper_inconclusive()) {
      r->set_status("failed");
      r->set_exit_code(kExitSaturated);
    } else {
      r->set_status("passed");
      r->set_exit_code(kExitPassed);
    }
    r->set_message(answer);
  });
  return controller.Finish();
}

}  // namespace stampede::controller
