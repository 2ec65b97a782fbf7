#include "agent/http1/parser.h"

#include <algorithm>
#include <cstring>

namespace stampede::agent {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Calls `f` with each trimmed, non-empty element of a comma-separated list.
template <typename F>
void ForEachToken(std::string_view list, F f) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view token = Trim(list.substr(0, comma));
    if (!token.empty()) f(token);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

bool EqualsIgnoreCase(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (Lower(s[i]) != lower[i]) return false;
  }
  return true;
}

void Http1ResponseParser::Reset(bool head_request) {
  state_ = State::kNeedMore;
  phase_ = Phase::kStatusLine;
  head_request_ = head_request;
  keep_alive_ = true;
  http10_ = false;
  chunked_ = false;
  has_length_ = false;
  has_transfer_encoding_ = false;
  connection_close_ = false;
  connection_keep_alive_ = false;
  last_header_relevant_ = false;
  eof_before_start_ = false;
  event_stream_ = false;
  sse_line_start_ = true;
  sse_pending_ = false;
  sse_last_ = 0;
  events_ = 0;
  status_ = 0;
  content_length_ = 0;
  remaining_ = 0;
  body_bytes_ = 0;
  total_bytes_ = 0;
  section_bytes_ = 0;
  StartLine();
  error_ = "";
  tap_ = Http1Tap();
}

void Http1ResponseParser::KeepBody(const char* p, int64_t n) {
  if (tap_.body == nullptr || n <= 0) return;
  const size_t room = tap_.body_limit > tap_.body->size()
                          ? tap_.body_limit - tap_.body->size()
                          : 0;
  const size_t take = std::min(room, static_cast<size_t>(n));
  tap_.body->append(p, take);
  if (take < static_cast<size_t>(n) && tap_.cut != nullptr) *tap_.cut = true;
}

bool Http1ResponseParser::TakeLine(const char** p, const char* end) {
  const char* start = *p;
  const char* nl =
      static_cast<const char*>(std::memchr(start, '\n', end - start));
  const char* stop = nl != nullptr ? nl : end;
  size_t n = static_cast<size_t>(stop - start);
  if (line_len_ == 0 && nl != nullptr) {
    line_at_ = start;  // whole here: no copy
  } else if (line_len_ < kLinePrefix) {
    std::memcpy(line_ + line_len_, start, std::min(n, kLinePrefix - line_len_));
  }
  line_len_ += n;
  section_bytes_ += n + (nl != nullptr ? 1 : 0);
  *p = nl != nullptr ? nl + 1 : end;
  return nl != nullptr;
}

std::string_view Http1ResponseParser::line() const {
  size_t size = std::min(line_len_, kLinePrefix);
  // A bare LF ends a line too; a CR is only stripped when it is really last.
  if (!line_truncated() && size > 0 && line_at_[size - 1] == '\r') --size;
  return std::string_view(line_at_, size);
}

size_t Http1ResponseParser::Feed(const char* data, size_t size) {
  if (state_ != State::kNeedMore || size == 0) return 0;
  const char* p = data;
  const char* const end = data + size;
  while (p < end && state_ == State::kNeedMore) {
    switch (phase_) {
      case Phase::kStatusLine:
      case Phase::kHeaders:
      case Phase::kChunkSize:
      case Phase::kChunkDataEnd:
      case Phase::kTrailers: {
        const char* line_start = p;
        bool whole = TakeLine(&p, end);
        if (tap_.head != nullptr &&
            (phase_ == Phase::kStatusLine || phase_ == Phase::kHeaders)) {
          tap_.head->append(line_start, p - line_start);
        }
        if (section_bytes_ > kMaxHeaderBytes) {
          Fail(phase_ == Phase::kChunkSize || phase_ == Phase::kChunkDataEnd
                   ? "chunk line too long"
                   : "header section too large");
          break;
        }
        if (!whole) break;
        switch (phase_) {
          case Phase::kStatusLine:
            OnStatusLine();
            break;
          case Phase::kHeaders:
            OnHeaderLine();
            break;
          case Phase::kChunkSize:
            OnChunkSizeLine();
            break;
          case Phase::kChunkDataEnd:
            if (!line().empty() || line_truncated()) {
              Fail("missing CRLF after chunk data");
            } else {
              phase_ = Phase::kChunkSize;
              section_bytes_ = 0;
            }
            break;
          default:
            OnTrailerLine();
            break;
        }
        StartLine();
        break;
      }
      case Phase::kBody:
      case Phase::kChunkData: {
        int64_t take = std::min<int64_t>(remaining_, end - p);
        if (event_stream_) ScanEvents(p, take);
        KeepBody(p, take);
        p += take;
        remaining_ -= take;
        body_bytes_ += take;
        if (remaining_ == 0) {
          if (phase_ == Phase::kBody) {
            Finish();
          } else {
            phase_ = Phase::kChunkDataEnd;
            section_bytes_ = 0;
          }
        }
        break;
      }
      case Phase::kUntilClose:
        if (event_stream_) ScanEvents(p, end - p);
        KeepBody(p, end - p);
        body_bytes_ += end - p;
        p = end;
        break;
      case Phase::kDone:
        p = end;  // unreachable: state_ is kComplete
        break;
    }
  }
  size_t consumed = static_cast<size_t>(p - data);
  total_bytes_ += static_cast<int64_t>(consumed);
  return consumed;
}

