#include "agent/http1/parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace stampede::agent {
namespace {

using State = Http1ResponseParser::State;

struct Result {
  State state = State::kNeedMore;
  int status = 0;
  int64_t events = 0;
  bool streaming = false;
  int64_t body = 0;
  int64_t total = 0;
  bool keep_alive = false;
  size_t consumed = 0;

  bool operator==(const Result&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "{state=" << static_cast<int>(r.state) << " status=" << r.status
            << " body=" << r.body << " total=" << r.total
            << " keep_alive=" << r.keep_alive << " consumed=" << r.consumed
            << "}";
}

// Feeds `wire` in pieces whose sizes `next_piece` picks, as a socket would
// deliver them; `eof` closes the connection after the last byte.
template <typename NextPiece>
Result Feed(const std::string& wire, bool head, bool eof,
            NextPiece next_piece) {
  Http1ResponseParser parser;
  parser.Reset(head);
  size_t pos = 0;
  while (pos < wire.size() && parser.state() == State::kNeedMore) {
    size_t piece = std::min<size_t>(next_piece(), wire.size() - pos);
    size_t used = parser.Feed(wire.data() + pos, piece);
    EXPECT_LE(used, piece);
    pos += used;
    if (used < piece) break;  // the response ended (or broke) inside it
  }
  if (eof) parser.OnEof();
  return Result{parser.state(),      parser.status(),
                parser.events(),     parser.streaming(),
                parser.body_bytes(), parser.total_bytes(),
                parser.keep_alive(), pos};
}

Result FeedAll(const std::string& wire, bool head = false, bool eof = false) {
  return Feed(wire, head, eof, [&] { return wire.size(); });
}

// Every way of cutting `wire` into equal pieces, and random cuts, must give
// the same result as one piece.
void ExpectSplitInvariant(const std::string& wire, bool head = false,
                          bool eof = false) {
  Result whole = FeedAll(wire, head, eof);
  for (size_t piece = 1; piece <= wire.size(); ++piece) {
    EXPECT_EQ(Feed(wire, head, eof, [&] { return piece; }), whole)
        << "piece " << piece;
  }
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::uniform_int_distribution<size_t> size(1, 17);
    EXPECT_EQ(Feed(wire, head, eof, [&] { return size(rng); }), whole)
        << "round " << round;
  }
}

const std::string kSimple =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
    "hello";

TEST(Http1ParserTest, ContentLengthBody) {
  Result r = FeedAll(kSimple);
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, 5);
  EXPECT_EQ(r.total, static_cast<int64_t>(kSimple.size()));
  EXPECT_EQ(r.consumed, kSimple.size());
  EXPECT_TRUE(r.keep_alive);
  ExpectSplitInvariant(kSimple);
}

TEST(Http1ParserTest, ServerSentEventsAreCountedInAnySplit) {
  // Three events across chunks (LF, CRLF and CR line ends, a multi-line
  // event, extra blank lines that dispatch nothing), then the last chunk.
  const std::string body =
      "id: 1\ndata: {\"n\":1}\n\n\n"
      "data: a\r\ndata: b\r\n\r\n"
      "data: c\r\r";
  std::string wire =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  absl::StrAppend(&wire, absl::Hex(body.size() - 10), "\r\n",
                  body.substr(0, body.size() - 10), "\r\n");
  absl::StrAppend(&wire, absl::Hex(10), "\r\n", body.substr(body.size() - 10),
                  "\r\n0\r\n\r\n");
  Result r = FeedAll(wire);
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_TRUE(r.streaming);
  EXPECT_EQ(r.events, 3);
  ExpectSplitInvariant(wire);
}

TEST(Http1ParserTest, PlainBodiesHaveNoEvents) {
  Result r =
      FeedAll("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ndata\n\n\n\n");
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_FALSE(r.streaming);
  EXPECT_EQ(r.events, 0);
}

TEST(Http1ParserTest, ZeroContentLengthCompletesAtHeaders) {
  Result r = FeedAll("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.body, 0);
}

TEST(Http1ParserTest, HeaderNamesAreCaseInsensitive) {
  Result r =
      FeedAll("HTTP/1.1 201 Created\r\ncontent-LENGTH:   3  \r\n\r\nabc");
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, 3);
}

TEST(Http1ParserTest, BareLineFeedsAreAccepted) {
  Result r = FeedAll("HTTP/1.1 200 OK\nContent-Length: 2\n\nok");
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.body, 2);
}

TEST(Http1ParserTest, StatusLineWithoutReason) {
  EXPECT_EQ(FeedAll("HTTP/1.1 204\r\n\r\n").state, State::kComplete);
  EXPECT_EQ(FeedAll("HTTP/1.1 204 \r\n\r\n").state, State::kComplete);
}

TEST(Http1ParserTest, ChunkedWithExtensionsAndTrailers) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n"
      "A; name=\"v\"\r\n0123456789\r\n"
      "000\r\nX-Trailer: a\r\nX-Other: b\r\n\r\n";
  Result r = FeedAll(wire);
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.body, 15);
  EXPECT_EQ(r.total, static_cast<int64_t>(wire.size()));
  EXPECT_TRUE(r.keep_alive);
  ExpectSplitInvariant(wire);
}

