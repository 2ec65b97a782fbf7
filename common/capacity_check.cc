// The plan's capacity: block, checked as `stampede capacity` will use it
// (see plan_validate.cc; the search itself is controller/capacity).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/capacity_plan.h"
#include "common/plan_validate_internal.h"
#include "common/units.h"

namespace stampede::common {

void CheckCapacity(const LoadedPlan& loaded, std::vector<PlanIssue>* issues) {
  const v1::TestPlan& plan = loaded.plan;
  if (!plan.has_capacity()) return;
  const v1::Capacity& c = plan.capacity();
  auto add = [&](const std::string& where, std::string message) {
    issues->push_back(
        loaded.IssueAt(absl::StrCat("capacity.", where), std::move(message)));
  };
  if (CapacityScenario(plan) < 0) {
    add("scenario",
        c.scenario().empty()
            ? std::string("name the arrival_rate (open-model) scenario whose "
                          "rate is searched")
            : absl::StrCat("no arrival_rate (open-model) scenario is named ",
                           Quote(c.scenario())));
  }
  if (!c.has_max() || c.max().per_second() <= 0) {
    add("max", "the search needs an upper bound, e.g. max: 5000/s");
  } else if (c.has_from() && c.from().per_second() > c.max().per_second()) {
    add("from", "from must not be above max");
  }
  if (c.has_from() && c.from().per_second() <= 0)
    add("from", "from must be above 0/s");
  if (c.growth() != 0 && (c.growth() <= 1 || c.growth() > 100))
    add("growth", "growth is a factor between 1 and 100 (e.g. 2)");
  auto share = [&](const std::string& field, const std::string& text,
                   bool zero_ok) {
    if (text.empty()) return;
    auto v = ParseFraction(text);
    if (!v.ok() || *v >= 1 || *v < 0 || (!zero_ok && *v == 0)) {
      add(field, absl::StrCat(Quote(text), " is not a share below 100%",
                              zero_ok ? "" : " and above 0",
                              "; write e.g. 5% or 0.05"));
    }
  };
  share("width", c.width(), false);
  share("exceed_ratio", c.exceed_ratio(), true);
  auto duration = [&](const std::string& field, bool has,
                      const google::protobuf::Duration& d, absl::Duration min) {
    if (has && ToDuration(d) < min) {
      add(field,
          absl::StrCat(field, " must be at least ", absl::FormatDuration(min)));
    }
  };
  duration("step", c.has_step(), c.step(), absl::Seconds(2));
  duration("warmup", c.has_warmup(), c.warmup(), absl::ZeroDuration());
  duration("final", c.has_final(), c.final(), absl::Seconds(2));
  // The implicit error_rate < 1% (plan_validate.cc) is a fail threshold too.
  bool own_error_rate = false;
  bool fail_threshold = false;
  for (const v1::Threshold& t : plan.thresholds()) {
    fail_threshold = fail_threshold || t.severity() != "warn";
    own_error_rate =
        own_error_rate || (t.metric() == "error_rate" && t.error().empty());
  }
  if (!own_error_rate &&
      (!plan.has_default_thresholds() || plan.default_thresholds()))
    fail_threshold = true;
  if (!fail_threshold) {
    add("scenario",
        "a capacity search judges steps by the plan's fail-severity "
        "thresholds (the SLO); the plan has none");
  }
}

int CapacityScenario(const v1::TestPlan& plan) {
  const std::string& name = plan.capacity().scenario();
  int found = -1;
  for (int i = 0; i < plan.scenarios_size(); ++i) {
    const v1::Scenario& s = plan.scenarios(i);
    if (!s.load().has_arrival_rate()) continue;
    if (name.empty()) {
      if (found >= 0) return -1;  // more than one: the plan must say which
      found = i;
    } else if (s.name() == name) {
      return i;
    }
  }
  return name.empty() ? found : -1;
}

}  // namespace stampede::common

namespace stampede::common {

CapacitySettings CapacitySettingsOf(const v1::TestPlan& plan) {
  const v1::Capacity& c = plan.capacity();
  CapacitySettings s;
  s.scenario = CapacityScenario(plan);
  if (c.has_from()) s.from = c.from().per_second();
  s.max = c.max().per_second();
  if (s.from > s.max) s.from = s.max;
  if (c.growth() > 0) s.growth = c.growth();
  if (auto v = ParseFraction(c.width()); !c.width().empty() && v.ok())
    s.width = *v;
  if (auto v = ParseFraction(c.exceed_ratio());
      !c.exceed_ratio().empty() && v.ok())
    s.exceed_ratio = *v;
  if (c.has_step()) s.step = ToDuration(c.step());
  if (c.has_warmup()) s.warmup = ToDuration(c.warmup());
  s.final = c.has_final() ? ToDuration(c.final()) : 3 * s.step;
  return s;
}

}  // namespace stampede::common
