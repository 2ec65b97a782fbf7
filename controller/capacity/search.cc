#include "controller/capacity/search.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace stampede::controller::capacity {
namespace {

constexpr int kMaxDescents = 6;
constexpr int kMaxFinals = 3;

std::string Rate(double r) { return absl::StrFormat("%g/s", r); }

}  // namespace

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kInconclusive:
      return "inconclusive";
  }
  return "inconclusive";
}

Decision Decide(const std::vector<Second>& seconds, double exceed_ratio,
                bool final_pooled) {
  double judged = 0, bad = 0, limited = 0;
  for (const Second& s : seconds) {
    if (s.limited) {
      ++limited;
    } else {
      ++judged;
      bad += s.bad ? 1 : 0;
    }
  }
  const double all = judged + limited;
  if (judged == 0 || limited > exceed_ratio * all + 1e-9)
    return Decision::kInconclusive;
  const double allowed = exceed_ratio * judged;
  if (final_pooled)
    return bad <= allowed + 1e-9 ? Decision::kPass : Decision::kFail;
  if (bad <= allowed / 2 + 1e-9) return Decision::kPass;
  if (bad > 2 * allowed + 1e-9) return Decision::kFail;
  return Decision::kUndecided;
}

Search::Search(SearchConfig config)
    : config_(config), phase_(Phase::kGrowth), rate_(config.from) {
  if (rate_ > config_.max) rate_ = config_.max;
}

std::optional<Search::Probe> Search::Next() const {
  switch (phase_) {
    case Phase::kGrowth:
      return Probe{rate_, "growth"};
    case Phase::kDescend:
      return Probe{rate_, "growth"};
    case Phase::kBisection:
      return Probe{rate_, "bisection"};
    case Phase::kFinal:
      return Probe{rate_, "final"};
    case Phase::kDone:
      break;
  }
  return std::nullopt;
}

double Search::NextPassedBelow(double rate) const {
  double best = 0;
  for (double r : passed_) {
    if (r < rate && r > best) best = r;
  }
  return best;
}

void Search::Bisect() {
  if (upper_ <= 0 || lower_ <= 0) {
    phase_ = Phase::kDone;
    return;
  }
  if ((upper_ - lower_) / upper_ <= config_.width + 1e-12) {
    phase_ = Phase::kFinal;
    rate_ = lower_;
    return;
  }
  // The midpoint, to 0.1/s: a rate people can read and type again.
  const double mid = std::round((lower_ + upper_) / 2 * 10) / 10;
  if (mid <= lower_ || mid >= upper_) {
    phase_ = Phase::kFinal;
    rate_ = lower_;
    return;
  }
  phase_ = Phase::kBisection;
  rate_ = mid;
}

void Search::Record(Verdict verdict) {
  const double rate = rate_;
  if (verdict == Verdict::kPass && phase_ != Phase::kFinal)
    passed_.push_back(rate);
  auto set_upper = [&] {
    upper_ = rate;
    upper_inconclusive_ = verdict == Verdict::kInconclusive;
  };
  switch (phase_) {
    case Phase::kGrowth:
      if (verdict == Verdict::kPass) {
        lower_ = rate;
        if (rate >= config_.max) {
          end_ = absl::StrCat("every step up to the search's max ",
                              Rate(config_.max), " passed");
          phase_ = Phase::kFinal;
          rate_ = rate;
        } else {
          rate_ = std::min(config_.max, rate * config_.growth);
        }
      } else {
        set_upper();
        if (lower_ > 0) {
          Bisect();
        } else {
          phase_ = Phase::kDescend;
          rate_ = rate / config_.growth;
          descents_ = 1;
        }
      }
      return;
    case Phase::kDescend:
      if (verdict == Verdict::kPass) {
        lower_ = rate;
        Bisect();
      } else {
        set_upper();
        if (++descents_ > kMaxDescents) {
          end_ = absl::StrCat("no step passed, down to ", Rate(rate));
          phase_ = Phase::kDone;
        } else {
          rate_ = rate / config_.growth;
        }
      }
      return;
    case Phase::kBisection:
      if (verdict == Verdict::kPass) {
        lower_ = rate;
      } else {
        set_upper();
      }
      Bisect();
      return;
    case Phase::kFinal:
      ++finals_;
      if (verdict == Verdict::kPass) {
        confirmed_ = rate;
        phase_ = Phase::kDone;
        return;
      }
      set_upper();
      lower_ = NextPassedBelow(rate);
      if (lower_ <= 0 || finals_ >= kMaxFinals) {
        end_ = absl::StrCat("the final trial at ", Rate(rate),
                            " did not pass, and no lower rate was confirmed");
        phase_ = Phase::kDone;
        lower_ = std::max(lower_, 0.0);
      } else {
        rate_ = lower_;
      }
      return;
    case Phase::kDone:
      return;
  }
}