TEST(Http1ParserTest, ChunkedIsTheFinalCodingOnly) {
  Result r = FeedAll(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n"
      "2\r\nhi\r\n0\r\n\r\n");
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.body, 2);
  // Not chunked last: the body runs until the close.
  r = FeedAll("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc", false,
              true);
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.body, 3);
  EXPECT_FALSE(r.keep_alive);
}

TEST(Http1ParserTest, TransferEncodingWinsOverContentLengthButNoReuse) {
  Result r = FeedAll(
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: "
      "chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n");
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.body, 1);
  EXPECT_FALSE(r.keep_alive);
}

TEST(Http1ParserTest, BodyUntilClose) {
  const std::string wire = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nabcdef";
  Result open = FeedAll(wire);
  EXPECT_EQ(open.state, State::kNeedMore);
  Result r = FeedAll(wire, false, true);
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.body, 6);
  EXPECT_FALSE(r.keep_alive);
  ExpectSplitInvariant(wire, false, true);
}

TEST(Http1ParserTest, HeadResponseHasNoBody) {
  const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  Result r = FeedAll(wire + "next", true);
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.body, 0);
  EXPECT_EQ(r.consumed, wire.size());
  EXPECT_TRUE(r.keep_alive);
  ExpectSplitInvariant(wire, true);
}

TEST(Http1ParserTest, NoContentAndNotModifiedHaveNoBody) {
  Result r = FeedAll("HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.keep_alive);
  const std::string not_modified =
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
  r = FeedAll(not_modified + "XX");
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.body, 0);
  EXPECT_EQ(r.consumed, not_modified.size());
}

TEST(Http1ParserTest, InformationalResponsesAreSkipped) {
  const std::string wire =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  Result r = FeedAll(wire);
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, 2);
  EXPECT_EQ(r.total, static_cast<int64_t>(wire.size()));
  ExpectSplitInvariant(wire);
}

TEST(Http1ParserTest, SwitchingProtocolsIsAnError) {
  EXPECT_EQ(FeedAll("HTTP/1.1 101 Switching Protocols\r\n\r\n").state,
            State::kError);
}

TEST(Http1ParserTest, PipelinedResponsesSplitExactly) {
  const std::string first = kSimple;
  const std::string second =
      "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nnot\r\n0\r\n\r\n";
  const std::string both = first + second;
  Http1ResponseParser parser;
  parser.Reset(false);
  size_t used = parser.Feed(both.data(), both.size());
  EXPECT_EQ(parser.state(), State::kComplete);
  EXPECT_EQ(parser.status(), 200);
  ASSERT_EQ(used, first.size());
  EXPECT_EQ(parser.Feed(both.data() + used, both.size() - used), 0u);
  parser.Reset(false);
  EXPECT_EQ(parser.Feed(both.data() + used, both.size() - used), second.size());
  EXPECT_EQ(parser.state(), State::kComplete);
  EXPECT_EQ(parser.status(), 404);
  EXPECT_EQ(parser.body_bytes(), 3);
}

TEST(Http1ParserTest, ConnectionHeaderAndVersionDecideReuse) {
  EXPECT_TRUE(
      FeedAll("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_FALSE(FeedAll("HTTP/1.1 200 OK\r\nConnection: close\r\n"
                       "Content-Length: 0\r\n\r\n")
                   .keep_alive);
  EXPECT_FALSE(FeedAll("HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\n"
                       "Content-Length: 0\r\n\r\n")
                   .keep_alive);
  // HTTP/1.0 closes unless asked to keep the connection.
  Result r = FeedAll("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(FeedAll("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
                      "Content-Length: 0\r\n\r\n")
                  .keep_alive);
  // A Connection header too long to read in full is taken as "close".
  EXPECT_FALSE(FeedAll("HTTP/1.1 200 OK\r\nConnection: keep-alive" +
                       std::string(400, ' ') +
                       ", x\r\nContent-Length: 0\r\n\r\n")
                   .keep_alive);
}

TEST(Http1ParserTest, LongIrrelevantHeadersAreFine) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nSet-Cookie: " + std::string(5000, 'c') +
      "\r\nContent-Length: 1\r\n\r\nx";
  Result r = FeedAll(wire);
  EXPECT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.body, 1);
}

