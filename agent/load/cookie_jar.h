// One virtual user's cookies, kept as a browser keeps them (RFC 6265 section
// 5): responses' Set-Cookie values are stored, later requests carry Cookie:.
// Not thread-safe: a jar belongs to one VU, on its worker's thread.
//
// Memory: an empty jar holds no heap (a vector and two counters). Each cookie
// is one std::string (name, value, domain and path back to back) and a few
// scalars. Removed cookies keep their slot and its string's capacity, so
// Store allocates only when the jar holds more cookies, or a longer one, than
// it held before; AppendCookieHeader and Find only to grow the caller's
// string; Clear never.
//
// Limits and departures from RFC 6265, chosen for a load tester:
//  - No public-suffix list: a target may set Domain=com and it is kept (and
//    sent to every .com host this VU visits). Targets are the tester's own.
//  - A cookie whose name and value together exceed kMaxNameValueBytes is
//    ignored; a Path or Domain value longer than kMaxAttributeBytes is ignored
//    as if absent (RFC 6265bis 5.6); a host longer than kMaxHostBytes or a
//    default path longer than kMaxAttributeBytes ignores the cookie.
//  - A Set-Cookie value with a control character other than tab (NUL, CR, LF,
//    DEL, ...) is ignored whole (RFC 6265bis 5.6), so nothing a target sends
//    can break the Cookie header of a later request.
//  - At most kMaxCookies per jar. Storing one more first drops expired
//    cookies, then evicts the one created earliest (RFC 6265 evicts by last
//    access; creation keeps AppendCookieHeader const and the jar simpler).
//  - Secure cookies are not stored from non-secure responses, nor sent over
//    non-secure requests (RFC 6265bis). HttpOnly is kept but changes nothing:
//    there is no script here.
//  - An IP-literal host (a ':' in it, or a last label of digits) only gets
//    host-only cookies: a Domain attribute equal to it is taken as host-only,
//    any other Domain ignores the cookie.
//  - Times are whole Unix seconds; a cookie expires once now >= its expiry
//    (Max-Age=N lives N seconds). Session cookies never expire: a VU's jar
//    lives as long as the VU, which is the session.
#ifndef STAMPEDE_AGENT_LOAD_COOKIE_JAR_H_
#define STAMPEDE_AGENT_LOAD_COOKIE_JAR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stampede::agent {

class CookieJar {
 public:
  static constexpr size_t kMaxCookies = 50;
  static constexpr size_t kMaxNameValueBytes = 4096;
  static constexpr size_t kMaxAttributeBytes = 1024;
  static constexpr size_t kMaxHostBytes = 255;
  static_assert(kMaxCookies <= 255, "AppendCookieHeader sorts uint8_t slots");

  CookieJar() = default;
  CookieJar(const CookieJar&) = default;
  CookieJar& operator=(const CookieJar&) = default;
  CookieJar(CookieJar&&) = default;
  CookieJar& operator=(CookieJar&&) = default;

  // Takes one Set-Cookie header value from a response to a request for
  // `host` (lower case, no port, IPv6 with or without brackets) and
  // `request_path` (its query, if any, is ignored), over TLS when `secure`.
  // Returns false when the cookie was ignored: malformed (no '=', empty name),
  // a Domain the host does not domain-match, Secure from a non-secure
  // response, over a limit above. A cookie already expired on arrival
  // (Max-Age <= 0, Expires in the past) is not ignored: it removes the stored
  // cookie with its name, domain and path, if any, and returns true.
  bool Store(std::string_view set_cookie, std::string_view host,
             std::string_view request_path, bool secure, int64_t now_unix_s);

  // Appends the Cookie header value ("a=1; b=2") for a request to `host` and
  // `path` (query ignored) to *out, in RFC 6265 5.4 order: longer paths
  // first, then earlier creation. Returns how many cookies it appended (0:
  // nothing appended, send no Cookie header). Expired cookies are skipped.
  size_t AppendCookieHeader(std::string_view host, std::string_view path,
                            bool secure, int64_t now_unix_s,
                            std::string* out) const;

  // The value of the unexpired cookie called `name` that was stored last,
  // whatever its domain and path: what a flow's `capture: {sid: {cookie:
  // sid}}` wants right after the response that set it. Replaces *value.
  // Returns false, leaving *value alone, when there is none.
  bool Find(std::string_view name, int64_t now_unix_s,
            std::string* value) const;

  // Forgets every cookie; keeps the memory for the next ones.
  void Clear() { size_ = 0; }

  // Cookies held, including expired ones not yet dropped.
  size_t size() const { return size_; }

 private:
  struct Cookie {
    // name, value, domain (lower case), path.
    std::string data;
    // Unix seconds; INT64_MAX for a session cookie, INT64_MIN when expired on
    // arrival.
    int64_t expiry = 0;
    // Order of creation (kept when replaced) and of the last Store, from
    // next_order_: ties within a second stay ordered.
    uint64_t created = 0;
    uint64_t stored = 0;
    uint16_t name_len = 0;
    uint16_t value_len = 0;
    uint16_t domain_len = 0;
    uint16_t path_len = 0;
    bool host_only = false;
    bool secure = false;
    bool http_only = false;

    std::string_view name() const { return {data.data(), name_len}; }
    std::string_view value() const {
      return {data.data() + name_len, value_len};
    }
    std::string_view domain() const {
      return {data.data() + name_len + value_len, domain_len};
    }
    std::string_view path() const {
      return {data.data() + name_len + value_len + domain_len, path_len};
    }
  };

  // Swaps slot i out of the live range, keeping its string for reuse.
  void Remove(size_t i);
  // A free slot, evicting when the jar is full.
  Cookie& TakeSlot(int64_t now_unix_s);

  // slots_[0, size_) are live, in no order; the rest are spare strings.
  std::vector<Cookie> slots_;
  size_t size_ = 0;
  uint64_t next_order_ = 0;
};

// RFC 6265 5.1.1: a cookie date, as Expires carries it ("Sun, 06 Nov 1994
// 08:49:37 GMT" and the looser forms browsers accept: "06-Nov-94 08:49:37",
// "Nov 6 08:49:37 1994"), in Unix seconds. The zone is always UTC, whatever
// the text says. False when it is not a date (no time, day, month or year in
// it, a year before 1601, a 31 April, ...).
bool ParseCookieDate(std::string_view text, int64_t* unix_s);

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_LOAD_COOKIE_JAR_H_
