#include "agent/load/cookie_jar.h"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace stampede::agent {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr int64_t kAlreadyExpired = std::numeric_limits<int64_t>::min();

// ASCII only, by hand: the <cctype> functions depend on the locale, and absl
// wants its own string_view in this build.
char Lower(char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// RFC 6265bis 5.6: CTLs but HTAB make the whole set-cookie-string ignored.
bool IsForbiddenControl(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return (u < 0x20 && u != '\t') || u == 0x7f;
}

// WSP: space and tab (RFC 5234), what 5.2 trims around names and values.
std::string_view TrimWsp(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Hosts come as URLs write them; "[::1]" and "::1" are the same host.
std::string_view BareHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

// An IPv6 literal has a ':'; an IPv4 one ends in a label of digits, which no
// DNS top-level domain does (the WHATWG URL rule, without its number forms).
bool IsIpLiteral(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return true;
  const size_t dot = host.rfind('.');
  std::string_view last =
      dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  for (char c : last) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

// RFC 6265 5.1.3, with `domain` already lower case.
bool DomainMatch(std::string_view host, std::string_view domain) {
  if (EqualsIgnoreCase(host, domain)) return true;
  if (domain.empty() || host.size() <= domain.size()) return false;
  const size_t cut = host.size() - domain.size();
  return host[cut - 1] == '.' && EqualsIgnoreCase(host.substr(cut), domain) &&
         !IsIpLiteral(host);
}

// The path part of a request target: up to its query or fragment.
std::string_view UriPath(std::string_view target) {
  const size_t end = target.find_first_of("?#");
  return end == std::string_view::npos ? target : target.substr(0, end);
}

// RFC 6265 5.1.4 default-path.
std::string_view DefaultPath(std::string_view request_path) {
  std::string_view path = UriPath(request_path);
  if (path.empty() || path.front() != '/') return "/";
  const size_t last = path.rfind('/');
  if (last == 0) return "/";
  return path.substr(0, last);
}

// RFC 6265 5.1.4 path-match.
bool PathMatch(std::string_view request_path, std::string_view cookie_path) {
  if (request_path.size() < cookie_path.size() ||
      request_path.compare(0, cookie_path.size(), cookie_path) != 0) {
    return false;
  }
  return request_path.size() == cookie_path.size() ||
         cookie_path.back() == '/' || request_path[cookie_path.size()] == '/';
}

// Max-Age's value (5.2.2): an optional '-' and digits, else the attribute is
// ignored. Huge values saturate rather than wrap.
bool ParseMaxAge(std::string_view text, int64_t now_unix_s, int64_t* expiry) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  if (text.empty()) return false;
  int64_t delta = 0;
  for (char c : text) {
    if (!IsDigit(c)) return false;
    if (delta < kNever / 10 - 9) delta = delta * 10 + (c - '0');
  }
  if (negative || delta == 0) {
    *expiry = kAlreadyExpired;
  } else if (__builtin_add_overflow(now_unix_s, delta, expiry)) {
    *expiry = kNever;
  }
  return true;
}

// --- 5.1.1 dates ---

bool IsDateDelimiter(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u == 0x09 || (u >= 0x20 && u <= 0x2f) || (u >= 0x3b && u <= 0x40) ||
         (u >= 0x5b && u <= 0x60) || (u >= 0x7b && u <= 0x7e);
}

// Reads min..max digits of `token` from *i into *out.
bool ReadDigits(std::string_view token, size_t* i, size_t min, size_t max,
                int* out) {
  size_t n = 0;
  int v = 0;
  while (*i < token.size() && n < max && IsDigit(token[*i])) {
    v = v * 10 + (token[*i] - '0');
    ++*i;
    ++n;
  }
  *out = v;
  return n >= min;
}

// Each production's digits end the token or are followed by a non-digit and
// anything at all ("( non-digit *OCTET )").
bool DigitsEnd(std::string_view token, size_t i) {
  return i == token.size() || !IsDigit(token[i]);
}

bool MatchTime(std::string_view token, int* h, int* m, int* s) {
  size_t i = 0;
  if (!ReadDigits(token, &i, 1, 2, h)) return false;
  if (i >= token.size() || token[i++] != ':') return false;
  if (!ReadDigits(token, &i, 1, 2, m)) return false;
  if (i >= token.size() || token[i++] != ':') return false;
  return ReadDigits(token, &i, 1, 2, s) && DigitsEnd(token, i);
}

bool MatchNumber(std::string_view token, size_t min, size_t max, int* out) {
  size_t i = 0;
  return ReadDigits(token, &i, min, max, out) && DigitsEnd(token, i);
}

bool MatchMonth(std::string_view token, int* month) {
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr",
                                                 "may", "jun", "jul", "aug",
                                                 "sep", "oct", "nov", "dec"};
  if (token.size() < 3) return false;
  for (int m = 0; m < 12; ++m) {
    if (EqualsIgnoreCase(token.substr(0, 3), kMonths[m])) {
      *month = m + 1;
      return true;
    }
  }
  return false;
}

}  // namespace

