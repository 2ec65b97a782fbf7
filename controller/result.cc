#include "controller/result.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/data_split.h"
#include "common/load_mix.h"
#include "common/schedule.h"
#include "controller/plan_facts.h"
#include "controller/thresholds.h"

namespace stampede::controller {
namespace {

void FillLatency(const common::Histogram& h, v1::LatencySummary* out) {
  auto ms = [&h](double p) {
    return static_cast<double>(h.ValueAtPercentile(p)) / 1000.0;
  };
  out->set_p50(ms(50));
  out->set_p90(ms(90));
  out->set_p95(ms(95));
  out->set_p99(ms(99));
  out->set_p999(ms(99.9));
  out->set_max(static_cast<double>(h.Max()) / 1000.0);
  out->set_mean(h.Mean() / 1000.0);
}

}  // namespace

void JudgeGenerator(v1::IntervalResult* r) {
  std::vector<std::string> why;
  if (r->sends_skipped() > 0)
    why.push_back(absl::StrCat(r->sends_skipped(), " sends skipped"));
  if (r->local_errors() > 0) {
    why.push_back(
        absl::StrCat(r->local_errors(), " sends failed on local limits"));
  }
  if (r->loop_stall_max_ms() >= kLoopStallMs) {
    why.push_back(
        absl::StrCat("an agent's event loop stalled for ",
                     static_cast<int64_t>(r->loop_stall_max_ms()),
                     " ms (sends and reads waited on the generator)"));
  }
  if (r->generator_busy() >= kSaturatedWorkerBusy) {
    why.push_back(absl::StrCat("a worker thread was ",
                               static_cast<int>(r->generator_busy() * 100),
                               "% busy"));
  }
  r->set_generator_limited(!why.empty());
  r->set_generator_note(absl::StrJoin(why, "; "));
}

v1::IntervalResult IntervalResultOf(const v1::TestPlan& plan,
                                    const IntervalView& view,
                                    absl::Duration interval) {
  const double interval_s = absl::ToDoubleSeconds(interval);
  const double t0 = interval_s * static_cast<double>(view.index);
  double target = 0;
  double target_vus = 0;
  for (int i = 0; i < plan.scenarios_size(); ++i) {
    const v1::Scenario& s = plan.scenarios(i);
    // A user mix's scenario has its share of the shared load.
    const std::optional<common::MixMembership> mix =
        common::MixOf(plan, static_cast<size_t>(i));
    if (s.load().has_vus()) {
      // The VU level the stages ask for at the interval's end, started VUs
      // rounded up as the agents run them.
      common::ArrivalSchedule levels(s.load().vus().stages());
      const double offset = absl::ToDoubleSeconds(common::ScenarioStart(s));
      target_vus += std::ceil(common::ScenarioVuLevel(
          mix, levels.RateAt(t0 + interval_s - offset - 1e-9)));
    }
    if (!s.load().has_arrival_rate()) continue;  // closed: no target rate
    common::ArrivalSchedule schedule(s.load().arrival_rate().stages());
    const double offset = absl::ToDoubleSeconds(common::ScenarioStart(s));
    target += (schedule.CumulativeAt(t0 + interval_s - offset) -
               schedule.CumulativeAt(t0 - offset)) *
              (mix ? mix->mix.Share(mix->member) : 1.0);
  }
  auto ms = [](int64_t us) { return static_cast<double>(us) / 1000.0; };
  v1::IntervalResult r;
  r.set_t(t0 + interval_s);
  r.set_rps(static_cast<double>(view.requests) / interval_s);
  r.set_target_rps(target / interval_s);
  r.set_p50_ms(ms(view.latency.ValueAtPercentile(50)));
  r.set_p95_ms(ms(view.latency.ValueAtPercentile(95)));
  r.set_p99_ms(ms(view.latency.ValueAtPercentile(99)));
  r.set_requests(view.requests);
  r.set_errors(view.errors);
  r.set_agents_reported(view.agents.size());
  r.set_sends_skipped(view.sends_skipped);
  r.set_vus(view.vus);
  r.set_target_vus(target_vus);
  r.set_schedule_lag_p99_ms(ms(view.schedule_lag.ValueAtPercentile(99)));
  r.set_schedule_lag_max_ms(ms(view.schedule_lag.Max()));
  r.set_in_flight(view.in_flight);
  r.set_local_errors(view.local_errors);
  r.set_generator_busy(view.max_worker_busy);
  r.set_loop_stall_max_ms(ms(view.max_loop_stall_us));
  r.set_open_fds(view.open_fds);
  r.set_latency_histogram(view.latency.Encode());
  for (size_t sc = 0; sc < view.by_request.size(); ++sc) {
    for (size_t q = 0; q < view.by_request[sc].size(); ++q) {
      const RequestSlice& slice = view.by_request[sc][q];
      if (slice.requests == 0 && slice.errors == 0) continue;
      v1::RequestInterval* out = r.add_by_request();
      out->set_scenario(static_cast<uint32_t>(sc));
      out->set_request(static_cast<uint32_t>(q));
      out->set_requests(slice.requests);
      out->set_errors(slice.errors);
      out->set_latency_histogram(slice.latency.Encode());
    }
  }
  for (const auto& [id, n] : view.error_ids) (*r.mutable_error_ids())[id] = n;
  return r;
}

v1::Summary SummaryOf(const Cell& cell, double duration_s) {
  v1::Summary s;
  s.set_requests(cell.requests);
  s.set_errors(cell.errors);
  s.set_error_rate(cell.requests > 0 ? static_cast<double>(cell.errors) /
                                           static_cast<double>(cell.requests)
                                     : 0);
  s.set_rps(duration_s > 0 ? static_cast<double>(cell.requests) / duration_s
                           : 0);
  s.set_checks_passed(cell.checks_passed);
  s.set_checks_failed(cell.checks_failed);
  for (const auto& [name, n] : cell.checks_failed_by)
    (*s.mutable_checks_failed_by())[name] = n;
  FillLatency(cell.latency, s.mutable_latency_ms());
  FillLatency(cell.service_time, s.mutable_service_time_ms());
  if (cell.dns.Count() + cell.connect.Count() + cell.tls.Count() +
          cell.ttfb.Count() >
      0) {
    v1::PhaseTimings* phases = s.mutable_phases_ms();
    phases->set_new_connections(cell.connect.Count());
    if (cell.dns.Count() > 0) FillLatency(cell.dns, phases->mutable_dns());
    if (cell.connect.Count() > 0)
      FillLatency(cell.connect, phases->mutable_connect());
    if (cell.tls.Count() > 0) FillLatency(cell.tls, phases->mutable_tls());
    if (cell.ttfb.Count() > 0) FillLatency(cell.ttfb, phases->mutable_ttfb());
  }
  if (cell.ttlb.Count() > 0 || cell.events > 0) {
    v1::StreamingSummary* streaming = s.mutable_streaming();
    if (cell.ttlb.Count() > 0)
      FillLatency(cell.ttlb, streaming->mutable_ttlb_ms());
    streaming->set_events(cell.events);
  }
  if (cell.messages_out + cell.messages_in > 0 || cell.ws_session.Count() > 0 ||
      cell.statuses.contains(101)) {
    v1::WebSocketSummary* ws = s.mutable_websocket();
    const auto opened = cell.statuses.find(101);
    ws->set_connections(opened == cell.statuses.end() ? 0 : opened->second);
    ws->set_messages_out(cell.messages_out);
    ws->set_messages_in(cell.messages_in);
    if (cell.ws_rtt.Count() > 0) {
      FillLatency(cell.ws_rtt, ws->mutable_rtt_ms());
      ws->set_rtt_histogram(cell.ws_rtt.Encode());
    }
    if (cell.ws_session.Count() > 0)
      FillLatency(cell.ws_session, ws->mutable_session_ms());
    for (const auto& [code, n] : cell.close_codes)
      (*ws->mutable_close_codes())[absl::StrCat(code)] = n;
  }
  for (const auto& [code, n] : cell.statuses)
    (*s.mutable_statuses())[absl::StrCat(code)] = n;
  for (const auto& [id, n] : cell.error_ids) (*s.mutable_error_ids())[id] = n;
  s.set_bytes_in(cell.bytes_in);
  s.set_bytes_out(cell.bytes_out);
  return s;
}

v1::RunResult BuildResult(const RunFacts& facts) {
  const v1::TestPlan& plan = *facts.plan;
  const auto& cells = facts.aggregator->cells();
  v1::RunResult result;
  result.set_schema("stampede.result/v1");
  result.set_plan_name(plan.name());
  result.set_run_id(facts.run_id);
  result.set_started_at(absl::FormatTime(absl::RFC3339_full, facts.started_at,
                                         absl::UTCTimeZone()));
  result.set_duration_s(facts.duration_s);
  result.set_insecure_control_plane(facts.insecure);
  const v1::TestPlan& as_run =
      facts.plan_as_run != nullptr ? *facts.plan_as_run : plan;
  *result.mutable_plan() = as_run;
  result.set_test_type(plan.type());
  result.set_command_line(facts.command_line);
  std::vector<std::string> origins;

  Cell all;
  for (int s = 0; s < plan.scenarios_size(); ++s) {
    v1::ScenarioResult* scenario = result.add_scenarios();
    scenario->set_name(plan.scenarios(s).name());
    // A scenario's rps is over its own scheduled time (within the run's).
    const double active_s = ScenarioActiveSeconds(plan, static_cast<size_t>(s),
                                                  0, facts.duration_s);
    Cell scenario_cell;
    for (int r = 0; r < plan.scenarios(s).requests_size(); ++r) {
      const Cell& cell = cells[s][r];
      v1::RequestResult* request = scenario->add_requests();
      request->set_name(plan.scenarios(s).requests(r).name());
      *request->mutable_summary() = SummaryOf(cell, active_s);
      request->set_latency_histogram(cell.latency.Encode());
      request->set_service_time_histogram(cell.service_time.Encode());
      scenario_cell.Merge(cell);
    }
    *scenario->mutable_summary() = SummaryOf(scenario_cell, active_s);
    for (const std::string& origin : ScenarioOrigins(plan, s)) {
      scenario->add_base_urls(origin);
      if (std::find(origins.begin(), origins.end(), origin) == origins.end())
        origins.push_back(origin);
    }
    const ScenarioPeak peak = ScenarioPeakOf(plan, s);
    scenario->set_peak_vus(peak.vus);
    scenario->set_peak_target_rps(peak.target_rps);
    if (static_cast<size_t>(s) < facts.engines.size()) {
      scenario->set_engine(facts.engines[s].engine);
      scenario->set_engine_why(facts.engines[s].why);
    }
    if (!plan.scenarios(s).flow().empty()) {
      const v1::FlowStats& f = facts.aggregator->flows()[s];
      v1::FlowResult* flows = scenario->mutable_flows();
      flows->set_flow(true);
      flows->set_started(f.started());
      flows->set_completed(f.completed());
      flows->set_aborted(f.aborted());
      flows->set_dropped(f.dropped());
      flows->set_skipped_steps(f.skipped_steps());
      flows->set_data_exhausted(f.data_exhausted());
    }
    all.Merge(scenario_cell);
  }
  *result.mutable_summary() = SummaryOf(all, facts.duration_s);
  result.set_plan_fingerprint(PlanFingerprint(as_run, origins));
  const std::vector<std::string> sets = common::DataSetNames(plan);
  for (size_t d = 0; d < sets.size(); ++d) {
    v1::DataResult* out = result.add_data();
    common::DataMode mode = common::DataMode::kCircular;
    common::ParseDataMode(plan.data().at(sets[d]).mode(), &mode);
    out->set_name(sets[d]);
    out->set_mode(common::DataModeName(mode));
    const int64_t rows = d < facts.data_rows.size() ? facts.data_rows[d] : 0;
    out->set_rows(rows);
    if (d < facts.aggregator->data().size()) {
      const v1::DataUse& use = facts.aggregator->data()[d];
      out->set_taken(use.taken());
      if (mode == common::DataMode::kUnique) {
        out->set_used(use.first());
        out->set_left(std::max<int64_t>(0, rows - use.first()));
      }
    }
  }

  bool thresholds_passed = true;
  std::vector<v1::ThresholdResult> thresholds =
      EvaluateThresholds(plan, cells, facts.duration_s);
  if (facts.live != nullptr) facts.live->Finish(&thresholds);
  int warnings = 0;
  for (v1::ThresholdResult& t : thresholds) {
    if (t.severity() == "warn") {
      warnings += t.passed() ? 0 : 1;
    } else {
      thresholds_passed = thresholds_passed && t.passed();
    }
    *result.add_thresholds() = std::move(t);
  }

  int lost = 0;
  int64_t missing = 0;
  double earliest = INFINITY, latest = -INFINITY;
  for (size_t a = 0; a < facts.agents.size(); ++a) {
    const AgentTotals& totals = facts.aggregator->agents()[a];
    v1::AgentResult* agent = result.add_agents();
    agent->set_id(facts.agents[a].id);
    agent->set_host(facts.agents[a].host);
    agent->set_state(facts.agents[a].state);
    agent->set_requests(totals.requests);
    agent->set_errors(totals.errors);
    agent->set_sends_skipped(totals.sends_skipped);
    common::Histogram latency;
    for (const auto& [index, n] : totals.latency_buckets)
      latency.RecordN(common::Histogram::BucketLowest(index), n);
    agent->set_latency_histogram(latency.Encode());
    agent->set_clock_offset_ms(facts.agents[a].clock_offset_ms);
    agent->set_clock_rtt_ms(facts.agents[a].clock_rtt_ms);
    agent->set_first_send_late_ms(facts.agents[a].first_send_late_ms);
    agent->set_share(facts.agents[a].share);
    agent->set_planned_requests(facts.agents[a].planned_requests);
    agent->set_cores(facts.agents[a].cores);
    agent->set_workers(facts.agents[a].workers);
    if (facts.agents[a].first_send_late_ms >= 0) {
      earliest = std::min(earliest, facts.agents[a].first_send_late_ms);
      latest = std::max(latest, facts.agents[a].first_send_late_ms);
    }
    if (facts.agents[a].state != "finished") {
      ++lost;
      if (facts.agents[a].planned_requests >= 0) {
        missing += std::max<int64_t>(
            0, facts.agents[a].planned_requests - totals.requests);
      }
    }
  }
  result.set_lost_share(facts.lost_share);
  result.set_missing_requests(missing);
  if (latest >= earliest) result.set_start_spread_ms(latest - earliest);
  result.set_late_intervals(facts.aggregator->late_intervals());
  int64_t limited = 0;
  for (const v1::IntervalResult& i : facts.intervals) {
    *result.add_intervals() = i;
    if (i.generator_limited()) ++limited;
    result.set_peak_vus(std::max(result.peak_vus(), i.vus()));
  }
  result.set_generator_limited_intervals(limited);

  const std::string lost_note = absl::StrFormat(
      "%d of %d agents were lost or stopped early; their share (%.1f%% of the "
      "plan%s) was not delivered",
      lost, static_cast<int>(facts.agents.size()), facts.lost_share * 100,
      missing > 0 ? absl::StrCat(", ", missing, " planned requests") : "");
  if (facts.setup != nullptr && facts.setup->ran())
    *result.mutable_setup() = *facts.setup;
  if (facts.setup != nullptr && facts.setup->ran() && !facts.setup->passed()) {
    result.set_status("setup_failed");
    result.set_exit_code(kExitSetupFailed);
    result.set_message(
        absl::StrCat("setup step ",
                     facts.setup->failed_step().empty()
                         ? std::string("(none)")
                         : absl::StrCat("\"", facts.setup->failed_step(), "\""),
                     " failed: ", facts.setup->error(), "; no load was sent"));
  } else if (facts.aborted) {
    result.set_status("aborted");
    result.set_exit_code(facts.aborted_for_loss ? kExitAgentsLost
                                                : kExitAborted);
    result.set_message(facts.aborted_for_loss
                           ? absl::StrCat(facts.abort_reason, "; ", lost_note)
                           : facts.abort_reason);
  } else if (lost > 0) {
    result.set_status("degraded");
    result.set_exit_code(kExitAgentsLost);
    result.set_message(lost_note);
  } else if (!thresholds_passed) {
    result.set_status("failed");
    result.set_exit_code(kExitThresholds);
    result.set_message("thresholds failed");
  } else if (facts.strict && limited > 0) {
    result.set_status("failed");
    result.set_exit_code(kExitSaturated);
    result.set_message(
        absl::StrCat("the generator, not the target, was the limit in ",
                     limited, " intervals (--strict)"));
  } else {
    result.set_status("passed");
    result.set_exit_code(kExitPassed);
  }
  if (result.status() == "passed" && result.thresholds_size() == 0) {
    // default_thresholds: false and none of its own: say so, and never let
    // "passed" stand alone over a run that mostly failed.
    std::string note = "no thresholds: nothing was judged";
    if (result.summary().error_rate() > 0) {
      absl::StrAppend(
          &note, "; ",
          absl::StrFormat("%.1f%%", result.summary().error_rate() * 100),
          " of the requests failed");
    }
    result.set_message(note);
  }
  if (warnings > 0) {
    const std::string note =
        absl::StrCat(warnings, " warn threshold", warnings > 1 ? "s" : "",
                     " not met (warnings do not fail the run)");
    result.set_message(result.message().empty()
                           ? note
                           : absl::StrCat(result.message(), "; ", note));
  }
  return result;
}

}  // namespace stampede::controller
