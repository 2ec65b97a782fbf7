#include "common/test_types.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/units.h"
#include "google/protobuf/duration.pb.h"

namespace stampede::common {
namespace {

// The plan validator's limits, so an override past them is refused by name.
constexpr uint64_t kMaxVus = 1'000'000;
constexpr double kMaxRatePerSecond = 10'000'000;
constexpr absl::Duration kMinDuration = absl::Seconds(1);
constexpr absl::Duration kMaxDuration = absl::Hours(24);

absl::Duration ToDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

struct VuStep {
  std::optional<uint32_t> to;  // a ramp to this many VUs; else a hold
  absl::Duration length;
};

v1::Load VuLoad(const std::vector<VuStep>& steps) {
  v1::Load load;
  for (const VuStep& step : steps) {
    v1::VuStage* stage = load.mutable_vus()->add_stages();
    if (step.to.has_value()) {
      stage->set_to(*step.to);
      SetDuration(step.length, stage->mutable_over());
    } else {
      SetDuration(step.length, stage->mutable_hold());
    }
  }
  return load;
}

// Every load of the plan: its own (a user mix's) and its scenarios', with the
// field path of each.
std::vector<std::pair<std::string, v1::Load*>> Loads(v1::TestPlan* plan) {
  std::vector<std::pair<std::string, v1::Load*>> loads;
  if (plan->has_load()) loads.emplace_back("load", plan->mutable_load());
  for (int i = 0; i < plan->scenarios_size(); ++i) {
    v1::Scenario* scenario = plan->mutable_scenarios(i);
    if (scenario->has_load())
      loads.emplace_back(absl::StrCat("scenarios[", i, "].load"),
                         scenario->mutable_load());
  }
  return loads;
}

// Gives `load` the type's stages when it has none; an issue when its model
// is not the type's.
void Fill(const std::string& type, const v1::Load& typed,
          const std::string& path, v1::Load* load,
          std::vector<TestTypeIssue>* issues) {
  const bool closed = typed.has_vus();
  const char* model =
      closed ? "VU stages (closed model)" : "arrival-rate stages (open model)";
  switch (load->model_case()) {
    case v1::Load::MODEL_NOT_SET:
      *load = typed;
      return;
    case v1::Load::kVus:
      if (!load->vus().stages().empty()) return;
      if (!closed) {
        issues->push_back(
            {path + ".vus", absl::StrCat("type ", type, " gives ", model,
                                         "; write this load's stages, or use "
                                         "arrival_rate")});
        return;
      }
      *load->mutable_vus()->mutable_stages() = typed.vus().stages();
      return;
    case v1::Load::kArrivalRate:
      if (!load->arrival_rate().stages().empty()) return;
      if (closed) {
        issues->push_back({path + ".arrival_rate",
                           absl::StrCat("type ", type, " gives ", model,
                                        "; write this load's stages, or use "
                                        "vus")});
        return;
      }
      *load->mutable_arrival_rate()->mutable_stages() =
          typed.arrival_rate().stages();
      return;
  }
}

// Scales the `to` of every ramp among `stages` so the highest is `peak`; an
// error when none is above 0. `get`/`set` read and write a stage's level.
template <typename Stage, typename Get, typename Set>
absl::Status ScaleLevels(google::protobuf::RepeatedPtrField<Stage>* stages,
                         double peak, Get get, Set set) {
  double highest = 0;
  for (const Stage& stage : *stages) {
    if (stage.has_to()) highest = std::max(highest, get(stage));
  }
  if (!(highest > 0)) return absl::InvalidArgumentError("never ramps above 0");
  for (Stage& stage : *stages) {
    if (stage.has_to()) set(get(stage) * peak / highest, &stage);
  }
  return absl::OkStatus();
}

// Scales every stage's length so the stages last `total`, rounded to the
// millisecond with the last stage that has a length taking the rest.
template <typename Stage>
absl::Status ScaleLengths(google::protobuf::RepeatedPtrField<Stage>* stages,
                          absl::Duration total) {
  // A stage written with neither (which the validator reports) is left so.
  auto length = [](Stage& stage) -> google::protobuf::Duration* {
    if (stage.has_hold()) return stage.mutable_hold();
    return stage.has_over() ? stage.mutable_over() : nullptr;
  };
  absl::Duration was = absl::ZeroDuration();
  int last = -1;
  for (int i = 0; i < stages->size(); ++i) {
    const google::protobuf::Duration* d = length((*stages)[i]);
    if (d == nullptr) continue;
    was += ToDuration(*d);
    if (ToDuration(*d) > absl::ZeroDuration()) last = i;
  }
  if (last < 0 || was <= absl::ZeroDuration())
    return absl::InvalidArgumentError("its stages last 0s");
  const double factor = absl::FDivDuration(total, was);
  absl::Duration sum = absl::ZeroDuration();
  for (int i = 0; i < stages->size(); ++i) {
    google::protobuf::Duration* d = length((*stages)[i]);
    if (d == nullptr) continue;
    absl::Duration scaled =
        i == last
            ? total - sum
            : absl::Floor(ToDuration(*d) * factor + absl::Microseconds(500),
                          absl::Milliseconds(1));
    if (i != last && ToDuration(*d) > absl::ZeroDuration())
      scaled = std::max(scaled, absl::Milliseconds(1));
    if (scaled <= absl::ZeroDuration() && ToDuration(*d) > absl::ZeroDuration())
      return absl::InvalidArgumentError(
          absl::StrCat("its ", stages->size(), " stages do not fit in it"));
    SetDuration(scaled, d);
    sum += scaled;
  }
  return absl::OkStatus();
}

absl::Status FlagError(absl::string_view flag, absl::string_view value,
                       absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(flag, " ", value, ": ", why));
}

}  // namespace