bool ParseCookieDate(std::string_view text, int64_t* unix_s) {
  bool found_time = false, found_day = false, found_month = false,
       found_year = false;
  int hour = 0, minute = 0, second = 0, day = 0, month = 0, year = 0;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsDateDelimiter(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !IsDateDelimiter(text[i])) ++i;
    if (i == start) break;
    const std::string_view token = text.substr(start, i - start);
    if (!found_time && MatchTime(token, &hour, &minute, &second)) {
      found_time = true;
    } else if (!found_day && MatchNumber(token, 1, 2, &day)) {
      found_day = true;
    } else if (!found_month && MatchMonth(token, &month)) {
      found_month = true;
    } else if (!found_year && MatchNumber(token, 2, 4, &year)) {
      found_year = true;
    }
  }
  if (!found_time || !found_day || !found_month || !found_year) return false;
  if (year >= 70 && year <= 99) year += 1900;
  if (year >= 0 && year <= 69) year += 2000;
  if (day < 1 || day > 31 || year < 1601 || hour > 23 || minute > 59 ||
      second > 59) {
    return false;
  }
  // CivilSecond normalises 31 April to 1 May; such a day does not exist.
  const absl::CivilSecond when(year, month, day, hour, minute, second);
  if (when.day() != day) return false;
  *unix_s = absl::ToUnixSeconds(absl::FromCivil(when, absl::UTCTimeZone()));
  return true;
}

bool CookieJar::Store(std::string_view set_cookie, std::string_view host,
                      std::string_view request_path, bool secure,
                      int64_t now_unix_s) {
  host = BareHost(host);
  if (host.empty() || host.size() > kMaxHostBytes) return false;
  for (char c : set_cookie) {
    if (IsForbiddenControl(c)) return false;
  }

  // 5.2: the name-value-pair up to the first ';', attributes after it.
  const size_t semi = set_cookie.find(';');
  const std::string_view pair = set_cookie.substr(0, semi);
  std::string_view attributes = semi == std::string_view::npos
                                    ? std::string_view()
                                    : set_cookie.substr(semi);
  const size_t eq = pair.find('=');
  if (eq == std::string_view::npos) return false;
  const std::string_view name = TrimWsp(pair.substr(0, eq));
  const std::string_view value = TrimWsp(pair.substr(eq + 1));
  if (name.empty() || name.size() + value.size() > kMaxNameValueBytes) {
    return false;
  }

  // Attributes: the last valid one of each name counts (5.3).
  bool have_max_age = false, have_expires = false, have_domain = false,
       have_path = false, secure_only = false, http_only = false;
  int64_t max_age_expiry = 0, expires = 0;
  std::string_view domain, path;
  while (!attributes.empty()) {
    attributes.remove_prefix(1);  // the ';'
    const size_t next = attributes.find(';');
    const std::string_view av = attributes.substr(0, next);
    attributes = next == std::string_view::npos ? std::string_view()
                                                : attributes.substr(next);
    const size_t av_eq = av.find('=');
    const std::string_view av_name = TrimWsp(av.substr(0, av_eq));
    const std::string_view av_value = av_eq == std::string_view::npos
                                          ? std::string_view()
                                          : TrimWsp(av.substr(av_eq + 1));
    if (EqualsIgnoreCase(av_name, "expires")) {
      int64_t t = 0;
      if (ParseCookieDate(av_value, &t)) {
        have_expires = true;
        expires = t;
      }
    } else if (EqualsIgnoreCase(av_name, "max-age")) {
      have_max_age |= ParseMaxAge(av_value, now_unix_s, &max_age_expiry);
    } else if (EqualsIgnoreCase(av_name, "domain")) {
      // 5.2.3: an empty Domain is ignored; a leading dot means nothing.
      if (av_value.empty() || av_value.size() > kMaxAttributeBytes) continue;
      have_domain = true;
      domain = av_value.front() == '.' ? av_value.substr(1) : av_value;
    } else if (EqualsIgnoreCase(av_name, "path")) {
      if (av_value.size() > kMaxAttributeBytes) continue;
      have_path = true;
      path = av_value.empty() || av_value.front() != '/'
                 ? DefaultPath(request_path)
                 : av_value;
    } else if (EqualsIgnoreCase(av_name, "secure")) {
      secure_only = true;
    } else if (EqualsIgnoreCase(av_name, "httponly")) {
      http_only = true;
    }
  }
  if (secure_only && !secure) return false;

  // 5.3 steps 4-6: host-only unless a Domain the host domain-matches.
  bool host_only = true;
  std::string_view cookie_domain = host;
  if (have_domain && !domain.empty()) {
    if (IsIpLiteral(host)) {
      if (!EqualsIgnoreCase(domain, host)) return false;
    } else {
      if (!DomainMatch(host, domain)) return false;
      host_only = false;
      cookie_domain = domain;
    }
  }
  if (!have_path) path = DefaultPath(request_path);
  if (path.size() > kMaxAttributeBytes) return false;
  const int64_t expiry = have_max_age   ? max_age_expiry
                         : have_expires ? expires
                                        : kNever;

  // 5.3 step 11: the same name, domain and path replaces, keeping its
  // creation; an expired newcomer only removes.
  size_t old = size_;
  for (size_t i = 0; i < size_; ++i) {
    const Cookie& c = slots_[i];
    if (c.name() == name && c.path() == path &&
        EqualsIgnoreCase(c.domain(), cookie_domain)) {
      old = i;
      break;
    }
  }
  if (expiry <= now_unix_s) {
    if (old < size_) Remove(old);
    return true;
  }
  const uint64_t order = next_order_++;
  Cookie* slot = nullptr;
  if (old < size_) {
    slot = &slots_[old];
  } else {
    slot = &TakeSlot(now_unix_s);
    slot->created = order;
  }
  Cookie& c = *slot;
  c.stored = order;
  c.expiry = expiry;
  c.data.clear();
  c.data.append(name).append(value);
  for (char ch : cookie_domain) c.data.push_back(Lower(ch));
  c.data.append(path);
  c.name_len = static_cast<uint16_t>(name.size());
  c.value_len = static_cast<uint16_t>(value.size());
  c.domain_len = static_cast<uint16_t>(cookie_domain.size());
  c.path_len = static_cast<uint16_t>(path.size());
  c.host_only = host_only;
  c.secure = secure_only;
  c.http_only = http_only;
  return true;
}

