#include "common/units.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace stampede::common {
namespace {

// This absl build has its own absl::string_view (not an alias of
// std::string_view), so the parsers work in absl::string_view after converting
// the caller's text once.
absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// U+00B5 MICRO SIGN, as FormatDuration prints it; ParseDuration takes it too.
constexpr absl::string_view kMicro = "µ";
constexpr absl::string_view kMicroSeconds = "µs";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Length of the plain decimal number ("12", "1.5") at the start of `s`, or 0 if
// there is none. Signs, exponents, "inf", "nan" and bare or trailing dots are
// not numbers here: plans are written by people and anything unusual is more
// likely a typo than intent.
size_t NumberLength(absl::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == 0) return 0;
  if (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    while (j < s.size() && IsDigit(s[j])) ++j;
    if (j == i + 1) return 0;
    i = j;
  }
  return i;
}

bool HasInnerSpace(absl::string_view s) {
  for (char c : s) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

// Parses a whole string that must be a plain decimal number.
bool ParsePlainNumber(absl::string_view s, double& out) {
  return !s.empty() && NumberLength(s) == s.size() &&
         absl::SimpleAtod(s, &out) && std::isfinite(out);
}

// Rounds a positive nanosecond count to 3 significant digits.
int64_t RoundToThreeDigits(int64_t ns) {
  int64_t scale = 1;
  while (ns / scale >= 1000) scale *= 10;
  if (scale == 1) return ns;
  return (ns + scale / 2) / scale * scale;
}

// `value / unit` as a short decimal: no trailing zeros, no trailing dot.
std::string Decimal(int64_t value, int64_t unit) {
  std::string out = absl::StrCat(value / unit);
  int64_t frac = value % unit;
  if (frac == 0) return out;
  int digits = 0;
  for (int64_t u = unit; u > 1; u /= 10) ++digits;
  std::string frac_str = absl::StrFormat("%0*d", digits, frac);
  while (!frac_str.empty() && frac_str.back() == '0') frac_str.pop_back();
  return absl::StrCat(out, ".", frac_str);
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(std::string_view text) {
  const absl::string_view s = absl::StripAsciiWhitespace(ToAbsl(text));
  auto error = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid duration \"", s, "\": ", why));
  };
  constexpr absl::string_view kExpected =
      "expected a number and a unit, e.g. 30s, 5m, 250ms";
  if (s.empty()) return error(kExpected);
  if (s == "0") return absl::ZeroDuration();
  if (s[0] == '-') return error("must not be negative");
  if (HasInnerSpace(s))
    return error("must not contain spaces, e.g. 30s, 1h30m");

  // Check the shape ourselves: absl::ParseDuration also takes signs, "inf" and
  // unitless zero in odd places, which a plan should not contain.
  std::string canonical;
  absl::string_view rest = s;
  while (!rest.empty()) {
    const size_t number_len = NumberLength(rest);
    if (number_len == 0) return error(kExpected);
    const absl::string_view number = rest.substr(0, number_len);
    rest.remove_prefix(number_len);
    size_t unit_len = 0;
    while (unit_len < rest.size() && !IsDigit(rest[unit_len])) ++unit_len;
    absl::string_view unit = rest.substr(0, unit_len);
    rest.remove_prefix(unit_len);
    if (unit.empty()) {
      if (canonical.empty() && rest.empty()) {
        return error(
            absl::StrCat("missing unit, e.g. ", number, "s or ", number, "ms"));
      }
      return error(absl::StrCat("missing unit after ", number));
    }
    if (unit == kMicroSeconds) unit = "us";
    if (unit != "ns" && unit != "us" && unit != "ms" && unit != "s" &&
        unit != "m" && unit != "h") {
      return error(absl::StrCat("unknown unit \"", unit,
                                "\" (use h, m, s, ms, us or ns)"));
    }
    absl::StrAppend(&canonical, number, unit);
  }
  absl::Duration d;
  if (!absl::ParseDuration(canonical, &d) || d == absl::InfiniteDuration()) {
    return error("too large");
  }
  return d;
}

