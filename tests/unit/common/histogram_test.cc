#include "common/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace stampede::common {
namespace {

using Sampler = std::function<int64_t(std::mt19937_64&)>;

struct Distribution {
  std::string name;
  Sampler sample;
};

int64_t LogUniform(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> exponent(
      0.0, std::log(static_cast<double>(Histogram::kHighestUs)));
  const auto v = static_cast<int64_t>(std::llround(std::exp(exponent(rng))));
  return std::clamp<int64_t>(v, Histogram::kLowestUs, Histogram::kHighestUs);
}

// Shapes a latency recorder really sees, plus the exact region and the full
// range.
std::vector<Distribution> Distributions() {
  return {
      {"uniform_small_exact",
       [](std::mt19937_64& rng) {
         return std::uniform_int_distribution<int64_t>(0, 2047)(rng);
       }},
      {"uniform_to_100ms",
       [](std::mt19937_64& rng) {
         return std::uniform_int_distribution<int64_t>(1, 100'000)(rng);
       }},
      {"log_uniform_1us_to_1h", LogUniform},
      {"lognormal_around_5ms",
       [](std::mt19937_64& rng) {
         const double v =
             std::lognormal_distribution<double>(std::log(5000.0), 1.0)(rng);
         return std::min<int64_t>(std::llround(v), Histogram::kHighestUs);
       }},
      {"exponential_mean_20ms",
       [](std::mt19937_64& rng) {
         return std::llround(
             std::exponential_distribution<double>(1.0 / 20'000)(rng));
       }},
  };
}

std::vector<int64_t> Draw(const Distribution& dist, uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> out(n);
  for (int64_t& v : out) v = dist.sample(rng);
  return out;
}

Histogram Of(const std::vector<int64_t>& values) {
  Histogram h;
  for (int64_t v : values) h.Record(v);
  return h;
}

void ExpectSameBuckets(const Histogram& a, const Histogram& b) {
  ASSERT_EQ(a.BucketCount(), b.BucketCount());
  for (size_t i = 0; i < a.BucketCount(); ++i) {
    ASSERT_EQ(a.BucketAt(i), b.BucketAt(i)) << "bucket " << i;
  }
  EXPECT_EQ(a.Count(), b.Count());
}

bool Mentions(const absl::Status& status, std::string_view word) {
  return std::string(status.message()).find(word) != std::string::npos;
}

// An encoded histogram is a version byte then (gap, count) varint pairs.
std::string AppendVarint(std::string out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

std::string Encoded(std::initializer_list<uint64_t> varints) {
  std::string out(1, '\x01');
  for (uint64_t v : varints) out = AppendVarint(out, v);
  return out;
}

TEST(HistogramLayoutTest, HasTheHdrLayoutForOneMicrosecondToOneHour) {
  Histogram h;
  EXPECT_EQ(h.BucketCount(), 23552u);
  for (int64_t v = 0; v < 2048; ++v) {
    ASSERT_EQ(Histogram::IndexOf(v), static_cast<size_t>(v));
    ASSERT_EQ(Histogram::BucketLowest(v), v);
    ASSERT_EQ(Histogram::BucketHighest(v), v);
  }
  EXPECT_LT(Histogram::IndexOf(Histogram::kHighestUs), h.BucketCount());
}

TEST(HistogramLayoutTest, BucketsAreContiguousAndContainTheirValues) {
  const size_t last = Histogram::IndexOf(Histogram::kHighestUs);
  for (size_t i = 0; i < last; ++i) {
    ASSERT_EQ(Histogram::BucketLowest(i + 1), Histogram::BucketHighest(i) + 1)
        << i;
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100'000; ++i) {
    const int64_t v = LogUniform(rng);
    const size_t index = Histogram::IndexOf(v);
    ASSERT_LE(Histogram::BucketLowest(index), v);
    ASSERT_GE(Histogram::BucketHighest(index), v);
    // 3 significant digits: a bucket is never wider than 1/1024 of its lowest
    // value.
    ASSERT_LE(Histogram::BucketHighest(index) - Histogram::BucketLowest(index),
              std::max<int64_t>(0, Histogram::BucketLowest(index) / 1024));
  }
}

TEST(HistogramTest, EmptyHistogramReportsZero) {
  Histogram h;
  EXPECT_EQ(h.Count(), 0);
  EXPECT_EQ(h.Clamped(), 0);
  EXPECT_EQ(h.Min(), 0);
  EXPECT_EQ(h.Max(), 0);
  EXPECT_EQ(h.Mean(), 0);
  for (double p : {0.0, 50.0, 99.9, 100.0})
    EXPECT_EQ(h.ValueAtPercentile(p), 0) << p;
}

TEST(HistogramTest, MinMaxMeanCountOnKnownValues) {
  Histogram h;
  for (int64_t v : {1, 2, 3, 4}) h.Record(v);
  EXPECT_EQ(h.Count(), 4);
  EXPECT_EQ(h.Min(), 1);
  EXPECT_EQ(h.Max(), 4);
  EXPECT_DOUBLE_EQ(h.Mean(), 2.5);
  EXPECT_EQ(h.ValueAtPercentile(50), 2);
  EXPECT_EQ(h.ValueAtPercentile(51), 3);
  EXPECT_EQ(h.ValueAtPercentile(0), 1);
  EXPECT_EQ(h.ValueAtPercentile(100), 4);
}

TEST(HistogramTest, LargeValuesReportTheirBucketBounds) {
  // 10000 µs lands in [10000, 10007] (8 µs wide buckets from 8192 µs to 16383
  // µs).
  Histogram h;
  h.Record(10'000);
  h.Record(10'003);
  EXPECT_EQ(h.Count(), 2);
  EXPECT_EQ(h.Min(), 10'000);
  EXPECT_EQ(h.Max(), 10'007);
  EXPECT_DOUBLE_EQ(h.Mean(), 10'004);  // bucket midpoint
  EXPECT_EQ(h.ValueAtPercentile(50), 10'007);
}

TEST(HistogramTest, RecordNEqualsRepeatedRecord) {
  Histogram a, b;
  a.RecordN(1234, 5);
  a.RecordN(98'765, 3);
  a.RecordN(42, 0);  // recording nothing changes nothing
  for (int i = 0; i < 5; ++i) b.Record(1234);
  for (int i = 0; i < 3; ++i) b.Record(98'765);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Count(), 8);
}

TEST(HistogramTest, HugeValuesAreClampedAndCounted) {
  Histogram h;
  h.Record(
      Histogram::kHighestUs);  // the highest trackable value is not clamped
  EXPECT_EQ(h.Clamped(), 0);
  h.Record(Histogram::kHighestUs + 1);
  h.Record(std::numeric_limits<int64_t>::max());
  h.RecordN(10 * Histogram::kHighestUs, 3);
  EXPECT_EQ(h.Count(), 6);
  EXPECT_EQ(h.Clamped(), 5);
  EXPECT_EQ(h.Max(), Histogram::kHighestUs);
  EXPECT_EQ(h.ValueAtPercentile(100), Histogram::kHighestUs);
  EXPECT_EQ(h.ValueAtPercentile(50), Histogram::kHighestUs);
  EXPECT_EQ(h.BucketAt(Histogram::IndexOf(Histogram::kHighestUs)), 6);
}

TEST(HistogramTest, NegativeValuesCountAsZero) {
  Histogram h;
  h.Record(-5);
  h.Record(std::numeric_limits<int64_t>::min());
  EXPECT_EQ(h.Count(), 2);
  EXPECT_EQ(h.Clamped(), 0);
  EXPECT_EQ(h.BucketAt(0), 2);
  EXPECT_EQ(h.Min(), 0);
  EXPECT_EQ(h.Max(), 0);
  EXPECT_EQ(h.ValueAtPercentile(99), 0);
}

TEST(HistogramTest, ResetEmptiesEverything) {
  Histogram h;
  h.Record(17);
  h.Record(5 * Histogram::kHighestUs);
  h.Reset();
  EXPECT_EQ(h, Histogram());
  EXPECT_EQ(h.Count(), 0);
  EXPECT_EQ(h.Clamped(), 0);
  EXPECT_EQ(h.Max(), 0);
  h.Record(3);
  EXPECT_EQ(h.Count(), 1);
  EXPECT_EQ(h.Max(), 3);
}

TEST(HistogramTest, PercentileIsClampedToItsRange) {
  Histogram h;
  for (int64_t v = 1; v <= 10; ++v) h.Record(v);
  EXPECT_EQ(h.ValueAtPercentile(-5), 1);
  EXPECT_EQ(h.ValueAtPercentile(250), 10);
  EXPECT_EQ(h.ValueAtPercentile(std::nan("")), 1);
}

TEST(HistogramMergeTest, MergeOfPartsEqualsHistogramOfTheUnion) {
  const std::vector<Distribution> dists = Distributions();
  for (uint64_t seed = 1; seed <= 25; ++seed) {
    std::vector<int64_t> all;
    Histogram merged;
    int64_t clamped = 0;
    for (size_t d = 0; d < dists.size(); ++d) {
      std::vector<int64_t> part =
          Draw(dists[d], seed * 100 + d,
               500 + static_cast<int>((seed * 37 + d * 101) % 3000));
      if (d == 0) {  // one part also carries out-of-range values
        part.push_back(-1);
        part.push_back(Histogram::kHighestUs * 2);
        ++clamped;
      }
      merged.Merge(Of(part));
      all.insert(all.end(), part.begin(), part.end());
    }
    std::shuffle(all.begin(), all.end(), std::mt19937_64(seed));
    const Histogram expected = Of(all);
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    EXPECT_EQ(merged, expected);
    ExpectSameBuckets(merged, expected);
    EXPECT_EQ(merged.Count(), static_cast<int64_t>(all.size()));
    EXPECT_EQ(merged.Clamped(), clamped);
    EXPECT_EQ(merged.Min(), expected.Min());
    EXPECT_EQ(merged.Max(), expected.Max());
    EXPECT_EQ(merged.ValueAtPercentile(99.9), expected.ValueAtPercentile(99.9));
  }
}

TEST(HistogramMergeTest, MergingEmptyChangesNothing) {
  Histogram h = Of({1, 500, 70'000});
  const Histogram before = h;
  h.Merge(Histogram());
  EXPECT_EQ(h, before);
  Histogram empty;
  empty.Merge(before);
  EXPECT_EQ(empty, before);
}

TEST(HistogramPercentileTest, WithinOneTenthPercentOfExactNearestRank) {
  const std::vector<double> percentiles = {0,  1,  10,   50,    90,
                                           95, 99, 99.9, 99.99, 100};
  for (const Distribution& dist : Distributions()) {
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      std::vector<int64_t> values =
          Draw(dist, seed, 20'000 + 1'111 * static_cast<int>(seed));
      const Histogram h = Of(values);
      std::sort(values.begin(), values.end());
      const double n = static_cast<double>(values.size());
      for (double p : percentiles) {
        const int64_t rank =
            std::max<int64_t>(1, static_cast<int64_t>(std::ceil(p / 100 * n)));
        const int64_t exact = values[rank - 1];
        const int64_t got = h.ValueAtPercentile(p);
        SCOPED_TRACE(testing::Message() << dist.name << " seed " << seed << " p"
                                        << p << " exact " << exact);
        if (exact < 2048) {
          EXPECT_EQ(got, exact);
        } else {
          EXPECT_GE(got, exact);  // reported as the highest value of its bucket
          EXPECT_LE(std::abs(static_cast<double>(got - exact)),
                    0.001 * static_cast<double>(exact));
        }
      }
    }
  }
}

TEST(HistogramPercentileTest, SmallValuesAreExact) {
  std::vector<int64_t> values = Draw(Distributions()[0], 99, 5'000);
  const Histogram h = Of(values);
  std::sort(values.begin(), values.end());
  EXPECT_EQ(h.Min(), values.front());
  EXPECT_EQ(h.Max(), values.back());
  for (int p = 1; p <= 100; ++p) {
    const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * 5'000));
    EXPECT_EQ(h.ValueAtPercentile(p), values[rank - 1]) << "p" << p;
  }
}

TEST(HistogramEncodingTest, RoundTripEqualsOriginal) {
  for (const Distribution& dist : Distributions()) {
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      const Histogram h = Of(Draw(dist, seed, 10'000));
      absl::StatusOr<Histogram> decoded = Histogram::Decode(h.Encode());
      ASSERT_TRUE(decoded.ok()) << dist.name << ": " << decoded.status();
      EXPECT_EQ(*decoded, h) << dist.name;
      ExpectSameBuckets(*decoded, h);

      Histogram into = Of({1, 2, 3});
      ASSERT_TRUE(into.DecodeFrom(h.Encode()).ok());
      EXPECT_EQ(into, h) << "DecodeFrom replaces, it does not add";
    }
  }
}

TEST(HistogramEncodingTest, RoundTripKeepsExtremesAndLargeCounts) {
  Histogram h;
  h.Record(0);
  h.RecordN(Histogram::kHighestUs, int64_t{1} << 40);
  absl::StatusOr<Histogram> decoded = Histogram::Decode(h.Encode());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, h);
  EXPECT_EQ(decoded->Count(), (int64_t{1} << 40) + 1);
}

TEST(HistogramEncodingTest, EmptyRoundTrips) {
  const std::string bytes = Histogram().Encode();
  EXPECT_EQ(bytes, std::string(1, '\x01'));
  absl::StatusOr<Histogram> decoded = Histogram::Decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, Histogram());
}

TEST(HistogramEncodingTest, TypicalLatencySampleIsSmall) {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> latency(5'000, 200);  // 5 ms ± 0.2 ms
  Histogram h;
  for (int i = 0; i < 100'000; ++i) h.Record(std::llround(latency(rng)));
  EXPECT_LT(h.Encode().size(), 2048u);
}

TEST(HistogramDecodeTest, RejectsEmptyInput) {
  absl::StatusOr<Histogram> h = Histogram::Decode("");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(h.status(), "empty")) << h.status();
}

TEST(HistogramDecodeTest, RejectsBadVersion) {
  std::string bytes = Of({1, 2, 3}).Encode();
  for (char version : {'\x00', '\x02', '\xff'}) {
    bytes[0] = version;
    absl::StatusOr<Histogram> h = Histogram::Decode(bytes);
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(Mentions(h.status(), "version")) << h.status();
  }
}

TEST(HistogramDecodeTest, RejectsTruncatedBytes) {
  Histogram h;
  h.RecordN(1'000'000, 300);  // a two-byte count
  h.Record(5);
  const std::string bytes = h.Encode();
  // Every proper prefix that ends inside a varint or between a gap and its
  // count is bad.
  int rejected = 0;
  for (size_t len = 2; len < bytes.size(); ++len) {
    absl::StatusOr<Histogram> decoded = Histogram::Decode(bytes.substr(0, len));
    if (!decoded.ok()) {
      ++rejected;
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_TRUE(Mentions(decoded.status(), "truncated")) << decoded.status();
    }
  }
  EXPECT_GE(rejected, 3);
  // A gap with no count at all.
  EXPECT_FALSE(Histogram::Decode(Encoded({5})).ok());
  // A varint that ends with its continuation bit set.
  EXPECT_FALSE(Histogram::Decode(Encoded({5}) + "\x80").ok());
}

TEST(HistogramDecodeTest, RejectsOverlongVarint) {
  std::string bytes(1, '\x01');
  bytes += std::string(10, '\x80');
  bytes += '\x01';
  absl::StatusOr<Histogram> h = Histogram::Decode(bytes);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(h.status(), "varint")) << h.status();
}

TEST(HistogramDecodeTest, RejectsOutOfRangeIndex) {
  const size_t last = Histogram::IndexOf(Histogram::kHighestUs);
  EXPECT_TRUE(Histogram::Decode(Encoded({last, 1})).ok());
  for (uint64_t gap : {uint64_t{last + 1}, uint64_t{23552}, uint64_t{1} << 40,
                       std::numeric_limits<uint64_t>::max()}) {
    absl::StatusOr<Histogram> h = Histogram::Decode(Encoded({gap, 1}));
    ASSERT_FALSE(h.ok()) << gap;
    EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(Mentions(h.status(), "index")) << h.status();
  }
  // In range on its own, out of range after the previous bucket.
  EXPECT_FALSE(Histogram::Decode(Encoded({last, 1, 0, 1})).ok());
  EXPECT_FALSE(Histogram::Decode(
                   Encoded({10, 1, std::numeric_limits<uint64_t>::max(), 1}))
                   .ok());
}

TEST(HistogramDecodeTest, RejectsZeroCount) {
  absl::StatusOr<Histogram> h = Histogram::Decode(Encoded({5, 1, 3, 0}));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(h.status(), "zero count")) << h.status();
}

TEST(HistogramDecodeTest, RejectsNegativeCount) {
  absl::StatusOr<Histogram> h =
      Histogram::Decode(Encoded({5, uint64_t{1} << 63}));
  ASSERT_FALSE(h.ok());
  EXPECT_TRUE(Mentions(h.status(), "negative count")) << h.status();
}

TEST(HistogramDecodeTest, RejectsTotalOverflow) {
  const auto max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  absl::StatusOr<Histogram> h = Histogram::Decode(Encoded({5, max, 0, 1}));
  ASSERT_FALSE(h.ok());
  EXPECT_TRUE(Mentions(h.status(), "overflow")) << h.status();
}

TEST(HistogramDecodeTest, DecodeFromLeavesHistogramEmptyOnError) {
  Histogram h = Of({1, 2, 3, 100'000});
  const absl::Status status = h.DecodeFrom(Encoded({5, 1, 3, 0}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(h, Histogram());
  EXPECT_EQ(h.Count(), 0);
}

TEST(HistogramDecodeTest, RandomBytesNeverBreakIt) {
  std::mt19937_64 rng(2024);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 64);
  for (int i = 0; i < 20'000; ++i) {
    std::string bytes(length(rng), '\0');
    for (char& c : bytes) c = static_cast<char>(byte(rng));
    if (!bytes.empty() && i % 2 == 0) bytes[0] = '\x01';
    absl::StatusOr<Histogram> h = Histogram::Decode(bytes);
    if (!h.ok()) {
      EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    int64_t sum = 0;
    for (size_t b = 0; b < h->BucketCount(); ++b) sum += h->BucketAt(b);
    ASSERT_EQ(sum, h->Count());
    ASSERT_LE(h->Max(), Histogram::kHighestUs);
    absl::StatusOr<Histogram> again = Histogram::Decode(h->Encode());
    ASSERT_TRUE(again.ok()) << again.status();
    ASSERT_EQ(*again, *h);
  }
}

}  // namespace
}  // namespace stampede::common

namespace stampede::common {
namespace {

TEST(HistogramMergeEncoded, EqualsDecodeThenMergeAndBadInputAddsNothing) {
  Histogram a, b;
  a.RecordN(100, 3);
  a.Record(250'000);
  b.RecordN(100, 2);
  b.Record(7);
  Histogram expected = a;
  expected.Merge(b);
  ASSERT_TRUE(a.MergeEncoded(b.Encode()).ok());
  EXPECT_EQ(a, expected);

  std::string bad = b.Encode();
  bad.push_back('\xff');  // a varint that never ends
  EXPECT_FALSE(Histogram::Validate(bad).ok());
  EXPECT_FALSE(a.MergeEncoded(bad).ok());
  EXPECT_EQ(a, expected);  // the good buckets before the error were not added
}

TEST(HistogramDecodeBuckets, MergesLikeMergeEncodedAndBadInputGivesNothing) {
  Histogram a, b;
  a.RecordN(100, 3);
  b.RecordN(100, 2);
  b.Record(7);
  b.Record(250'000);
  Histogram expected = a;
  ASSERT_TRUE(expected.MergeEncoded(b.Encode()).ok());
  Histogram::Buckets buckets;
  ASSERT_TRUE(Histogram::DecodeBuckets(b.Encode(), &buckets).ok());
  EXPECT_EQ(buckets.size(), 3u);
  a.MergeBuckets(buckets);
  EXPECT_EQ(a, expected);

  std::string bad = b.Encode();
  bad.push_back('\xff');
  absl::Status s = Histogram::DecodeBuckets(bad, &buckets);
  EXPECT_EQ(s, Histogram::Validate(bad));
  EXPECT_TRUE(buckets.empty());
}

TEST(HistogramMergeEncoded, LongVarintsTakeTheCarefulPath) {
  Histogram big;
  big.RecordN(100, int64_t{1} << 62);  // a 9-byte count
  Histogram sum;
  ASSERT_TRUE(sum.MergeEncoded(big.Encode()).ok());
  EXPECT_EQ(sum, big);

  // Ten bytes whose last one carries more than the 64th bit.
  std::string overflow("\x01\x64\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 12);
  absl::Status s = Histogram::Validate(overflow);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("overflows 64 bits"), std::string::npos)
      << s.message();
  std::string truncated("\x01\x64\xff", 3);
  s = sum.MergeEncoded(truncated);
  EXPECT_NE(s.message().find("truncated varint for bucket count"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(sum, big);
}

}  // namespace
}  // namespace stampede::common

namespace stampede::common {
namespace {

// The dense layout the paged one replaced, written out plainly: one count per
// bucket over the same IndexOf, and the documented wire form (a version byte,
// then for each non-empty bucket the varint gap from the previous non-empty
// one, or its index for the first, and the varint count).
struct DenseReference {
  std::vector<int64_t> counts = std::vector<int64_t>(Histogram().BucketCount());
  int64_t total = 0;

  void Record(int64_t v, int64_t n = 1) {
    counts[Histogram::IndexOf(v)] += n;
    total += n;
  }
  std::string Encode() const {
    std::string out(1, '\x01');
    bool first = true;
    size_t prev = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] == 0) continue;
      out = AppendVarint(out, first ? i : i - prev - 1);
      out = AppendVarint(out, static_cast<uint64_t>(counts[i]));
      first = false;
      prev = i;
    }
    return out;
  }
};

// Values of several shapes, each drawn into the paged histogram and the dense
// reference alike.
struct Shape {
  std::string name;
  std::function<void(std::mt19937_64&, Histogram&, DenseReference&)> fill;
};

std::vector<Shape> Shapes() {
  auto draw = [](int n, Sampler sample) {
    return [n, sample](std::mt19937_64& rng, Histogram& h, DenseReference& d) {
      for (int i = 0; i < n; ++i) {
        const int64_t v = sample(rng);
        h.Record(v);
        d.Record(v);
      }
    };
  };
  return {
      {"empty", draw(0, LogUniform)},
      {"one_value", draw(1, LogUniform)},
      {"one_value_many_times",
       [](std::mt19937_64& rng, Histogram& h, DenseReference& d) {
         const int64_t v = LogUniform(rng);
         h.RecordN(v, 1000);
         d.Record(v, 1000);
       }},
      {"sparse", draw(20, LogUniform)},
      {"narrow_1ms_to_2ms",
       draw(5000,
            [](std::mt19937_64& rng) {
              return std::uniform_int_distribution<int64_t>(1000, 2000)(rng);
            })},
      {"dense_over_the_whole_range", draw(200'000, LogUniform)},
      {"every_bucket",
       [](std::mt19937_64&, Histogram& h, DenseReference& d) {
         for (size_t i = 0; i < h.BucketCount(); ++i) {
           const int64_t v = Histogram::BucketLowest(i);
           if (v > Histogram::kHighestUs) break;
           h.RecordN(v, static_cast<int64_t>(i % 7) + 1);
           d.Record(v, static_cast<int64_t>(i % 7) + 1);
         }
       }},
      {"clamped_and_negative",
       draw(300,
            [](std::mt19937_64& rng) -> int64_t {
              switch (std::uniform_int_distribution<int>(0, 2)(rng)) {
                case 0:
                  return -std::uniform_int_distribution<int64_t>(1, 1e9)(rng);
                case 1:
                  return Histogram::kHighestUs +
                         std::uniform_int_distribution<int64_t>(0, 1e12)(rng);
                default:
                  return LogUniform(rng);
              }
            })},
  };
}

TEST(HistogramPagesTest, EmptyHistogramAllocatesNothing) {
  Histogram h;
  EXPECT_EQ(h.AllocatedBytes(), 0u);
  EXPECT_LE(sizeof(Histogram), 32u);
  // Reading never allocates.
  EXPECT_EQ(h.BucketAt(12345), 0);
  EXPECT_EQ(h.ValueAtPercentile(99), 0);
  EXPECT_EQ(h.Encode(), std::string(1, '\x01'));
  Histogram copy = h;
  EXPECT_EQ(copy.AllocatedBytes(), 0u);
  Histogram merged;
  merged.Merge(h);
  ASSERT_TRUE(merged.MergeEncoded(h.Encode()).ok());
  EXPECT_EQ(merged.AllocatedBytes(), 0u);
}

TEST(HistogramPagesTest, NarrowRangeAllocatesAFewPages) {
  Histogram h;
  std::mt19937_64 rng(7);
  // Loopback latencies: 200 µs to 400 µs, exact buckets in two pages (and
  // the page table).
  for (int i = 0; i < 100'000; ++i)
    h.Record(std::uniform_int_distribution<int64_t>(200, 400)(rng));
  const size_t first_bytes = h.AllocatedBytes();
  EXPECT_GT(first_bytes, 0u);
  EXPECT_LE(first_bytes, 5000u);
  // 1 ms to 2 ms: a few more.
  for (int i = 0; i < 100'000; ++i)
    h.Record(std::uniform_int_distribution<int64_t>(1000, 2000)(rng));
  EXPECT_LE(h.AllocatedBytes(),
            6u * Histogram::kPageSize * sizeof(int64_t) + first_bytes);
  // Far less than the dense 184 KiB.
  EXPECT_LT(h.AllocatedBytes(), 20'000u);
  EXPECT_EQ(h.Count(), 200'000);
}

TEST(HistogramPagesTest, ResetKeepsPagesAndStaysEqualToEmpty) {
  Histogram h;
  h.Record(300);
  h.Record(3'000'000);
  const size_t bytes = h.AllocatedBytes();
  h.Reset();
  EXPECT_EQ(h.AllocatedBytes(), bytes);
  EXPECT_EQ(h, Histogram());
  EXPECT_EQ(Histogram(), h);
  EXPECT_EQ(h.Encode(), Histogram().Encode());
  // Merging a reset histogram allocates nothing in the target.
  Histogram target;
  target.Merge(h);
  EXPECT_EQ(target.AllocatedBytes(), 0u);
  h.Record(300);
  Histogram fresh;
  fresh.Record(300);
  EXPECT_EQ(h, fresh);
  EXPECT_EQ(h.Encode(), fresh.Encode());
}

TEST(HistogramPagesTest, CopyAndMoveKeepTheCounts) {
  Histogram h;
  h.RecordN(42, 3);
  h.Record(9'000'000);
  h.Record(Histogram::kHighestUs * 2);
  Histogram copy(h);
  EXPECT_EQ(copy, h);
  EXPECT_EQ(copy.Clamped(), 1);
  EXPECT_EQ(copy.AllocatedBytes(), h.AllocatedBytes());
  copy.Record(42);  // deep: h is untouched
  EXPECT_EQ(h.BucketAt(Histogram::IndexOf(42)), 3);
  EXPECT_EQ(copy.BucketAt(Histogram::IndexOf(42)), 4);

  Histogram assigned;
  assigned.Record(1);
  assigned = h;
  EXPECT_EQ(assigned, h);
  assigned = assigned;  // self-assignment keeps it
  EXPECT_EQ(assigned, h);

  Histogram moved(std::move(copy));
  EXPECT_EQ(moved.Count(), 6);
  EXPECT_EQ(copy.Count(), 0);  // NOLINT: moved-from is left empty, as promised
  EXPECT_EQ(copy.AllocatedBytes(), 0u);
  copy.Record(5);  // and usable
  EXPECT_EQ(copy.Count(), 1);
  Histogram move_assigned;
  move_assigned.Record(77);
  move_assigned = std::move(moved);
  EXPECT_EQ(move_assigned.Count(), 6);
  EXPECT_EQ(move_assigned.Clamped(), 1);
  EXPECT_EQ(move_assigned.BucketAt(Histogram::IndexOf(77)), 0);

  std::vector<Histogram> many(3, h);
  many.resize(50);  // reallocation moves them
  EXPECT_EQ(many[2], h);
  EXPECT_EQ(many[49], Histogram());
}

TEST(HistogramPagesTest, EncodeEqualsTheDenseReference) {
  for (const Shape& shape : Shapes()) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      SCOPED_TRACE(shape.name + " seed " + std::to_string(seed));
      std::mt19937_64 rng(seed);
      Histogram h;
      DenseReference dense;
      shape.fill(rng, h, dense);
      ASSERT_EQ(h.Count(), dense.total);
      const std::string encoded = h.Encode();
      EXPECT_EQ(encoded, dense.Encode());
      for (size_t i = 0; i < dense.counts.size(); ++i) {
        ASSERT_EQ(h.BucketAt(i), dense.counts[i]) << "bucket " << i;
      }
      std::vector<std::pair<size_t, int64_t>> visited;
      h.ForEachBucket(
          [&visited](size_t i, int64_t n) { visited.emplace_back(i, n); });
      std::vector<std::pair<size_t, int64_t>> nonzero;
      for (size_t i = 0; i < dense.counts.size(); ++i) {
        if (dense.counts[i] != 0) nonzero.emplace_back(i, dense.counts[i]);
      }
      EXPECT_EQ(visited, nonzero);

      // Decode, MergeEncoded, MergeBuckets and Merge agree and round-trip.
      absl::StatusOr<Histogram> decoded = Histogram::Decode(encoded);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(*decoded, h);
      EXPECT_EQ(decoded->Encode(), encoded);
      Histogram from;
      ASSERT_TRUE(from.DecodeFrom(encoded).ok());
      EXPECT_EQ(from, h);
      Histogram twice = h;
      ASSERT_TRUE(twice.MergeEncoded(encoded).ok());
      Histogram::Buckets buckets;
      ASSERT_TRUE(Histogram::DecodeBuckets(encoded, &buckets).ok());
      Histogram thrice = twice;
      thrice.MergeBuckets(buckets);
      Histogram merged = h;
      merged.Merge(h);
      EXPECT_EQ(merged, twice);
      merged.Merge(*decoded);
      EXPECT_EQ(merged, thrice);
      DenseReference dense3 = dense;
      for (size_t i = 0; i < dense3.counts.size(); ++i) dense3.counts[i] *= 3;
      EXPECT_EQ(thrice.Encode(), dense3.Encode());

      // The read side over pages equals the same over every bucket.
      int64_t min = -1, max = 0;
      for (size_t i = 0; i < dense.counts.size(); ++i) {
        if (dense.counts[i] == 0) continue;
        if (min < 0) min = Histogram::BucketLowest(i);
        max = std::min(Histogram::BucketHighest(i), Histogram::kHighestUs);
      }
      if (dense.total > 0) {
        EXPECT_EQ(h.Min(), min);
        EXPECT_EQ(h.Max(), max);
        EXPECT_EQ(h.ValueAtPercentile(100), max);
      }
      for (double p : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9}) {
        int64_t want = 0;
        if (dense.total > 0) {
          const int64_t rank = std::max<int64_t>(
              1, static_cast<int64_t>(
                     std::ceil(p / 100.0 * static_cast<double>(dense.total))));
          int64_t seen = 0;
          for (size_t i = 0; i < dense.counts.size(); ++i) {
            seen += dense.counts[i];
            if (seen >= rank) {
              want =
                  std::min(Histogram::BucketHighest(i), Histogram::kHighestUs);
              break;
            }
          }
        }
        EXPECT_EQ(h.ValueAtPercentile(p), want) << "p" << p;
      }
    }
  }
}

// The successful responses' latency is all of them minus the failed ones,
// bucket by bucket; nothing goes below zero.
TEST(HistogramTest, SubtractTakesAPartOutBucketByBucket) {
  Histogram all, failed;
  all.RecordN(1'000, 90);      // 1 ms: the answers
  all.RecordN(5'000'000, 10);  // 5 s: the time-outs
  failed.RecordN(5'000'000, 10);
  Histogram ok = all;
  ok.Subtract(failed);
  EXPECT_EQ(ok.Count(), 90);
  EXPECT_EQ(ok.ValueAtPercentile(99), all.ValueAtPercentile(50));
  EXPECT_LT(ok.Max(), 2'000);
  // More than there is: the bucket ends at zero, and so does the count.
  Histogram more;
  more.RecordN(1'000, 200);
  ok.Subtract(more);
  EXPECT_EQ(ok.Count(), 0);
  EXPECT_EQ(ok.ValueAtPercentile(50), 0);
  Histogram empty;
  empty.Subtract(failed);  // allocates nothing, changes nothing
  EXPECT_EQ(empty.Count(), 0);
}

}  // namespace
}  // namespace stampede::common