void Http1ResponseParser::ScanEvents(const char* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const char c = p[i];
    if (c == '\n' && sse_last_ == '\r') {
      sse_last_ = c;  // the LF of a CRLF: the line ended at its CR
      continue;
    }
    sse_last_ = c;
    if (c == '\n' || c == '\r') {
      if (sse_line_start_ && sse_pending_) {
        ++events_;  // a blank line dispatches the event
        sse_pending_ = false;
      }
      sse_line_start_ = true;
    } else {
      sse_line_start_ = false;
      sse_pending_ = true;
    }
  }
}

void Http1ResponseParser::OnEof() {
  if (state_ != State::kNeedMore) return;
  if (phase_ == Phase::kUntilClose) {
    keep_alive_ = false;
    Finish();
    return;
  }
  eof_before_start_ = phase_ == Phase::kStatusLine && total_bytes_ == 0 &&
                      line_len_ == 0 && status_ == 0;
  Fail("connection closed before the response ended");
}

void Http1ResponseParser::OnStatusLine() {
  std::string_view s = line();
  // "HTTP/1.x SSS" then the end, or a space and an optional reason phrase.
  if (s.size() < 12 || s.substr(0, 7) != "HTTP/1." || !IsDigit(s[7]) ||
      s[8] != ' ' || !IsDigit(s[9]) || !IsDigit(s[10]) || !IsDigit(s[11]) ||
      (s.size() > 12 && s[12] != ' ')) {
    Fail("malformed status line");
    return;
  }
  status_ = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
  if (status_ < 100) {
    Fail("malformed status code");
    return;
  }
  http10_ = s[7] == '0';
  chunked_ = false;
  has_length_ = false;
  has_transfer_encoding_ = false;
  connection_close_ = false;
  connection_keep_alive_ = false;
  last_header_relevant_ = false;
  content_length_ = 0;
  phase_ = Phase::kHeaders;
}

