#include "controller/aggregator.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/str_cat.h"

namespace stampede::controller {

void Cell::Merge(const Cell& other) {
  latency.Merge(other.latency);
  service_time.Merge(other.service_time);
  dns.Merge(other.dns);
  connect.Merge(other.connect);
  tls.Merge(other.tls);
  ttfb.Merge(other.ttfb);
  requests += other.requests;
  errors += other.errors;
  bytes_in += other.bytes_in;
  bytes_out += other.bytes_out;
  for (const auto& [code, n] : other.statuses) statuses[code] += n;
  for (const auto& [id, n] : other.error_ids) error_ids[id] += n;
}

Aggregator::Aggregator(const v1::TestPlan& plan, size_t agents, bool keep_stats)
    : agents_(agents), keep_stats_(keep_stats) {
  for (const v1::Scenario& s : plan.scenarios())
    cells_.emplace_back(s.requests_size());
}

namespace {

// The encoded histograms of `s` with the Cell field each one adds to.
auto HistogramsOf(const v1::RequestStats& s, Cell* c) {
  return std::array{std::pair{&s.latency(), &c->latency},
                    std::pair{&s.service_time(), &c->service_time},
                    std::pair{&s.dns(), &c->dns},
                    std::pair{&s.connect(), &c->connect},
                    std::pair{&s.tls(), &c->tls},
                    std::pair{&s.ttfb(), &c->ttfb}};
}

void AddCounts(const v1::RequestStats& s, Cell* c) {
  c->requests += s.requests();
  c->errors += s.errors();
  c->bytes_in += s.bytes_in();
  c->bytes_out += s.bytes_out();
  for (const auto& [code, n] : s.status_counts()) c->statuses[code] += n;
  for (const auto& [id, n] : s.error_counts()) c->error_ids[id] += n;
}

}  // namespace

absl::Status Aggregator::Add(size_t agent, const v1::Interval& interval) {
  // Check everything before merging anything, so bad data leaves no trace.
  // Histograms are added from their wire form: no dense temporaries.
  for (const v1::RequestStats& s : interval.stats()) {
    if (s.scenario() >= cells_.size() ||
        s.request() >= cells_[s.scenario()].size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("interval ", interval.index(), ": no request ",
                       s.scenario(), "/", s.request(), " in the plan"));
    }
    for (const std::string* bytes : {&s.latency(), &s.service_time(), &s.dns(),
                                     &s.connect(), &s.tls(), &s.ttfb()}) {
      if (bytes->empty()) continue;
      if (absl::Status st = common::Histogram::Validate(*bytes); !st.ok())
        return st;
    }
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
    if (!self.schedule_lag().empty())
      view->schedule_lag.MergeEncoded(self.schedule_lag()).IgnoreError();
  }
  AgentTotals& totals = agents_[agent];
  ++totals.intervals;
  totals.sends_skipped += interval.agent().sends_skipped();
  for (const v1::RequestStats& s : interval.stats()) {
    Cell& cell = cells_[s.scenario()][s.request()];
    for (const auto& [bytes, h] : HistogramsOf(s, &cell)) {
      if (!bytes->empty()) h->MergeEncoded(*bytes).IgnoreError();  // checked
    }
    AddCounts(s, &cell);
    if (!s.latency().empty()) {
      common::Histogram::ForEachEncoded(s.latency(), [&totals](size_t index,
                                                               int64_t n) {
        totals.latency_buckets[index] += n;
      }).IgnoreError();  // checked above
    }
    totals.requests += s.requests();
    totals.errors += s.errors();
    if (view != nullptr) {
      view->requests += s.requests();
      view->errors += s.errors();
      if (!s.latency().empty())
        view->latency.MergeEncoded(s.latency()).IgnoreError();
      if (keep_stats_) view->stats.push_back(s);
    }
  }
  return absl::OkStatus();
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
  next_index_ = view.index + 1;
  return view;
}

}  // namespace stampede::controller
