// The validator's part for a scenario's `flow:` (see plan_validate_internal.h):
// the shape of every step, its templates against the names defined before it,
// captures and checks.
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/flow.h"
#include "common/json_path.h"
#include "common/plan_validate_internal.h"
#include "common/template.h"
#include "re2/re2.h"

namespace stampede::common {
namespace {

constexpr std::string_view kMethods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                         "PATCH", "DELETE", "OPTIONS"};
constexpr std::string_view kBuiltIns[] = {
    "vu",  "iteration", "index",         "agent",     "uuid",
    "seq", "now_ms",    "random_string", "random_int"};

bool IsIdentifier(const std::string& name) {
  if (name.empty() || !(absl::ascii_isalpha(name[0]) || name[0] == '_'))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// The names a step may use: what earlier steps captured.
class Scope final : public TemplateScope {
 public:
  bool Lookup(std::string_view name_in, TemplateName* out,
              std::string* why) const override {
    const std::string name(name_in);
    if (absl::StartsWith(name, "setup.")) {
      auto it = std::lower_bound(setup.begin(), setup.end(), name.substr(6));
      if (it != setup.end() && *it == name.substr(6)) {
        *out = {TemplateSource::kSetup,
                static_cast<uint32_t>(it - setup.begin()), 0};
        return true;
      }
      *why = absl::StrCat(
          "{{", name, "}} is not defined: ",
          in_setup ? "setup steps use their own captures without setup. "
                   : "the plan has no setup step that captures ",
          in_setup ? "" : name.substr(6));
      return false;
    }
    if (name.find('.') != std::string::npos) return LookupData(name, out, why);
    auto it = variables.find(name);
    if (it == variables.end()) return false;
    *out = {TemplateSource::kVariable, it->second, 0};
    return true;
  }
  bool InRepeat() const override { return depth > 0; }

  std::map<std::string, uint32_t> variables;
  int depth = 0;
  DataSets* data = nullptr;
  std::string scenario_path;       // noted in the sets it uses
  std::vector<std::string> setup;  // SetupCaptureNames; none inside setup
  bool in_setup = false;

 private:
  // "SET.COLUMN": a column of one of the plan's data sets.
  bool LookupData(const std::string& name, TemplateName* out,
                  std::string* why) const {
    const size_t dot = name.find('.');
    const std::string set = name.substr(0, dot);
    const std::string column = name.substr(dot + 1);
    auto it = data == nullptr ? DataSets::iterator() : data->find(set);
    if (data == nullptr || it == data->end()) {
      *why = absl::StrCat("{{", name, "}} is not defined: the plan has no ",
                          "data set ", set);
      return false;
    }
    DataSetInfo& info = it->second;
    uint32_t index = 0;
    if (info.read) {
      auto c = std::find(info.columns.begin(), info.columns.end(), column);
      if (c == info.columns.end()) {
        std::vector<std::string> shown(
            info.columns.begin(),
            info.columns.begin() + std::min<size_t>(info.columns.size(), 10));
        *why = absl::StrCat(
            "{{", name, "}} is not defined: data set ", set, " has no column ",
            Quote(column), " (it has ", absl::StrJoin(shown, ", "),
            info.columns.size() > shown.size() ? ", ..." : "", ")");
        return false;
      }
      index = static_cast<uint32_t>(c - info.columns.begin());
    }
    if (std::find(info.used_by.begin(), info.used_by.end(), scenario_path) ==
        info.used_by.end())
      info.used_by.push_back(scenario_path);
    *out = {TemplateSource::kData, info.index, index};
    return true;
  }
};

class FlowChecker {
 public:
  FlowChecker(const LoadedPlan& loaded, const v1::Scenario& scenario,
              DataSets* data, std::vector<PlanIssue>* issues)
      : loaded_(loaded), scenario_(scenario), issues_(*issues) {
    scope_.data = data;
    scope_.setup = SetupCaptureNames(loaded.plan);
  }

  // The plan's setup: request steps under defaults, their own captures.
  void RunSetup() {
    scope_.setup.clear();
    scope_.in_setup = true;
    CheckSteps(loaded_.plan.setup(), "setup");
    if (needs_base_url_ && loaded_.plan.defaults().base_url().empty()) {
      Add("setup", "setup paths like \"/...\" need defaults.base_url");
    }
  }

  void Run(const std::string& path) {
    scope_.scenario_path = path;
    if (!scenario_.requests().empty() && !Normalized()) {
      Add(path + ".flow", "a scenario has either requests or a flow, not both");
    }
    if (scenario_.has_websocket()) {
      Add(path + ".flow",
          "flows are HTTP requests; a WebSocket scenario has none");
    }
    if (!scenario_.on_check_fail().empty() &&
        scenario_.on_check_fail() != "continue" &&
        scenario_.on_check_fail() != "abort_flow") {
      Add(path + ".on_check_fail",
          absl::StrCat("unknown value ", Quote(scenario_.on_check_fail()),
                       "; use continue or abort_flow"));
    }
    CheckSteps(scenario_.flow(), path + ".flow");
    if (requests_ == 0) {
      Add(path + ".flow", "a flow needs at least one request step");
    } else if (requests_ > kMaxFlowRequests) {
      Add(path + ".flow",
          absl::StrCat("a flow has at most ", kMaxFlowRequests,
                       " request steps; this one has ", requests_));
    }
    if (needs_base_url_ && scenario_.base_url().empty() &&
        loaded_.plan.defaults().base_url().empty()) {
      Add(path + ".base_url",
          "no base_url for paths like \"/...\"; set base_url in the scenario "
          "or in defaults");
    }
  }

 private:
  void Add(const std::string& path, std::string message) {
    issues_.push_back(loaded_.IssueAt(path, std::move(message)));
  }

  // Whether the scenario's requests are the flow's request steps, as
  // NormalizePlan lists them: a normalized plan stays valid.
  bool Normalized() const {
    int i = 0;
    bool same = true;
    ForEachFlowRequest(scenario_.flow(), "",
                       [&](const v1::FlowStep& step, const std::string&) {
                         same = same && i < scenario_.requests_size() &&
                                scenario_.requests(i).name() ==
                                    FlowStepName(step) &&
                                scenario_.requests(i).path() == step.path();
                         ++i;
                       });
    return same && i == scenario_.requests_size();
  }

  void CheckSteps(const google::protobuf::RepeatedPtrField<v1::FlowStep>& steps,
                  const std::string& path) {
    if (steps.empty()) Add(path, "no steps");
    for (int i = 0; i < steps.size(); ++i) {
      const v1::FlowStep& step = steps[i];
      const std::string step_path = absl::StrCat(path, "[", i, "]");
      switch (KindOf(step)) {
        case FlowStepKind::kRequest:
          CheckRequest(step, step_path);
          break;
        case FlowStepKind::kThink:
          if (!step.name().empty())
            Add(step_path + ".name", "only a request step has a name");
          CheckThink(step.think(), step_path + ".think");
          break;
        case FlowStepKind::kRepeat:
          if (step.repeat() == 0) {
            Add(step_path, "steps need repeat: N, how many times (1 or more)");
          } else if (step.repeat() > kMaxRepeat) {
            Add(step_path + ".repeat",
                absl::StrCat("repeat is at most ", kMaxRepeat));
          }
          if (step.steps().empty()) {
            Add(step_path, "repeat needs steps: [...], the steps it repeats");
            break;
          }
          if (scope_.depth + 1 > kMaxFlowDepth) {
            Add(step_path, absl::StrCat("repeat blocks nest at most ",
                                        kMaxFlowDepth, " deep"));
            break;
          }
          ++scope_.depth;
          CheckSteps(step.steps(), step_path + ".steps");
          --scope_.depth;
          break;
        case FlowStepKind::kInvalid:
          Add(step_path,
              "a step is one of: a request (method, path, headers, body, "
              "capture, check), {think: ...} or {repeat: N, steps: [...]}");
          break;
      }
    }
  }

  void CheckThink(const v1::ThinkTime& t, const std::string& path) {
    switch (t.kind_case()) {
      case v1::ThinkTime::kConstant:
        if (ToDuration(t.constant()) < absl::ZeroDuration())
          Add(path + ".constant", "must not be negative");
        break;
      case v1::ThinkTime::kUniform:
        if (ToDuration(t.uniform().max()) < ToDuration(t.uniform().min()) ||
            ToDuration(t.uniform().min()) < absl::ZeroDuration()) {
          Add(path + ".uniform", "needs 0s <= min <= max");
        }
        break;
      case v1::ThinkTime::kExponential:
        if (ToDuration(t.exponential()) <= absl::ZeroDuration())
          Add(path + ".exponential", "the mean must be longer than 0s");
        break;
      default:
        Add(path, "think needs constant, uniform or exponential");
    }
  }

  // A template field; reports the first problem at its place in the file.
  void CheckTemplate(const std::string& text, const std::string& path) {
    size_t offset = 0;
    auto t = Template::Compile(text, scope_, &offset);
    if (!t.ok()) {
      std::string message(t.status().message());
      // "column N: " is the place in the value; the issue says where it is.
      const size_t colon = message.find(": ");
      if (absl::StartsWith(message, "column ") && colon != std::string::npos)
        message = message.substr(colon + 2);
      issues_.push_back(loaded_.IssueInValue(path, offset, message));
    }
  }

  void CheckRequest(const v1::FlowStep& step, const std::string& path) {
    ++requests_;
    if (!step.method().empty() &&
        std::find(std::begin(kMethods), std::end(kMethods), step.method()) ==
            std::end(kMethods)) {
      Add(path + ".method",
          absl::StrCat("unknown method ", Quote(step.method()),
                       "; use one of GET HEAD POST PUT PATCH DELETE OPTIONS"));
    }
    const std::string name = FlowStepName(step);
    if (auto [it, inserted] = names_.emplace(name, path); !inserted) {
      Add(path + ".name",
          absl::StrCat("duplicate step name ", Quote(name), " (also ",
                       it->second, ")",
                       step.name().empty() ? "; give them names" : ""));
    }
    const std::string& p = step.path();
    if (p.empty()) {
      Add(path + ".path", "a request step needs a path, e.g. path: /");
    } else if (absl::StartsWith(p, "/")) {
      needs_base_url_ = true;
      CheckTemplate(p, path + ".path");
    } else if (absl::StartsWith(p, "http://") ||
               absl::StartsWith(p, "https://")) {
      // The scheme and host are fixed at Prepare: templates only after them.
      const size_t slash = p.find('/', p.find("//") + 2);
      const std::string origin = p.substr(0, slash);
      if (origin.find("{{") != std::string::npos) {
        issues_.push_back(loaded_.IssueInValue(
            path + ".path", origin.find("{{"),
            "templates may fill a URL's path and query, not its scheme or "
            "host"));
      } else if (std::string problem = UrlProblem(origin + "/", false);
                 !problem.empty()) {
        Add(path + ".path", absl::StrCat("URL ", Quote(p), " ", problem));
      } else if (slash != std::string::npos) {
        CheckTemplate(p, path + ".path");
      }
    } else {
      Add(path + ".path",
          absl::StrCat("path ", Quote(p),
                       " must start with \"/\" or be a full http:// or "
                       "https:// URL"));
    }
    std::vector<std::pair<std::string, std::string>> headers(
        step.headers().begin(), step.headers().end());
    std::sort(headers.begin(), headers.end());
    for (const auto& [header, value] : headers) {
      const std::string header_path = absl::StrCat(path, ".headers.", header);
      if (header.empty() ||
          !std::all_of(header.begin(), header.end(), [](char c) {
            return c > ' ' && c != ':' && c != 0x7f;
          })) {
        Add(header_path, absl::StrCat("header name ", Quote(header),
                                      " must not contain spaces or colons"));
      }
      if (value.find_first_of("\r\n") != std::string::npos) {
        Add(header_path, "a header value must not contain line breaks");
      }
      CheckTemplate(value, header_path);
    }
    CheckTemplate(step.body(), path + ".body");
    if (step.has_check()) CheckCheck(step.check(), path + ".check");
    // Captures are defined for the steps after this one.
    std::vector<std::pair<std::string, v1::Capture>> captures(
        step.capture().begin(), step.capture().end());
    std::sort(captures.begin(), captures.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [variable, capture] : captures) {
      CheckCapture(variable, capture,
                   absl::StrCat(path, ".capture.", variable));
    }
  }

  void CheckCapture(const std::string& variable, const v1::Capture& capture,
                    const std::string& path) {
    if (!IsIdentifier(variable)) {
      Add(path, absl::StrCat("capture name ", Quote(variable),
                             " must be letters, digits and _ (not first a "
                             "digit)"));
      return;
    }
    if (std::find(std::begin(kBuiltIns), std::end(kBuiltIns), variable) !=
            std::end(kBuiltIns) ||
        variable == "setup") {
      Add(path, absl::StrCat(Quote(variable),
                             " is a built-in name; capture into another"));
      return;
    }
    const int sources = !capture.json().empty() + !capture.header().empty() +
                        !capture.regex().empty() + !capture.cookie().empty();
    if (sources != 1) {
      Add(path,
          "a capture takes exactly one of: json (a JSONPath), header, regex, "
          "cookie");
    } else if (!capture.json().empty()) {
      CheckJsonPath(capture.json(), path + ".json");
    } else if (!capture.regex().empty()) {
      RE2 re(capture.regex(), RE2::Quiet);
      if (!re.ok()) {
        Add(path + ".regex",
            absl::StrCat("not a regular expression (RE2 syntax): ",
                         re.error()));
      } else if (re.NumberOfCapturingGroups() > 1) {
        Add(path + ".regex",
            "at most one group (...): its match is the value; use (?:...) for "
            "the others");
      }
    }
    scope_.variables.emplace(variable,
                             static_cast<uint32_t>(scope_.variables.size()));
  }

  void CheckJsonPath(const std::string& expr, const std::string& path) {
    auto parsed = JsonPath::Parse(expr);
    if (!parsed.ok()) {
      Add(path, absl::StrCat("JSONPath ", Quote(expr), ": ",
                             parsed.status().message()));
    }
  }

  void CheckCheck(const v1::Check& check, const std::string& path) {
    for (int i = 0; i < check.status_size(); ++i) {
      if (check.status(i) < 100 || check.status(i) > 599) {
        Add(absl::StrCat(path, ".status[", i, "]"),
            absl::StrCat("status ", check.status(i),
                         " is not an HTTP status (100-599)"));
      }
    }
    // Expected values are templates, with the names the step's request sees.
    CheckTemplate(check.body_contains(), path + ".body_contains");
    std::vector<std::pair<std::string, std::string>> json(check.json().begin(),
                                                          check.json().end());
    std::sort(json.begin(), json.end());
    for (const auto& [expr, value] : json) {
      CheckJsonPath(expr, absl::StrCat(path, ".json.", expr));
      CheckTemplate(value, absl::StrCat(path, ".json.", expr));
    }
    std::vector<std::pair<std::string, std::string>> headers(
        check.header().begin(), check.header().end());
    std::sort(headers.begin(), headers.end());
    for (const auto& [name, value] : headers)
      CheckTemplate(value, absl::StrCat(path, ".header.", name));
    if (check.has_latency_lt() &&
        ToDuration(check.latency_lt()) <= absl::ZeroDuration()) {
      Add(path + ".latency_lt", "must be longer than 0s");
    }
  }

  const LoadedPlan& loaded_;
  const v1::Scenario& scenario_;
  std::vector<PlanIssue>& issues_;
  Scope scope_;
  std::map<std::string, std::string> names_;  // step name -> its path
  int requests_ = 0;
  bool needs_base_url_ = false;
};

}  // namespace

void CheckSetup(const LoadedPlan& loaded, std::vector<PlanIssue>* issues) {
  if (loaded.plan.setup().empty()) return;
  const v1::Scenario none;
  FlowChecker(loaded, none, nullptr, issues).RunSetup();
}

void CheckFlow(const LoadedPlan& loaded, const v1::Scenario& scenario,
               const std::string& path, DataSets* data,
               std::vector<PlanIssue>* issues) {
  FlowChecker(loaded, scenario, data, issues).Run(path);
}

}  // namespace stampede::common