void Http1ResponseParser::OnHeaderLine() {
  std::string_view s = line();
  if (s.empty() && !line_truncated()) {
    OnHeadersEnd();
    return;
  }
  if (IsSpace(s.front())) {
    // Obsolete line folding continues the previous header: harmless unless
    // that header decides the framing.
    if (last_header_relevant_) Fail("folded framing header");
    return;
  }
  last_header_relevant_ = false;
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) {
    // A name longer than the prefix is none of the headers that matter.
    if (!line_truncated()) Fail("header line without a colon");
    return;
  }
  std::string_view name = s.substr(0, colon);
  if (name.empty()) {
    Fail("empty header name");
    return;
  }
  for (char c : name) {
    if (IsSpace(c) || c == '\r' || c == '\0') {
      Fail("invalid header name");
      return;
    }
  }
  // Only four names matter, and none of them shares its length with another:
  // most lines are done with after one comparison.
  switch (name.size()) {
    case 10:  // connection
    case 12:  // content-type
    case 14:  // content-length
    case 17:  // transfer-encoding
      break;
    default:
      return;
  }
  std::string_view value = Trim(s.substr(colon + 1));
  if (EqualsIgnoreCase(name, "content-length")) {
    last_header_relevant_ = true;
    if (line_truncated() || value.empty()) {
      Fail("bad Content-Length");
      return;
    }
    int64_t length = 0;
    for (char c : value) {
      if (!IsDigit(c) || length > 100'000'000'000'000'000) {
        Fail("bad Content-Length");
        return;
      }
      length = length * 10 + (c - '0');
    }
    if (has_length_ && length != content_length_) {
      Fail("conflicting Content-Length");
      return;
    }
    has_length_ = true;
    content_length_ = length;
  } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
    last_header_relevant_ = true;
    if (line_truncated()) {
      Fail("Transfer-Encoding too long");
      return;
    }
    has_transfer_encoding_ = true;
    // Only a final "chunked" frames the body; a later header may add codings.
    ForEachToken(value, [this](std::string_view token) {
      chunked_ = EqualsIgnoreCase(token, "chunked");
    });
  } else if (EqualsIgnoreCase(name, "content-type")) {
    // "text/event-stream", with any parameters after it.
    std::string_view type = value.substr(0, value.find(';'));
    event_stream_ = EqualsIgnoreCase(Trim(type), "text/event-stream");
  } else if (EqualsIgnoreCase(name, "connection")) {
    last_header_relevant_ = true;
    if (line_truncated()) {
      connection_close_ = true;  // unseen tokens: closing is always safe
      return;
    }
    ForEachToken(value, [this](std::string_view token) {
      if (EqualsIgnoreCase(token, "close")) connection_close_ = true;
      if (EqualsIgnoreCase(token, "keep-alive")) connection_keep_alive_ = true;
    });
  }
}

void Http1ResponseParser::OnHeadersEnd() {
  if (status_ < 200) {
    // We never ask to switch protocols; other 1xx precede the real response.
    if (status_ == 101) {
      Fail("unexpected 101 Switching Protocols");
      return;
    }
    status_ = 0;
    phase_ = Phase::kStatusLine;
    section_bytes_ = 0;
    if (tap_.head != nullptr) tap_.head->clear();  // only the final response
    return;
  }
  keep_alive_ = http10_ ? connection_keep_alive_ : true;
  if (connection_close_) keep_alive_ = false;
  if (head_request_ || status_ == 204 || status_ == 304) {
    Finish();
    return;
  }
  if (has_transfer_encoding_) {
    // Both framings at once is a smuggling smell: use Transfer-Encoding, then
    // do not trust the connection again.
    if (has_length_) keep_alive_ = false;
    if (chunked_) {
      phase_ = Phase::kChunkSize;
      section_bytes_ = 0;
    } else {
      phase_ = Phase::kUntilClose;
      keep_alive_ = false;
    }
    return;
  }
  if (has_length_) {
    if (content_length_ == 0) {
      Finish();
    } else {
      phase_ = Phase::kBody;
      remaining_ = content_length_;
    }
    return;
  }
  phase_ = Phase::kUntilClose;
  keep_alive_ = false;
}

void Http1ResponseParser::OnChunkSizeLine() {
  std::string_view s = line();
  size_t i = 0;
  int significant = 0;
  int64_t size = 0;
  for (; i < s.size(); ++i) {
    int v = HexValue(s[i]);
    if (v < 0) break;
    if (size != 0 || v != 0) ++significant;
    if (significant > 15) {
      Fail("chunk size too large");
      return;
    }
    size = size * 16 + v;
  }
  if (i == 0) {
    Fail("bad chunk size");
    return;
  }
  while (i < s.size() && IsSpace(s[i])) ++i;
  if (i < s.size() && s[i] != ';') {
    Fail("bad chunk size");
    return;
  }
  if (size == 0) {
    phase_ = Phase::kTrailers;
  } else {
    phase_ = Phase::kChunkData;
    remaining_ = size;
  }
  section_bytes_ = 0;
}

void Http1ResponseParser::OnTrailerLine() {
  std::string_view s = line();
  if (s.empty() && !line_truncated()) Finish();
}

void Http1ResponseParser::Fail(const char* why) {
  state_ = State::kError;
  error_ = why;
  keep_alive_ = false;
}

void Http1ResponseParser::Finish() {
  state_ = State::kComplete;
  phase_ = Phase::kDone;
}

}  // namespace stampede::agent
