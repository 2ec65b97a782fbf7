// The semantic half of the plan loader: checks a parsed plan for missing
// fields, ranges and references (ValidatePlan), and fills in defaults so later
// stages read one explicit form (NormalizePlan). Thresholds are checked in
// threshold_check.cc.

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/flow.h"
#include "common/load_mix.h"
#include "common/plan_loader.h"
#include "common/plan_validate_internal.h"
#include "common/units.h"
#include "common/version.h"
#include "google/protobuf/duration.pb.h"

namespace stampede::common {
namespace {

constexpr uint32_t kCurrentVersion = kPlanVersion;
constexpr double kMaxRatePerSecond = 10'000'000;
constexpr uint32_t kMaxWeight = 1'000'000;
constexpr uint32_t kMaxConnections = 100'000;
constexpr uint32_t kDefaultMaxConnections = 256;
constexpr absl::Duration kDefaultMaxLateness = absl::Milliseconds(100);
constexpr uint32_t kMaxStreamsPerConnection = 10'000;
constexpr absl::Duration kMaxScenarioDuration = absl::Hours(24);
constexpr uint32_t kMaxVus = 1'000'000;
constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);
constexpr size_t kMaxTestTypeLength = 40;
// The default verdict's bound (NormalizePlan): error_rate < 1%.
constexpr char kDefaultErrorRateBound[] = "1%";
constexpr std::string_view kMethods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                         "PATCH", "DELETE", "OPTIONS"};

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  absl::Duration rem;
  out->set_seconds(absl::IDivDuration(d, absl::Seconds(1), &rem));
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(rem)));
}

bool IsFullUrl(absl::string_view s) {
  return absl::StartsWith(s, "http://") || absl::StartsWith(s, "https://") ||
         absl::StartsWith(s, "ws://") || absl::StartsWith(s, "wss://");
}

// Why `url` is not an http(s) URL with a host and an optional port in 1..65535;
// "" if it is.
class Validator {
 public:
  Validator(const LoadedPlan& loaded, std::map<std::string, DataTable>* tables)
      : loaded_(loaded), plan_(loaded.plan), tables_(tables) {}

  std::vector<PlanIssue> Run() {
    if (plan_.version() > kCurrentVersion) {
      Add("version",
          absl::StrCat("unsupported plan version ", plan_.version(),
                       "; this build reads version ", kCurrentVersion));
    }
    CheckDefaults();
    CheckLossPolicy();
    CheckMix();
    CheckSetup(loaded_, &issues_);
    CheckDns(loaded_, &issues_);
    CheckData(loaded_, &data_, tables_, &issues_);
    if (plan_.scenarios_size() == 0) {
      Add("scenarios", "a plan needs at least one scenario");
    }
    std::map<std::string, int> names;
    for (int i = 0; i < plan_.scenarios_size(); ++i) {
      const std::string path = absl::StrCat("scenarios[", i, "]");
      const v1::Scenario& scenario = plan_.scenarios(i);
      CheckScenario(scenario, path);
      if (scenario.name().empty()) continue;
      auto [it, inserted] = names.emplace(scenario.name(), i);
      if (!inserted) {
        Add(path + ".name",
            absl::StrCat("duplicate scenario name ", Quote(scenario.name()),
                         " (also scenarios[", it->second, "])"));
      }
    }
    CheckDataUse(loaded_, data_, &issues_);
    CheckCapacity(loaded_, &issues_);
    ThresholdChecker thresholds(loaded_, &issues_);
    for (int i = 0; i < plan_.thresholds_size(); ++i) {
      thresholds.Check(plan_.thresholds(i),
                       absl::StrCat("thresholds[", i, "]"));
    }
    // Report in the order a reader meets the problems in the file.
    std::stable_sort(issues_.begin(), issues_.end(),
                     [](const PlanIssue& a, const PlanIssue& b) {
                       return std::make_tuple(a.line == 0, a.line, a.col) <
                              std::make_tuple(b.line == 0, b.line, b.col);
                     });
    return std::move(issues_);
  }