TEST(Http1ParserTest, MalformedStatusLines) {
  for (const std::string line :
       {"HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTX/1.1 200 OK",
        "HTTP/2 200 OK", "HTTP/1.1 200OK", "HTTP/1.1  200 OK", "garbage",
        "HTTP/1.1 abc OK", "HTTP/1.1 099 Low", ""}) {
    Result r = FeedAll(line + "\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(r.state, State::kError) << line;
  }
}

TEST(Http1ParserTest, MalformedHeaders) {
  for (const std::string header :
       {"No colon here", "Content-Length : 5", ": empty name",
        "Content-Length: abc", "Content-Length: 5, 5", "Content-Length: -1",
        "Content-Length: 99999999999999999999999"}) {
    Result r = FeedAll("HTTP/1.1 200 OK\r\n" + header + "\r\n\r\nhello");
    EXPECT_EQ(r.state, State::kError) << header;
  }
  EXPECT_EQ(FeedAll("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                    "Content-Length: 6\r\n\r\nhello!")
                .state,
            State::kError);
  // Repeating the same length is allowed.
  EXPECT_EQ(FeedAll("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                    "Content-Length: 5\r\n\r\nhello")
                .state,
            State::kComplete);
}

TEST(Http1ParserTest, BadChunks) {
  const std::string head =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string body :
       {"zz\r\n", "\r\n", "5x\r\nhello\r\n0\r\n\r\n", "-5\r\n",
        "10000000000000000\r\n", "5\r\nhelloXX\r\n0\r\n\r\n"}) {
    Result r = FeedAll(head + body);
    EXPECT_EQ(r.state, State::kError) << body;
  }
  // Leading zeros do not count towards the size limit.
  EXPECT_EQ(FeedAll(head + "00000000000000000001\r\nx\r\n0\r\n\r\n").state,
            State::kComplete);
}

TEST(Http1ParserTest, OversizedHeaderSectionIsAnError) {
  std::string big = "HTTP/1.1 200 OK\r\n";
  while (big.size() <= Http1ResponseParser::kMaxHeaderBytes)
    big += "X-Filler: " + std::string(100, 'f') + "\r\n";
  big += "Content-Length: 0\r\n\r\n";
  EXPECT_EQ(FeedAll(big).state, State::kError);
  EXPECT_EQ(Feed(big, false, false, [] { return 7; }).state, State::kError);
  // One endless line, no line end at all.
  std::string endless = "HTTP/1.1 200 OK\r\nX: " + std::string(70000, 'a');
  EXPECT_EQ(FeedAll(endless).state, State::kError);

  std::string fits = "HTTP/1.1 200 OK\r\n";
  while (fits.size() < 60000)
    fits += "X-Filler: " + std::string(100, 'f') + "\r\n";
  fits += "Content-Length: 0\r\n\r\n";
  EXPECT_EQ(FeedAll(fits).state, State::kComplete);
}

TEST(Http1ParserTest, EndlessChunkExtensionIsAnError) {
  std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" +
                     std::string(70000, 'e');
  EXPECT_EQ(FeedAll(wire).state, State::kError);
}

TEST(Http1ParserTest, CloseBeforeTheEndIsAnError) {
  Http1ResponseParser parser;
  parser.OnEof();
  EXPECT_EQ(parser.state(), State::kError);
  EXPECT_TRUE(parser.truncated_before_start());

  Result r = FeedAll(kSimple.substr(0, kSimple.size() - 2), false, true);
  EXPECT_EQ(r.state, State::kError);
  r = FeedAll("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
              false, true);
  EXPECT_EQ(r.state, State::kError);

  Http1ResponseParser partial;
  partial.Feed("HTTP/1.1", 8);
  partial.OnEof();
  EXPECT_EQ(partial.state(), State::kError);
  EXPECT_FALSE(partial.truncated_before_start());
}

TEST(Http1ParserTest, FeedAfterTheEndTakesNothing) {
  Http1ResponseParser parser;
  parser.Feed(kSimple.data(), kSimple.size());
  ASSERT_EQ(parser.state(), State::kComplete);
  EXPECT_EQ(parser.Feed("abc", 3), 0u);
  Http1ResponseParser broken;
  broken.Feed("nonsense\r\n", 10);
  ASSERT_EQ(broken.state(), State::kError);
  EXPECT_FALSE(broken.error().empty());
  EXPECT_EQ(broken.Feed("abc", 3), 0u);
}

TEST(Http1ParserTest, HostileBytesNeverBreakIt) {
  // Random mutations of valid responses: the parser must stay in bounds and
  // never consume more than it was given (run under ASan to mean more).
  const std::vector<std::string> seeds = {
      kSimple,
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;e\r\nhello\r\n0"
      "\r\nT: x\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nabc"};
  std::mt19937 rng(7);
  const char alphabet[] = "HTP/1.02 \r\n:;0123456789abcdefxX-\t";
  for (int round = 0; round < 20000; ++round) {
    std::string wire = seeds[round % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits && !wire.empty(); ++e) {
      size_t at = rng() % wire.size();
      switch (rng() % 3) {
        case 0:
          wire[at] = alphabet[rng() % (sizeof(alphabet) - 1)];
          break;
        case 1:
          wire.erase(at, 1 + rng() % 4);
          break;
        default:
          wire.insert(at, 1, static_cast<char>(rng() % 256));
          break;
      }
    }
    std::uniform_int_distribution<size_t> size(1, 9);
    Result r =
        Feed(wire, rng() % 2 == 0, rng() % 2 == 0, [&] { return size(rng); });
    EXPECT_LE(r.consumed, wire.size());
    EXPECT_LE(r.total, static_cast<int64_t>(wire.size()));
  }
}

}  // namespace
}  // namespace stampede::agent
