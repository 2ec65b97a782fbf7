// FlowSpec::Compile: a scenario's `flow:` into the program FlowInstance
// walks (flow.h), its templates compiled against the same scope as the
// validator's (common/flow_check.cc).
#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/load/flow.h"
#include "agent/net/url.h"
#include "google/protobuf/util/time_util.h"

namespace stampede::agent {
namespace {

using common::Template;

int64_t Ns(const google::protobuf::Duration& d) {
  return google::protobuf::util::TimeUtil::DurationToNanoseconds(d);
}

// The same names, in the same order, as the validator's scope: a step sees
// what the steps before it (in document order) capture.
class Scope final : public common::TemplateScope {
 public:
  bool Lookup(std::string_view name, common::TemplateName* out,
              std::string* why) const override {
    if (name.substr(0, 6) == "setup." && setup != nullptr) {
      auto s = std::lower_bound(setup->begin(), setup->end(), name.substr(6));
      if (s == setup->end() || *s != name.substr(6)) return false;
      *out = {common::TemplateSource::kSetup,
              static_cast<uint32_t>(s - setup->begin()), 0};
      return true;
    }
    if (name.find('.') != std::string_view::npos) return LookupData(name, out);
    auto it = variables.find(std::string(name));
    if (it == variables.end()) return false;
    *out = {common::TemplateSource::kVariable, it->second, 0};
    return true;
  }
  bool InRepeat() const override { return depth > 0; }

  std::map<std::string, uint32_t> variables;
  int depth = 0;
  const std::vector<std::pair<std::string, std::vector<std::string>>>* data =
      nullptr;
  std::vector<uint32_t>* used = nullptr;  // data sets looked up, ascending
  const std::vector<std::string>* setup = nullptr;  // sorted names

 private:
  // "SET.COLUMN", as the validator's scope resolves it.
  bool LookupData(std::string_view name, common::TemplateName* out) const {
    const size_t dot = name.find('.');
    const std::string_view set = name.substr(0, dot);
    const std::string_view column = name.substr(dot + 1);
    for (uint32_t i = 0; data != nullptr && i < data->size(); ++i) {
      if ((*data)[i].first != set) continue;
      const std::vector<std::string>& columns = (*data)[i].second;
      auto c = std::find(columns.begin(), columns.end(), column);
      if (c == columns.end()) return false;
      *out = {common::TemplateSource::kData, i,
              static_cast<uint32_t>(c - columns.begin())};
      auto at = std::lower_bound(used->begin(), used->end(), i);
      if (at == used->end() || *at != i) used->insert(at, i);
      return true;
    }
    return false;
  }
};

bool AnyOf(std::string_view text, bool (*bad)(unsigned char)) {
  return std::any_of(text.begin(), text.end(), [bad](char c) {
    return bad(static_cast<unsigned char>(c));
  });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  absl::AsciiStrToLower(&out);
  return out;
}

class Compiler {
 public:
  Compiler(const std::vector<PreparedRequest>& requests, FlowSpec* out,
           const std::vector<std::pair<std::string, std::vector<std::string>>>*
               data_columns)
      : requests_(requests), out_(*out) {
    scope_.data = data_columns;
    scope_.used = &out->data_sets;
    scope_.setup = &out->setup_names;
  }