 private:
  void Add(const std::string& path, std::string message) {
    issues_.push_back(loaded_.IssueAt(path, std::move(message)));
  }

  // Whether the plan's text wrote `path`, which tells "p: 0" from no p at all.
  bool Written(const std::string& path) const {
    return loaded_.locations.contains(path);
  }

  void CheckUrl(absl::string_view url, const std::string& path,
                absl::string_view what, bool websocket = false) {
    const std::string problem = UrlProblem(url, websocket);
    if (!problem.empty())
      Add(path, absl::StrCat(what, " ", Quote(url), " ", problem));
  }

  void CheckTimeout(bool has, const google::protobuf::Duration& d,
                    const std::string& path) {
    if (has && ToDuration(d) <= absl::ZeroDuration()) {
      Add(path, "timeout must be longer than 0s");
    }
  }

  void CheckHeaders(
      const google::protobuf::Map<std::string, std::string>& headers,
      const std::string& path) {
    // Map order is unspecified; sort so that messages come out the same every
    // time.
    std::vector<std::pair<std::string, std::string>> sorted(headers.begin(),
                                                            headers.end());
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [name, value] : sorted) {
      const std::string header_path = absl::StrCat(path, ".", name);
      if (name.empty()) {
        Add(header_path, "a header name must not be empty");
        continue;
      }
      if (std::any_of(name.begin(), name.end(), [](char c) {
            return c == ':' || static_cast<unsigned char>(c) <= ' ' ||
                   c == 0x7f;
          })) {
        Add(header_path, absl::StrCat("header name ", Quote(name),
                                      " must not contain spaces or colons"));
      }
      if (value.find_first_of("\r\n") != std::string::npos) {
        Add(header_path, "a header value must not contain line breaks");
      }
    }
  }

  void CheckLossPolicy() {
    // The test type is a report's label: one short line.
    if (plan_.type().size() > kMaxTestTypeLength ||
        plan_.type().find_first_of("\r\n") != std::string::npos) {
      Add("type", absl::StrCat("a test type is one line of at most ",
                               kMaxTestTypeLength,
                               " characters (e.g. smoke, load, stress, soak)"));
    }
    const std::string& on_loss = plan_.on_agent_loss();
    if (!on_loss.empty() && on_loss != "continue" && on_loss != "abort") {
      Add("on_agent_loss",
          absl::StrCat("unknown on_agent_loss ", Quote(on_loss),
                       "; use continue or abort"));
    }
    if (!plan_.max_lost_share().empty()) {
      auto share = ParseFraction(plan_.max_lost_share());
      if (!share.ok() || *share < 0 || *share > 1) {
        Add("max_lost_share",
            absl::StrCat(
                Quote(plan_.max_lost_share()),
                " is not a share of the plan; write e.g. 25% or 0.25"));
      }
    }
  }

  void CheckDefaults() {
    const v1::Defaults& defaults = plan_.defaults();
    if (!defaults.base_url().empty()) {
      CheckUrl(defaults.base_url(), "defaults.base_url", "base_url");
    }
    CheckHeaders(defaults.headers(), "defaults.headers");
    CheckTimeout(defaults.has_timeout(), defaults.timeout(),
                 "defaults.timeout");
  }

  void CheckScenario(const v1::Scenario& scenario, const std::string& path) {
    if (scenario.name().empty()) {
      Add(path + ".name", "a scenario needs a name");
    } else if (!std::all_of(
                   scenario.name().begin(), scenario.name().end(), [](char c) {
                     return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                            c == '-';
                   })) {
      Add(path + ".name",
          absl::StrCat("scenario name ", Quote(scenario.name()),
                       " may use only letters, digits, '_', '.' and '-'"));
    }
    CheckLoad(scenario, path);
    CheckRequests(scenario, path);
    if (!scenario.base_url().empty()) {
      CheckUrl(scenario.base_url(), path + ".base_url", "base_url",
               scenario.has_websocket());
    }
    if (scenario.has_websocket()) CheckWebSocket(loaded_, path, &issues_);
    CheckHeaders(scenario.headers(), path + ".headers");
    CheckTimeout(scenario.has_timeout(), scenario.timeout(), path + ".timeout");
    if (!scenario.transport().empty() && scenario.transport() != "auto" &&
        scenario.transport() != "native" && scenario.transport() != "curl") {
      Add(path + ".transport",
          absl::StrCat("unknown transport ", Quote(scenario.transport()),
                       "; use auto, native or curl"));
    }
    if (scenario.tls().insecure_skip_verify() &&
        !scenario.tls().ca_file().empty()) {
      // The file would be silently unused: say so rather than guess.
      Add(path + ".tls",
          "set either insecure_skip_verify or ca_file, not both");
    }
    if (scenario.has_start_after()) {
      const absl::Duration start = ToDuration(scenario.start_after());
      if (start < absl::ZeroDuration()) {
        Add(path + ".start_after", "start_after must not be negative");
      } else if (start > kMaxScenarioDuration) {
        Add(path + ".start_after", "start_after is beyond the limit of 24h");
      }
    }
    CheckProxyAndAuth(scenario, path);
    for (int i = 0; i < scenario.local_addresses_size(); ++i) {
      const std::string& a = scenario.local_addresses(i);
      if (!IsIpAddress(a)) {
        Add(absl::StrCat(path, ".local_addresses[", i, "]"),
            absl::StrCat(Quote(a), " is not an IP address (e.g. 127.0.0.2)"));
      }
    }
    for (int i = 0; i < scenario.expected_statuses_size(); ++i) {
      const uint32_t code = scenario.expected_statuses(i);
      if (code < 100 || code > 599) {
        Add(absl::StrCat(path, ".expected_statuses[", i, "]"),
            absl::StrCat("status ", code, " is not an HTTP status (100-599)"));
      }
    }
    if (scenario.has_max_lateness()) {
      const absl::Duration late = ToDuration(scenario.max_lateness());
      if (late < absl::ZeroDuration()) {
        Add(path + ".max_lateness", "max_lateness must not be negative");
      } else if (late > kMaxScenarioDuration) {
        Add(path + ".max_lateness", "max_lateness is beyond the limit of 24h");
      }
    }
    CheckHttpVersion(scenario, path);
    if (scenario.max_connections() > kMaxConnections) {
      Add(path + ".max_connections",
          absl::StrCat("max_connections ", scenario.max_connections(),
                       " is above the limit of ", kMaxConnections));
    }
  }

  void CheckProxyAndAuth(const v1::Scenario& scenario,
                         const std::string& path) {
    const bool via_curl = !scenario.proxy().empty() || scenario.has_auth();
    if (!scenario.proxy().empty()) {
      const std::string& p = scenario.proxy();
      const size_t sep = p.find("://");
      const std::string scheme =
          sep == std::string::npos ? "" : p.substr(0, sep);
      static constexpr std::string_view kSchemes[] = {
          "http", "https", "socks4", "socks4a", "socks5", "socks5h"};
      if (std::find(std::begin(kSchemes), std::end(kSchemes), scheme) ==
              std::end(kSchemes) ||
          p.size() <= sep + 3) {
        Add(path + ".proxy",
            absl::StrCat(Quote(p),
                         " is not a proxy URL; use http://, https://, "
                         "socks4://, socks4a://, socks5:// or socks5h:// "
                         "with host:port"));
      }
    }
    if (scenario.has_auth()) {
      const std::string& s = scenario.auth().scheme();
      if (!s.empty() && s != "basic" && s != "digest" && s != "ntlm" &&
          s != "any") {
        Add(path + ".auth.scheme",
            absl::StrCat("unknown scheme ", Quote(s),
                         "; use basic, digest, ntlm or any"));
      }
      if (scenario.auth().username().empty()) {
        Add(path + ".auth.username", "auth needs a username");
      }
    }
    if (via_curl && scenario.transport() == "native") {
      Add(path + ".transport",
          "proxy and auth are carried by libcurl; use transport auto or curl");
    }
    if (via_curl && scenario.http_version() == "2") {
      Add(path + ".http_version",
          "proxy and auth are carried by libcurl, which cannot carry "
          "http_version \"2\" here; use 1.1");
    }
  }

  void CheckHttpVersion(const v1::Scenario& scenario, const std::string& path) {
    const std::string& version = scenario.http_version();
    const bool h2 = version == "2";
    const bool maybe_h2 = h2 || version.empty() || version == "auto";
    if (!version.empty() && version != "1.1" && version != "auto" && !h2) {
      Add(path + ".http_version",
          absl::StrCat("unknown http_version ", Quote(version),
                       "; use auto, 1.1 or 2"));
    }
    if (scenario.max_streams_per_connection() > 0 && !maybe_h2) {
      Add(path + ".max_streams_per_connection",
          "max_streams_per_connection applies only to HTTP/2 (http_version "
          "auto or \"2\")");
    } else if (scenario.max_streams_per_connection() >
               kMaxStreamsPerConnection) {
      Add(path + ".max_streams_per_connection",
          absl::StrCat("max_streams_per_connection is above the limit of ",
                       kMaxStreamsPerConnection));
    }
    if (h2 && scenario.has_keep_alive() && !scenario.keep_alive()) {
      Add(path + ".keep_alive",
          "keep_alive: false applies to HTTP/1.1; HTTP/2 has no "
          "Connection: close");
    }
    if (h2 && scenario.local_addresses_size() > 0) {
      Add(path + ".local_addresses",
          "local_addresses applies to HTTP/1.1 only (not yet to HTTP/2)");
    }
    if (!h2) return;
    if (scenario.transport() == "curl") {
      Add(path + ".transport",
          "transport curl cannot carry http_version \"2\": Debian's libcurl "
          "7.88 fails h2c on reused connections (curl issue 10634); use auto");
    }
  }

  void CheckLoad(const v1::Scenario& scenario, const std::string& path) {
    if (scenario.weight() > 0) {
      // Its share of the plan-level load, checked once (CheckMix).
      if (scenario.has_load()) {
        Add(path + ".weight",
            "a scenario with a weight takes its share of the plan's load: "
            "remove its own load, or its weight");
      } else if (!plan_.has_load()) {
        Add(path + ".weight",
            "weight shares the plan-level load: add load: { vus: ... } or "
            "load: { arrival_rate: ... } at the top of the plan");
      }
      return;
    }
    if (!scenario.has_load()) {
      Add(path + ".load",
          plan_.has_load()
              ? "a scenario needs a load, or a weight to share the plan's load"
              : "a scenario needs a load, e.g. load: { arrival_rate: { "
                "stages: [...] } }");
      return;
    }
    CheckLoadAt(scenario.load(), path + ".load");
  }

  // The plan-level load and the weights that share it.
  void CheckMix() {
    if (!plan_.has_load()) return;
    uint64_t total = 0;
    for (const v1::Scenario& s : plan_.scenarios()) total += s.weight();
    if (total == 0) {
      Add("load",
          "a plan-level load is shared by scenarios with a weight; none has "
          "one");
      return;
    }
    if (total > kMaxMixWeight) {
      Add("load", absl::StrCat("the weights add up to ", total,
                               ", above the limit of ", kMaxMixWeight));
    }
    CheckLoadAt(plan_.load(), "load");
    if (plan_.load().vus().shared_iterations() > 0) {
      Add("load.vus.shared_iterations",
          "shared_iterations is not split by a user mix; use "
          "iterations_per_vu");
    }
  }

  void CheckLoadAt(const v1::Load& load, const std::string& load_path) {
    if (load.has_arrival_rate()) {
      CheckStages(
          load.arrival_rate().stages(), load_path + ".arrival_rate", load_path,
          [this](const v1::RateStage& stage, const std::string& to_path) {
            const double rate = stage.to().per_second();
            if (!(rate >= 0)) {
              Add(to_path, "a rate must not be negative");
            } else if (rate > kMaxRatePerSecond) {
              Add(to_path, "rate is above the limit of 10000000/s");
            }
          });
      const std::string& spacing = load.arrival_rate().spacing();
      if (!spacing.empty() && spacing != "constant" && spacing != "poisson") {
        Add(load_path + ".arrival_rate.spacing",
            absl::StrCat("unknown spacing ", Quote(spacing),
                         "; use constant or poisson"));
      }
    } else if (load.has_vus()) {
      const v1::Vus& vus = load.vus();
      const std::string vus_path = load_path + ".vus";
      CheckStages(
          vus.stages(), vus_path, load_path,
          [this](const v1::VuStage& stage, const std::string& to_path) {
            if (stage.to() > kMaxVus) {
              Add(to_path,
                  absl::StrCat("VU count is above the limit of ", kMaxVus));
            }
          });
      CheckThinkTime(vus, vus_path + ".think_time");
      if (vus.iterations_per_vu() > 0 && vus.shared_iterations() > 0) {
        Add(vus_path,
            "iterations_per_vu and shared_iterations exclude each other");
      }
    } else {
      Add(load_path, "load needs a model: arrival_rate or vus");
    }
  }

  void CheckThinkTime(const v1::Vus& vus, const std::string& path) {
    if (!vus.has_think_time()) return;
    const v1::ThinkTime& t = vus.think_time();
    switch (t.kind_case()) {
      case v1::ThinkTime::kConstant:
        break;
      case v1::ThinkTime::kUniform:
        if (ToDuration(t.uniform().max()) < ToDuration(t.uniform().min())) {
          Add(path + ".uniform", "max must not be below min");
        }
        break;
      case v1::ThinkTime::kExponential:
        if (ToDuration(t.exponential()) <= absl::ZeroDuration()) {
          Add(path + ".exponential", "the mean must be longer than 0s");
        }
        break;
      default:
        Add(path, "think_time needs constant, uniform or exponential");
    }
  }

  // The rules shared by rate and VU stages; `check_to` judges a ramp's target.
  template <typename Stage, typename CheckTo>
  void CheckStages(const google::protobuf::RepeatedPtrField<Stage>& stages,
                   const std::string& model_path, const std::string& load_path,
                   CheckTo check_to) {
    const std::string stages_path = model_path + ".stages";
    const std::string model = model_path.substr(model_path.rfind('.') + 1);
    if (stages.empty()) {
      Add(stages_path, absl::StrCat(model, " needs at least one stage"));
      return;
    }
    bool stages_ok = true;
    absl::Duration total = absl::ZeroDuration();
    for (int i = 0; i < stages.size(); ++i) {
      const Stage& stage = stages[i];
      const std::string stage_path = absl::StrCat(stages_path, "[", i, "]");
      const size_t before = issues_.size();
      if (stage.has_hold() && (stage.has_to() || stage.has_over())) {
        Add(stage_path, "a stage is either {to, over} or {hold}, not both");
      } else if (stage.has_hold()) {
        if (ToDuration(stage.hold()) <= absl::ZeroDuration()) {
          Add(stage_path + ".hold", "hold must be longer than 0s");
        }
        total += ToDuration(stage.hold());
      } else if (stage.has_to() && !stage.has_over()) {
        Add(stage_path,
            "\"to\" needs \"over\", the ramp's length (over: 0s steps at "
            "once)");
      } else if (stage.has_over() && !stage.has_to()) {
        Add(stage_path, "\"over\" needs \"to\", the level to ramp to");
      } else if (!stage.has_to()) {
        Add(stage_path, absl::StrCat("empty stage; write {to: ",
                                     model == "vus" ? "VUS" : "RATE",
                                     ", over: DURATION} or {hold: DURATION}"));
      } else {
        if (ToDuration(stage.over()) < absl::ZeroDuration()) {
          Add(stage_path + ".over", "over must not be negative");
        }
        check_to(stage, stage_path + ".to");
        total += ToDuration(stage.over());
      }
      if (issues_.size() != before) stages_ok = false;
    }
    if (!stages_ok) return;  // the total of broken stages would only add noise
    if (total <= absl::ZeroDuration()) {
      Add(load_path, "the stages last 0s; a scenario must run for some time");
    } else if (total > kMaxScenarioDuration) {
      Add(load_path,
          absl::StrCat("the stages last ", common::FormatDuration(total),
                       ", longer than the limit of 24h"));
    }
  }

  void CheckRequests(const v1::Scenario& scenario, const std::string& path) {
    const bool websocket = scenario.has_websocket();
    if (websocket && !scenario.websocket().path().empty()) {
      // The endpoint is websocket.path; NormalizePlan makes it the request.
      if (!scenario.requests().empty()) {
        Add(path + ".websocket.path",
            "give the endpoint either as websocket.path or as requests, not "
            "both");
      } else if (IsFullUrl(scenario.websocket().path())) {
        CheckUrl(scenario.websocket().path(), path + ".websocket.path", "URL",
                 true);
      } else if (absl::StartsWith(scenario.websocket().path(), "/")) {
        NeedBaseUrl(scenario, path);
      } else {
        Add(path + ".websocket.path",
            absl::StrCat("path ", Quote(scenario.websocket().path()),
                         " must start with \"/\" or be a full ws:// or "
                         "wss:// URL"));
      }
      return;
    }
    if (!scenario.flow().empty()) {
      CheckFlow(loaded_, scenario, path, &data_, &issues_);
      return;
    }
    if (scenario.requests().empty()) {
      Add(path + ".requests",
          "a scenario needs at least one request or a flow");
      return;
    }
    bool needs_base_url = false;
    std::map<std::string, int> names;
    for (int j = 0; j < scenario.requests_size(); ++j) {
      const v1::Request& request = scenario.requests(j);
      const std::string request_path = absl::StrCat(path, ".requests[", j, "]");
      if (!request.method().empty() &&
          std::find(std::begin(kMethods), std::end(kMethods),
                    request.method()) == std::end(kMethods)) {
        Add(request_path + ".method",
            absl::StrCat(
                "unknown method ", Quote(request.method()),
                "; use one of GET HEAD POST PUT PATCH DELETE OPTIONS"));
      }
      if (request.path().empty()) {
        Add(request_path + ".path", "a request needs a path, e.g. path: /");
      } else if (IsFullUrl(request.path())) {
        CheckUrl(request.path(), request_path + ".path", "URL", websocket);
      } else if (absl::StartsWith(request.path(), "/")) {
        needs_base_url = true;
      } else {
        Add(request_path + ".path",
            absl::StrCat(
                "path ", Quote(request.path()),
                " must start with \"/\" or be a full http:// or https:// URL"));
      }
      if (request.weight() > kMaxWeight) {
        Add(request_path + ".weight",
            absl::StrCat("weight ", request.weight(), " is above the limit of ",
                         kMaxWeight));
      }
      CheckHeaders(request.headers(), request_path + ".headers");
      auto [it, inserted] = names.emplace(RequestName(request), j);
      if (!inserted) {
        Add(request_path + ".name",
            absl::StrCat("duplicate request name ", Quote(it->first),
                         " (also requests[", it->second, "])",
                         request.name().empty() ? "; give them names" : ""));
      }
    }
    if (needs_base_url) NeedBaseUrl(scenario, path);
  }

  void NeedBaseUrl(const v1::Scenario& scenario, const std::string& path) {
    if (scenario.base_url().empty() && plan_.defaults().base_url().empty()) {
      Add(path + ".base_url",
          "no base_url for paths like \"/...\"; set base_url in the scenario "
          "or in defaults");
    }
  }

  const LoadedPlan& loaded_;
  const v1::TestPlan& plan_;
  std::map<std::string, DataTable>* tables_;
  DataSets data_;
  std::vector<PlanIssue> issues_;
};

}  // namespace

