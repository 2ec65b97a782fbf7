#include "agent/net/url.h"

#include <netinet/in.h>

#include "absl/strings/ascii.h"

namespace stampede::agent::net {
namespace {

// ASCII case-insensitive equality with `lower`, already lower case.
bool IsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(s[i])) != lower[i])
      return false;
  }
  return true;
}

}  // namespace

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') ||
        std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::optional<Url> ParseUrl(std::string_view url) {
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  }
  Url out;
  if (url.size() >= 7 && IsLower(url.substr(0, 7), "http://")) {
    url.remove_prefix(7);
    out.port = std::string("80");
  } else if (url.size() >= 8 && IsLower(url.substr(0, 8), "https://")) {
    url.remove_prefix(8);
    out.https = true;
    out.port = std::string("443");
  } else {
    return std::nullopt;
  }
  size_t end = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, end);
  std::string_view rest =
      end == std::string_view::npos ? std::string_view() : url.substr(end);
  // Credentials in the URL would need an auth scheme: not this engine's job.
  if (authority.empty() || authority.find('@') != std::string_view::npos)
    return std::nullopt;
  std::string_view host, port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
    out.bracketed = true;
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (port.find(':') != std::string_view::npos) return std::nullopt;
  }
  if (host.empty()) return std::nullopt;
  if (!port.empty()) {
    if (port.size() > 5) return std::nullopt;
    int value = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return std::nullopt;
    out.port = std::string(port);
  }
  out.host = std::string(host);
  out.authority = std::string(authority);
  rest = rest.substr(0, rest.find('#'));
  // Temporaries, not assignments from literals: GCC 12 -O3 warns falsely
  // (-Wrestrict) about those in this function.
  if (rest.empty()) {
    out.target = std::string("/");
  } else if (rest.front() == '?') {
    out.target.assign(1, '/').append(rest);
  } else {
    out.target = std::string(rest);
  }
  return out;
}

}  // namespace stampede::agent::net
