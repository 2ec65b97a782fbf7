// The capacity search's rules, as pure functions and a small state machine,
// apart from any run: which rate to measure next (growth, then bisection),
// how a step's judged seconds decide it (the exceed ratio, after RFC 9971's
// MLRsearch), the knee of the latency-throughput curve. The README's
// "Capacity runs" section states the same rules; keep them together.
// Not thread-safe.
#ifndef STAMPEDE_CONTROLLER_CAPACITY_SEARCH_H_
#define STAMPEDE_CONTROLLER_CAPACITY_SEARCH_H_

#include <optional>
#include <string>
#include <vector>

#include "stampede/v1/result.pb.h"

namespace stampede::controller::capacity {

enum class Verdict { kPass, kFail, kInconclusive };
const char* VerdictName(Verdict v);

// One judged second of a step.
struct Second {
  bool bad = false;      // a fail threshold failed on this second's data
  bool limited = false;  // the generator, not the service, was the limit
};

// What a step's seconds say.
enum class Decision {
  kPass,          // bad seconds within the exceed ratio
  kFail,          // more bad seconds than it allows
  kUndecided,     // too close to call on one trial: measure the rate again
  kInconclusive,  // the generator was the limit in too many seconds
};

// `seconds` of one trial (or of trials of one rate pooled); `exceed_ratio` in
// [0, 1). `final_pooled`: no further trial will come, so an undecided step is
// decided by the plain rule (bad <= ratio x judged).
//
// With J judged seconds (the generator not limited) and B of them bad:
// inconclusive when limited seconds are more than ratio x all seconds (or J
// is 0); else a first trial passes when B <= ratio x J / 2, fails when
// B > 2 x ratio x J (and B > 0), and is undecided between the two; pooled,
// it passes when B <= ratio x J.
Decision Decide(const std::vector<Second>& seconds, double exceed_ratio,
                bool final_pooled);

struct SearchConfig {
  double from = 10;     // per second
  double max = 0;       // per second; > 0
  double growth = 2;    // > 1
  double width = 0.05;  // (upper - lower) / upper to stop at
};

// Which rate to measure next. Growth: from, from x growth, ... up to max,
// until a step fails or is inconclusive; a first step that fails descends by
// the growth factor (down to from / growth^6) until one passes. Then
// bisection between the highest rate that passed and the lowest that failed
// (or was inconclusive, the generator's limit) until (upper - lower) / upper
// <= width. Then a final trial at the highest rate that passed; if it fails,
// that rate becomes the upper bound and the next lower passed rate is
// confirmed instead (at most 3 final trials).
class Search {
 public:
  explicit Search(SearchConfig config);

  struct Probe {
    double rate = 0;
    std::string phase;  // growth | bisection | final
  };
  // The next rate to measure, or nullopt when the search is over.
  std::optional<Probe> Next() const;
  // The outcome of measuring Next().
  void Record(Verdict verdict);

  // The highest measured rate that passed (0: none), and whether a final
  // trial at it passed.
  double answer() const { return confirmed_ > 0 ? confirmed_ : 0; }
  bool confirmed() const { return confirmed_ > 0; }
  double lower() const { return lower_; }
  // 0 when nothing failed or was inconclusive.
  double upper() const { return upper_; }
  // The upper bound is where the generator, not the service, was the limit.
  bool upper_inconclusive() const { return upper_inconclusive_; }
  // Why the search ended as it did, in words.
  std::string Summary() const;

 private:
  void Bisect();
  double NextPassedBelow(double rate) const;

  SearchConfig config_;
  enum class Phase { kGrowth, kDescend, kBisection, kFinal, kDone } phase_;
  double rate_ = 0;  // the next probe's
  double lower_ = 0;
  double upper_ = 0;
  bool upper_inconclusive_ = false;
  double confirmed_ = 0;
  int finals_ = 0;
  int descents_ = 0;
  std::vector<double> passed_;  // every rate that passed, as measured
  std::string end_;
};

// The knee of the latency-throughput curve: with the measured steps' achieved
// rates x and p95 latencies y (both scaled to 0..1 over the steps), the step
// with the largest x - y (Kneedle's difference curve): where latency starts
// to rise faster than throughput. -1 with fewer than 3 distinct steps.
int KneeIndex(const std::vector<double>& achieved,
              const std::vector<double>& p95_ms);

// The teams' formula: instances = ceil(rps / per_instance), plus a buffer of
// ceil(that x buffer) (20 %: 6 -> 6 + 2 = 8).
struct Instances {
  long long base = 0;
  long long buffer = 0;
  long long total = 0;
};
Instances InstancesFor(double rps, double per_instance, double buffer);

// Growth: `from` x (1 + rate)^year.
double Grown(double from, double yearly_growth, int year);

// What a projection is asked for (stampede capacity's flags).
struct ProjectionAsk {
  int instances = 1;           // the search ran against this many (--instances)
  double target_rps = 0;       // --target-rps; 0: none
  std::vector<double> growth;  // --growth, yearly, as fractions (0.2 = 20 %)
  int years = 3;               // --years: rows for years 0 (today) .. years
  double from_rps = 0;         // --from: today's load
  double buffer = 0.2;         // --buffer
};
// The rows for a target and for each growth scenario and year, from the
// per-instance rate max_rate / instances; Little's law is left to the caller.
v1::CapacityProjection Project(double max_rate, const ProjectionAsk& ask);

}  // namespace stampede::controller::capacity

#endif  // STAMPEDE_CONTROLLER_CAPACITY_SEARCH_H_