absl::StatusOr<double> ParseRate(std::string_view text) {
  const absl::string_view s = absl::StripAsciiWhitespace(ToAbsl(text));
  auto error = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid rate \"", s, "\": ", why));
  };
  constexpr absl::string_view kExpected =
      "expected a number per unit, e.g. 500/s, 30/m, 2/h";
  if (s.empty()) return error(kExpected);
  if (s[0] == '-') return error("must not be negative");
  if (HasInnerSpace(s)) return error("must not contain spaces, e.g. 500/s");
  const size_t slash = s.find('/');
  if (slash == absl::string_view::npos) {
    double unused;
    if (ParsePlainNumber(s, unused)) {
      return error(absl::StrCat("write it with a unit, e.g. ", s, "/s"));
    }
    return error(kExpected);
  }
  double count;
  if (!ParsePlainNumber(s.substr(0, slash), count)) return error(kExpected);
  const absl::string_view unit = s.substr(slash + 1);
  double seconds;
  if (unit == "s") {
    seconds = 1;
  } else if (unit == "m") {
    seconds = 60;
  } else if (unit == "h") {
    seconds = 3600;
  } else if (unit.empty()) {
    return error(kExpected);
  } else {
    return error(absl::StrCat("unknown unit \"", unit, "\" (use s, m or h)"));
  }
  return count / seconds;
}

absl::StatusOr<double> ParseFraction(std::string_view text) {
  const absl::string_view s = absl::StripAsciiWhitespace(ToAbsl(text));
  auto error = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid fraction \"", s, "\": ", why));
  };
  constexpr absl::string_view kExpected =
      "expected a percentage or a fraction, e.g. 0.1%, 5%, 0.05";
  if (s.empty()) return error(kExpected);
  if (s[0] == '-') return error("must not be negative");
  if (HasInnerSpace(s)) return error("must not contain spaces, e.g. 0.1%");
  const bool percent = s.back() == '%';
  double value;
  if (!ParsePlainNumber(percent ? s.substr(0, s.size() - 1) : s, value)) {
    return error(kExpected);
  }
  if (percent) {
    if (value > 100) return error("must be at most 100%");
    return value / 100;
  }
  if (value > 1) {
    return error(absl::StrCat(
        "a plain fraction must be at most 1; for a percentage write ", s, "%"));
  }
  return value;
}

std::string FormatDuration(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return "inf";
  if (d == -absl::InfiniteDuration()) return "-inf";
  if (d < absl::ZeroDuration())
    return absl::StrCat("-", common::FormatDuration(-d));
  if (d == absl::ZeroDuration()) return "0s";

  // Under a minute: 3 significant digits in the largest unit that keeps the
  // number >= 1.
  if (d < absl::Minutes(1)) {
    const int64_t ns = RoundToThreeDigits(absl::ToInt64Nanoseconds(d));
    if (ns < 1'000) return absl::StrCat(ns, "ns");
    if (ns < 1'000'000) return absl::StrCat(Decimal(ns, 1'000), kMicro, "s");
    if (ns < 1'000'000'000) return absl::StrCat(Decimal(ns, 1'000'000), "ms");
    if (ns < 60'000'000'000)
      return absl::StrCat(Decimal(ns, 1'000'000'000), "s");
    // Rounded up to a whole minute: fall through.
  }

  // From a minute up: whole seconds as h/m/s, dropping trailing zero parts
  // ("5m", "1h", "1h0m5s"), so that the output parses back with ParseDuration.
  absl::Duration rem;
  int64_t secs = absl::IDivDuration(d, absl::Seconds(1), &rem);
  if (rem >= absl::Milliseconds(500)) ++secs;
  const int64_t h = secs / 3600;
  const int64_t m = secs / 60 % 60;
  const int64_t s = secs % 60;
  std::string out;
  if (h > 0) absl::StrAppend(&out, h, "h");
  if (m > 0 || (h > 0 && s > 0)) absl::StrAppend(&out, m, "m");
  if (s > 0) absl::StrAppend(&out, s, "s");
  return out;
}

std::string FormatMillis(double ms) {
  if (std::isnan(ms)) return "nan";
  if (std::isinf(ms)) return ms > 0 ? "inf" : "-inf";
  const double a = std::fabs(ms);
  // About 3 significant digits, but never fewer than the whole-number part.
  const int decimals = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  std::string out = absl::StrFormat("%.*f", decimals, a);
  if (out.find('.') != std::string::npos) {
    while (out.back() == '0') out.pop_back();
    if (out.back() == '.') out.pop_back();
  }
  if (ms < 0 && out != "0") return absl::StrCat("-", out);
  return out;
}

}  // namespace stampede::common
