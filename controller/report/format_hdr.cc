// The HdrHistogram interval log. Our Histogram has HdrHistogram's own bucket
// layout for lowest 1, highest 3,600,000,000 and 3 significant digits (sub-
// bucket half count 1024, 22 buckets, 23,552 counts), so its buckets are
// HdrHistogram's counts array index for index and are written as they are.
//
// V2 encoding, all integers big-endian:
//   int32 cookie 0x1c849313, int32 payload length, int32 normalizing index
//   offset (0), int32 significant digits, int64 lowest discernible value,
//   int64 highest trackable value, double integer-to-double ratio (1.0), then
//   the counts up to the last non-zero one, each a ZigZag LEB128 varint
//   (at most 9 bytes, the 9th holding 8 bits), a run of N > 1 zeros as -N.
// Compressed: int32 cookie 0x1c849314, int32 length, then zlib's deflate of
// the V2 encoding. (The cookies are HdrHistogram's V2 bases 0x1c849303 and
// 0x1c849304 with the 0x10 flag its writers set.)
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "common/histogram.h"
#include "controller/report/format.h"

namespace stampede::controller {
namespace {

constexpr uint32_t kV2Cookie = 0x1c849303 | 0x10;
constexpr uint32_t kV2CompressedCookie = 0x1c849304 | 0x10;

void PutInt32(uint32_t v, std::string& out) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

void PutInt64(uint64_t v, std::string& out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

// ZigZag, then LEB128 limited to 9 bytes: eight of 7 bits, a last of 8.
void PutZigZag(int64_t v, std::string& out) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  for (int i = 0; i < 8; ++i) {
    if (z < 0x80) {
      out.push_back(static_cast<char>(z));
      return;
    }
    out.push_back(static_cast<char>((z & 0x7f) | 0x80));
    z >>= 7;
  }
  out.push_back(static_cast<char>(z));
}

std::string EncodeV2(const common::Histogram& h) {
  // Up to the last non-zero count, a run of zeros as one negative count (a
  // lone zero as 0); an empty histogram writes one zero count, as
  // HdrHistogram's own encoder does.
  std::string payload;
  size_t next = 0;  // the index after the last count written
  h.ForEachBucket([&](size_t index, int64_t count) {
    if (index > next) {
      const int64_t zeros = static_cast<int64_t>(index - next);
      PutZigZag(zeros > 1 ? -zeros : 0, payload);
    }
    PutZigZag(count, payload);
    next = index + 1;
  });
  if (next == 0) PutZigZag(0, payload);
  std::string out;
  PutInt32(kV2Cookie, out);
  PutInt32(static_cast<uint32_t>(payload.size()), out);
  PutInt32(0, out);  // normalizing index offset
  PutInt32(common::Histogram::kSignificantDigits, out);
  PutInt64(common::Histogram::kLowestUs, out);
  PutInt64(common::Histogram::kHighestUs, out);
  PutInt64(std::bit_cast<uint64_t>(1.0), out);
  out += payload;
  return out;
}

// The compressed V2 encoding, base64 (empty if zlib fails).
std::string EncodeCompressedBase64(const common::Histogram& h) {
  const std::string plain = EncodeV2(h);
  uLongf size = compressBound(plain.size());
  std::vector<Bytef> deflated(size);
  if (compress(deflated.data(), &size,
               reinterpret_cast<const Bytef*>(plain.data()),
               plain.size()) != Z_OK) {
    return "";
  }
  std::string out;
  PutInt32(kV2CompressedCookie, out);
  PutInt32(static_cast<uint32_t>(size), out);
  out.append(reinterpret_cast<const char*>(deflated.data()), size);
  return absl::Base64Escape(out);
}

// A comment is one line.
std::string OneLine(const std::string& s) {
  return absl::StrReplaceAll(s, {{"\r", " "}, {"\n", " "}});
}

}  // namespace

std::string FormatHdrLog(const v1::RunResult& r) {
  std::string out =
      absl::StrCat("#[Stampede run ", OneLine(r.run_id()), " of plan ",
                   OneLine(r.plan_name()),
                   ": latency in microseconds, Interval_Max in milliseconds]\n",
                   "#[Histogram log format version 1.3]\n");
  absl::Time start;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, r.started_at(), &start, &error)) {
    const double epoch_s = absl::ToDoubleSeconds(start - absl::UnixEpoch());
    absl::StrAppend(&out,
                    absl::StrFormat("#[StartTime: %.3f (seconds since epoch), "
                                    "%s]\n#[BaseTime: %.3f (seconds since "
                                    "epoch)]\n",
                                    epoch_s, OneLine(r.started_at()), epoch_s));
  }
  out +=
      "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
      "\"Interval_Compressed_Histogram\"\n";

  // Intervals end at t; their length is the controller's fixed interval: the
  // first t (the first interval starts at 0) or any smaller step between
  // consecutive ones.
  double length = r.intervals_size() > 0 ? r.intervals(0).t() : 0;
  for (int k = 1; k < r.intervals_size(); ++k) {
    const double step = r.intervals(k).t() - r.intervals(k - 1).t();
    if (step > 0) length = std::min(length, step);
  }
  int unreadable = 0;
  for (const v1::IntervalResult& interval : r.intervals()) {
    absl::StatusOr<common::Histogram> h =
        common::Histogram::Decode(interval.latency_histogram());
    std::string encoded = h.ok() ? EncodeCompressedBase64(*h) : "";
    if (encoded.empty()) {
      ++unreadable;
      continue;
    }
    absl::StrAppend(
        &out, absl::StrFormat("%.3f,%.3f,%.3f,%s\n",
                              std::max(0.0, interval.t() - length), length,
                              static_cast<double>(h->Max()) / 1000.0, encoded));
  }
  if (unreadable > 0) {
    absl::StrAppend(&out, "#[", unreadable,
                    " intervals left out: the result holds no latency "
                    "histogram for them]\n");
  }
  return out;
}

}  // namespace stampede::controller