std::optional<v1::Load> TestTypeLoad(std::string_view type) {
  using absl::Hours;
  using absl::Minutes;
  using absl::Seconds;
  if (type == "smoke") return VuLoad({{5, Minutes(1)}, {{}, Minutes(4)}});
  if (type == "load")
    return VuLoad({{100, Minutes(5)}, {{}, Minutes(20)}, {0, Minutes(5)}});
  if (type == "stress")
    return VuLoad({{500, Minutes(10)}, {{}, Minutes(10)}, {0, Minutes(5)}});
  if (type == "spike")
    return VuLoad({{10, Minutes(1)},
                   {{}, Minutes(2)},
                   {200, Seconds(10)},
                   {{}, Minutes(1)},
                   {10, Seconds(10)},
                   {{}, Minutes(2)}});
  if (type == "soak")
    return VuLoad(
        {{50, Minutes(5)}, {{}, Hours(3) + Minutes(50)}, {0, Minutes(5)}});
  if (type == "breakpoint") {
    v1::Load load;
    v1::RateStage* stage = load.mutable_arrival_rate()->add_stages();
    stage->mutable_to()->set_per_second(1000);
    SetDuration(Minutes(10), stage->mutable_over());
    return load;
  }
  return std::nullopt;
}

std::vector<TestTypeIssue> ExpandTestType(v1::TestPlan* plan) {
  std::vector<TestTypeIssue> issues;
  const std::optional<v1::Load> typed = TestTypeLoad(plan->type());
  if (!typed.has_value()) return issues;
  bool mixed = false;
  for (int i = 0; i < plan->scenarios_size(); ++i) {
    v1::Scenario* scenario = plan->mutable_scenarios(i);
    if (scenario->weight() > 0 && !scenario->has_load()) {
      mixed = true;  // its share of the plan-level load, filled below
      continue;
    }
    Fill(plan->type(), *typed, absl::StrCat("scenarios[", i, "].load"),
         scenario->mutable_load(), &issues);
  }
  if (mixed || plan->has_load())
    Fill(plan->type(), *typed, "load", plan->mutable_load(), &issues);
  return issues;
}

