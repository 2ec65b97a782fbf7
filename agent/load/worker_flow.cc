// The worker's side of flows (agent/load/flow.h): rendering and sending a
// step on its user's own connection, walking a VU's or an open-model
// arrival's flow through its think times, following redirects and judging
// each answer into the step's metrics. Kept apart from worker.cc, which
// starts the flows and calls these where a step is done.
#include <time.h>

#include <algorithm>
#include <functional>

#include "agent/load/worker.h"

namespace stampede::agent {

void Worker::SendStep(size_t s, FlowInstance& flow, const FlowStepSpec& step,
                      int64_t intended_ns, int64_t now_ns, uint32_t vu,
                      uint32_t instance) {
  timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  flow.Render(
      step, spec_.share_index,
      static_cast<int64_t>(wall.tv_sec) * 1000 + wall.tv_nsec / 1'000'000,
      &rng_);
  if (first_send_late_ns_ < 0) first_send_late_ns_ = now_ns - intended_ns;
  window_->schedule_lag.Record((now_ns - intended_ns) / 1000);
  Sent sent{&spec_.scenarios[s].requests[step.request], intended_ns, now_ns,
            vu};
  sent.connection = vu != Sent::kNoVu ? vu : instance;
  sent.flow = flow.send();
  sent.instance = instance;
  transports_[s]->Send(sent);
}

void Worker::ContinueFlow(size_t s, uint32_t m, int64_t now_ns) {
  VuPool& pool = pools_[s];
  FlowInstance& flow = pool.flows[m];
  FlowInstance::Action a = flow.Next(&rng_);
  switch (a.kind) {
    case FlowInstance::Action::Kind::kSend:
      // Closed model: a step is sent when its VU is ready.
      SendStep(s, flow, *a.step, now_ns, now_ns, m, Sent::kNoVu);
      return;
    case FlowInstance::Action::Kind::kThink:
      pool.thinking.emplace_back(now_ns + a.think_ns, m);
      std::push_heap(pool.thinking.begin(), pool.thinking.end(),
                     std::greater<std::pair<int64_t, uint32_t>>());
      return;
    case FlowInstance::Action::Kind::kDone:
      pool.vus[m].in_flow = false;
      if (!flow.aborted()) ++window_->flows[s].completed;
      AfterIteration(s, m, now_ns);
      return;
  }
}

void Worker::ContinueOpenFlow(size_t s, uint32_t i, int64_t intended_ns,
                              int64_t now_ns) {
  FlowSlots& slots = flow_slots_[s];
  FlowInstance& flow = slots.instances[i];
  while (true) {
    FlowInstance::Action a = flow.Next(&rng_);
    switch (a.kind) {
      case FlowInstance::Action::Kind::kSend:
        // Step 1 is due at the arrival; step k at step k-1's end plus its
        // think time: latency counts from there, service time from the send.
        slots.intended_ns[i] = intended_ns;
        SendStep(s, flow, *a.step, intended_ns, now_ns, Sent::kNoVu, i);
        return;
      case FlowInstance::Action::Kind::kThink:
        if (a.think_ns <= 0) continue;
        slots.thinking.emplace_back(intended_ns + a.think_ns, i);
        std::push_heap(slots.thinking.begin(), slots.thinking.end(),
                       std::greater<std::pair<int64_t, uint32_t>>());
        return;
      case FlowInstance::Action::Kind::kDone:
        if (!flow.aborted()) ++window_->flows[s].completed;
        // The user is gone: the next arrival on this slot is a new user,
        // with a connection of its own to make.
        transports_[s]->EndUser(i);
        slots.free.push_back(i);
        return;
    }
  }
}

int64_t Worker::TickOpenFlows(size_t s, int64_t now_ns) {
  FlowSlots& slots = flow_slots_[s];
  auto later = std::greater<std::pair<int64_t, uint32_t>>();
  while (!slots.thinking.empty() && slots.thinking.front().first <= now_ns) {
    std::pop_heap(slots.thinking.begin(), slots.thinking.end(), later);
    const auto [due, i] = slots.thinking.back();
    slots.thinking.pop_back();
    ContinueOpenFlow(s, i, due, now_ns);
  }
  return slots.thinking.empty() ? INT64_MAX : slots.thinking.front().first;
}

FlowInstance& Worker::FlowOf(const Sent& sent) {
  const size_t s = sent.request->scenario;
  return sent.vu != Sent::kNoVu ? pools_[s].flows[sent.vu]
                                : flow_slots_[s].instances[sent.instance];
}

bool Worker::FollowRedirect(const Sent& sent, const Outcome& outcome,
                            int64_t done_ns) {
  const size_t s = sent.request->scenario;
  const ScenarioSpec& scenario = spec_.scenarios[s];
  FlowInstance& flow = FlowOf(sent);
  const FlowStepSpec& step = scenario.flow->steps[sent.request->request];
  timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  if (!flow.FollowRedirect(step, outcome, scenario.flow->max_redirects,
                           wall.tv_sec)) {
    return false;
  }
  // The next hop goes out now, on the user's own connection; its latency
  // counts from here (the hop before was timed on its own).
  Sent next = sent;
  next.intended_ns = done_ns;
  next.sent_ns = done_ns;
  window_->schedule_lag.Record(0);
  transports_[s]->Send(next);
  return true;
}

void Worker::JudgeStep(const Sent& sent, const Outcome& outcome,
                       int64_t done_ns, bool failed, RequestMetrics& m) {
  const size_t s = sent.request->scenario;
  const ScenarioSpec& scenario = spec_.scenarios[s];
  FlowInstance& flow = FlowOf(sent);
  const FlowStepSpec& step = scenario.flow->steps[sent.request->request];
  timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  const StepVerdict v =
      flow.Judge(step, outcome, done_ns - sent.intended_ns, wall.tv_sec);
  m.checks_passed += v.checks_passed;
  for (uint32_t bits = v.failed_checks, i = 0; bits != 0; bits >>= 1, ++i) {
    if ((bits & 1) == 0) continue;
    ++m.checks_failed;
    ++m.check_failures[std::min<size_t>(i, RequestMetrics::kCountedChecks - 1)];
  }
  // A request that failed on its own counts once, under its own error.
  if (!failed && (v.capture_failed || v.check_failed)) {
    ++m.errors;
    m.latency_failed.Record((done_ns - sent.intended_ns) / 1000);
    m.transport_errors[static_cast<size_t>(
        v.capture_failed ? common::ErrorId::kCaptureFailed
                         : common::ErrorId::kCheckFailed)] += 1;
  }
  // No answer, or one that lacks what later steps need: the rest of the
  // flow would only send empty values.
  const bool abort = outcome.status == 0 || v.capture_failed ||
                     (v.check_failed && scenario.flow->abort_on_check_fail);
  if (abort) {
    window_->flows[s].skipped_steps += flow.Abort();
    ++window_->flows[s].aborted;
  }
}

}  // namespace stampede::agent
