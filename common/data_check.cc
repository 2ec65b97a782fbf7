// The validator's part for the plan's `data:` (see plan_validate_internal.h):
// each set's options, its file read and parsed as the controller will, and
// which scenarios use it.
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/data_split.h"
#include "common/plan_validate_internal.h"

namespace stampede::common {
namespace {

bool IsSetName(const std::string& name) {
  if (name.empty() || !(absl::ascii_isalpha(name[0]) || name[0] == '_'))
    return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_')
      return false;
  }
  return true;
}

}  // namespace

void CheckData(const LoadedPlan& loaded, DataSets* sets,
               std::map<std::string, DataTable>* tables,
               std::vector<PlanIssue>* issues) {
  auto add = [&](const std::string& path, std::string message) {
    issues->push_back(loaded.IssueAt(path, std::move(message)));
  };
  const std::vector<std::string> names = DataSetNames(loaded.plan);
  if (names.size() > kMaxDataSets) {
    add("data", absl::StrCat("a plan has at most ", kMaxDataSets,
                             " data sets; this one has ", names.size()));
  }
  const std::filesystem::path dir =
      std::filesystem::path(loaded.file).parent_path();
  for (uint32_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const v1::DataSet& set = loaded.plan.data().at(name);
    const std::string path = absl::StrCat("data.", name);
    DataSetInfo& info = (*sets)[name];
    info.index = i;
    if (!IsSetName(name) || name == "setup") {
      add(path,
          absl::StrCat("data set name ", Quote(name),
                       name == "setup" ? " is taken by {{setup.NAME}}"
                                       : " must be letters, digits and _ (not "
                                         "first a digit): templates use "
                                         "{{NAME.COLUMN}}"));
    }
    DataMode mode = DataMode::kCircular;
    if (!ParseDataMode(set.mode(), &mode)) {
      add(path + ".mode", absl::StrCat("unknown mode ", Quote(set.mode()),
                                       "; use circular, unique or random"));
    }
    info.unique = mode == DataMode::kUnique;
    DataPer per = DataPer::kVu;
    if (!ParseDataPer(set.per(), &per)) {
      add(path + ".per", absl::StrCat("unknown value ", Quote(set.per()),
                                      "; use vu or iteration"));
    }
    if (!set.on_exhausted().empty()) {
      if (set.on_exhausted() != "stop" && set.on_exhausted() != "wrap") {
        add(path + ".on_exhausted",
            absl::StrCat("unknown value ", Quote(set.on_exhausted()),
                         "; use stop or wrap"));
      } else if (!info.unique) {
        add(path + ".on_exhausted",
            "only mode: unique runs out of rows; circular and random never "
            "do");
      }
    }
    if (set.file().empty()) {
      add(path + ".file",
          "a data set needs file: a .csv (with a header row) or .jsonl file");
      continue;
    }
    std::filesystem::path file(set.file());
    if (file.is_relative() && !dir.empty()) file = dir / file;
    DataIssue problem;
    absl::StatusOr<DataTable> table =
        ReadDataFile(file.string(), DataLimits(), &problem);
    if (!table.ok()) {
      // Named as the plan wrote it, with the file's own LINE:COL after.
      absl::string_view message = table.status().message();
      absl::ConsumePrefix(&message, file.string());
      add(path + ".file", absl::StrCat("data file ", set.file(), message));
      continue;
    }
    for (size_t r = 0; r < table->rows.size(); ++r) {
      size_t bytes = 0;
      for (const std::string& cell : table->rows[r]) bytes += cell.size();
      if (bytes > kMaxDataRowBytes) {
        add(path + ".file",
            absl::StrCat("data file ", set.file(), ": row ", r + 1, " holds ",
                         bytes, " bytes, more than the ",
                         kMaxDataRowBytes >> 20, " MiB a row may"));
        break;
      }
    }
    info.read = true;
    info.columns = table->columns;
    if (tables != nullptr) tables->emplace(name, *std::move(table));
  }
}

void CheckDataUse(const LoadedPlan& loaded, const DataSets& sets,
                  std::vector<PlanIssue>* issues) {
  for (const auto& [name, info] : sets) {
    if (!info.unique || info.used_by.size() < 2) continue;
    issues->push_back(loaded.IssueAt(
        absl::StrCat("data.", name, ".mode"),
        absl::StrCat("a unique data set serves one scenario; ",
                     absl::StrJoin(info.used_by, " and "),
                     " both use it: give each its own set (or file)")));
  }
}

}  // namespace stampede::common
