#include "controller/aggregator.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/flow.h"

namespace stampede::controller {

void Cell::Merge(const Cell& other) {
  latency.Merge(other.latency);
  latency_failed.Merge(other.latency_failed);
  service_time.Merge(other.service_time);
  dns.Merge(other.dns);
  connect.Merge(other.connect);
  tls.Merge(other.tls);
  ttfb.Merge(other.ttfb);
  ttlb.Merge(other.ttlb);
  ws_rtt.Merge(other.ws_rtt);
  ws_session.Merge(other.ws_session);
  events += other.events;
  messages_out += other.messages_out;
  messages_in += other.messages_in;
  for (const auto& [code, n] : other.close_codes) close_codes[code] += n;
  requests += other.requests;
  errors += other.errors;
  bytes_in += other.bytes_in;
  bytes_out += other.bytes_out;
  for (const auto& [code, n] : other.statuses) statuses[code] += n;
  for (const auto& [id, n] : other.error_ids) error_ids[id] += n;
  checks_passed += other.checks_passed;
  checks_failed += other.checks_failed;
  for (const auto& [name, n] : other.checks_failed_by)
    checks_failed_by[name] += n;
}

Aggregator::Aggregator(const v1::TestPlan& plan, size_t agents, bool keep_stats)
    : agents_(agents), keep_stats_(keep_stats) {
  for (const v1::Scenario& s : plan.scenarios()) {
    cells_.emplace_back(s.requests_size());
    auto& names = check_names_.emplace_back(s.requests_size());
    size_t r = 0;
    common::ForEachFlowRequest(
        s.flow(), "", [&](const v1::FlowStep& step, const std::string&) {
          if (r >= names.size()) return;
          for (const std::string& check : common::CheckNames(step.check()))
            names[r].push_back(
                absl::StrCat(common::FlowStepName(step), ": ", check));
          ++r;
        });
  }
  flows_.resize(plan.scenarios_size());
  data_.resize(plan.data_size());
}

namespace {

// The encoded histograms of `s`, in the order of CellHistograms.
auto EncodedOf(const v1::RequestStats& s) {
  return std::array{&s.latency(),       &s.service_time(), &s.dns(),
                    &s.connect(),       &s.tls(),          &s.ttfb(),
                    &s.ttlb(),          &s.ws_rtt(),       &s.ws_session(),
                    &s.latency_failed()};
}
constexpr size_t kLatency = 0;  // EncodedOf()[kLatency] is the latency
auto CellHistograms(Cell* c) {
  return std::array{&c->latency,    &c->service_time,  &c->dns,  &c->connect,
                    &c->tls,        &c->ttfb,          &c->ttlb, &c->ws_rtt,
                    &c->ws_session, &c->latency_failed};
}
constexpr size_t kHistograms = 10;

// More than any agent can do in one interval (2^32: four billion requests a
// second). Capping each count keeps every sum far from overflowing for any
// run the plan allows (24 h), whatever a misbehaving agent sends.
constexpr int64_t kMaxIntervalCount = int64_t{1} << 32;

absl::Status CheckCounts(const v1::RequestStats& s) {
  auto bad = [](int64_t n) { return n < 0 || n > kMaxIntervalCount; };
  bool implausible = bad(s.requests()) || bad(s.errors()) ||
                     bad(s.bytes_in() >> 16) || bad(s.bytes_out() >> 16) ||
                     s.bytes_in() < 0 || s.bytes_out() < 0 || bad(s.events()) ||
                     bad(s.messages_in()) || bad(s.messages_out()) ||
                     bad(s.checks_passed()) || bad(s.checks_failed()) ||
                     s.check_failures_size() > 64;
  for (int64_t n : s.check_failures()) implausible |= bad(n);
  for (const auto& [code, n] : s.status_counts()) implausible |= bad(n);
  for (const auto& [id, n] : s.error_counts()) implausible |= bad(n);
  for (const auto& [code, n] : s.close_codes()) implausible |= bad(n);
  if (!implausible) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("request ", s.scenario(), "/", s.request(),
                   ": a negative or implausibly large count"));
}

void AddCounts(const v1::RequestStats& s,
               const std::vector<std::string>& check_names, Cell* c) {
  c->checks_passed += s.checks_passed();
  c->checks_failed += s.checks_failed();
  for (int i = 0; i < s.check_failures_size(); ++i) {
    if (s.check_failures(i) == 0) continue;
    c->checks_failed_by[static_cast<size_t>(i) < check_names.size()
                            ? check_names[i]
                            : std::string("(other)")] += s.check_failures(i);
  }
  c->requests += s.requests();
  c->errors += s.errors();
  c->bytes_in += s.bytes_in();
  c->bytes_out += s.bytes_out();
  c->events += s.events();
  c->messages_out += s.messages_out();
  c->messages_in += s.messages_in();
  for (const auto& [code, n] : s.close_codes()) c->close_codes[code] += n;
  for (const auto& [code, n] : s.status_counts()) c->statuses[code] += n;
  for (const auto& [id, n] : s.error_counts()) c->error_ids[id] += n;
}

}  // namespace

