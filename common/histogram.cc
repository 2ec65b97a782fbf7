#include "common/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace stampede::common {
namespace {

// The fixed HdrHistogram layout for [1 µs, 1 h] at 3 significant digits. Every
// histogram has exactly this layout, which is what makes Merge a plain
// bucket-wise sum.
constexpr int kSubBucketHalfCountMagnitude = 10;
constexpr int64_t kSubBucketHalfCount =
    int64_t{1} << kSubBucketHalfCountMagnitude;               // 1024
constexpr int64_t kSubBucketCount = kSubBucketHalfCount * 2;  // 2048
constexpr uint64_t kSubBucketMask = kSubBucketCount - 1;
constexpr int kBucketCount = 22;
constexpr size_t kCountsLength =
    (kBucketCount + 1) * kSubBucketHalfCount;  // 23552

constexpr uint8_t kEncodingVersion = 1;
// A 64-bit value needs at most 10 bytes of 7 bits each.
constexpr int kMaxVarintBytes = 10;

constexpr size_t IndexOfValue(int64_t value) {
  const uint64_t v = static_cast<uint64_t>(value);
  const int bucket_index = 53 - std::countl_zero(v | kSubBucketMask);
  const int64_t sub_bucket_index = static_cast<int64_t>(v >> bucket_index);
  return static_cast<size_t>(
      ((int64_t{bucket_index} + 1) << kSubBucketHalfCountMagnitude) +
      (sub_bucket_index - kSubBucketHalfCount));
}

// The largest index Record can produce; anything above it would stand for
// values the histogram does not track.
constexpr size_t kMaxIndex = IndexOfValue(Histogram::kHighestUs);
static_assert(kMaxIndex < kCountsLength);

bool IsZero(const int64_t* page) {
  for (size_t i = 0; i < Histogram::kPageSize; ++i) {
    if (page[i] != 0) return false;
  }
  return true;
}
static_assert(IndexOfValue(2047) == 2047, "values below 2048 must be exact");

void AppendVarint(uint64_t value, std::string& out) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Reads one unsigned LEB128 varint from `bytes` at `pos`, advancing `pos`.
// `what` names the field in error messages.
absl::StatusOr<uint64_t> ReadVarint(std::string_view bytes, size_t& pos,
                                    absl::string_view what) {
  uint64_t result = 0;
  for (int i = 0; i < kMaxVarintBytes; ++i) {
    if (pos >= bytes.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram: truncated varint for ", what, " at byte ", pos));
    }
    const uint8_t byte = static_cast<uint8_t>(bytes[pos++]);
    if (i == kMaxVarintBytes - 1 && byte > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram: varint for ", what, " overflows 64 bits"));
    }
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return result;
  }
  return absl::InvalidArgumentError(absl::StrCat("histogram: varint for ", what,
                                                 " is longer than ",
                                                 kMaxVarintBytes, " bytes"));
}

// The common case of ReadVarint, kept inline for the merge's hot loop: false
// on anything unusual (truncated, 10 bytes or more), which ReadVarint then
// reads again to say what is wrong.
inline bool ReadShortVarint(std::string_view bytes, size_t& pos,
                            uint64_t& out) {
  uint64_t result = 0;
  size_t p = pos;
  for (int i = 0; i < kMaxVarintBytes - 1 && p < bytes.size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>(bytes[p++]);
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      pos = p;
      out = result;
      return true;
    }
  }
  return false;
}

}  // namespace

int64_t* const Histogram::kNoPages[Histogram::kPages] = {};

Histogram::Histogram(const Histogram& other)
    : total_(other.total_), clamped_(other.clamped_) {
  if (other.pages_ == kNoPages) return;
  for (size_t p = 0; p < kPages; ++p) {
    if (other.pages_[p] == nullptr) continue;
    std::memcpy(AllocatePage(p), other.pages_[p], kPageSize * sizeof(int64_t));
  }
}

