#include "agent/load/run_spec.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/flow.h"
#include "common/version.h"
#include "google/protobuf/util/time_util.h"

namespace stampede::agent {

std::vector<uint32_t> RunSpec::ShareWeights() const {
  if (!share_weights.empty()) return share_weights;
  return std::vector<uint32_t>(share_count, 1);
}

const PreparedRequest& ScenarioSpec::RequestFor(uint64_t j) const {
  uint64_t slot = j % cumulative_weight.back();
  size_t i = std::upper_bound(cumulative_weight.begin(),
                              cumulative_weight.end(), slot) -
             cumulative_weight.begin();
  return requests[i];
}

namespace {

// What every request sends unless the plan names its own User-Agent.
std::string DefaultUserAgentHeader() {
  return absl::StrCat("User-Agent: stampede/", std::string(common::kVersion));
}

// ws:// and wss:// as the http:// and https:// URLs the engine dials.
std::string WsUrl(const std::string& url) {
  if (absl::StartsWith(url, "ws://"))
    return absl::StrCat("http", url.substr(2));
  if (absl::StartsWith(url, "wss://"))
    return absl::StrCat("https", url.substr(3));
  return url;
}

void WsOptionsFrom(const v1::Scenario& scenario, WsOptions* out) {
  const v1::WebSocket& ws = scenario.websocket();
  auto ns = [](const google::protobuf::Duration& d) {
    return google::protobuf::util::TimeUtil::DurationToNanoseconds(d);
  };
  out->mode = ws.mode() == "listen"          ? WsOptions::Mode::kListen
              : ws.mode() == "request_reply" ? WsOptions::Mode::kRequestReply
                                             : WsOptions::Mode::kSend;
  out->send_every_ns = ns(ws.send_every());
  const size_t seq = ws.message().find("{{seq}}");
  out->has_seq = seq != std::string::npos;
  out->prefix = ws.message().substr(0, seq);
  if (out->has_seq) out->suffix = ws.message().substr(seq + 7);
  out->size = ws.size();
  out->binary = ws.binary();
  out->subprotocol = ws.subprotocol();
  out->hold_ns = ns(ws.hold());
  out->expect_reply = out->mode == WsOptions::Mode::kRequestReply ||
                      (out->mode == WsOptions::Mode::kSend &&
                       (!ws.has_expect_reply() || ws.expect_reply()));
  out->match_id = ws.match() == "id";
  out->id_key =
      absl::StrCat("\"", ws.id_field().empty() ? "id" : ws.id_field(), "\":");
  out->messages = ws.messages();
  out->reply_timeout_ns =
      ws.has_reply_timeout() ? ns(ws.reply_timeout()) : ns(scenario.timeout());
  if (out->reply_timeout_ns <= 0) out->reply_timeout_ns = 10'000'000'000;
  if (ws.max_message_size() > 0) out->max_message_size = ws.max_message_size();
}

// The plan's `dns:` and `hosts:` (checked by validate; checked here again
// because a plan reaches an agent from whatever controller sent it).
absl::Status DnsFromPlan(const v1::TestPlan& plan, net::DnsOptions* out) {
  const v1::Dns& dns = plan.dns();
  using Select = net::DnsOptions::Select;
  using Family = net::DnsOptions::Family;
  if (dns.select().empty() || dns.select() == "round_robin") {
    out->select = Select::kRoundRobin;
  } else if (dns.select() == "first") {
    out->select = Select::kFirst;
  } else if (dns.select() == "random") {
    out->select = Select::kRandom;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("dns.select: unknown value ", dns.select()));
  }
  if (dns.family().empty() || dns.family() == "auto") {
    out->family = Family::kAuto;
  } else if (dns.family() == "ipv4") {
    out->family = Family::kIpv4;
  } else if (dns.family() == "ipv6") {
    out->family = Family::kIpv6;
  } else if (dns.family() == "any") {
    out->family = Family::kAny;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("dns.family: unknown value ", dns.family()));
  }
  if (dns.has_ttl()) {
    out->ttl_ns = std::max<int64_t>(
        0, google::protobuf::util::TimeUtil::DurationToNanoseconds(dns.ttl()));
  }
  out->servers.assign(dns.servers().begin(), dns.servers().end());
  out->hosts.assign(plan.hosts().begin(), plan.hosts().end());
  std::sort(out->hosts.begin(), out->hosts.end());
  return absl::OkStatus();
}

}  // namespace

std::vector<size_t> RunSpec::RequestsPerScenario() const {
  std::vector<size_t> out;
  for (const ScenarioSpec& s : scenarios) out.push_back(s.requests.size());
  return out;
}

