#include "common/flow.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"

namespace stampede::common {

FlowStepKind KindOf(const v1::FlowStep& step) {
  const bool request = !step.method().empty() || !step.path().empty() ||
                       !step.body().empty() || !step.headers().empty() ||
                       !step.capture().empty() || step.has_check();
  const bool think = step.has_think();
  const bool repeat = step.repeat() > 0 || !step.steps().empty();
  if (request + think + repeat != 1) return FlowStepKind::kInvalid;
  if (request) return FlowStepKind::kRequest;
  return think ? FlowStepKind::kThink : FlowStepKind::kRepeat;
}

std::string FlowStepName(const v1::FlowStep& step) {
  if (!step.name().empty()) return step.name();
  return absl::StrCat(step.method().empty() ? "GET" : step.method(), " ",
                      step.path());
}

void ForEachFlowRequest(
    const google::protobuf::RepeatedPtrField<v1::FlowStep>& flow,
    const std::string& path,
    const std::function<void(const v1::FlowStep&, const std::string&)>& f) {
  // Depth-first without recursion limits to worry about: validate caps the
  // depth, and a deeper plan from elsewhere only walks deeper.
  struct Frame {
    const google::protobuf::RepeatedPtrField<v1::FlowStep>* steps;
    std::string path;
    int next;
  };
  std::vector<Frame> stack;
  stack.push_back({&flow, path + ".flow", 0});
  while (!stack.empty()) {
    Frame& top = stack.back();
    if (top.next >= top.steps->size()) {
      stack.pop_back();
      continue;
    }
    const int i = top.next++;
    const v1::FlowStep& step = (*top.steps)[i];
    std::string step_path = absl::StrCat(top.path, "[", i, "]");
    switch (KindOf(step)) {
      case FlowStepKind::kRequest:
        f(step, step_path);
        break;
      case FlowStepKind::kRepeat:
        stack.push_back({&step.steps(), step_path + ".steps", 0});
        break;
      default:
        break;
    }
  }
}

std::vector<std::string> CheckNames(const v1::Check& check) {
  std::vector<std::string> out;
  if (!check.status().empty()) out.push_back("status");
  if (!check.body_contains().empty()) out.push_back("body_contains");
  std::vector<std::string> json;
  for (const auto& [path, value] : check.json()) json.push_back(path);
  std::sort(json.begin(), json.end());
  for (const std::string& path : json) out.push_back("json " + path);
  std::vector<std::string> headers;
  for (const auto& [name, value] : check.header()) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(c));
    headers.push_back(lower);
  }
  std::sort(headers.begin(), headers.end());
  for (const std::string& name : headers) out.push_back("header " + name);
  if (check.has_latency_lt()) out.push_back("latency_lt");
  return out;
}

std::vector<std::string> SetupCaptureNames(const v1::TestPlan& plan) {
  std::vector<std::string> names;
  ForEachFlowRequest(plan.setup(), "setup",
                     [&](const v1::FlowStep& step, const std::string&) {
                       for (const auto& [name, capture] : step.capture())
                         names.push_back(name);
                     });
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace stampede::common