absl::Status Aggregator::Add(size_t agent, const v1::Interval& interval) {
  // Check everything before merging anything, so bad data leaves no trace.
  // Each histogram's wire form is decoded once, while it is checked, into
  // reused buffers: no dense temporaries, and no second decoding for the cell
  // and the interval.
  const size_t stats = static_cast<size_t>(interval.stats_size());
  if (decoded_.size() < stats * kHistograms)
    decoded_.resize(stats * kHistograms);
  for (size_t i = 0; i < stats; ++i) {
    const v1::RequestStats& s = interval.stats(static_cast<int>(i));
    if (s.scenario() >= cells_.size() ||
        s.request() >= cells_[s.scenario()].size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("interval ", interval.index(), ": no request ",
                       s.scenario(), "/", s.request(), " in the plan"));
    }
    if (absl::Status st = CheckCounts(s); !st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("interval ", interval.index(), ": ", st.message()));
    }
    const auto encoded = EncodedOf(s);
    for (size_t h = 0; h < kHistograms; ++h) {
      common::Histogram::Buckets& out = decoded_[i * kHistograms + h];
      if (encoded[h]->empty()) {
        out.clear();
        continue;
      }
      if (absl::Status st = common::Histogram::DecodeBuckets(*encoded[h], &out);
          !st.ok())
        return st;
      int64_t total = 0;
      for (const auto& [index, n] : out) total += n;  // checked by the decoder
      if (total > kMaxIntervalCount) {
        return absl::InvalidArgumentError(absl::StrCat(
            "interval ", interval.index(), ": a histogram of ", total,
            " values, more than any agent sends in an interval"));
      }
    }
  }
  for (const v1::FlowStats& f : interval.flows()) {
    if (f.scenario() >= flows_.size() || f.started() < 0 || f.completed() < 0 ||
        f.aborted() < 0 || f.dropped() < 0 || f.skipped_steps() < 0 ||
        f.started() > kMaxIntervalCount || f.dropped() > kMaxIntervalCount ||
        f.skipped_steps() > kMaxIntervalCount * 1000 ||
        f.data_exhausted() < 0 || f.data_exhausted() > kMaxIntervalCount) {
      return absl::InvalidArgumentError(
          absl::StrCat("interval ", interval.index(),
                       ": bad flow counts for scenario ", f.scenario()));
    }
  }
  for (const v1::DataUse& d : interval.data()) {
    if (d.set() >= data_.size() || d.taken() < 0 || d.first() < 0 ||
        d.first() > d.taken() || d.taken() > kMaxIntervalCount) {
      return absl::InvalidArgumentError(
          absl::StrCat("interval ", interval.index(),
                       ": bad data counts for set ", d.set()));
    }
  }
  for (const v1::DataUse& d : interval.data()) {
    v1::DataUse& into = data_[d.set()];
    into.set_taken(into.taken() + d.taken());
    into.set_first(into.first() + d.first());
  }
  for (const v1::FlowStats& f : interval.flows()) {
    v1::FlowStats& into = flows_[f.scenario()];
    into.set_started(into.started() + f.started());
    into.set_completed(into.completed() + f.completed());
    into.set_aborted(into.aborted() + f.aborted());
    into.set_dropped(into.dropped() + f.dropped());
    into.set_skipped_steps(into.skipped_steps() + f.skipped_steps());
    into.set_data_exhausted(into.data_exhausted() + f.data_exhausted());
  }
  const bool late = interval.index() < next_index_;
  if (late) ++late_;
  IntervalView* view = nullptr;
  if (!late) {
    view = &pending_[interval.index()];
    view->index = interval.index();
    view->agents.insert(agent);
    view->sends_skipped += interval.agent().sends_skipped();
    view->vus += interval.agent().vus();
    const v1::AgentStats& self = interval.agent();
    view->in_flight += self.in_flight();
    view->local_errors += self.local_errors();
    view->open_fds += self.open_fds();
    view->max_worker_busy =
        std::max(view->max_worker_busy, self.max_worker_busy());
    view->max_loop_stall_us =
        std::max(view->max_loop_stall_us, self.max_loop_stall_us());
    if (!self.schedule_lag().empty())
      view->schedule_lag.MergeEncoded(self.schedule_lag()).IgnoreError();
  }
  AgentTotals& totals = agents_[agent];
  ++totals.intervals;
  totals.sends_skipped += interval.agent().sends_skipped();
  for (size_t i = 0; i < stats; ++i) {
    const v1::RequestStats& s = interval.stats(static_cast<int>(i));
    Cell& cell = cells_[s.scenario()][s.request()];
    const auto targets = CellHistograms(&cell);
    for (size_t h = 0; h < kHistograms; ++h)
      targets[h]->MergeBuckets(decoded_[i * kHistograms + h]);
    AddCounts(s, check_names_[s.scenario()][s.request()], &cell);
    for (const auto& [index, n] : decoded_[i * kHistograms + kLatency])
      totals.latency_buckets[index] += n;
    totals.requests += s.requests();
    totals.errors += s.errors();
    if (view != nullptr) {
      view->requests += s.requests();
      view->errors += s.errors();
      // The interval's latency is the sum of its slices', added once in
      // TakeNext rather than once per agent and request here.
      if (view->by_request.empty()) {
        view->by_request.resize(cells_.size());
        for (size_t sc = 0; sc < cells_.size(); ++sc)
          view->by_request[sc].resize(cells_[sc].size());
      }
      RequestSlice& slice = view->by_request[s.scenario()][s.request()];
      slice.requests += s.requests();
      slice.errors += s.errors();
      slice.latency.MergeBuckets(decoded_[i * kHistograms + kLatency]);
      for (const auto& [id, n] : s.error_counts()) view->error_ids[id] += n;
      if (keep_stats_) view->stats.push_back(s);
    }
  }
  return absl::OkStatus();
}