std::vector<PlanIssue> ValidatePlan(const LoadedPlan& loaded) {
  return Validator(loaded, nullptr).Run();
}

std::vector<PlanIssue> ValidatePlan(const LoadedPlan& loaded,
                                    std::map<std::string, DataTable>* tables) {
  return Validator(loaded, tables).Run();
}

void NormalizePlan(v1::TestPlan* plan) {
  const v1::Defaults& defaults = plan->defaults();
  for (v1::Scenario& scenario : *plan->mutable_scenarios()) {
    if (scenario.base_url().empty()) scenario.set_base_url(defaults.base_url());
    for (const auto& [name, value] : defaults.headers()) {
      scenario.mutable_headers()->insert(
          {name, value});  // keeps the scenario's own
    }
    // A user mix: each weighted scenario runs the shared load (its share is
    // taken by common::MixOf wherever the load is read).
    if (scenario.weight() > 0 && plan->has_load() && !scenario.has_load())
      *scenario.mutable_load() = plan->load();
    if (!scenario.has_timeout()) {
      if (defaults.has_timeout()) {
        *scenario.mutable_timeout() = defaults.timeout();
      } else {
        SetDuration(kDefaultTimeout, scenario.mutable_timeout());
      }
    }
    if (scenario.max_connections() == 0)
      scenario.set_max_connections(kDefaultMaxConnections);
    if (!scenario.has_max_lateness())
      SetDuration(kDefaultMaxLateness, scenario.mutable_max_lateness());
    if (scenario.has_websocket() && scenario.requests().empty()) {
      v1::Request* request = scenario.add_requests();
      request->set_path(scenario.websocket().path());
      request->set_name(absl::StrCat("WS ", scenario.websocket().path()));
    }
    // A flow's request steps are its requests: one series each, by name
    // (once: a normalized plan already lists them).
    if (scenario.requests().empty())
      ForEachFlowRequest(scenario.flow(), "",
                         [&](const v1::FlowStep& step, const std::string&) {
                           v1::Request* r = scenario.add_requests();
                           r->set_name(FlowStepName(step));
                           r->set_method(step.method());
                           r->set_path(step.path());
                           r->set_body(step.body());
                           *r->mutable_headers() = step.headers();
                         });
    if (!scenario.flow().empty() && scenario.max_flows() == 0)
      scenario.set_max_flows(kDefaultMaxFlows);
    for (v1::Request& request : *scenario.mutable_requests()) {
      if (request.method().empty()) request.set_method("GET");
      if (request.weight() == 0) request.set_weight(1);
      if (request.name().empty()) request.set_name(DefaultRequestName(request));
    }
  }
  // The default verdict: errors fail a run that judges nothing else about
  // them, as Locust's exit code does, instead of "passed" over a run that
  // mostly failed.
  const bool judges_errors =
      std::any_of(plan->thresholds().begin(), plan->thresholds().end(),
                  [](const v1::Threshold& t) {
                    return t.metric() == "error_rate" && t.error().empty();
                  });
  if (!judges_errors &&
      (!plan->has_default_thresholds() || plan->default_thresholds())) {
    v1::Threshold* t = plan->add_thresholds();
    t->set_metric("error_rate");
    t->set_lt(kDefaultErrorRateBound);
    t->set_origin("default");
  }
}

}  // namespace stampede::common