std::string Search::Summary() const {
  if (!end_.empty() && confirmed_ <= 0) return end_;
  if (confirmed_ <= 0) return "no rate passed";
  std::string out = absl::StrCat(Rate(confirmed_), " passed its final trial");
  if (upper_ > 0) {
    absl::StrAppend(&out, "; ", Rate(upper_),
                    upper_inconclusive_
                        ? " was inconclusive (the generator was the limit)"
                        : " failed");
  } else if (!end_.empty()) {
    absl::StrAppend(&out, "; ", end_);
  }
  return out;
}

int KneeIndex(const std::vector<double>& achieved,
              const std::vector<double>& p95_ms) {
  const size_t n = std::min(achieved.size(), p95_ms.size());
  if (n < 3) return -1;
  const auto [xmin, xmax] =
      std::minmax_element(achieved.begin(), achieved.begin() + n);
  const auto [ymin, ymax] =
      std::minmax_element(p95_ms.begin(), p95_ms.begin() + n);
  const double dx = *xmax - *xmin, dy = *ymax - *ymin;
  if (dx <= 0) return -1;
  int best = -1;
  double best_d = -1e300;
  for (size_t i = 0; i < n; ++i) {
    const double x = (achieved[i] - *xmin) / dx;
    const double y = dy > 0 ? (p95_ms[i] - *ymin) / dy : 0;
    if (x - y > best_d) {
      best_d = x - y;
      best = static_cast<int>(i);
    }
  }
  return best;
}

Instances InstancesFor(double rps, double per_instance, double buffer) {
  Instances out;
  if (per_instance <= 0 || rps <= 0) return out;
  // Against float noise: 300 / 50 is 6, not 7.
  out.base = static_cast<long long>(std::ceil(rps / per_instance - 1e-9));
  out.buffer = static_cast<long long>(
      std::ceil(static_cast<double>(out.base) * buffer - 1e-9));
  out.total = out.base + out.buffer;
  return out;
}

double Grown(double from, double yearly_growth, int year) {
  return from * std::pow(1 + yearly_growth, year);
}

v1::CapacityProjection Project(double max_rate, const ProjectionAsk& ask) {
  v1::CapacityProjection p;
  const int instances = std::max(1, ask.instances);
  p.set_instances_tested(instances);
  p.set_per_instance_rps(max_rate / instances);
  p.set_buffer(ask.buffer);
  p.set_from(absl::StrFormat(
      "the search's answer %s over %d instance%s tested = %s per instance",
      Rate(max_rate), instances, instances == 1 ? "" : "s",
      Rate(max_rate / instances)));
  auto add = [&](const std::string& scenario, int year, double rps) {
    const Instances n = InstancesFor(rps, p.per_instance_rps(), ask.buffer);
    v1::CapacityProjectionRow* row = p.add_rows();
    row->set_scenario(scenario);
    row->set_year(year);
    row->set_rps(rps);
    row->set_base_instances(n.base);
    row->set_buffer_instances(n.buffer);
    row->set_instances(n.total);
  };
  if (ask.target_rps > 0) add("target", 0, ask.target_rps);
  for (double g : ask.growth) {
    const std::string name = absl::StrFormat("%g%%/year", g * 100);
    for (int y = 0; y <= ask.years; ++y)
      add(name, y, Grown(ask.from_rps, g, y));
  }
  return p;
}

}  // namespace stampede::controller::capacity
