#include "agent/load/setup.h"

#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/http1/transport.h"
#include "agent/net/event_loop.h"
#include "agent/net/resolver.h"
#include "common/flow.h"
#include "common/plan_loader.h"

namespace stampede::agent {
namespace {

class Listener final : public Transport::Listener {
 public:
  void OnDone(const Sent& sent, const Outcome& outcome,
              int64_t done_ns) override {
    done = true;
    this->outcome = outcome;
    this->done_ns = done_ns;
  }
  bool done = false;
  Outcome outcome;
  int64_t done_ns = 0;
};

// The setup as a one-scenario plan: its steps are a flow under defaults.
absl::StatusOr<std::unique_ptr<RunSpec>> SetupSpec(const RunSpec& spec) {
  v1::Prepare prepare;
  prepare.set_run_id(spec.run_id + "-setup");
  prepare.mutable_share()->set_index(0);
  prepare.mutable_share()->set_count(1);
  v1::TestPlan* plan = prepare.mutable_plan();
  *plan->mutable_defaults() = spec.plan.defaults();
  *plan->mutable_dns() = spec.plan.dns();
  *plan->mutable_hosts() = spec.plan.hosts();
  v1::Scenario* s = plan->add_scenarios();
  s->set_name("setup");
  s->mutable_load()->mutable_vus()->add_stages()->mutable_hold()->set_seconds(
      1);
  s->mutable_load()->mutable_vus()->set_iterations_per_vu(1);
  *s->mutable_flow() = spec.plan.setup();
  common::NormalizePlan(plan);
  return RunSpec::FromPrepare(prepare);
}

std::string Why(const Outcome& o, const ScenarioSpec& scenario) {
  if (o.error != common::ErrorId::kNone)
    return std::string(common::ErrorIdName(o.error));
  if (o.status > 0 && o.status < 600 && !scenario.expected_statuses[o.status])
    return absl::StrCat("http_", o.status);
  return "";
}

}  // namespace

SetupOutcome RunSetupSteps(const RunSpec& spec, absl::Duration limit) {
  SetupOutcome out;
  auto sub = SetupSpec(spec);
  if (!sub.ok()) {
    out.error = std::string(sub.status().message());
    return out;
  }
  const ScenarioSpec& scenario = (*sub)->scenarios[0];
  auto loop = EventLoop::Create();
  if (!loop.ok()) {
    out.error = std::string(loop.status().message());
    return out;
  }
  auto resolver = net::Resolver::Create(loop->get(), (*sub)->dns);
  if (!resolver.ok()) {
    out.error = std::string(resolver.status().message());
    return out;
  }
  Listener listener;
  auto transport =
      Http1Transport::Create(loop->get(), &listener, 1, scenario.tls);
  if (!transport.ok()) {
    out.error = std::string(transport.status().message());
    return out;
  }
  Http1Transport& t = **transport;
  t.SetResolver(resolver->get());
  t.SetAllowList(spec.allow_list);
  for (const PreparedRequest& r : scenario.requests) t.Prepare(r);
  (*resolver)->WaitForAnswers(5'000'000'000);

  std::vector<std::string> step_names;
  common::ForEachFlowRequest(spec.plan.setup(), "setup",
                             [&](const v1::FlowStep& step, const std::string&) {
                               step_names.push_back(common::FlowStepName(step));
                             });
  const int64_t give_up =
      EventLoop::MonoNowNs() + absl::ToInt64Nanoseconds(limit);
  std::mt19937_64 rng(spec.seed);
  FlowInstance flow(scenario.flow.get());
  flow.Begin(0, 0);
  while (true) {
    FlowInstance::Action a = flow.Next(&rng);
    if (a.kind == FlowInstance::Action::Kind::kDone) break;
    if (a.kind == FlowInstance::Action::Kind::kThink) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(a.think_ns));
      continue;
    }
    const FlowStepSpec& step = *a.step;
    const PreparedRequest& request = scenario.requests[step.request];
    timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    flow.Render(step, spec.share_index,
                wall.tv_sec * 1000 + wall.tv_nsec / 1'000'000, &rng);
    const int64_t sent_ns = EventLoop::MonoNowNs();
    Sent sent{&request, sent_ns, sent_ns, 0};
    sent.connection = 0;
    sent.flow = flow.send();
    listener.done = false;
    t.Send(sent);
    while (!listener.done) {
      const int64_t now = EventLoop::MonoNowNs();
      if (now > give_up) {
        out.failed_step = step_names[step.request];
        out.error = absl::StrCat("the setup took longer than ",
                                 absl::FormatDuration(limit));
        return out;
      }
      int64_t deadline = now + 100'000'000;
      for (int64_t due : {t.DeadlineNs(), (*resolver)->DeadlineNs()}) {
        if (due != 0) deadline = std::min(deadline, due);
      }
      if (int64_t due = t.DeadlineNs(); due != 0 && due <= now) {
        t.OnDeadline();
        continue;
      }
      if (int64_t due = (*resolver)->DeadlineNs(); due != 0 && due <= now)
        (*resolver)->OnDeadline();
      (*loop)->SetDeadline(deadline);
      (*loop)->RunOnce();
    }
    clock_gettime(CLOCK_REALTIME, &wall);
    const StepVerdict v = flow.Judge(step, listener.outcome,
                                     listener.done_ns - sent_ns, wall.tv_sec);
    std::string why = Why(listener.outcome, scenario);
    if (why.empty() && v.capture_failed)
      why = "capture_failed: a capture found nothing in the response";
    if (why.empty() && v.check_failed)
      why = absl::StrCat("check_failed (status ", listener.outcome.status, ")");
    if (!why.empty()) {
      out.failed_step = step_names[step.request];
      out.error = why;
      return out;
    }
  }
  const std::vector<std::string>& names = scenario.flow->variable_names;
  for (size_t i = 0; i < names.size(); ++i)
    out.values[names[i]] = flow.variables()[i];
  out.ok = true;
  return out;
}

}  // namespace stampede::agent