Histogram& Histogram::operator=(const Histogram& other) {
  if (this != &other) *this = Histogram(other);
  return *this;
}

Histogram::Histogram(Histogram&& other) noexcept
    : pages_(std::exchange(other.pages_, kNoPages)),
      total_(std::exchange(other.total_, 0)),
      clamped_(std::exchange(other.clamped_, 0)) {}

Histogram& Histogram::operator=(Histogram&& other) noexcept {
  if (this == &other) return *this;
  FreePages();
  pages_ = std::exchange(other.pages_, kNoPages);
  total_ = std::exchange(other.total_, 0);
  clamped_ = std::exchange(other.clamped_, 0);
  return *this;
}

Histogram::~Histogram() { FreePages(); }

void Histogram::FreePages() {
  if (pages_ == kNoPages) return;
  for (size_t p = 0; p < kPages; ++p) delete[] pages_[p];
  delete[] pages_;
  pages_ = kNoPages;
}

int64_t* Histogram::AllocatePage(size_t p) {
  static_assert(Histogram::kCountsLength == common::kCountsLength);
  if (pages_ == kNoPages) pages_ = new int64_t*[kPages]();
  // pages_ is an owned table here, never kNoPages, so writing it is sound.
  int64_t** table = const_cast<int64_t**>(pages_);
  table[p] = new int64_t[kPageSize]();
  return table[p];
}

size_t Histogram::AllocatedBytes() const {
  if (pages_ == kNoPages) return 0;
  size_t bytes = kPages * sizeof(int64_t*);
  for (size_t p = 0; p < kPages; ++p) {
    if (pages_[p] != nullptr) bytes += kPageSize * sizeof(int64_t);
  }
  return bytes;
}

bool Histogram::operator==(const Histogram& other) const {
  if (total_ != other.total_) return false;
  if (pages_ == other.pages_) return true;  // both kNoPages, or the same one
  for (size_t p = 0; p < kPages; ++p) {
    const int64_t* a = pages_[p];
    const int64_t* b = other.pages_[p];
    if (a == nullptr && b == nullptr) continue;
    if (a == nullptr) {
      if (!IsZero(b)) return false;
    } else if (b == nullptr) {
      if (!IsZero(a)) return false;
    } else if (std::memcmp(a, b, kPageSize * sizeof(int64_t)) != 0) {
      return false;
    }
  }
  return true;
}

size_t Histogram::IndexOf(int64_t value_us) {
  return IndexOfValue(std::clamp<int64_t>(value_us, 0, kHighestUs));
}

int64_t Histogram::BucketLowest(size_t index) {
  int bucket = static_cast<int>(index >> kSubBucketHalfCountMagnitude) - 1;
  int64_t sub_bucket = static_cast<int64_t>(index & (kSubBucketHalfCount - 1)) +
                       kSubBucketHalfCount;
  if (bucket < 0) {
    sub_bucket -= kSubBucketHalfCount;
    bucket = 0;
  }
  return sub_bucket << bucket;
}

int64_t Histogram::BucketHighest(size_t index) {
  int bucket = static_cast<int>(index >> kSubBucketHalfCountMagnitude) - 1;
  if (bucket < 0) bucket = 0;
  return BucketLowest(index) + (int64_t{1} << bucket) - 1;
}

void Histogram::RecordN(int64_t value_us, int64_t count) {
  if (count <= 0) return;
  if (value_us > kHighestUs) {
    value_us = kHighestUs;
    clamped_ += count;
  } else if (value_us < 0) {
    value_us = 0;
  }
  Slot(IndexOfValue(value_us)) += count;
  total_ += count;
}

void Histogram::Merge(const Histogram& other) {
  if (other.total_ == 0) return;
  if (other.pages_ != kNoPages) {
    for (size_t p = 0; p < kPages; ++p) {
      const int64_t* from = other.pages_[p];
      // A page `other` kept through Reset may be all zero; this one need not
      // allocate for it.
      if (from == nullptr || (pages_[p] == nullptr && IsZero(from))) continue;
      int64_t* to = pages_[p] != nullptr ? pages_[p] : AllocatePage(p);
      for (size_t i = 0; i < kPageSize; ++i) to[i] += from[i];
    }
  }
  total_ += other.total_;
  clamped_ += other.clamped_;
}