absl::Status ApplyOverrides(const LoadOverrides& overrides,
                            v1::TestPlan* plan) {
  // Every value is checked before the plan is touched.
  uint64_t vus = 0;
  if (!overrides.vus.empty() &&
      (!absl::SimpleAtoi(overrides.vus, &vus) || vus < 1 || vus > kMaxVus)) {
    return FlagError("--vus", overrides.vus,
                     absl::StrCat("the peak VU count is a whole number from 1 "
                                  "to ",
                                  kMaxVus));
  }
  double rate = 0;
  if (!overrides.rate.empty()) {
    absl::StatusOr<double> parsed = ParseRate(overrides.rate);
    if (!parsed.ok()) {
      return FlagError("--rate", overrides.rate,
                       absl::StrCat(parsed.status().message(),
                                    " (the peak arrival rate, e.g. 200/s)"));
    }
    rate = *parsed;
    if (!(rate > 0) || rate > kMaxRatePerSecond) {
      return FlagError("--rate", overrides.rate,
                       "the peak arrival rate must be above 0/s and at most "
                       "10000000/s");
    }
  }
  absl::Duration duration = absl::ZeroDuration();
  if (!overrides.duration.empty()) {
    absl::StatusOr<absl::Duration> parsed = ParseDuration(overrides.duration);
    if (!parsed.ok()) {
      return FlagError("--duration", overrides.duration,
                       absl::StrCat(parsed.status().message(),
                                    " (each scenario's length, e.g. 90s, 2m)"));
    }
    duration = *parsed;
    if (duration < kMinDuration || duration > kMaxDuration) {
      return FlagError("--duration", overrides.duration,
                       "each scenario's length must be from 1s to 24h");
    }
  }

  if (!overrides.type.empty()) plan->set_type(overrides.type);
  if (std::vector<TestTypeIssue> issues = ExpandTestType(plan);
      !issues.empty()) {
    std::vector<std::string> lines;
    for (const TestTypeIssue& issue : issues)
      lines.push_back(absl::StrCat(issue.path, ": ", issue.message));
    return absl::InvalidArgumentError(absl::StrJoin(lines, "; "));
  }

  const std::vector<std::pair<std::string, v1::Load*>> loads = Loads(plan);
  if (vus > 0) {
    bool any = false;
    for (const auto& [path, load] : loads) {
      if (!load->has_vus()) continue;
      any = true;
      absl::Status scaled = ScaleLevels(
          load->mutable_vus()->mutable_stages(), static_cast<double>(vus),
          [](const v1::VuStage& s) { return static_cast<double>(s.to()); },
          [](double to, v1::VuStage* s) {
            const double rounded = std::round(to);
            s->set_to(static_cast<uint32_t>(s->to() > 0 ? std::max(rounded, 1.0)
                                                        : rounded));
          });
      if (!scaled.ok())
        return FlagError("--vus", overrides.vus,
                         absl::StrCat(path, " ", scaled.message()));
    }
    if (!any)
      return FlagError("--vus", overrides.vus,
                       "the plan has no closed-model (vus) load to scale");
  }
  if (rate > 0) {
    bool any = false;
    for (const auto& [path, load] : loads) {
      if (!load->has_arrival_rate()) continue;
      any = true;
      absl::Status scaled = ScaleLevels(
          load->mutable_arrival_rate()->mutable_stages(), rate,
          [](const v1::RateStage& s) { return s.to().per_second(); },
          [](double to, v1::RateStage* s) {
            s->mutable_to()->set_per_second(to);
          });
      if (!scaled.ok())
        return FlagError("--rate", overrides.rate,
                         absl::StrCat(path, " ", scaled.message()));
    }
    if (!any)
      return FlagError("--rate", overrides.rate,
                       "the plan has no open-model (arrival_rate) load to "
                       "scale");
  }
  if (duration > absl::ZeroDuration()) {
    if (loads.empty())
      return FlagError("--duration", overrides.duration,
                       "the plan has no load to scale");
    for (const auto& [path, load] : loads) {
      absl::Status scaled =
          load->has_vus()
              ? ScaleLengths(load->mutable_vus()->mutable_stages(), duration)
          : load->has_arrival_rate()
              ? ScaleLengths(load->mutable_arrival_rate()->mutable_stages(),
                             duration)
              : absl::OkStatus();
      if (!scaled.ok())
        return FlagError("--duration", overrides.duration,
                         absl::StrCat(path, ": ", scaled.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace stampede::common
