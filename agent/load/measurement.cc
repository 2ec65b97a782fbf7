#include "agent/load/measurement.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

namespace stampede::agent {

void RequestMetrics::Merge(const RequestMetrics& other) {
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
  websocket = websocket || other.websocket;
  for (const CloseCount& c : other.closes) {
    if (c.count > 0) CountClose(c.code, c.count, c.errors);
  }
  requests += other.requests;
  errors += other.errors;
  checks_passed += other.checks_passed;
  checks_failed += other.checks_failed;
  for (size_t i = 0; i < kCountedChecks; ++i)
    check_failures[i] += other.check_failures[i];
  bytes_in += other.bytes_in;
  bytes_out += other.bytes_out;
  for (size_t i = 0; i < statuses.size(); ++i) {
    statuses[i] += other.statuses[i];
    unexpected_statuses[i] += other.unexpected_statuses[i];
  }
  for (size_t i = 0; i < transport_errors.size(); ++i) {
    transport_errors[i] += other.transport_errors[i];
  }
}

void RequestMetrics::Reset() {
  latency.Reset();
  latency_failed.Reset();
  service_time.Reset();
  dns.Reset();
  connect.Reset();
  tls.Reset();
  ttfb.Reset();
  ttlb.Reset();
  ws_rtt.Reset();
  ws_session.Reset();
  events = messages_out = messages_in = 0;
  websocket = false;
  closes.fill({});
  requests = errors = bytes_in = bytes_out = 0;
  checks_passed = checks_failed = 0;
  check_failures.fill(0);
  statuses.fill(0);
  unexpected_statuses.fill(0);
  transport_errors.fill(0);
}

void RequestMetrics::CountClose(uint16_t code, int64_t count, int64_t errors) {
  for (size_t i = 0; i < kCloseCodes; ++i) {
    CloseCount& c = closes[i];
    if (c.code == code || c.code == 0) {
      c.code = code;
      c.count += count;
      c.errors += errors;
      return;
    }
  }
  CloseCount& other = closes[kCloseCodes];  // too many distinct codes
  other.code = 1;
  other.count += count;
  other.errors += errors;
}

void Window::Shape(const std::vector<size_t>& requests_per_scenario) {
  requests.clear();
  for (size_t n : requests_per_scenario) requests.emplace_back(n);
  flows.assign(requests_per_scenario.size(), FlowCounts{});
}

void Window::Merge(const Window& other) {
  for (size_t s = 0; s < requests.size(); ++s) {
    for (size_t r = 0; r < requests[s].size(); ++r) {
      requests[s][r].Merge(other.requests[s][r]);
    }
  }
  for (size_t s = 0; s < flows.size() && s < other.flows.size(); ++s)
    flows[s].Merge(other.flows[s]);
  if (data.size() < other.data.size()) data.resize(other.data.size());
  for (size_t d = 0; d < other.data.size(); ++d) {
    data[d].taken += other.data[d].taken;
    data[d].first += other.data[d].first;
  }
  schedule_lag.Merge(other.schedule_lag);
  skipped_connection_cap += other.skipped_connection_cap;
  skipped_behind_schedule += other.skipped_behind_schedule;
  worker_busy = std::max(worker_busy, other.worker_busy);
  loop_stall_max_ns = std::max(loop_stall_max_ns, other.loop_stall_max_ns);
  in_flight += other.in_flight;
  queued += other.queued;
  vus += other.vus;
}

void Window::Reset() {
  for (auto& scenario : requests) {
    for (RequestMetrics& m : scenario) m.Reset();
  }
  for (FlowCounts& f : flows) f = FlowCounts{};
  for (DataCounts& d : data) d = DataCounts{};
  schedule_lag.Reset();
  skipped_connection_cap = skipped_behind_schedule = in_flight = queued = vus =
      0;
  worker_busy = 0;
  loop_stall_max_ns = 0;
  open_fds = 0;
}

void Window::ToProto(v1::Interval* out) const {
  out->set_index(index);
  for (size_t s = 0; s < flows.size(); ++s) {
    const FlowCounts& f = flows[s];
    if (f.empty()) continue;
    v1::FlowStats* stats = out->add_flows();
    stats->set_scenario(static_cast<uint32_t>(s));
    stats->set_started(f.started);
    stats->set_completed(f.completed);
    stats->set_aborted(f.aborted);
    stats->set_dropped(f.dropped);
    stats->set_skipped_steps(f.skipped_steps);
    stats->set_data_exhausted(f.data_exhausted);
  }
  for (size_t d = 0; d < data.size(); ++d) {
    if (data[d].taken == 0 && data[d].first == 0) continue;
    v1::DataUse* use = out->add_data();
    use->set_set(static_cast<uint32_t>(d));
    use->set_taken(data[d].taken);
    use->set_first(data[d].first);
  }
  for (size_t s = 0; s < requests.size(); ++s) {
    for (size_t r = 0; r < requests[s].size(); ++r) {
      const RequestMetrics& m = requests[s][r];
      // Arrivals skipped unsent leave only their wait in `latency`.
      if (m.requests == 0 && m.latency.Count() == 0 && m.messages_in == 0 &&
          m.messages_out == 0 && m.ws_session.Count() == 0)
        continue;
      v1::RequestStats* stats = out->add_stats();
      stats->set_scenario(s);
      stats->set_request(r);
      stats->set_latency(m.latency.Encode());
      if (m.latency_failed.Count() > 0)
        stats->set_latency_failed(m.latency_failed.Encode());
      stats->set_service_time(m.service_time.Encode());
      if (m.dns.Count() > 0) stats->set_dns(m.dns.Encode());
      if (m.connect.Count() > 0) stats->set_connect(m.connect.Encode());
      if (m.tls.Count() > 0) stats->set_tls(m.tls.Encode());
      if (m.ttfb.Count() > 0) stats->set_ttfb(m.ttfb.Encode());
      if (m.ttlb.Count() > 0) stats->set_ttlb(m.ttlb.Encode());
      if (m.ws_rtt.Count() > 0) stats->set_ws_rtt(m.ws_rtt.Encode());
      if (m.ws_session.Count() > 0)
        stats->set_ws_session(m.ws_session.Encode());
      stats->set_events(m.events);
      if (m.checks_passed + m.checks_failed > 0) {
        stats->set_checks_passed(m.checks_passed);
        stats->set_checks_failed(m.checks_failed);
        size_t last = 0;
        for (size_t i = 0; i < m.check_failures.size(); ++i)
          if (m.check_failures[i] > 0) last = i + 1;
        for (size_t i = 0; i < last; ++i)
          stats->add_check_failures(m.check_failures[i]);
      }
      stats->set_messages_out(m.messages_out);
      stats->set_messages_in(m.messages_in);
      for (const RequestMetrics::CloseCount& c : m.closes) {
        if (c.count == 0) continue;
        (*stats->mutable_close_codes())[c.code] += c.count;
        if (c.errors > 0) {
          (*stats->mutable_error_counts())[absl::StrCat("ws_close_", c.code)] +=
              c.errors;
        }
      }
      stats->set_requests(m.requests);
      stats->set_errors(m.errors);
      stats->set_bytes_in(m.bytes_in);
      stats->set_bytes_out(m.bytes_out);
      for (size_t code = 0; code < m.statuses.size(); ++code) {
        if (m.statuses[code] == 0) continue;
        (*stats->mutable_status_counts())[code] = m.statuses[code];
        if (m.unexpected_statuses[code] > 0) {
          (*stats->mutable_error_counts())[absl::StrCat(
              m.websocket ? "ws_upgrade_" : "http_", code)] =
              m.unexpected_statuses[code];
        }
      }
      for (size_t e = 1; e < m.transport_errors.size(); ++e) {
        if (m.transport_errors[e] == 0) continue;
        (*stats->mutable_error_counts())[std::string(common::ErrorIdName(
            static_cast<common::ErrorId>(e)))] = m.transport_errors[e];
      }
    }
  }
  v1::AgentStats* agent = out->mutable_agent();
  agent->set_sends_skipped(skipped_connection_cap + skipped_behind_schedule);
  agent->set_skipped_connection_cap(skipped_connection_cap);
  agent->set_skipped_behind_schedule(skipped_behind_schedule);
  agent->set_max_worker_busy(worker_busy);
  agent->set_max_loop_stall_us(loop_stall_max_ns / 1000);
  agent->set_open_fds(open_fds);
  int64_t local_errors = 0;
  for (const auto& scenario : requests) {
    for (const RequestMetrics& m : scenario) {
      for (size_t e = 0; e < m.transport_errors.size(); ++e) {
        if (common::IsLocalError(static_cast<common::ErrorId>(e))) {
          local_errors += m.transport_errors[e];
        }
      }
    }
  }
  agent->set_local_errors(local_errors);
  agent->set_in_flight(in_flight);
  agent->set_queued(queued);
  agent->set_vus(vus);
  agent->set_schedule_lag(schedule_lag.Encode());
}

}  // namespace stampede::agent
