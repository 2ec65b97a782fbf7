// HDR-style log-linear latency histogram: values in microseconds from 1 µs to 1
// h with 3 significant digits, in a fixed configuration so that merging is
// exact (bucket-wise addition). Percentiles are computed only when asked. Not
// thread-safe: each worker owns its own and they are merged when read.
//
// The 23,552 counts are held in pages of kPageSize, each allocated the first
// time a value lands in it, so that a plan with many request names (several
// histograms each, per interval) costs memory for the values seen rather than
// 184 KiB per histogram. An empty histogram holds no heap memory.
#ifndef STAMPEDE_COMMON_HISTOGRAM_H_
#define STAMPEDE_COMMON_HISTOGRAM_H_

#include <cstddef>
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

  // Counts per page (2 KiB): values between v and 2v fall in at most 1,024
  // consecutive buckets, so in five pages.
  static constexpr size_t kPageSize = 256;

  Histogram() = default;  // allocates nothing
  Histogram(const Histogram& other);
  Histogram& operator=(const Histogram& other);
  // The moved-from histogram is left empty.
  Histogram(Histogram&& other) noexcept;
  Histogram& operator=(Histogram&& other) noexcept;
  ~Histogram();

  // Records one value (µs). Values below 0 count as 0; above kHighestUs as
  // kHighestUs (and are counted in clamped()). Allocates only the first time
  // a value lands in a page not touched before (and, the very first time, the
  // page table); otherwise one pointer check and an add.
  void Record(int64_t value_us) { RecordN(value_us, 1); }
  void RecordN(int64_t value_us, int64_t count);

  // Adds every bucket of `other` into this one; allocates only the pages that
  // `other` has non-zero counts in.
  void Merge(const Histogram& other);
  // Takes `other`'s counts out, bucket by bucket (none below zero): what is
  // left when `other` is a part of this one (failed requests of all).
  void Subtract(const Histogram& other);
  // Zeroes every count but keeps the pages, so that a histogram reused for the
  // next interval does not allocate them again.
  void Reset();

  // Heap bytes held by the pages and the page table (for tests and benches).
  size_t AllocatedBytes() const;

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

  // Bucket access, for exact comparison and exporters. Reading a bucket never
  // allocates; ForEachBucket is the fast way to visit them all.
  size_t BucketCount() const { return kCountsLength; }
  int64_t BucketAt(size_t index) const {
    const int64_t* page = pages_[index / kPageSize];
    return page == nullptr ? 0 : page[index % kPageSize];
  }
  // Calls fn(index, count) for each non-empty bucket in increasing index order,
  // skipping pages never touched.
  template <typename Fn>
  void ForEachBucket(Fn&& fn) const {
    if (pages_ == kNoPages) return;
    for (size_t p = 0; p < kPages; ++p) {
      const int64_t* page = pages_[p];
      if (page == nullptr) continue;
      for (size_t i = 0; i < kPageSize; ++i) {
        if (page[i] != 0) fn(p * kPageSize + i, page[i]);
      }
    }
  }
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

  // Equal totals and bucket counts; an untouched page equals a zeroed one.
  bool operator==(const Histogram& other) const;

 private:
  static constexpr size_t kCountsLength = 23'552;  // the HDR layout's buckets
  static constexpr size_t kPages = kCountsLength / kPageSize;
  static_assert(kCountsLength % kPageSize == 0);
  // The page table of every histogram that has none of its own: all null, so
  // that Record and BucketAt need no separate check for a missing table.
  // Never written.
  static int64_t* const kNoPages[kPages];

  // The count of bucket `index`, its page allocated if need be.
  int64_t& Slot(size_t index) {
    int64_t* page = pages_[index / kPageSize];
    if (page == nullptr) [[unlikely]]
      page = AllocatePage(index / kPageSize);
    return page[index % kPageSize];
  }
  // Allocates page `p` (zeroed), and the page table first if there is none.
  int64_t* AllocatePage(size_t p);
  void FreePages();

  // Checks `bytes` and calls fn(index, count) for each bucket in order; stops
  // at the first error (after fn may have seen earlier buckets).
  template <typename Fn>
  static absl::Status Walk(std::string_view bytes, Fn&& fn);

  // kNoPages, or an owned table of kPages owned pages (null until touched).
  // Const only so that kNoPages fits; AllocatePage writes an owned table.
  int64_t* const* pages_ = kNoPages;
  int64_t total_ = 0;
  int64_t clamped_ = 0;
};

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_HISTOGRAM_H_
