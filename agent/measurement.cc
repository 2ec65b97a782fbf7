#include "agent/measurement.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace stampede::agent {

void RequestMetrics::Merge(const RequestMetrics& other) {
  latency.Merge(other.latency);
  service_time.Merge(other.service_time);
  requests += other.requests;
  errors += other.errors;
  bytes_in += other.bytes_in;
  bytes_out += other.bytes_out;
  for (size_t i = 0; i < statuses.size(); ++i) statuses[i] += other.statuses[i];
  for (size_t i = 0; i < transport_errors.size(); ++i) {
    transport_errors[i] += other.transport_errors[i];
  }
}

void RequestMetrics::Reset() {
  latency.Reset();
  service_time.Reset();
  requests = errors = bytes_in = bytes_out = 0;
  statuses.fill(0);
  transport_errors.fill(0);
}

void Window::Shape(const std::vector<size_t>& requests_per_scenario) {
  requests.clear();
  for (size_t n : requests_per_scenario) requests.emplace_back(n);
}

void Window::Merge(const Window& other) {
  for (size_t s = 0; s < requests.size(); ++s) {
    for (size_t r = 0; r < requests[s].size(); ++r) {
      requests[s][r].Merge(other.requests[s][r]);
    }
  }
  schedule_lag.Merge(other.schedule_lag);
  sends_skipped += other.sends_skipped;
  in_flight += other.in_flight;
  queued += other.queued;
  vus += other.vus;
}

void Window::Reset() {
  for (auto& scenario : requests) {
    for (RequestMetrics& m : scenario) m.Reset();
  }
  schedule_lag.Reset();
  sends_skipped = in_flight = queued = vus = 0;
}

void Window::ToProto(v1::Interval* out) const {
  out->set_index(index);
  for (size_t s = 0; s < requests.size(); ++s) {
    for (size_t r = 0; r < requests[s].size(); ++r) {
      const RequestMetrics& m = requests[s][r];
      if (m.requests == 0) continue;
      v1::RequestStats* stats = out->add_stats();
      stats->set_scenario(s);
      stats->set_request(r);
      stats->set_latency(m.latency.Encode());
      stats->set_service_time(m.service_time.Encode());
      stats->set_requests(m.requests);
      stats->set_errors(m.errors);
      stats->set_bytes_in(m.bytes_in);
      stats->set_bytes_out(m.bytes_out);
      for (size_t code = 0; code < m.statuses.size(); ++code) {
        if (m.statuses[code] == 0) continue;
        (*stats->mutable_status_counts())[code] = m.statuses[code];
        if (code >= 400) {
          (*stats->mutable_error_counts())[absl::StrCat("http_", code)] =
              m.statuses[code];
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
  agent->set_sends_skipped(sends_skipped);
  agent->set_in_flight(in_flight);
  agent->set_queued(queued);
  agent->set_vus(vus);
  agent->set_schedule_lag(schedule_lag.Encode());
}

}  // namespace stampede::agent
