// Parsing and printing of the units plans are written in: durations ("30s",
// "5m", "1h30m", "250ms"), rates ("500/s", "30/m", "2/h"), percentages ("0.1%")
// and counts. Thread-safe.
#ifndef STAMPEDE_COMMON_UNITS_H_
#define STAMPEDE_COMMON_UNITS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace stampede::common {

// "30s", "5m", "1h30m", "250ms", "1.5s", "0". Negative durations are rejected.
absl::StatusOr<absl::Duration> ParseDuration(std::string_view text);

// "500/s", "30/m", "2/h", "0/s", "12.5/s" -> per second. A bare number is
// rejected (the unit must be written). Negative rates are rejected.
absl::StatusOr<double> ParseRate(std::string_view text);

// "0.1%" -> 0.001; "0.05" -> 0.05 (a plain fraction in [0, 1]).
absl::StatusOr<double> ParseFraction(std::string_view text);

// Short human form: "850µs", "12.3ms", "1.25s", "2m30s".
std::string FormatDuration(absl::Duration d);
// Milliseconds with sensible precision: "0.412", "12.3", "1204".
std::string FormatMillis(double ms);

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_UNITS_H_
