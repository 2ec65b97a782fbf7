// Fuzzes the agent's HTTP/1.x response parser (agent/http1_parser.h). The
// first input byte picks HEAD or not and how the rest is cut into Feed calls;
// the rest is what a server sent, possibly several pipelined responses, then
// the connection closes. Checks the parser's promises: Feed never takes more
// than it was given and takes all of it while the response goes on, body
// bytes never exceed the bytes consumed, a finished parser takes nothing, and
// any cut gives the same results as one Feed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "agent/http1/parser.h"
#include "tests/fuzz/fuzz_check.h"

namespace stampede::agent {
namespace {

using State = Http1ResponseParser::State;

struct Response {
  State state;
  int status;
  int64_t body_bytes;
  int64_t total_bytes;
  bool keep_alive;
  bool truncated_before_start;

  bool operator==(const Response&) const = default;
};

// At most this many pipelined responses are parsed from one input.
constexpr int kMaxResponses = 64;

// Parses responses from `wire` until an error, the end of the input (then
// the connection closes), or kMaxResponses; `piece_seed` 0 feeds each
// response's bytes in one piece.
std::vector<Response> Run(const char* wire, size_t size, bool head,
                          uint32_t piece_seed) {
  std::vector<Response> out;
  Http1ResponseParser parser;
  uint32_t rng = piece_seed;
  size_t pos = 0;
  while (static_cast<int>(out.size()) < kMaxResponses) {
    parser.Reset(head);
    const size_t start = pos;
    while (pos < size && parser.state() == State::kNeedMore) {
      size_t piece = size - pos;
      if (piece_seed != 0) {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        // Mostly small pieces, so that every line and CRLF gets cut.
        piece = std::min<size_t>(piece, 1 + rng % ((rng & 0x100) ? 512 : 8));
      }
      const size_t used = parser.Feed(wire + pos, piece);
      FUZZ_CHECK(used <= piece);
      if (parser.state() == State::kNeedMore) FUZZ_CHECK(used == piece);
      pos += used;
      FUZZ_CHECK(parser.body_bytes() >= 0);
      FUZZ_CHECK(parser.body_bytes() <= parser.total_bytes());
      FUZZ_CHECK(parser.total_bytes() == static_cast<int64_t>(pos - start));
      if (used < piece) break;
    }
    if (pos == size) parser.OnEof();
    FUZZ_CHECK(parser.state() != State::kNeedMore);
    FUZZ_CHECK(parser.body_bytes() <= parser.total_bytes());
    FUZZ_CHECK(parser.total_bytes() <= static_cast<int64_t>(size - start));
    if (parser.state() == State::kError) {
      FUZZ_CHECK(!parser.error().empty());
    } else {
      FUZZ_CHECK(parser.error().empty());
      FUZZ_CHECK(parser.status() >= 200 && parser.status() <= 999);
      if (head) FUZZ_CHECK(parser.body_bytes() == 0);
    }
    // A finished parser takes nothing more, and OnEof changes nothing.
    const Response r{parser.state(),      parser.status(),
                     parser.body_bytes(), parser.total_bytes(),
                     parser.keep_alive(), parser.truncated_before_start()};
    const char extra[] = "HTTP/1.1 200 OK\r\n\r\n";
    FUZZ_CHECK(parser.Feed(extra, sizeof(extra) - 1) == 0);
    parser.OnEof();
    FUZZ_CHECK((Response{parser.state(), parser.status(), parser.body_bytes(),
                         parser.total_bytes(), parser.keep_alive(),
                         parser.truncated_before_start()} == r));
    out.push_back(r);
    if (r.state != State::kComplete || !r.keep_alive || pos == size) break;
  }
  return out;
}

}  // namespace
}  // namespace stampede::agent

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool head = (data[0] & 0x80) != 0;
  const uint32_t seed = (data[0] & 0x7F) | 0x80;  // never 0
  const char* wire = reinterpret_cast<const char*>(data + 1);
  const auto whole = stampede::agent::Run(wire, size - 1, head, 0);
  const auto cut = stampede::agent::Run(wire, size - 1, head, seed);
  FUZZ_CHECK(whole == cut);
  return 0;
}
