// HDR-style log-linear latency histogram: values in microseconds from 1 µs to 1
// h with 3 significant digits, in a fixed configuration so that merging is
// exact (bucket-wise addition). Percentiles are computed only when asked. Not
// thread-safe: each worker owns its own and they are merged when read.
#ifndef STAMPEDE_COMMON_HISTOGRAM_H_
#define STAMPEDE_COMMON_HISTOGRAM_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace stampede::common {

class Histogram {
 public:
  static constexpr int64_t kLowestUs = 1;
  static constexpr int64_t kHighestUs = 3'600'000'000;  // 1 h
  static constexpr int kSignificantDigits = 3;

  Histogram();

  // Records one value (µs). Values below 0 count as 0; above kHighestUs as
  // kHighestUs (and are counted in clamped()). Never allocates.
  void Record(int64_t value_us) { RecordN(value_us, 1); }
  void RecordN(int64_t value_us, int64_t count);

  // Adds every bucket of `other` into this one.
  void Merge(const Histogram& other);
  void Reset();

  int64_t Count() const { return total_; }
  int64_t Clamped() const { return clamped_; }
  // Smallest value v such that at least p% of recorded values are <= v (nearest
  // rank, rank = max(1, ceil(p/100 * count))), reported as the highest value
  // equivalent to v's bucket. p in [0, 100]. 0 when empty.
  int64_t ValueAtPercentile(double p) const;
  int64_t Min() const;  // lowest equivalent value of the lowest non-empty
                        // bucket; 0 if empty
  int64_t Max() const;  // highest equivalent value of the highest non-empty
                        // bucket; 0 if empty
  double Mean() const;  // from bucket midpoints; 0 if empty

  // Bucket access, for exact comparison and exporters.
  size_t BucketCount() const { return counts_.size(); }
  int64_t BucketAt(size_t index) const { return counts_[index]; }
  // Lowest and highest values that land in bucket `index`.
  static int64_t BucketLowest(size_t index);
  static int64_t BucketHighest(size_t index);
  static size_t IndexOf(int64_t value_us);

  // Compact wire form: a version byte, then for each non-empty bucket in order
  // the varint gap from the previous non-empty bucket and the varint count.
  std::string Encode() const;
  // Replaces the content with a decoded one; rejects malformed or out-of-range
  // input.
  absl::Status DecodeFrom(std::string_view bytes);
  static absl::StatusOr<Histogram> Decode(std::string_view bytes);
  // Whether `bytes` decodes; nothing is kept.
  static absl::Status Validate(std::string_view bytes);
  // Adds an encoded histogram without decoding it into a temporary; on error
  // nothing is added.
  absl::Status MergeEncoded(std::string_view bytes);

  // The wire form decoded once, for adding it to several histograms: (bucket
  // index, count) of each non-empty bucket, in order.
  using Buckets = std::vector<std::pair<uint32_t, int64_t>>;
  // Replaces `out` with the buckets of `bytes` (checked as Validate does); on
  // error `out` is left empty.
  static absl::Status DecodeBuckets(std::string_view bytes, Buckets* out);
  // Adds buckets from DecodeBuckets.
  void MergeBuckets(const Buckets& buckets);

  bool operator==(const Histogram& other) const {
    return total_ == other.total_ && counts_ == other.counts_;
  }

 private:
  // Checks `bytes` and calls fn(index, count) for each bucket in order; stops
  // at the first error (after fn may have seen earlier buckets).
  template <typename Fn>
  static absl::Status Walk(std::string_view bytes, Fn&& fn);

  std::vector<int64_t> counts_;
  int64_t total_ = 0;
  int64_t clamped_ = 0;
};

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_HISTOGRAM_H_