void Histogram::Subtract(const Histogram& other) {
  if (other.total_ == 0 || pages_ == kNoPages || other.pages_ == kNoPages)
    return;
  int64_t removed = 0;
  for (size_t p = 0; p < kPages; ++p) {
    const int64_t* from = other.pages_[p];
    int64_t* to = pages_[p];
    if (from == nullptr || to == nullptr) continue;
    for (size_t i = 0; i < kPageSize; ++i) {
      const int64_t n = std::min(to[i], from[i]);
      to[i] -= n;
      removed += n;
    }
  }
  total_ -= removed;
  clamped_ = std::max<int64_t>(0, clamped_ - other.clamped_);
}

void Histogram::Reset() {
  if (pages_ != kNoPages) {
    for (size_t p = 0; p < kPages; ++p) {
      if (pages_[p] != nullptr)
        std::memset(pages_[p], 0, kPageSize * sizeof(int64_t));
    }
  }
  total_ = 0;
  clamped_ = 0;
}

int64_t Histogram::ValueAtPercentile(double p) const {
  if (total_ == 0) return 0;
  if (!(p >= 0)) p = 0;  // also catches NaN
  if (p > 100) p = 100;
  const double wanted = std::ceil(p / 100.0 * static_cast<double>(total_));
  // The double can round above total_ for huge counts; the last bucket still
  // answers.
  int64_t rank = wanted >= static_cast<double>(total_)
                     ? total_
                     : static_cast<int64_t>(wanted);
  rank = std::max<int64_t>(rank, 1);
  int64_t seen = 0;
  if (pages_ != kNoPages) {
    for (size_t p = 0; p < kPages; ++p) {
      const int64_t* page = pages_[p];
      if (page == nullptr) continue;
      for (size_t i = 0; i < kPageSize; ++i) {
        seen += page[i];
        if (seen >= rank) {
          return std::min(BucketHighest(p * kPageSize + i), kHighestUs);
        }
      }
    }
  }
  return Max();  // unreachable while total_ matches the counts
}

int64_t Histogram::Min() const {
  if (pages_ == kNoPages) return 0;
  for (size_t p = 0; p < kPages; ++p) {
    const int64_t* page = pages_[p];
    if (page == nullptr) continue;
    for (size_t i = 0; i < kPageSize; ++i) {
      if (page[i] != 0) return BucketLowest(p * kPageSize + i);
    }
  }
  return 0;
}

int64_t Histogram::Max() const {
  if (pages_ == kNoPages) return 0;
  for (size_t p = kPages; p-- > 0;) {
    const int64_t* page = pages_[p];
    if (page == nullptr) continue;
    for (size_t i = kPageSize; i-- > 0;) {
      // Capped like ValueAtPercentile so that Max() == ValueAtPercentile(100).
      if (page[i] != 0) {
        return std::min(BucketHighest(p * kPageSize + i), kHighestUs);
      }
    }
  }
  return 0;
}

double Histogram::Mean() const {
  if (total_ == 0) return 0;
  double sum = 0;
  ForEachBucket([&sum](size_t i, int64_t count) {
    const int64_t lowest = BucketLowest(i);
    const int64_t size = BucketHighest(i) - lowest + 1;
    sum += static_cast<double>(count) * static_cast<double>(lowest + size / 2);
  });
  return sum / static_cast<double>(total_);
}

std::string Histogram::Encode() const {
  std::string out;
  out.push_back(static_cast<char>(kEncodingVersion));
  if (total_ == 0) return out;
  bool first = true;
  size_t prev = 0;
  ForEachBucket([&](size_t i, int64_t count) {
    AppendVarint(first ? i : i - prev - 1, out);
    AppendVarint(static_cast<uint64_t>(count), out);
    first = false;
    prev = i;
  });
  return out;
}

