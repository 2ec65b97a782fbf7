// Fuzzes the histogram wire form (common/histogram.h), which the controller
// reads from every agent: the input is taken as an encoded histogram. Every
// way of reading it (Decode, Validate, DecodeBuckets, MergeEncoded) must agree
// on whether it is valid and on what it holds, and a decoded histogram must
// re-encode to bytes that decode to the same counts (and encode the same
// again: the encoding is canonical).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/histogram.h"
#include "tests/fuzz/fuzz_check.h"

using stampede::common::Histogram;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<Histogram> decoded = Histogram::Decode(bytes);
  const absl::Status validated = Histogram::Validate(bytes);
  FUZZ_CHECK(decoded.ok() == validated.ok());
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().code() == validated.code());
    FUZZ_CHECK(!decoded.status().message().empty());
  }

  Histogram::Buckets buckets;
  const absl::Status listed = Histogram::DecodeBuckets(bytes, &buckets);
  FUZZ_CHECK(listed.ok() == decoded.ok());
  if (!listed.ok()) FUZZ_CHECK(buckets.empty());

  // MergeEncoded into an empty histogram: all or nothing. (Into a non-empty
  // one, hostile counts near 2^63 could overflow the sum; that is the
  // caller's business, not the decoder's.)
  Histogram merged;
  const absl::Status merge = merged.MergeEncoded(bytes);
  FUZZ_CHECK(merge.ok() == decoded.ok());

  if (!decoded.ok()) {
    FUZZ_CHECK(merged.Count() == 0);
    FUZZ_CHECK(merged == Histogram());
    return 0;
  }

  const Histogram& h = *decoded;
  FUZZ_CHECK(merged == h);

  // The buckets are in order, in range, non-empty, and add up to Count().
  int64_t total = 0;
  uint32_t last = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    const auto [index, count] = buckets[i];
    FUZZ_CHECK(index < h.BucketCount());
    FUZZ_CHECK(i == 0 || index > last);
    FUZZ_CHECK(count > 0);
    FUZZ_CHECK(h.BucketAt(index) == count);
    total += count;
    last = index;
  }
  FUZZ_CHECK(total == h.Count());

  // Round trip.
  const std::string encoded = h.Encode();
  absl::StatusOr<Histogram> again = Histogram::Decode(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == h);
  FUZZ_CHECK(again->Encode() == encoded);
  FUZZ_CHECK(encoded.size() <= bytes.size());  // canonical is the shortest

  // The read side must not trip on any decoded content. (Each of these
  // scans ~23k buckets, so only a few: they dominate the time per input.)
  if (h.Count() > 0) {
    const int64_t max = h.Max();
    FUZZ_CHECK(h.Min() <= max);
    FUZZ_CHECK(max <= Histogram::kHighestUs);
    const int64_t p50 = h.ValueAtPercentile(50);
    FUZZ_CHECK(p50 <= max);
    FUZZ_CHECK(h.ValueAtPercentile(100) == max);
    FUZZ_CHECK(h.Mean() >= 0);
  } else {
    FUZZ_CHECK(h.ValueAtPercentile(50) == 0);
    FUZZ_CHECK(h.Min() == 0 && h.Max() == 0);
  }
  return 0;
}
