#include "common/units.h"

#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace stampede::common {
namespace {

// Checks that `status` is InvalidArgument and its message contains `want`.
void ExpectRejected(const absl::Status& status, std::string_view input,
                    std::string_view want) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
      << "input: \"" << input << "\"";
  EXPECT_NE(std::string(status.message()).find(want), std::string::npos)
      << "input: \"" << input << "\", message: " << status.message()
      << ", expected to contain: " << want;
}

TEST(ParseDurationTest, AcceptsPlanDurations) {
  const struct {
    std::string_view text;
    absl::Duration want;
  } cases[] = {
      {"30s", absl::Seconds(30)},
      {"5m", absl::Minutes(5)},
      {"1h30m", absl::Minutes(90)},
      {"250ms", absl::Milliseconds(250)},
      {"1.5s", absl::Milliseconds(1500)},
      {"0.1s", absl::Milliseconds(100)},
      {"0", absl::ZeroDuration()},
      {"0s", absl::ZeroDuration()},
      {"2h", absl::Hours(2)},
      {"1m30s", absl::Seconds(90)},
      {"1h0m5s", absl::Seconds(3605)},
      {"500us", absl::Microseconds(500)},
      {"500µs", absl::Microseconds(500)},
      {"100ns", absl::Nanoseconds(100)},
      {"  30s\t", absl::Seconds(30)},  // surrounding whitespace is trimmed
      {"\n0\n", absl::ZeroDuration()},
  };
  for (const auto& c : cases) {
    absl::StatusOr<absl::Duration> got = ParseDuration(c.text);
    ASSERT_TRUE(got.ok()) << "\"" << c.text << "\": " << got.status();
    EXPECT_EQ(*got, c.want) << "\"" << c.text << "\"";
  }
}

TEST(ParseDurationTest, RejectsWithAHelpfulMessage) {
  const struct {
    std::string_view text;
    std::string_view message;
  } cases[] = {
      {"",
       "invalid duration \"\": expected a number and a unit, e.g. 30s, 5m, "
       "250ms"},
      {"   ", "expected a number and a unit"},
      {"abc",
       "invalid duration \"abc\": expected a number and a unit, e.g. 30s, 5m, "
       "250ms"},
      {"s", "expected a number and a unit"},
      {"10", "invalid duration \"10\": missing unit, e.g. 10s or 10ms"},
      {"1.5", "missing unit"},
      {"1h30", "missing unit after 30"},
      {"-5s", "must not be negative"},
      {"-0", "must not be negative"},
      {"+5s", "expected a number and a unit"},
      {"5 s", "must not contain spaces"},
      {"1h 30m", "must not contain spaces"},
      {"5x", "unknown unit \"x\""},
      {"5sec", "unknown unit \"sec\""},
      {"5d", "unknown unit \"d\""},
      {".5s", "expected a number and a unit"},
      {"5.s", "expected a number and a unit"},
      {"1e3s", "unknown unit \"e\""},
      {"inf", "expected a number and a unit"},
      {"nan", "expected a number and a unit"},
      {"99999999999999999999999h", "too large"},
  };
  for (const auto& c : cases) {
    ExpectRejected(ParseDuration(c.text).status(), c.text, c.message);
  }
}

TEST(ParseRateTest, AcceptsRatesPerUnit) {
  const struct {
    std::string_view text;
    double want;
  } cases[] = {
      {"500/s", 500},   {"30/m", 0.5},     {"2/h", 2.0 / 3600},
      {"12.5/s", 12.5}, {"0/s", 0},        {"0/h", 0},
      {"60/m", 1},      {" 500/s\n", 500}, {"1000000/s", 1e6},
  };
  for (const auto& c : cases) {
    absl::StatusOr<double> got = ParseRate(c.text);
    ASSERT_TRUE(got.ok()) << "\"" << c.text << "\": " << got.status();
    EXPECT_DOUBLE_EQ(*got, c.want) << "\"" << c.text << "\"";
  }
}

TEST(ParseRateTest, RejectsWithAHelpfulMessage) {
  const struct {
    std::string_view text;
    std::string_view message;
  } cases[] = {
      {"500", "invalid rate \"500\": write it with a unit, e.g. 500/s"},
      {"12.5", "write it with a unit, e.g. 12.5/s"},
      {"0", "write it with a unit, e.g. 0/s"},
      {"", "expected a number per unit, e.g. 500/s, 30/m, 2/h"},
      {"abc", "invalid rate \"abc\": expected a number per unit"},
      {"-5/s", "must not be negative"},
      {"-500", "must not be negative"},
      {"nan/s", "expected a number per unit"},
      {"inf/s", "expected a number per unit"},
      {"NaN/s", "expected a number per unit"},
      {"1e3/s", "expected a number per unit"},
      {"/s", "expected a number per unit"},
      {"500/", "expected a number per unit"},
      {"500/d", "unknown unit \"d\" (use s, m or h)"},
      {"500/sec", "unknown unit \"sec\""},
      {"500/min", "unknown unit \"min\""},
      {"500/s/s", "unknown unit \"s/s\""},
      {"500 /s", "must not contain spaces"},
      {"500/ s", "must not contain spaces"},
      {"five/s", "expected a number per unit"},
  };
  for (const auto& c : cases) {
    ExpectRejected(ParseRate(c.text).status(), c.text, c.message);
  }
}