absl::Status Histogram::DecodeFrom(std::string_view bytes) {
  absl::StatusOr<Histogram> decoded = Decode(bytes);
  if (!decoded.ok()) {
    Reset();
    return decoded.status();
  }
  *this = *std::move(decoded);
  return absl::OkStatus();
}

template <typename Fn>
absl::Status Histogram::Walk(std::string_view bytes, Fn&& fn) {
  if (bytes.empty()) {
    return absl::InvalidArgumentError(
        "histogram: empty input, missing version byte");
  }
  const uint8_t version = static_cast<uint8_t>(bytes[0]);
  if (version != kEncodingVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("histogram: unsupported version ", version, ", want ",
                     kEncodingVersion));
  }
  size_t pos = 1;
  bool first = true;
  uint64_t prev = 0;
  int64_t total = 0;
  while (pos < bytes.size()) {
    uint64_t gap = 0;
    if (!ReadShortVarint(bytes, pos, gap)) {
      absl::StatusOr<uint64_t> slow = ReadVarint(bytes, pos, "bucket gap");
      if (!slow.ok()) return slow.status();
      gap = *slow;
    }
    // Compare before adding so that a huge gap cannot wrap around.
    const uint64_t base = first ? 0 : prev + 1;
    if (gap > kMaxIndex || base + gap > kMaxIndex) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram: bucket index out of range (gap ", gap, " after index ",
          first ? std::string("none") : absl::StrCat(prev), ", max index ",
          kMaxIndex, ")"));
    }
    const uint64_t index = base + gap;
    uint64_t count = 0;
    if (!ReadShortVarint(bytes, pos, count)) {
      absl::StatusOr<uint64_t> slow = ReadVarint(bytes, pos, "bucket count");
      if (!slow.ok()) return slow.status();
      count = *slow;
    }
    if (count == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram: zero count for bucket ", index));
    }
    if (count > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram: negative count for bucket ", index));
    }
    const int64_t c = static_cast<int64_t>(count);
    if (total > std::numeric_limits<int64_t>::max() - c) {
      return absl::InvalidArgumentError(
          "histogram: total count overflows 64 bits");
    }
    total += c;
    fn(static_cast<size_t>(index), c);
    prev = index;
    first = false;
  }
  return absl::OkStatus();
}

absl::StatusOr<Histogram> Histogram::Decode(std::string_view bytes) {
  Histogram h;
  absl::Status s = Walk(bytes, [&h](size_t index, int64_t count) {
    h.Slot(index) = count;
    h.total_ += count;
  });
  if (!s.ok()) return s;
  return h;
}

absl::Status Histogram::Validate(std::string_view bytes) {
  return Walk(bytes, [](size_t, int64_t) {});
}

absl::Status Histogram::DecodeBuckets(std::string_view bytes, Buckets* out) {
  out->clear();
  absl::Status s = Walk(bytes, [out](size_t index, int64_t count) {
    out->emplace_back(static_cast<uint32_t>(index), count);
  });
  if (!s.ok()) out->clear();
  return s;
}

void Histogram::MergeBuckets(const Buckets& buckets) {
  for (const auto& [index, count] : buckets) {
    Slot(index) += count;
    total_ += count;
  }
}

absl::Status Histogram::MergeEncoded(std::string_view bytes) {
  // One pass for the (usual) valid input; on an error, the buckets already
  // added are taken out again by a second walk over the same prefix.
  size_t added = 0;
  absl::Status s = Walk(bytes, [this, &added](size_t index, int64_t count) {
    Slot(index) += count;
    total_ += count;
    ++added;
  });
  if (s.ok() || added == 0) return s;
  Walk(bytes, [this, &added](size_t index, int64_t count) {
    if (added == 0) return;
    --added;
    Slot(index) -= count;
    total_ -= count;
  }).IgnoreError();
  return s;
}

}  // namespace stampede::common