void MergeInto(IntervalView* into, IntervalView&& from) {
  into->requests += from.requests;
  into->errors += from.errors;
  into->sends_skipped += from.sends_skipped;
  into->vus = std::max(into->vus, from.vus);
  into->latency.Merge(from.latency);
  into->schedule_lag.Merge(from.schedule_lag);
  into->in_flight = from.in_flight;
  into->local_errors += from.local_errors;
  into->open_fds = from.open_fds;
  into->max_worker_busy = std::max(into->max_worker_busy, from.max_worker_busy);
  into->max_loop_stall_us =
      std::max(into->max_loop_stall_us, from.max_loop_stall_us);
  into->agents.insert(from.agents.begin(), from.agents.end());
  if (into->by_request.empty()) {
    into->by_request = std::move(from.by_request);
  } else {
    for (size_t sc = 0; sc < from.by_request.size(); ++sc) {
      for (size_t q = 0; q < from.by_request[sc].size(); ++q) {
        RequestSlice& to = into->by_request[sc][q];
        const RequestSlice& add = from.by_request[sc][q];
        to.requests += add.requests;
        to.errors += add.errors;
        to.latency.Merge(add.latency);
      }
    }
  }
  for (const auto& [id, n] : from.error_ids) into->error_ids[id] += n;
  for (v1::RequestStats& s : from.stats) into->stats.push_back(std::move(s));
}

std::optional<IntervalView> Aggregator::TakeNext(
    const std::set<size_t>& expected, bool force) {
  if (pending_.empty()) return std::nullopt;
  auto it = pending_.begin();
  if (!force) {
    for (size_t agent : expected) {
      if (!it->second.agents.contains(agent)) return std::nullopt;
    }
  }
  // Indexes nobody reported (all agents idle) are skipped; the view says which
  // k it is.
  IntervalView view = std::move(it->second);
  pending_.erase(it);
  for (const auto& scenario : view.by_request) {
    for (const RequestSlice& slice : scenario)
      view.latency.Merge(slice.latency);
  }
  next_index_ = view.index + 1;
  return view;
}

}  // namespace stampede::controller
