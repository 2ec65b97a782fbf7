// Fuzzes a VU's cookie jar (agent/load/cookie_jar.h) with Set-Cookie values
// as targets send them. The input is lines; each line's first byte picks the
// response's host, request path, TLS or not, and whether an hour passes
// first, and the rest of the line is one Set-Cookie value. Checks the jar's
// promises: it never holds more than kMaxCookies; an ignored cookie changes
// nothing; a Cookie header is only appended to, has as many name=value pieces
// as it says and no control character but tab; every cookie sent is found by
// name; a secure request gets at least what a plain one gets; storing the
// same value twice changes nothing the second time; a copy sends the same;
// Clear empties. Each line is also read as a cookie date, which must land in
// years 1601 to 9999.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/load/cookie_jar.h"
#include "tests/fuzz/fuzz_check.h"

namespace stampede::agent {
namespace {

constexpr std::string_view kHosts[] = {"example.com",     "www.example.com",
                                       "a.b.example.com", "10.0.0.1",
                                       "[::1]",           "com"};
constexpr std::string_view kPaths[] = {"/", "/a/b/c", "/a", "", "/a/b?x=/y/z"};
constexpr int64_t kStart = 1'700'000'000;
// 1601-01-01 and 9999-12-31 23:59:59, UTC.
constexpr int64_t kEarliestDate = -11'644'473'600;
constexpr int64_t kLatestDate = 253'402'300'799;
// Bounds the work per input; the fuzzer finds long lines on its own.
constexpr int kMaxLines = 64;

// Every header the jar would send to the hosts above, at two paths, both
// ways, joined: equal snapshots mean the jar sends the same everywhere.
std::string Snapshot(const CookieJar& jar, int64_t now) {
  std::string all;
  for (std::string_view host : kHosts) {
    for (std::string_view path : {"/", "/a/b/c/d"}) {
      for (bool secure : {false, true}) {
        jar.AppendCookieHeader(host, path, secure, now, &all);
        all.push_back('\n');
      }
    }
  }
  return all;
}

// One request's header, checked piece by piece.
void CheckHeader(const CookieJar& jar, std::string_view host,
                 std::string_view path, int64_t now) {
  const std::string prefix = "Cookie: ";
  std::string out = prefix;
  const size_t n = jar.AppendCookieHeader(host, path, false, now, &out);
  FUZZ_CHECK(out.compare(0, prefix.size(), prefix) == 0);
  std::string secure_out;
  const size_t secure_n =
      jar.AppendCookieHeader(host, path, true, now, &secure_out);
  FUZZ_CHECK(secure_n >= n);
  FUZZ_CHECK(n <= jar.size() && secure_n <= jar.size());

  std::string_view header(out);
  header.remove_prefix(prefix.size());
  FUZZ_CHECK((n == 0) == header.empty());
  size_t pieces = 0;
  std::string found;
  while (!header.empty()) {
    const size_t semi = header.find(';');
    std::string_view piece = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view()
                                            : header.substr(semi + 1);
    if (pieces > 0) {
      FUZZ_CHECK(!piece.empty() && piece.front() == ' ');
      piece.remove_prefix(1);
    }
    ++pieces;
    const size_t eq = piece.find('=');
    FUZZ_CHECK(eq != std::string_view::npos && eq > 0);
    for (char c : piece) {
      const unsigned char u = static_cast<unsigned char>(c);
      FUZZ_CHECK((u >= 0x20 && u != 0x7f) || u == '\t');
    }
    FUZZ_CHECK(jar.Find(piece.substr(0, eq), now, &found));
  }
  FUZZ_CHECK(pieces == n);
}

void Run(std::string_view input) {
  CookieJar jar;
  int64_t now = kStart;
  for (int line = 0; line < kMaxLines && !input.empty(); ++line) {
    const size_t newline = input.find('\n');
    std::string_view text = input.substr(0, newline);
    input = newline == std::string_view::npos ? std::string_view()
                                              : input.substr(newline + 1);
    if (text.empty()) continue;
    const uint8_t pick = static_cast<uint8_t>(text.front());
    text.remove_prefix(1);
    const std::string_view host = kHosts[(pick & 7) % std::size(kHosts)];
    const std::string_view path = kPaths[((pick >> 3) & 7) % std::size(kPaths)];
    const bool secure = pick & 0x40;
    if (pick & 0x80) now += 3600;

    int64_t date = 0;
    if (ParseCookieDate(text, &date)) {
      FUZZ_CHECK(date >= kEarliestDate && date <= kLatestDate);
    }

    const std::string before = Snapshot(jar, now);
    const size_t size_before = jar.size();
    const bool stored = jar.Store(text, host, path, secure, now);
    FUZZ_CHECK(jar.size() <= CookieJar::kMaxCookies);
    const std::string after = Snapshot(jar, now);
    if (!stored) {
      FUZZ_CHECK(jar.size() == size_before);
      FUZZ_CHECK(after == before);
    }

    // The same Set-Cookie again replaces the cookie with itself.
    const size_t size_after = jar.size();
    FUZZ_CHECK(jar.Store(text, host, path, secure, now) == stored);
    FUZZ_CHECK(jar.size() == size_after);
    FUZZ_CHECK(Snapshot(jar, now) == after);

    CheckHeader(jar, host, path, now);
    CheckHeader(jar, "example.com", "/a/b/c/d", now);
  }
  const CookieJar copy = jar;
  FUZZ_CHECK(Snapshot(copy, now) == Snapshot(jar, now));
  jar.Clear();
  FUZZ_CHECK(jar.size() == 0);
  std::string out;
  FUZZ_CHECK(jar.AppendCookieHeader("example.com", "/", true, now, &out) == 0);
  FUZZ_CHECK(out.empty());
}

}  // namespace
}  // namespace stampede::agent

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  stampede::agent::Run(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
