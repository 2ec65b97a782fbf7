#include "controller/compare.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/units.h"
#include "controller/report.h"
#include "controller/result.h"

namespace stampede::controller {
namespace {

struct Metric {
  const char* name;
  double baseline;
  double next;
  bool higher_is_worse;
  bool is_rate;  // an error rate: judged also by absolute points
};

std::string Show(const Metric& m, double v) {
  if (m.is_rate) return absl::StrFormat("%.3f%%", v * 100);
  if (std::string_view(m.name) == "rps") return absl::StrFormat("%.1f/s", v);
  return absl::StrCat(common::FormatMillis(v), " ms");
}

}  // namespace

Comparison Compare(const v1::RunResult& baseline, const v1::RunResult& next,
                   double max_regression) {
  const v1::Summary& a = baseline.summary();
  const v1::Summary& b = next.summary();
  const Metric metrics[] = {
      {"rps", a.rps(), b.rps(), false, false},
      {"error_rate", a.error_rate(), b.error_rate(), true, true},
      {"p50", a.latency_ms().p50(), b.latency_ms().p50(), true, false},
      {"p95", a.latency_ms().p95(), b.latency_ms().p95(), true, false},
      {"p99", a.latency_ms().p99(), b.latency_ms().p99(), true, false},
  };
  Comparison out;
  out.table = absl::StrFormat("  %-10s %14s %14s %9s  %s\n", "metric",
                              "baseline", "new", "change", "verdict");
  for (const Metric& m : metrics) {
    const double change = m.baseline != 0 ? (m.next - m.baseline) / m.baseline
                          : m.next != 0   ? INFINITY
                                          : 0;
    const double worse = m.higher_is_worse ? change : -change;
    bool regressed = worse > max_regression;
    // An error rate going from 0.001 % to 0.002 % doubles but matters to
    // nobody.
    if (m.is_rate) regressed = regressed && (m.next - m.baseline) >= 0.001;
    std::string shown =
        std::isinf(change) ? "new" : absl::StrFormat("%+.1f%%", change * 100);
    absl::StrAppend(&out.table,
                    absl::StrFormat("  %-10s %14s %14s %9s  %s\n", m.name,
                                    Show(m, m.baseline), Show(m, m.next), shown,
                                    regressed ? "REGRESSION" : "ok"));
    if (regressed) {
      out.regressions.push_back(absl::StrCat(m.name, " ", Show(m, m.baseline),
                                             " -> ", Show(m, m.next), " (",
                                             shown, ")"));
    }
  }
  return out;
}

int CompareCommand(const std::string& baseline, const std::string& next,
                   const std::string& max_regression) {
  absl::StatusOr<double> limit = common::ParseFraction(max_regression);
  if (!limit.ok()) {
    std::fprintf(stderr, "--max-regression: %s\n",
                 std::string(limit.status().message()).c_str());
    return kExitInvalid;
  }
  absl::StatusOr<v1::RunResult> a = ReadResult(baseline);
  absl::StatusOr<v1::RunResult> b = ReadResult(next);
  for (const auto* r : {&a, &b}) {
    if (!r->ok()) {
      std::fprintf(stderr, "%s\n", std::string(r->status().message()).c_str());
      return kExitInvalid;
    }
  }
  Comparison c = Compare(*a, *b, *limit);
  std::printf("%s vs %s (regression limit %s)\n\n%s\n", baseline.c_str(),
              next.c_str(), max_regression.c_str(), c.table.c_str());
  if (c.regressions.empty()) {
    std::printf("  no regression\n");
    return kExitPassed;
  }
  for (const std::string& r : c.regressions)
    std::printf("  REGRESSION: %s\n", r.c_str());
  return kExitThresholds;
}

}  // namespace stampede::controller
