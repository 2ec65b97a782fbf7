// Loads a test plan from YAML (or JSON) into the TestPlan proto by walking the
// YAML tree against the proto's descriptors. Unknown keys, wrong types and
// unparsable units are errors; all errors are collected, each as
// "FILE:LINE:COL: FIELD.PATH: message". Semantic checks (missing fields,
// references, ranges) are a separate pass: ValidatePlan. Thread-safe.
#ifndef STAMPEDE_COMMON_PLAN_LOADER_H_
#define STAMPEDE_COMMON_PLAN_LOADER_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/data_file.h"
#include "common/test_types.h"
#include "stampede/v1/plan.pb.h"

namespace stampede::common {

// One problem found in a plan. line and col are 1-based; 0 when unknown.
struct PlanIssue {
  std::string file;
  int line = 0;
  int col = 0;
  std::string path;  // e.g. "scenarios[0].load.arrival_rate.stages[1].to"; ""
                     // for the root
  std::string message;

  // "FILE:LINE:COL: PATH: MESSAGE" (the path and its colon are left out when
  // empty).
  std::string ToString() const;
};

struct LoadedPlan {
  std::string file;
  stampede::v1::TestPlan plan;
  // Field path -> where its value was written, for later passes' error
  // messages.
  std::map<std::string, std::pair<int, int>> locations;
  // The file's text as parsed, for issues inside a value (a template's slot).
  std::string text;
  // The `data:` sets' tables by set name, read once by LoadAndValidatePlan
  // (files relative to `file`'s directory).
  std::map<std::string, DataTable> data;
  // Every string value written with ${VAR}: its value as expanded -> as
  // written (e.g. "Bearer s3cret" -> "Bearer ${TOKEN}"), for RedactPlan.
  std::map<std::string, std::string> env_values;

  // An issue located at `path`, or at its nearest located parent.
  PlanIssue IssueAt(std::string_view path, std::string message) const;
  // An issue at byte `offset` of the string value written at `path`: its own
  // line and column when the value is written on one line (plain or quoted)
  // or as a literal block (|), else the value's start.
  PlanIssue IssueInValue(std::string_view path, size_t offset,
                         std::string message) const;
};

// Parses `text` as the content of `file` (the name is used in messages only).
// ${VAR} in string values is replaced by the environment variable VAR (an unset
// variable is an error), ${VAR:-default} by VAR or, when VAR is unset or empty,
// the literal default; $${ stands for a literal ${. A known test type's stages
// are then given to the scenarios without their own (ExpandTestType). On
// failure returns the issues; never a partial plan.
absl::StatusOr<LoadedPlan> ParsePlan(std::string_view file,
                                     std::string_view text,
                                     std::vector<PlanIssue>* issues);

// Reads and parses a file. A file that cannot be read is one issue at line 0.
absl::StatusOr<LoadedPlan> LoadPlanFile(const std::string& file,
                                        std::vector<PlanIssue>* issues);

// Semantic checks of a parsed plan; returns every issue found (empty when
// valid). Data files are read (and checked); with `tables`, what was read is
// kept there by set name.
std::vector<PlanIssue> ValidatePlan(const LoadedPlan& loaded);
std::vector<PlanIssue> ValidatePlan(const LoadedPlan& loaded,
                                    std::map<std::string, DataTable>* tables);

// Fills in what a valid plan left to defaults, so later stages read one
// explicit form: request method "GET", weight 1, name "METHOD path"; scenario
// base_url, headers (defaults' merged under the scenario's) and timeout (10s)
// from defaults; max_connections 256.
void NormalizePlan(stampede::v1::TestPlan* plan);

// The plan as a result may show it: every string (at any depth, map values
// and repeated elements included) whose whole value came from ${VAR} is put
// back as written, so a result carries no secret passed by environment.
void RedactPlan(const std::map<std::string, std::string>& env_values,
                stampede::v1::TestPlan* plan);

// Both passes at once, so one run reports every problem: parse (expanding
// the test type, with `overrides` applied: common/test_types.h), validate what
// parsed (leaving out issues about fields that did not parse, fields that
// contain them, and the field a mistyped key meant), then normalize. Returns
// the plan only when no issue was found at all; data files are read relative
// to `file`. A bad override is an issue without a line.
absl::StatusOr<LoadedPlan> ParseAndValidatePlan(
    std::string_view file, std::string_view text,
    std::vector<PlanIssue>* issues, const LoadOverrides& overrides = {});
// The same for a file (one that cannot be read is one issue at line 0).
absl::StatusOr<LoadedPlan> LoadAndValidatePlan(
    const std::string& file, std::vector<PlanIssue>* issues,
    const LoadOverrides& overrides = {});

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_PLAN_LOADER_H_
