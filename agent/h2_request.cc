#include "agent/h2_request.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>
#include <optional>
#include <string_view>

namespace stampede::agent {
namespace {

using common::ErrorId;

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

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

struct Url {
  bool https = false;
  std::string host;  // without brackets
  bool bracketed = false;
  std::string port;       // empty: the scheme's
  std::string authority;  // as written
  std::string path;       // path and query
};

// An http:// or https:// URL, or why not.
std::optional<Url> ParseUrl(std::string_view url, std::string* why) {
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      *why = "a URL must not contain spaces or control characters";
      return std::nullopt;
    }
  }
  Url out;
  out.https = Lower(url.substr(0, 8)) == "https://";
  if (!out.https && Lower(url.substr(0, 7)) != "http://") {
    *why = "not an http:// or https:// URL";
    return std::nullopt;
  }
  url.remove_prefix(out.https ? 8 : 7);
  size_t end = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, end);
  std::string_view rest =
      end == std::string_view::npos ? std::string_view() : url.substr(end);
  *why = "a URL needs a host and may not carry credentials";
  if (authority.empty() || authority.find('@') != std::string_view::npos)
    return std::nullopt;
  std::string_view host = authority, port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return std::nullopt;
    if (!after.empty()) port = after.substr(1);
    out.bracketed = true;
  } else if (size_t colon = authority.find(':');
             colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  if (!port.empty()) {
    *why = "bad port";
    int value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) return std::nullopt;
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return std::nullopt;
    out.port = std::string(port);
  } else {
    out.port = out.https ? "443" : "80";
  }
  out.host = std::string(host);
  out.authority = std::string(authority);
  rest = rest.substr(0, rest.find('#'));
  // "" and "?q" get the root path in front. (Not "/" + std::string(rest):
  // GCC 12 warns falsely about that here, -Wrestrict.)
  out.path.assign(rest.data(), rest.size());
  if (out.path.empty() || out.path.front() == '?')
    out.path.insert(out.path.begin(), '/');
  why->clear();
  return out;
}

bool IsNumericHost(const Url& url) {
  unsigned char buf[sizeof(in6_addr)];
  if (url.bracketed) return inet_pton(AF_INET6, url.host.c_str(), buf) == 1;
  return Lower(url.host) == "localhost" ||
         inet_pton(AF_INET, url.host.c_str(), buf) == 1;
}

// Blocking. Prefers IPv4, so "localhost" reaches a target on 127.0.0.1.
bool Resolve(const Url& url, sockaddr_storage* addr, socklen_t* len) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* result = nullptr;
  if (getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &result) != 0)
    return false;
  const addrinfo* pick = nullptr;
  for (const addrinfo* a = result; a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    if (pick == nullptr ||
        (a->ai_family == AF_INET && pick->ai_family != AF_INET)) {
      pick = a;
    }
  }
  bool ok = pick != nullptr && pick->ai_addrlen <= sizeof(*addr);
  if (ok) {
    std::memset(addr, 0, sizeof(*addr));
    std::memcpy(addr, pick->ai_addr, pick->ai_addrlen);
    *len = pick->ai_addrlen;
  }
  freeaddrinfo(result);
  return ok;
}

// The header block as (lower-case name, value) pairs, pseudo-headers first,
// or why the request cannot go as HTTP/2. Header lists follow libcurl's
// conventions like the other engines: "Name:" suppresses a header, "Name;"
// sends it empty. GET and HEAD carry no body.
std::optional<std::vector<std::pair<std::string, std::string>>> HeaderBlock(
    const PreparedRequest& request, const Url& url, std::string* why) {
  const std::string method = request.method.empty() ? "GET" : request.method;
  if (!IsToken(method)) {
    *why = "bad method";
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {":method", method},
      {":scheme", url.https ? "https" : "http"},
      {":authority", url.authority},
      {":path", url.path}};
  bool length_given = false;
  for (const std::string& h : request.headers) {
    *why = "bad header \"" + h + "\"";
    if (h.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      return std::nullopt;
    size_t colon = h.find(':');
    std::string_view name, value;
    bool empty = false;
    if (colon == std::string::npos) {
      if (h.empty() || h.back() != ';') return std::nullopt;
      name = std::string_view(h).substr(0, h.size() - 1);
      empty = true;
    } else {
      name = std::string_view(h).substr(0, colon);
      value = Trim(std::string_view(h).substr(colon + 1));
    }
    if (!IsToken(name)) return std::nullopt;
    if (!empty && value.empty()) continue;
    std::string lower = Lower(name);
    if (lower == "host") {
      fields[2].second = std::string(value);
      continue;
    }
    // Connection-specific fields are not allowed in HTTP/2 (RFC 9113 8.2.2).
    if (lower == "connection" || lower == "keep-alive" ||
        lower == "proxy-connection" || lower == "transfer-encoding" ||
        lower == "upgrade" || (lower == "te" && value != "trailers")) {
      continue;
    }
    if (lower == "content-length") length_given = true;
    fields.emplace_back(std::move(lower), std::string(value));
  }
  const bool bodyless = method == "GET" || method == "HEAD";
  if (!bodyless && !length_given)
    fields.emplace_back("content-length", std::to_string(request.body.size()));
  why->clear();
  return fields;
}

}  // namespace

std::string H2Unsupported(const PreparedRequest& request) {
  std::string why;
  std::optional<Url> url = ParseUrl(request.url, &why);
  if (!url) return why;
  if (!IsNumericHost(*url)) return "the host must be numeric or localhost";
  HeaderBlock(request, *url, &why);
  return why;
}

ErrorId BuildH2Request(const PreparedRequest& request, H2Request* out) {
  std::string why;
  std::optional<Url> url = ParseUrl(request.url, &why);
  if (!url || !IsNumericHost(*url)) return ErrorId::kTransportOther;
  auto fields = HeaderBlock(request, *url, &why);
  if (!fields) return ErrorId::kTransportOther;
  out->fields = std::move(*fields);
  out->nva.clear();
  for (auto& [name, value] : out->fields) {
    out->nva.push_back(nghttp2_nv{
        reinterpret_cast<uint8_t*>(name.data()),
        reinterpret_cast<uint8_t*>(value.data()), name.size(), value.size(),
        NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE});
  }
  const std::string& method = out->fields[0].second;
  out->has_body = method != "GET" && method != "HEAD" && !request.body.empty();
  out->body = out->has_body ? request.body : std::string();
  out->https = url->https;
  out->host = url->host;
  if (!Resolve(*url, &out->addr, &out->addr_len)) return ErrorId::kDnsFailure;
  return ErrorId::kNone;
}

}  // namespace stampede::agent