TEST(ParseFractionTest, AcceptsPercentagesAndFractions) {
  const struct {
    std::string_view text;
    double want;
  } cases[] = {
      {"0.1%", 0.001}, {"5%", 0.05}, {"0.05", 0.05}, {"100%", 1},    {"0%", 0},
      {"1", 1},        {"0", 0},     {"1.0", 1},     {" 5% ", 0.05},
  };
  for (const auto& c : cases) {
    absl::StatusOr<double> got = ParseFraction(c.text);
    ASSERT_TRUE(got.ok()) << "\"" << c.text << "\": " << got.status();
    EXPECT_DOUBLE_EQ(*got, c.want) << "\"" << c.text << "\"";
  }
}

TEST(ParseFractionTest, RejectsWithAHelpfulMessage) {
  const struct {
    std::string_view text;
    std::string_view message;
  } cases[] = {
      {"101%", "must be at most 100%"},
      {"100.5%", "must be at most 100%"},
      {"1.5",
       "a plain fraction must be at most 1; for a percentage write 1.5%"},
      {"5", "for a percentage write 5%"},
      {"-0.1", "must not be negative"},
      {"-5%", "must not be negative"},
      {"", "expected a percentage or a fraction, e.g. 0.1%, 5%, 0.05"},
      {"abc", "invalid fraction \"abc\": expected a percentage or a fraction"},
      {"%", "expected a percentage or a fraction"},
      {"5%%", "expected a percentage or a fraction"},
      {"nan", "expected a percentage or a fraction"},
      {"inf%", "expected a percentage or a fraction"},
      {"5 %", "must not contain spaces"},
  };
  for (const auto& c : cases) {
    ExpectRejected(ParseFraction(c.text).status(), c.text, c.message);
  }
}

TEST(FormatDurationTest, ShortHumanForm) {
  const struct {
    absl::Duration d;
    std::string_view want;
  } cases[] = {
      {absl::ZeroDuration(), "0s"},
      {absl::Nanoseconds(5), "5ns"},
      {absl::Nanoseconds(999), "999ns"},
      {absl::Microseconds(1), "1µs"},
      {absl::Microseconds(850), "850µs"},
      {absl::Nanoseconds(12'345), "12.3µs"},
      {absl::Microseconds(12'340), "12.3ms"},
      {absl::Microseconds(12'350), "12.4ms"},
      {absl::Milliseconds(250), "250ms"},
      {absl::Microseconds(999'600), "1s"},  // rounds up into the next unit
      {absl::Milliseconds(1250), "1.25s"},
      {absl::Milliseconds(1254), "1.25s"},
      {absl::Seconds(30), "30s"},
      {absl::Milliseconds(59'940), "59.9s"},
      {absl::Milliseconds(59'960), "1m"},
      {absl::Seconds(60), "1m"},
      {absl::Seconds(150), "2m30s"},
      {absl::Milliseconds(150'400), "2m30s"},
      {absl::Milliseconds(150'500), "2m31s"},
      {absl::Minutes(5), "5m"},
      {absl::Hours(1), "1h"},
      {absl::Minutes(90), "1h30m"},
      {absl::Seconds(3605), "1h0m5s"},
      {absl::Hours(50) + absl::Seconds(1), "50h0m1s"},
      {-absl::Milliseconds(250), "-250ms"},
      {absl::InfiniteDuration(), "inf"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(common::FormatDuration(c.d), c.want) << c.d;
  }
}

TEST(FormatDurationTest, OutputParsesBackWhenWholeUnits) {
  for (absl::Duration d :
       {absl::Milliseconds(250), absl::Seconds(30), absl::Seconds(150),
        absl::Minutes(90), absl::Seconds(3605), absl::Microseconds(850)}) {
    absl::StatusOr<absl::Duration> back =
        ParseDuration(common::FormatDuration(d));
    ASSERT_TRUE(back.ok()) << common::FormatDuration(d) << ": "
                           << back.status();
    EXPECT_EQ(*back, d);
  }
}

TEST(FormatMillisTest, SensiblePrecision) {
  const struct {
    double ms;
    std::string_view want;
  } cases[] = {
      {0.412, "0.412"},
      {12.34, "12.3"},
      {1204.4, "1204"},
      {0, "0"},
      {1.5, "1.5"},
      {1.234, "1.23"},
      {12, "12"},
      {99.96, "100"},
      {150.6, "151"},
      {0.0004, "0"},
      {-2.5, "-2.5"},
      {-0.0001, "0"},
      {123456.7, "123457"},
      {std::numeric_limits<double>::quiet_NaN(), "nan"},
      {std::numeric_limits<double>::infinity(), "inf"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FormatMillis(c.ms), c.want) << c.ms;
  }
}

}  // namespace
}  // namespace stampede::common