  absl::Status Steps(
      const google::protobuf::RepeatedPtrField<v1::FlowStep>& steps) {
    for (const v1::FlowStep& step : steps) {
      switch (common::KindOf(step)) {
        case common::FlowStepKind::kRequest:
          if (absl::Status s = Request(step); !s.ok()) return s;
          break;
        case common::FlowStepKind::kThink: {
          FlowOp op;
          op.kind = FlowOp::Kind::kThink;
          const v1::ThinkTime& t = step.think();
          if (t.has_uniform()) {
            op.think = FlowOp::Think::kUniform;
            op.a_ns = Ns(t.uniform().min());
            op.b_ns = std::max(op.a_ns, Ns(t.uniform().max()));
          } else if (t.has_exponential()) {
            op.think = FlowOp::Think::kExponential;
            op.a_ns = std::max<int64_t>(1, Ns(t.exponential()));
          } else {
            op.a_ns = std::max<int64_t>(0, Ns(t.constant()));
          }
          out_.ops.push_back(op);
          break;
        }
        case common::FlowStepKind::kRepeat: {
          if (scope_.depth >= common::kMaxFlowDepth)
            return absl::InvalidArgumentError("flow: repeat nested too deep");
          const uint32_t begin = static_cast<uint32_t>(out_.ops.size());
          FlowOp op;
          op.kind = FlowOp::Kind::kRepeat;
          op.count = step.repeat();
          out_.ops.push_back(op);
          ++scope_.depth;
          if (absl::Status s = Steps(step.steps()); !s.ok()) return s;
          --scope_.depth;
          FlowOp end;
          end.kind = FlowOp::Kind::kEnd;
          end.jump = begin;
          out_.ops[begin].jump = static_cast<uint32_t>(out_.ops.size());
          out_.ops.push_back(end);
          break;
        }
        case common::FlowStepKind::kInvalid:
          return absl::InvalidArgumentError("flow: a step of no known kind");
      }
    }
    return absl::OkStatus();
  }

  std::vector<std::string> VariableNames() const {
    std::vector<std::string> names(scope_.variables.size());
    for (const auto& [name, id] : scope_.variables) names[id] = name;
    return names;
  }

 private:
  absl::StatusOr<Template> Compile(const std::string& text,
                                   const std::string& field) {
    auto t = Template::Compile(text, scope_);
    if (!t.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("flow step ", out_.steps.size(), " ", field, ": ",
                       t.status().message()));
    }
    return t;
  }

