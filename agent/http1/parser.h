// An incremental parser of HTTP/1.x responses, fed bytes as they arrive in any
// split. It keeps no copy of the input (only a short prefix of the current
// line) so the caller may reuse its read buffer after every Feed; the input is
// treated as hostile. Not thread-safe: one parser per connection.
#ifndef STAMPEDE_AGENT_HTTP1_PARSER_H_
#define STAMPEDE_AGENT_HTTP1_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace stampede::agent {

// Where a response is kept for a flow step's captures and checks: the final
// response's status line and headers as received, and its body (chunked
// bodies decoded) up to `body_limit` bytes. Null pointers keep nothing.
struct Http1Tap {
  std::string* head = nullptr;
  std::string* body = nullptr;
  size_t body_limit = 0;
  bool* cut = nullptr;  // set when the body was longer than body_limit
};

// ASCII case-insensitive equality with `lower`, which is already lower case.
bool EqualsIgnoreCase(std::string_view s, std::string_view lower);

class Http1ResponseParser {
 public:
  enum class State : uint8_t { kNeedMore, kComplete, kError };

  // The status line plus headers of one response (and the trailers of a
  // chunked body, and any one chunk-size line) may not exceed this.
  static constexpr size_t kMaxHeaderBytes = 64 * 1024;
  // The bytes of a line that are looked at. Longer lines are fine except for
  // Content-Length and Transfer-Encoding (an error), and Connection (taken as
  // "close", which is always safe).
  static constexpr size_t kLinePrefix = 256;

  Http1ResponseParser() { Reset(false); }
  // It may point into itself (see TakeLine): not copied, not moved.
  Http1ResponseParser(const Http1ResponseParser&) = delete;
  Http1ResponseParser& operator=(const Http1ResponseParser&) = delete;

  // Starts a new response; `head_request` when it answers a HEAD (no body).
  // Keeps nothing of it until set_tap.
  void Reset(bool head_request);
  // Keeps this response's head and body where `tap` says (see Http1Tap).
  void set_tap(const Http1Tap& tap) { tap_ = tap; }

  // Consumes the bytes of the current response from `data` and returns how
  // many it took: all of them unless the response ended or an error was
  // found, in which case the rest belongs to whatever follows. Does nothing
  // once the state is kComplete or kError.
  size_t Feed(const char* data, size_t size);

  // The peer closed the connection: completes a body delimited by the close,
  // otherwise the response is truncated (an error).
  void OnEof();

  State state() const { return state_; }
  // Of the final (non-1xx) response once known; 0 before its status line.
  int status() const { return status_; }
  // Body bytes (decoded chunk data for a chunked body).
  int64_t body_bytes() const { return body_bytes_; }
  // Every byte consumed for this response, 1xx responses included.
  int64_t total_bytes() const { return total_bytes_; }
  // Whether the connection may carry another request after this response.
  bool keep_alive() const { return keep_alive_; }
  // Why the state is kError ("" otherwise); a static string.
  std::string_view error() const { return error_; }
  // Whether the peer closed before any byte of this response arrived.
  bool truncated_before_start() const { return eof_before_start_; }
  // A streamed response: chunked, or a text/event-stream.
  bool streaming() const { return chunked_ || event_stream_; }
  // Of a text/event-stream: events received so far, each a block of lines
  // ended by a blank line (LF, CRLF or CR line ends).
  int64_t events() const { return events_; }

 private:
  enum class Phase : uint8_t {
    kStatusLine,
    kHeaders,
    kBody,        // Content-Length
    kUntilClose,  // no length: the body ends when the peer closes
    kChunkSize,
    kChunkData,
    kChunkDataEnd,  // the CRLF after a chunk's data
    kTrailers,
    kDone,
  };

  // Takes input up to and including the next '\n' into the current line;
  // returns true when the line is whole (then line() is its prefix, without
  // the line end). A line that arrives whole in one Feed is read where it
  // lies (valid until that Feed returns); only a split line is copied.
  bool TakeLine(const char** p, const char* end);
  std::string_view line() const;
  bool line_truncated() const { return line_len_ > kLinePrefix; }
  void StartLine() {
    line_len_ = 0;
    line_at_ = line_;
  }

  void OnStatusLine();
  void OnHeaderLine();
  void OnHeadersEnd();
  void OnChunkSizeLine();
  void OnTrailerLine();
  void Fail(const char* why);
  void Finish();
  void ScanEvents(const char* p, int64_t n);
  void KeepBody(const char* p, int64_t n);

  State state_ = State::kNeedMore;
  Phase phase_ = Phase::kStatusLine;
  bool head_request_ = false;
  bool keep_alive_ = true;
  bool http10_ = false;
  bool chunked_ = false;
  bool has_length_ = false;
  bool has_transfer_encoding_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool last_header_relevant_ = false;  // for obsolete line folding
  bool eof_before_start_ = false;
  bool event_stream_ = false;   // Content-Type: text/event-stream
  bool sse_line_start_ = true;  // no byte of the current line yet
  bool sse_pending_ = false;    // the current event has a line
  char sse_last_ = 0;           // the last byte scanned ('\r' joins CRLF)
  int64_t events_ = 0;
  int status_ = 0;
  int64_t content_length_ = 0;
  int64_t remaining_ = 0;  // of the body or the current chunk
  int64_t body_bytes_ = 0;
  int64_t total_bytes_ = 0;
  size_t section_bytes_ = 0;  // of the current header section / chunk line
  size_t line_len_ = 0;       // of the current line so far, all of it
  const char* error_ = "";
  Http1Tap tap_;
  const char* line_at_ = line_;  // line_, or the input holding a whole line
  char line_[kLinePrefix];
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_HTTP1_PARSER_H_