absl::StatusOr<std::unique_ptr<RunSpec>> RunSpec::FromPrepare(
    const v1::Prepare& prepare) {
  if (prepare.plan().version() > common::kPlanVersion) {
    // A newer controller's plan could mean what this agent cannot honour.
    return absl::FailedPreconditionError(absl::StrCat(
        "the plan has schema version ", prepare.plan().version(),
        "; this agent (", std::string(common::kVersion),
        ") reads up to version ", common::kPlanVersion, ": upgrade the agent"));
  }
  auto spec = std::make_unique<RunSpec>();
  spec->run_id = prepare.run_id();
  spec->seed = prepare.plan().seed() != 0
                   ? prepare.plan().seed()
                   : std::hash<std::string>{}(prepare.run_id());
  spec->share_index = prepare.share().index();
  spec->share_count = prepare.share().count();
  spec->share_weights.assign(prepare.share().weights().begin(),
                             prepare.share().weights().end());
  if (!spec->share_weights.empty() &&
      (spec->share_weights.size() != prepare.share().count() ||
       std::find(spec->share_weights.begin(), spec->share_weights.end(), 0) !=
           spec->share_weights.end())) {
    return absl::InvalidArgumentError(
        "bad share weights: one above zero per agent expected");
  }
  if (spec->share_count == 0 || spec->share_index >= spec->share_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad share ", spec->share_index, "/", spec->share_count));
  }
  int64_t interval_ms =
      google::protobuf::util::TimeUtil::DurationToMilliseconds(
          prepare.interval());
  if (interval_ms > 0) spec->interval = absl::Milliseconds(interval_ms);
  const v1::TestPlan& plan = prepare.plan();
  auto ns = [](const google::protobuf::Duration& d) {
    return google::protobuf::util::TimeUtil::DurationToNanoseconds(d);
  };
  if (absl::Status s = DnsFromPlan(plan, &spec->dns); !s.ok()) return s;
  auto data = DataSetsFromPrepare(prepare, spec->ShareWeights());
  if (!data.ok()) return data.status();
  spec->data = std::move(*data);
  std::vector<std::pair<std::string, std::vector<std::string>>> data_columns;
  for (const DataSetSpec& set : spec->data)
    data_columns.emplace_back(set.name, set.columns);
  spec->setup_names = common::SetupCaptureNames(plan);
  spec->setup_values.assign(spec->setup_names.size(), std::string());
  if (!plan.setup().empty()) {
    // Only what a setup needs: its steps, defaults, dns and hosts.
    *spec->plan.mutable_setup() = plan.setup();
    *spec->plan.mutable_defaults() = plan.defaults();
    *spec->plan.mutable_dns() = plan.dns();
    *spec->plan.mutable_hosts() = plan.hosts();
  }
  uint64_t next_user = 0;  // the first {{vu}} number of the next scenario
  for (int s = 0; s < plan.scenarios_size(); ++s) {
    const v1::Scenario& scenario = plan.scenarios(s);
    if (!scenario.load().has_arrival_rate() && !scenario.load().has_vus()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "scenario ", scenario.name(), ": no load model this agent runs"));
    }
    ScenarioSpec out;
    out.tls.insecure_skip_verify = scenario.tls().insecure_skip_verify();
    out.tls.ca_file = scenario.tls().ca_file();
    // The plan was validated where it was written; the file is this agent's.
    if (!out.tls.ca_file.empty() &&
        access(out.tls.ca_file.c_str(), R_OK) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "scenario ", scenario.name(), ": tls.ca_file ", out.tls.ca_file,
          " cannot be read on this agent: ", strerror(errno)));
    }
    out.poisson = scenario.load().arrival_rate().spacing() == "poisson";
    out.name = scenario.name();
    out.transport = scenario.transport();
    out.http_version = scenario.http_version();
    out.max_streams_per_connection = scenario.max_streams_per_connection();
    out.start_offset_ns =
        absl::ToInt64Nanoseconds(common::ScenarioStart(scenario));
    out.mix = common::MixOf(plan, static_cast<size_t>(s));
    if (scenario.load().has_vus()) {
      const v1::Vus& vus = scenario.load().vus();
      out.model = ScenarioSpec::Model::kClosed;
      for (const v1::VuStage& stage : vus.stages()) {
        out.max_vus = std::max<double>(out.max_vus, stage.to());
      }
      out.max_vus = common::ScenarioVuLevel(out.mix, out.max_vus);
      switch (vus.think_time().kind_case()) {
        case v1::ThinkTime::kConstant:
          out.think = ScenarioSpec::Think::kConstant;
          out.think_a_ns = ns(vus.think_time().constant());
          break;
        case v1::ThinkTime::kUniform:
          out.think = ScenarioSpec::Think::kUniform;
          out.think_a_ns = ns(vus.think_time().uniform().min());
          out.think_b_ns = ns(vus.think_time().uniform().max());
          break;
        case v1::ThinkTime::kExponential:
          out.think = ScenarioSpec::Think::kExponential;
          out.think_a_ns = ns(vus.think_time().exponential());
          break;
        default:
          break;
      }
      out.iterations_per_vu = vus.iterations_per_vu();
      out.shared_iterations = vus.shared_iterations();
    } else {
      for (const v1::RateStage& stage : scenario.load().arrival_rate().stages())
        out.peak_rate = std::max(out.peak_rate, stage.to().per_second());
      if (out.mix) out.peak_rate *= out.mix->mix.Share(out.mix->member);
    }
    out.schedule = std::make_unique<common::ArrivalSchedule>(
        common::ArrivalSchedule::ForLoad(scenario.load()));
    out.max_connections = std::max<uint32_t>(1, scenario.max_connections());
    out.local_addresses.assign(scenario.local_addresses().begin(),
                               scenario.local_addresses().end());
    for (uint32_t code : scenario.expected_statuses()) {
      if (code < out.expected_statuses.size()) out.expected_statuses.set(code);
    }
    if (scenario.expected_statuses().empty()) {
      for (size_t code = 100; code < 400; ++code)
        out.expected_statuses.set(code);
    }
    if (scenario.has_max_lateness())
      out.max_lateness_ns = ns(scenario.max_lateness());
    if (scenario.has_websocket()) {
      out.websocket = true;
      out.expected_statuses.reset();
      out.expected_statuses.set(101);
      WsOptionsFrom(scenario, &out.ws);
    }
    uint64_t weight_sum = 0;
    for (int r = 0; r < scenario.requests_size(); ++r) {
      const v1::Request& request = scenario.requests(r);
      PreparedRequest p;
      p.scenario = s;
      p.request = r;
      p.url = absl::StartsWith(request.path(), "/")
                  ? absl::StrCat(scenario.base_url(), request.path())
                  : request.path();
      if (out.websocket) p.url = WsUrl(p.url);
      p.method = request.method().empty() ? "GET" : request.method();
      p.body = request.body();
      for (const auto& [name, value] : scenario.headers()) {
        // The request's own header wins, whatever its letter case.
        const std::string& scenario_header = name;
        if (std::none_of(request.headers().begin(), request.headers().end(),
                         [&](const auto& own) {
                           return absl::EqualsIgnoreCase(own.first,
                                                         scenario_header);
                         }))
          p.headers.push_back(absl::StrCat(name, ": ", value));
      }
      for (const auto& [name, value] : request.headers()) {
        p.headers.push_back(absl::StrCat(name, ": ", value));
      }
      // Every engine identifies itself unless the plan names a User-Agent
      // (an empty one sends none, libcurl's convention for any header).
      if (std::none_of(p.headers.begin(), p.headers.end(),
                       [](const std::string& h) {
                         return absl::StartsWithIgnoreCase(h, "user-agent:") ||
                                absl::StartsWithIgnoreCase(h, "user-agent;");
                       })) {
        p.headers.push_back(DefaultUserAgentHeader());
      }
      int64_t timeout_ms =
          google::protobuf::util::TimeUtil::DurationToMilliseconds(
              scenario.timeout());
      p.timeout_ms = timeout_ms > 0 ? timeout_ms : 10'000;
      p.keep_alive = !scenario.has_keep_alive() || scenario.keep_alive();
      p.proxy = scenario.proxy();
      if (scenario.has_auth()) {
        p.username = scenario.auth().username();
        p.password = scenario.auth().password();
        p.auth_scheme = scenario.auth().scheme().empty()
                            ? "basic"
                            : scenario.auth().scheme();
      }
      weight_sum += std::max<uint32_t>(1, request.weight());
      out.cumulative_weight.push_back(weight_sum);
      out.requests.push_back(std::move(p));
    }
    if (out.requests.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("scenario ", scenario.name(), ": no requests"));
    }
    if (!scenario.flow().empty()) {
      auto flow = FlowSpec::Compile(scenario, out.requests, data_columns,
                                    spec->setup_names, &spec->setup_values);
      if (!flow.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "scenario ", scenario.name(), ": ", flow.status().message()));
      }
      out.flow = std::move(*flow);
      // The transport dials the origin; each send brings its own target.
      for (PreparedRequest& p : out.requests) {
        const size_t authority = p.url.find("//");
        const size_t slash = authority == std::string::npos
                                 ? std::string::npos
                                 : p.url.find('/', authority + 2);
        if (slash != std::string::npos) p.url.resize(slash + 1);
      }
    }
    out.first_user = next_user;
    next_user += out.model == ScenarioSpec::Model::kClosed
                     ? static_cast<uint64_t>(std::ceil(out.max_vus))
                     : out.schedule->TotalArrivals();
    spec->scenarios.push_back(std::move(out));
  }
  return spec;
}

}  // namespace stampede::agent
