// The thresholds half of plan validation (see plan_validate.cc).
#include <algorithm>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/flow.h"
#include "common/plan_validate_internal.h"
#include "common/units.h"

namespace stampede::common {

void ThresholdChecker::Check(const v1::Threshold& threshold,
                             const std::string& path) {
  const std::string& metric = threshold.metric();
  const bool known_metric =
      IsLatencyMetric(metric) || IsShareMetric(metric) || metric == "rps";
  if (metric.empty()) {
    Add(path + ".metric",
        "a threshold needs a metric: latency, service_time, ttfb, ttlb, "
        "connect, ws_rtt, error_rate, status_rate, rps or checks");
  } else if (!known_metric) {
    Add(path + ".metric",
        absl::StrCat("unknown metric ", Quote(metric),
                     "; use latency, service_time, ttfb, ttlb, connect, "
                     "ws_rtt, error_rate, status_rate, rps or checks"));
  }
  // A normalized plan (validated again) carries the default threshold.
  if (threshold.origin() != "default" &&
      (!threshold.origin().empty() || Written(path + ".origin"))) {
    Add(path + ".origin",
        "origin is set by stampede (\"default\", for its default threshold), "
        "not by plans");
  }
  if (!threshold.severity().empty() && threshold.severity() != "fail" &&
      threshold.severity() != "warn") {
    Add(path + ".severity",
        absl::StrCat("unknown severity ", Quote(threshold.severity()),
                     "; use fail (the default: failing it fails the run) or "
                     "warn (reported, never fails the run)"));
  } else if (threshold.severity() == "warn" && threshold.abort()) {
    Add(path + ".abort",
        "a warn threshold never stops the run: drop abort, or make it a fail "
        "threshold");
  }
  if (!threshold.responses().empty() || Written(path + ".responses")) {
    if (metric != "latency") {
      Add(path + ".responses",
          "responses applies only to latency (the others judge every "
          "response they have)");
    } else if (threshold.responses() != "ok" &&
               threshold.responses() != "all") {
      Add(path + ".responses",
          absl::StrCat("unknown responses ", Quote(threshold.responses()),
                       "; use ok (the default: successful responses) or all"));
    }
  }
  if (metric == "status_rate") {
    if (!IsStatusOrClass(threshold.status())) {
      Add(path + ".status",
          threshold.status().empty()
              ? "a status_rate threshold needs status: a status (429) or a "
                "class (4xx)"
              : absl::StrCat("status ", Quote(threshold.status()),
                             " is not an HTTP status (100-599) or a class "
                             "(1xx-5xx)"));
    }
  } else if (!threshold.status().empty() || Written(path + ".status")) {
    Add(path + ".status", "status applies only to status_rate");
  }
  if (!threshold.error().empty() && metric != "error_rate") {
    Add(path + ".error", "error applies only to error_rate");
  } else if (!threshold.error().empty() &&
             !std::all_of(threshold.error().begin(), threshold.error().end(),
                          [](char c) {
                            return (c >= 'a' && c <= 'z') ||
                                   (c >= '0' && c <= '9') || c == '_';
                          })) {
    Add(path + ".error",
        absl::StrCat("error ", Quote(threshold.error()),
                     " is not an error id (lower case, digits and _, e.g. "
                     "http_503, tcp_refused)"));
  }
  if (threshold.has_grace() &&
      ToDuration(threshold.grace()) < absl::ZeroDuration()) {
    Add(path + ".grace", "grace must not be negative");
  }
  if (threshold.has_for_() && ToDuration(threshold.for_()) < absl::Seconds(1)) {
    Add(path + ".for",
        "for must be at least 1s (one interval): it is a window of "
        "intervals");
  }

  const std::pair<const char*, const std::string*> comparisons[] = {
      {"lt", &threshold.lt()},
      {"lte", &threshold.lte()},
      {"gt", &threshold.gt()},
      {"gte", &threshold.gte()}};
  std::string first;
  for (const auto& [name, value] : comparisons) {
    const std::string value_path = absl::StrCat(path, ".", name);
    if (value->empty() && !Written(value_path)) continue;
    if (first.empty()) {
      first = name;
    } else {
      Add(value_path,
          absl::StrCat("both ", first, " and ", name,
                       " are set; a threshold takes exactly one of lt, lte, "
                       "gt, gte"));
    }
    if (known_metric) CheckValue(metric, *value, value_path);
  }
  if (first.empty()) {
    Add(path, "a threshold needs one comparison: lt, lte, gt or gte");
  }

  const bool has_p = threshold.p() != 0 || Written(path + ".p");
  const bool has_stat = !threshold.stat().empty() || Written(path + ".stat");
  if (IsLatencyMetric(metric)) {
    if (!has_p && !has_stat) {
      Add(path,
          absl::StrCat("a ", metric,
                       " threshold needs p (a percentile, e.g. p: 95) or stat "
                       "(mean or max)"));
    } else if (has_p && has_stat) {
      Add(path + ".stat", "set p or stat, not both");
    } else if (has_p && !(threshold.p() > 0 && threshold.p() <= 100)) {
      Add(path + ".p", absl::StrCat("p must be above 0 and at most 100, got ",
                                    threshold.p()));
    } else if (has_stat && threshold.stat() != "mean" &&
               threshold.stat() != "max") {
      Add(path + ".stat", absl::StrCat("unknown stat ", Quote(threshold.stat()),
                                       "; use mean or max"));
    }
  } else if (known_metric) {
    if (has_p) {
      Add(path + ".p",
          absl::StrCat("p applies only to latency metrics, not to ", metric));
    }
    if (has_stat) {
      Add(path + ".stat",
          absl::StrCat("stat applies only to latency metrics, not to ",
                       metric));
    }
  }

  CheckFilters(threshold, path);
}

void ThresholdChecker::CheckValue(const std::string& metric,
                                  const std::string& value,
                                  const std::string& path) {
  if (IsLatencyMetric(metric)) {
    absl::StatusOr<absl::Duration> d = ParseDuration(value);
    if (!d.ok()) Add(path, std::string(d.status().message()));
  } else if (IsShareMetric(metric)) {
    absl::StatusOr<double> f = ParseFraction(value);
    if (!f.ok()) Add(path, std::string(f.status().message()));
  } else if (metric == "rps") {
    // A rate ("500/s") or a plain number of requests per second ("500").
    if (!ParseRate(value).ok() && !ParseRate(absl::StrCat(value, "/s")).ok()) {
      Add(path,
          absl::StrCat("invalid rps ", Quote(value),
                       ": expected a rate or a plain number, e.g. 500/s, 500"));
    }
  }
}

void ThresholdChecker::CheckFilters(const v1::Threshold& threshold,
                                    const std::string& path) {
  const v1::Scenario* scenario = nullptr;
  if (!threshold.scenario().empty()) {
    for (const v1::Scenario& s : plan_.scenarios()) {
      if (s.name() == threshold.scenario()) scenario = &s;
    }
    if (scenario == nullptr) {
      Add(path + ".scenario",
          absl::StrCat("no scenario named ", Quote(threshold.scenario())));
      return;
    }
  }
  if (threshold.stage() > 0 || Written(path + ".stage")) {
    CheckStage(threshold, scenario, path + ".stage");
  }
  if (threshold.request().empty()) return;
  // Validate runs before NormalizePlan lists a flow's request steps as its
  // requests, so a flow's step names are looked up in the flow itself.
  auto has_request = [&](const v1::Scenario& s) {
    bool found = std::any_of(s.requests().begin(), s.requests().end(),
                             [&](const v1::Request& r) {
                               return RequestName(r) == threshold.request();
                             });
    ForEachFlowRequest(
        s.flow(), "", [&](const v1::FlowStep& step, const std::string&) {
          found = found || FlowStepName(step) == threshold.request();
        });
    return found;
  };
  if (scenario != nullptr) {
    if (!has_request(*scenario)) {
      Add(path + ".request",
          absl::StrCat("no request named ", Quote(threshold.request()),
                       " in scenario ", Quote(scenario->name())));
    }
  } else if (std::none_of(plan_.scenarios().begin(), plan_.scenarios().end(),
                          has_request)) {
    Add(path + ".request",
        absl::StrCat("no request named ", Quote(threshold.request()),
                     " in any scenario"));
  }
}

void ThresholdChecker::CheckStage(const v1::Threshold& threshold,
                                  const v1::Scenario* scenario,
                                  const std::string& path) {
  if (threshold.has_for_()) {
    Add(path, "a threshold judges a stage or a sliding window (for), not both");
  }
  if (scenario == nullptr) {
    Add(path,
        "stage needs scenario: the stage is one of that scenario's load "
        "stages");
    return;
  }
  // A scenario of a user mix (weight, no load of its own) has the plan's.
  const v1::Load& load = scenario->has_load() ? scenario->load() : plan_.load();
  const int stages = load.has_vus() ? load.vus().stages_size()
                                    : load.arrival_rate().stages_size();
  if (threshold.stage() == 0 || static_cast<int>(threshold.stage()) > stages) {
    Add(path, absl::StrCat("scenario ", Quote(scenario->name()), " has ",
                           stages, " stage", stages == 1 ? "" : "s",
                           "; stage counts them from 1"));
    return;
  }
  const int i = static_cast<int>(threshold.stage()) - 1;
  const google::protobuf::Duration& over =
      load.has_vus() ? load.vus().stages(i).over()
                     : load.arrival_rate().stages(i).over();
  const google::protobuf::Duration& hold =
      load.has_vus() ? load.vus().stages(i).hold()
                     : load.arrival_rate().stages(i).hold();
  if (ToDuration(over) + ToDuration(hold) < absl::Seconds(1)) {
    Add(path, absl::StrCat("stage ", threshold.stage(), " of scenario ",
                           Quote(scenario->name()),
                           " lasts less than 1s (one interval): nothing "
                           "would be judged"));
  }
}

}  // namespace stampede::common