size_t CookieJar::AppendCookieHeader(std::string_view host,
                                     std::string_view path, bool secure,
                                     int64_t now_unix_s,
                                     std::string* out) const {
  host = BareHost(host);
  std::string_view request_path = UriPath(path);
  if (request_path.empty()) request_path = "/";
  // 5.4 step 2's order, by insertion: the jar is small and bounded, and this
  // keeps the work on the stack.
  uint8_t picked[kMaxCookies];
  size_t n = 0;
  for (size_t i = 0; i < size_ && n < kMaxCookies; ++i) {
    const Cookie& c = slots_[i];
    if (c.expiry <= now_unix_s || (c.secure && !secure)) continue;
    if (c.host_only ? !EqualsIgnoreCase(host, c.domain())
                    : !DomainMatch(host, c.domain())) {
      continue;
    }
    if (!PathMatch(request_path, c.path())) continue;
    size_t at = n;
    while (at > 0) {
      const Cookie& prev = slots_[picked[at - 1]];
      const bool before =
          c.path_len > prev.path_len ||
          (c.path_len == prev.path_len && c.created < prev.created);
      if (!before) break;
      picked[at] = picked[at - 1];
      --at;
    }
    picked[at] = static_cast<uint8_t>(i);
    ++n;
  }
  for (size_t k = 0; k < n; ++k) {
    const Cookie& c = slots_[picked[k]];
    if (k > 0) out->append("; ");
    out->append(c.name()).append("=").append(c.value());
  }
  return n;
}

bool CookieJar::Find(std::string_view name, int64_t now_unix_s,
                     std::string* value) const {
  const Cookie* best = nullptr;
  for (size_t i = 0; i < size_; ++i) {
    const Cookie& c = slots_[i];
    if (c.name() != name || c.expiry <= now_unix_s) continue;
    if (best == nullptr || c.stored > best->stored) best = &c;
  }
  if (best == nullptr) return false;
  value->assign(best->value());
  return true;
}

void CookieJar::Remove(size_t i) {
  if (i + 1 != size_) std::swap(slots_[i], slots_[size_ - 1]);
  --size_;
}

CookieJar::Cookie& CookieJar::TakeSlot(int64_t now_unix_s) {
  if (size_ >= kMaxCookies) {
    for (size_t i = size_; i-- > 0;) {
      if (slots_[i].expiry <= now_unix_s) Remove(i);
    }
  }
  if (size_ >= kMaxCookies) {
    size_t oldest = 0;
    for (size_t i = 1; i < size_; ++i) {
      if (slots_[i].created < slots_[oldest].created) oldest = i;
    }
    Remove(oldest);
  }
  if (size_ == slots_.size()) slots_.emplace_back();
  return slots_[size_++];
}

}  // namespace stampede::agent