  absl::Status Request(const v1::FlowStep& step) {
    const uint32_t index = static_cast<uint32_t>(out_.steps.size());
    if (index >= requests_.size())
      return absl::InvalidArgumentError("flow: more steps than requests");
    const PreparedRequest& request = requests_[index];
    FlowStepSpec spec;
    spec.request = index;
    // The origin is fixed at Prepare; the path and query are a template.
    const std::string_view full = request.url;
    const size_t authority = full.find("//");
    const size_t slash = authority == std::string_view::npos
                             ? std::string_view::npos
                             : full.find('/', authority + 2);
    const std::string origin = std::string(full.substr(0, slash)) + "/";
    std::optional<net::Url> url = net::ParseUrl(origin);
    if (!url) {
      return absl::InvalidArgumentError(
          absl::StrCat("flow step ", index, ": bad URL ", request.url));
    }
    spec.host = Lower(url->host);
    spec.authority = Lower(url->authority);
    spec.method = request.method.empty() ? "GET" : request.method;
    spec.https = url->https;
    auto target = Compile(slash == std::string_view::npos
                              ? std::string("/")
                              : std::string(full.substr(slash)),
                          "path");
    if (!target.ok()) return target.status();
    spec.target = std::move(*target);
    spec.literal_invalid = AnyOf(spec.target.literal(), BadInTarget);
    // The step's own headers are templates; the scenario's (and the default
    // User-Agent) are sent as written.
    for (const std::string& h : request.headers) {
      const std::string name = h.substr(0, h.find_first_of(":;"));
      // The body's length is counted per send.
      if (absl::EqualsIgnoreCase(name, "content-length") ||
          absl::EqualsIgnoreCase(name, "transfer-encoding")) {
        continue;
      }
      if (step.headers().contains(name)) {
        auto t = Compile(h, absl::StrCat("header ", name));
        if (!t.ok()) return t.status();
        spec.headers.push_back(std::move(*t));
      } else {
        spec.headers.push_back(Template::Text(h));
      }
      if (AnyOf(spec.headers.back().literal(), BadInHeader))
        spec.literal_invalid = true;
    }
    auto body = Compile(request.body, "body");
    if (!body.ok()) return body.status();
    spec.body = std::move(*body);
    if (step.has_check()) {
      const v1::Check& c = step.check();
      spec.statuses.assign(c.status().begin(), c.status().end());
      if (!c.body_contains().empty()) {
        auto t = Compile(c.body_contains(), "check body_contains");
        if (!t.ok()) return t.status();
        spec.body_contains.emplace(std::move(*t));
      }
      for (const auto& [expr, value] : c.json()) {
        auto path = common::JsonPath::Parse(expr);
        if (!path.ok()) return path.status();
        auto t = Compile(value, absl::StrCat("check json ", expr));
        if (!t.ok()) return t.status();
        spec.json_checks.emplace_back(std::move(*path), std::move(*t));
      }
      std::sort(spec.json_checks.begin(), spec.json_checks.end(),
                [](const auto& a, const auto& b) {
                  return a.first.text() < b.first.text();
                });
      for (const auto& [name, value] : c.header()) {
        auto t = Compile(value, absl::StrCat("check header ", name));
        if (!t.ok()) return t.status();
        spec.header_checks.emplace_back(Lower(name), std::move(*t));
      }
      std::sort(spec.header_checks.begin(), spec.header_checks.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      if (c.has_latency_lt()) spec.latency_lt_ns = Ns(c.latency_lt());
    }
    std::vector<std::pair<std::string, v1::Capture>> captures(
        step.capture().begin(), step.capture().end());
    std::sort(captures.begin(), captures.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [variable, c] : captures) {
      FlowCapture capture;
      auto [it, inserted] = scope_.variables.emplace(
          variable, static_cast<uint32_t>(scope_.variables.size()));
      capture.variable = it->second;
      if (!c.json().empty()) {
        capture.kind = FlowCapture::Kind::kJson;
        auto path = common::JsonPath::Parse(c.json());
        if (!path.ok()) return path.status();
        capture.json.emplace(std::move(*path));
      } else if (!c.header().empty()) {
        capture.kind = FlowCapture::Kind::kHeader;
        capture.name = Lower(c.header());
      } else if (!c.regex().empty()) {
        capture.kind = FlowCapture::Kind::kRegex;
        auto re = std::make_shared<re2::RE2>(c.regex(), re2::RE2::Quiet);
        if (!re->ok() || re->NumberOfCapturingGroups() > 1) {
          return absl::InvalidArgumentError(
              absl::StrCat("flow step ", index, ": bad regex ", c.regex()));
        }
        capture.regex = std::move(re);
      } else {
        capture.kind = FlowCapture::Kind::kCookie;
        capture.name = c.cookie();
      }
      spec.captures.push_back(std::move(capture));
    }
    const bool body_needed =
        spec.body_contains.has_value() || !spec.json_checks.empty() ||
        std::any_of(spec.captures.begin(), spec.captures.end(),
                    [](const FlowCapture& c) {
                      return c.kind == FlowCapture::Kind::kJson ||
                             c.kind == FlowCapture::Kind::kRegex;
                    });
    spec.body_limit = body_needed ? common::kMaxKeptBody : 0;
    // The head is always kept: Set-Cookie feeds the jar.
    spec.keep_head = true;
    FlowOp op;
    op.kind = FlowOp::Kind::kRequest;
    op.step = index;
    out_.ops.push_back(op);
    out_.steps.push_back(std::move(spec));
    out_.variables = static_cast<uint32_t>(scope_.variables.size());
    return absl::OkStatus();
  }

  const std::vector<PreparedRequest>& requests_;
  FlowSpec& out_;
  Scope scope_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FlowSpec>> FlowSpec::Compile(
    const v1::Scenario& scenario, const std::vector<PreparedRequest>& requests,
    const std::vector<std::pair<std::string, std::vector<std::string>>>&
        data_columns,
    std::vector<std::string> setup_names,
    const std::vector<std::string>* setup_values) {
  auto spec = std::make_unique<FlowSpec>();
  spec->data_set_count = static_cast<uint32_t>(data_columns.size());
  spec->setup_names = std::move(setup_names);
  spec->setup_values = setup_values;
  spec->abort_on_check_fail = scenario.on_check_fail() == "abort_flow";
  if (scenario.has_max_redirects())
    spec->max_redirects = scenario.max_redirects();
  spec->keep_cookies = scenario.keep_cookies();
  if (scenario.max_flows() > 0) spec->max_flows = scenario.max_flows();
  Compiler compiler(requests, spec.get(), &data_columns);
  if (absl::Status s = compiler.Steps(scenario.flow()); !s.ok()) return s;
  spec->variable_names = compiler.VariableNames();
  if (spec->steps.empty())
    return absl::InvalidArgumentError("flow: no request step");
  return spec;
}

}  // namespace stampede::agent
