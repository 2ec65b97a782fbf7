// What the controller, the validator and the agents agree on about a
// scenario's `flow:`: which steps are requests, their order and their names.
// NormalizePlan lists a flow's request steps as the scenario's `requests` in
// this order, so results, thresholds and reports see one series per step
// (keyed by the step's name, never by a rendered URL). Thread-safe (pure).
#ifndef STAMPEDE_COMMON_FLOW_H_
#define STAMPEDE_COMMON_FLOW_H_

#include <functional>
#include <string>
#include <vector>

#include "stampede/v1/plan.pb.h"

namespace stampede::common {

// Limits of a flow, checked by validate and again by each agent.
inline constexpr int kMaxFlowDepth = 8;  // repeat blocks inside each other
inline constexpr uint32_t kMaxRepeat = 1'000'000;
inline constexpr int kMaxFlowRequests = 1000;  // request steps per flow
// Open model: flow instances in flight per agent unless max_flows says.
inline constexpr uint32_t kDefaultMaxFlows = 1000;
// A step keeps at most this much of a response body for its captures and
// checks; a longer body is cut there (a capture beyond finds nothing).
inline constexpr size_t kMaxKeptBody = 1 << 20;

enum class FlowStepKind { kRequest, kThink, kRepeat, kInvalid };

// A step is a request (method or path set), a think time or a repeat block.
FlowStepKind KindOf(const v1::FlowStep& step);

// "METHOD path" as written, unless the step is named.
std::string FlowStepName(const v1::FlowStep& step);

// Calls `f` with each request step of `flow` in document order (a repeat
// block's steps once, where they are written) and its field path below
// `path` ("scenarios[0]" -> "scenarios[0].flow[2].steps[0]").
void ForEachFlowRequest(
    const google::protobuf::RepeatedPtrField<v1::FlowStep>& flow,
    const std::string& path,
    const std::function<void(const v1::FlowStep&, const std::string&)>& f);

// A step's checks in the order agents judge and count them: "status",
// "body_contains", "json PATH" (by path), "header NAME" (by lower-case
// name), "latency_lt".
std::vector<std::string> CheckNames(const v1::Check& check);

// The names the plan's setup steps capture, sorted: {{setup.NAME}} is
// TemplateSource::kSetup with the name's index here, on every side.
std::vector<std::string> SetupCaptureNames(const v1::TestPlan& plan);

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_FLOW_H_
