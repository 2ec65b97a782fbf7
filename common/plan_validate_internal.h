// Pieces the plan validator's source files share (plan_validate.cc: the plan
// and its scenarios; websocket_check.cc: WebSocket scenarios; dns_check.cc:
// dns: and hosts:;
// threshold_check.cc: its thresholds; url_check.cc: URLs). Not for other
// users.
#ifndef STAMPEDE_COMMON_PLAN_VALIDATE_INTERNAL_H_
#define STAMPEDE_COMMON_PLAN_VALIDATE_INTERNAL_H_

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/data_file.h"
#include "common/plan_loader.h"
#include "google/protobuf/duration.pb.h"
#include "stampede/v1/plan.pb.h"

namespace stampede::common {

inline std::string Quote(absl::string_view s) {
  return absl::StrCat("\"", s, "\"");
}

inline absl::Duration ToDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

inline std::string DefaultRequestName(const v1::Request& request) {
  return absl::StrCat(request.method().empty() ? "GET" : request.method(), " ",
                      request.path());
}

inline std::string RequestName(const v1::Request& request) {
  return request.name().empty() ? DefaultRequestName(request) : request.name();
}

inline bool IsLatencyMetric(absl::string_view metric) {
  return metric == "latency" || metric == "service_time" || metric == "ttfb" ||
         metric == "connect" || metric == "ws_rtt" || metric == "ttlb";
}

// Metrics judged as a share of something, written as a fraction (1%, 0.01).
inline bool IsShareMetric(absl::string_view metric) {
  return metric == "error_rate" || metric == "status_rate" ||
         metric == "checks";
}

// "429" (100-599) or a class "4xx" (1xx-5xx).
inline bool IsStatusOrClass(absl::string_view s) {
  if (s.size() != 3 || s[0] < '1' || s[0] > '5') return false;
  if (s[1] == 'x' && s[2] == 'x') return true;
  return s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9';
}

// What is wrong with `url` as a plan's URL, in words that follow the field's
// name ("must start with http:// or https://"); "" when nothing is. With
// `websocket`, ws:// and wss:// are accepted too. In url_check.cc.
std::string UrlProblem(absl::string_view url, bool websocket);

// An IPv4 or IPv6 literal (IPv6 without brackets). In dns_check.cc.
bool IsIpAddress(const std::string& text);

// Checks the plan's `dns:` and `hosts:` as every agent's resolver would take
// them: select, family, ttl, name servers (IP, IP:PORT, [IPv6]:PORT), hosts:
// names and their IP addresses. In dns_check.cc.
void CheckDns(const LoadedPlan& loaded, std::vector<PlanIssue>* issues);

// Checks the plan's `capacity:` block (the search `stampede capacity` runs).
// In capacity_check.cc.
void CheckCapacity(const LoadedPlan& loaded, std::vector<PlanIssue>* issues);

// Checks the `websocket` block of the scenario at `path` ("scenarios[i]") and
// what it rules out elsewhere in the scenario (HTTP/2, proxies, bodies, ...).
void CheckWebSocket(const LoadedPlan& loaded, const std::string& path,
                    std::vector<PlanIssue>* issues);

// What a plan's data set gives templates ({{SET.COLUMN}}).
struct DataSetInfo {
  uint32_t index = 0;  // in name order: the agents' TemplateName id
  // False when the file could not be read: any column is then accepted, so a
  // missing file is one error, not one per template.
  bool read = false;
  std::vector<std::string> columns;
  bool unique = false;
  std::vector<std::string> used_by;  // paths of scenarios whose flow uses it
};
using DataSets = std::map<std::string, DataSetInfo>;

// Checks the plan's `data:` sets and reads each file (relative to the plan
// file's directory): a missing or malformed file is an issue at
// data.SET.file naming the file's own LINE:COL. Fills `sets` and, for each
// file read, `tables` (may be null). In data_check.cc.
void CheckData(const LoadedPlan& loaded, DataSets* sets,
               std::map<std::string, DataTable>* tables,
               std::vector<PlanIssue>* issues);
// After the scenarios: a unique set serves one scenario. In data_check.cc.
void CheckDataUse(const LoadedPlan& loaded, const DataSets& sets,
                  std::vector<PlanIssue>* issues);

// Checks the `flow` of the scenario at `path` ("scenarios[i]"): every step's
// shape, its templates against the names defined before it and the plan's
// data sets (at their place in the file), captures, checks, and what flows
// rule out; notes in `data` which sets it uses. In flow_check.cc.
void CheckFlow(const LoadedPlan& loaded, const v1::Scenario& scenario,
               const std::string& path, DataSets* data,
               std::vector<PlanIssue>* issues);

// Checks the plan's `setup` steps like a flow's. In flow_check.cc.
void CheckSetup(const LoadedPlan& loaded, std::vector<PlanIssue>* issues);

// Checks a plan's thresholds: metric, one comparison and its value, p or
// stat, grace and for, and that the scenario and request filters name
// something in the plan. Appends each problem to `issues` at its place in the
// file.
class ThresholdChecker {
 public:
  ThresholdChecker(const LoadedPlan& loaded, std::vector<PlanIssue>* issues)
      : loaded_(loaded), plan_(loaded.plan), issues_(*issues) {}

  void Check(const v1::Threshold& threshold, const std::string& path);

 private:
  void Add(const std::string& path, std::string message) {
    issues_.push_back(loaded_.IssueAt(path, std::move(message)));
  }
  // Whether the plan's text wrote `path`, which tells "p: 0" from no p at all.
  bool Written(const std::string& path) const {
    return loaded_.locations.contains(path);
  }
  void CheckValue(const std::string& metric, const std::string& value,
                  const std::string& path);
  void CheckFilters(const v1::Threshold& threshold, const std::string& path);
  // stage: needs a scenario whose load has that stage, at least 1s long.
  void CheckStage(const v1::Threshold& threshold, const v1::Scenario* scenario,
                  const std::string& path);

  const LoadedPlan& loaded_;
  const v1::TestPlan& plan_;
  std::vector<PlanIssue>& issues_;
};

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_PLAN_VALIDATE_INTERNAL_H_
