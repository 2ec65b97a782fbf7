#include "controller/report/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/exit_codes.h"
#include "common/units.h"
#include "controller/report/format.h"
#include "controller/report/report.h"

namespace stampede::controller {
namespace {

enum class Kind { kRps, kErrorRate, kLatency };

struct Metric {
  const char* name;
  Kind kind;
  int percentile;  // latency: 50, 95 or 99
};

constexpr Metric kMetrics[] = {
    {"rps", Kind::kRps, 0},      {"error_rate", Kind::kErrorRate, 0},
    {"p50", Kind::kLatency, 50}, {"p95", Kind::kLatency, 95},
    {"p99", Kind::kLatency, 99},
};

double ValueOf(const Metric& m, const v1::Summary& s) {
  switch (m.kind) {
    case Kind::kRps:
      return s.rps();
    case Kind::kErrorRate:
      return s.error_rate();
    case Kind::kLatency:
      return m.percentile == 50   ? s.latency_ms().p50()
             : m.percentile == 95 ? s.latency_ms().p95()
                                  : s.latency_ms().p99();
  }
  return 0;
}

std::string Show(const Metric& m, double v) {
  if (m.kind == Kind::kErrorRate) return absl::StrFormat("%.3f%%", v * 100);
  if (m.kind == Kind::kRps) return absl::StrFormat("%.1f/s", v);
  return absl::StrCat(common::FormatMillis(v), " ms");
}

// One run's noise verdict for a latency percentile.
struct Noise {
  bool tested = false;
  NoiseTest test;
};

// Rows to compare: the run, then each scenario and its requests, by name.
struct Row {
  std::string scenario;
  std::string request;
  const v1::Summary* baseline;
  const v1::Summary* next;
};

std::vector<Row> RowsOf(const v1::RunResult& a, const v1::RunResult& b,
                        std::vector<std::string>* warnings) {
  std::vector<Row> rows = {{"(run)", "", &a.summary(), &b.summary()}};
  for (const v1::ScenarioResult& sa : a.scenarios()) {
    const v1::ScenarioResult* sb = nullptr;
    for (const v1::ScenarioResult& s : b.scenarios())
      if (s.name() == sa.name()) sb = &s;
    if (sb == nullptr) {
      warnings->push_back(
          absl::StrCat("scenario \"", sa.name(), "\" is only in the baseline"));
      continue;
    }
    rows.push_back({sa.name(), "(all)", &sa.summary(), &sb->summary()});
    for (const v1::RequestResult& qa : sa.requests()) {
      const v1::RequestResult* qb = nullptr;
      for (const v1::RequestResult& q : sb->requests())
        if (q.name() == qa.name()) qb = &q;
      if (qb == nullptr) {
        warnings->push_back(absl::StrCat("request \"", qa.name(),
                                         "\" of scenario \"", sa.name(),
                                         "\" is only in the baseline"));
        continue;
      }
      rows.push_back({sa.name(), qa.name(), &qa.summary(), &qb->summary()});
    }
    for (const v1::RequestResult& qb : sb->requests()) {
      if (std::none_of(sa.requests().begin(), sa.requests().end(),
                       [&](const v1::RequestResult& q) {
                         return q.name() == qb.name();
                       })) {
        warnings->push_back(absl::StrCat("request \"", qb.name(),
                                         "\" of scenario \"", sa.name(),
                                         "\" is only in the new run"));
      }
    }
  }
  for (const v1::ScenarioResult& sb : b.scenarios()) {
    if (std::none_of(
            a.scenarios().begin(), a.scenarios().end(),
            [&](const v1::ScenarioResult& s) { return s.name() == sb.name(); }))
      warnings->push_back(
          absl::StrCat("scenario \"", sb.name(), "\" is only in the new run"));
  }
  return rows;
}

bool WriteAtomically(const std::string& path, const std::string& content) {
  std::error_code ec;
  const std::filesystem::path target(path);
  if (target.has_parent_path())
    std::filesystem::create_directories(target.parent_path(), ec);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << content;
    f.close();
    if (!f.good()) return false;
  }
  std::filesystem::rename(tmp, target, ec);
  return !ec;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

NoiseTest MannWhitney(const std::vector<double>& a,
                      const std::vector<double>& b) {
  NoiseTest out;
  const double n1 = static_cast<double>(a.size());
  const double n2 = static_cast<double>(b.size());
  if (a.empty() || b.empty()) return out;
  // Rank the pooled values, ties at their average rank.
  std::vector<std::pair<double, int>> pooled;
  for (double v : a) pooled.push_back({v, 0});
  for (double v : b) pooled.push_back({v, 1});
  std::sort(pooled.begin(), pooled.end());
  const double n = n1 + n2;
  double rank_sum_a = 0, ties = 0;
  for (size_t i = 0; i < pooled.size();) {
    size_t j = i;
    while (j < pooled.size() && pooled[j].first == pooled[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double rank =
        (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k)
      if (pooled[k].second == 0) rank_sum_a += rank;
    ties += t * t * t - t;
    i = j;
  }
  out.u = rank_sum_a - n1 * (n1 + 1) / 2;
  const double mean = n1 * n2 / 2;
  out.b_higher = out.u < mean;
  const double variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)));
  if (variance <= 0) return out;  // every value the same: no shift at all
  const double distance = std::max(0.0, std::abs(out.u - mean) - 0.5);
  out.z = distance / std::sqrt(variance);
  out.p = std::erfc(out.z / std::sqrt(2.0));
  return out;
}

std::vector<double> SteadyIntervals(const v1::RunResult& r, int percentile) {
  std::vector<double> out;
  for (int i = 1; i < r.intervals_size(); ++i) {
    const v1::IntervalResult& in = r.intervals(i);
    if (in.requests() == 0) continue;
    out.push_back(percentile == 50   ? in.p50_ms()
                  : percentile == 95 ? in.p95_ms()
                                     : in.p99_ms());
  }
  return out;
}

Comparison Compare(const v1::RunResult& baseline, const v1::RunResult& next,
                   const CompareOptions& options) {
  Comparison out;
  if (baseline.plan_fingerprint().empty() || next.plan_fingerprint().empty()) {
    out.warnings.push_back(
        "a result has no plan fingerprint (written before they were "
        "recorded): cannot tell whether both ran the same plan");
  } else if (baseline.plan_fingerprint() != next.plan_fingerprint()) {
    const std::string why =
        absl::StrCat("the plans differ (baseline ", baseline.plan_fingerprint(),
                     ", new ", next.plan_fingerprint(),
                     "): they sent a different load or to different hosts");
    if (!options.allow_plan_change) {
      out.refused = true;
      out.warnings.push_back(
          absl::StrCat(why, "; compare them anyway with --allow-plan-change"));
      return out;
    }
    out.warnings.push_back(absl::StrCat(why, " (--allow-plan-change)"));
  }
  if (baseline.status() != "passed" && !baseline.status().empty()) {
    out.warnings.push_back(absl::StrCat(
        "the baseline run did not pass (status ", baseline.status(),
        baseline.message().empty() ? ""
                                   : absl::StrCat(": ", baseline.message()),
        "): it is a weak reference"));
  }

  Noise noise[3];  // p50, p95, p99
  const int percentiles[3] = {50, 95, 99};
  bool untested = false;
  for (int k = 0; k < 3; ++k) {
    const std::vector<double> a = SteadyIntervals(baseline, percentiles[k]);
    const std::vector<double> b = SteadyIntervals(next, percentiles[k]);
    // An interval with requests has a latency above 0; a 0 is a percentile
    // the result never recorded (p95_ms came later than p50 and p99), and
    // would rank below every real value: it is no evidence of a shift.
    const bool base_lacks = std::count(a.begin(), a.end(), 0.0) > 0;
    const bool next_lacks = std::count(b.begin(), b.end(), 0.0) > 0;
    if (base_lacks || next_lacks) {
      out.warnings.push_back(absl::StrFormat(
          "the %s intervals have no p%d_ms (a result from an older "
          "Stampede): the p%d noise could not be tested; p%d is judged by "
          "the limit and the floor only",
          base_lacks && next_lacks ? "two runs'"
          : base_lacks             ? "baseline's"
                                   : "new run's",
          percentiles[k], percentiles[k], percentiles[k]));
    } else if (a.size() >= kMinNoiseIntervals &&
               b.size() >= kMinNoiseIntervals) {
      noise[k].tested = true;
      noise[k].test = MannWhitney(a, b);
    } else {
      untested = true;
    }
  }
  if (untested) {
    out.warnings.push_back(absl::StrCat(
        "a run has fewer than ", kMinNoiseIntervals,
        " steady intervals (with requests, after the first): the noise could "
        "not be tested; latency is judged by the limit and the floor only"));
  }

  std::vector<std::vector<std::string>> table = {{"scenario", "request",
                                                  "metric", "baseline", "new",
                                                  "change", "verdict"}};
  for (const Row& row : RowsOf(baseline, next, &out.warnings)) {
    if (row.baseline->requests() == 0 && row.next->requests() == 0) continue;
    for (const Metric& m : kMetrics) {
      const double a = ValueOf(m, *row.baseline);
      const double b = ValueOf(m, *row.next);
      const double change = a != 0 ? (b - a) / a : b != 0 ? INFINITY : 0;
      const bool higher_is_worse = m.kind != Kind::kRps;
      const double worse = higher_is_worse ? change : -change;
      bool regressed = worse > options.max_regression;
      std::string verdict = regressed ? "REGRESSION" : "ok";
      if (regressed && m.kind == Kind::kErrorRate &&
          b - a <= options.error_rate_floor) {
        regressed = false;
        verdict = "ok (within the floor)";
      }
      if (regressed && m.kind == Kind::kLatency) {
        const Noise& n = noise[m.percentile == 50   ? 0
                               : m.percentile == 95 ? 1
                                                    : 2];
        if (b - a <= options.latency_floor_ms) {
          regressed = false;
          verdict = "ok (within the floor)";
        } else if (n.tested) {
          const bool beyond = n.test.p < kNoiseP && n.test.b_higher;
          regressed = beyond;
          verdict = absl::StrFormat("%s (p=%.3g)",
                                    beyond ? "REGRESSION" : "noise", n.test.p);
        } else {
          verdict = "REGRESSION (noise untested)";
        }
      }
      const std::string shown =
          std::isinf(change) ? "new" : absl::StrFormat("%+.1f%%", change * 100);
      table.push_back({row.scenario, row.request, m.name, Show(m, a),
                       Show(m, b), shown, verdict});
      if (regressed) {
        out.regressions.push_back(absl::StrCat(
            row.scenario, row.request.empty() ? "" : " ", row.request, " ",
            m.name, " ", Show(m, a), " -> ", Show(m, b), " (", shown, ")",
            verdict == "REGRESSION" ? "" : verdict.substr(10)));
      }
    }
  }
  out.table = TextTable(table);
  return out;
}

std::string BaselinePath(const std::string& dir, const std::string& plan_name) {
  std::string name = plan_name.empty() ? "run" : plan_name;
  for (char& c : name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                      c == '-';
    if (!keep) c = '_';
  }
  if (name == "." || name == "..") name = "run";
  return (std::filesystem::path(dir) / (name + ".json")).string();
}

int CompareCommand(const CompareCommandOptions& options) {
  absl::StatusOr<v1::RunResult> next = ReadResult(options.next);
  if (!next.ok()) {
    std::fprintf(stderr, "%s\n", std::string(next.status().message()).c_str());
    return kExitInvalid;
  }
  std::string baseline_file = options.baseline;
  const bool passed = next->status() == "passed";
  // Writes next as the baseline when it passed; `done` and `not_done` say
  // what became of the baseline either way.
  auto keep = [&](const char* done, const char* not_done) {
    if (!passed) {
      std::printf("  %s: the new run did not pass (status %s)\n", not_done,
                  next->status().c_str());
      return kExitPassed;
    }
    if (!WriteAtomically(baseline_file, ReadBytes(options.next))) {
      std::fprintf(stderr, "%s: cannot write the baseline\n",
                   baseline_file.c_str());
      return kExitInternal;
    }
    std::printf("  %s %s\n", done, baseline_file.c_str());
    return kExitPassed;
  };
  if (!options.baseline_dir.empty()) {
    baseline_file = BaselinePath(options.baseline_dir, next->plan_name());
    if (!std::filesystem::exists(baseline_file)) {
      std::printf("no baseline for plan \"%s\" yet (%s): nothing to compare\n",
                  next->plan_name().c_str(), baseline_file.c_str());
      return options.update_baseline
                 ? keep("baseline saved:", "no baseline saved")
                 : kExitPassed;
    }
  }
  absl::StatusOr<v1::RunResult> baseline = ReadResult(baseline_file);
  if (!baseline.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(baseline.status().message()).c_str());
    return kExitInvalid;
  }
  Comparison c = Compare(*baseline, *next, options.compare);
  if (c.refused) {
    for (const std::string& w : c.warnings)
      std::fprintf(stderr, "compare: %s\n", w.c_str());
    return kExitInvalid;
  }
  std::printf(
      "%s vs %s (regression: worse by %s, latency also by %s ms and beyond "
      "noise)\n\n",
      baseline_file.c_str(), options.next.c_str(),
      absl::StrFormat("%g%%", options.compare.max_regression * 100).c_str(),
      absl::StrFormat("%g", options.compare.latency_floor_ms).c_str());
  for (const std::string& w : c.warnings)
    std::printf("  WARNING: %s\n", w.c_str());
  if (!c.warnings.empty()) std::printf("\n");
  std::printf("%s\n", c.table.c_str());
  for (const std::string& r : c.regressions)
    std::printf("  REGRESSION: %s\n", r.c_str());
  if (c.regressions.empty()) std::printf("  no regression\n");
  if (!options.baseline_dir.empty() && options.update_baseline) {
    if (!c.regressions.empty()) {
      std::printf("  baseline kept: the new run regressed\n");
    } else if (int code = keep("baseline updated:", "baseline kept");
               code != kExitPassed) {
      return code;
    }
  }
  return c.regressions.empty() ? kExitPassed : kExitThresholds;
}

}  // namespace stampede::controller
