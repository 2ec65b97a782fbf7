#include "agent/http1/request.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/http1/parser.h"

namespace stampede::agent::http1 {

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
  if (url.size() >= 7 && EqualsIgnoreCase(url.substr(0, 7), "http://")) {
    url.remove_prefix(7);
    out.port = std::string("80");
  } else if (url.size() >= 8 &&
             EqualsIgnoreCase(url.substr(0, 8), "https://")) {
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

std::optional<std::string> Serialize(const PreparedRequest& request,
                                     const Url& url) {
  std::string method = request.method.empty() ? "GET" : request.method;
  if (!IsToken(method)) return std::nullopt;
  bool host_given = false, length_given = false;
  std::string headers;
  for (const std::string& h : request.headers) {
    if (h.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      return std::nullopt;
    size_t colon = h.find(':');
    if (colon == std::string::npos) {
      if (!h.empty() && h.back() == ';' &&
          IsToken(std::string_view(h).substr(0, h.size() - 1))) {
        headers.append(h, 0, h.size() - 1).append(":\r\n");
        continue;
      }
      return std::nullopt;
    }
    std::string_view name = std::string_view(h).substr(0, colon);
    if (!IsToken(name)) return std::nullopt;
    std::string_view value = TrimSpace(std::string_view(h).substr(colon + 1));
    if (EqualsIgnoreCase(name, "host")) host_given = true;
    if (EqualsIgnoreCase(name, "content-length") ||
        EqualsIgnoreCase(name, "transfer-encoding")) {
      length_given = true;
    }
    if (value.empty()) continue;
    headers.append(name).append(": ").append(value).append("\r\n");
  }
  const bool bodyless = method == "GET" || method == "HEAD";
  std::string_view body = bodyless ? std::string_view() : request.body;
  std::string wire;
  wire.reserve(64 + url.target.size() + url.authority.size() + headers.size() +
               body.size());
  wire.append(method).append(" ").append(url.target).append(" HTTP/1.1\r\n");
  if (!host_given) wire.append("Host: ").append(url.authority).append("\r\n");
  wire.append(headers);
  if (!request.keep_alive) wire.append("Connection: close\r\n");
  if (!length_given && !bodyless) {
    wire.append("Content-Length: ")
        .append(std::to_string(body.size()))
        .append("\r\n");
  }
  wire.append("\r\n").append(body);
  return wire;
}

bool IsNumericHost(const Url& url) {
  unsigned char buf[sizeof(in6_addr)];
  if (url.bracketed) return inet_pton(AF_INET6, url.host.c_str(), buf) == 1;
  return EqualsIgnoreCase(url.host, "localhost") ||
         inet_pton(AF_INET, url.host.c_str(), buf) == 1;
}

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

bool SameAddress(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
  const auto& y = reinterpret_cast<const sockaddr_in6&>(b);
  return x.sin6_port == y.sin6_port && x.sin6_scope_id == y.sin6_scope_id &&
         std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof(in6_addr)) == 0;
}

common::ErrorId OpenSocket(const common::AllowList& allow,
                           std::string_view host, const sockaddr_storage& addr,
                           SourceAddresses* local, int* fd) {
  // After DNS (done at Prepare), before any byte goes out.
  if (allow.Check(absl::string_view(host.data(), host.size()),
                  reinterpret_cast<const sockaddr*>(&addr)))
    return common::ErrorId::kBlockedTarget;
  const int s =
      socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) {
    return (errno == EMFILE || errno == ENFILE) ? common::ErrorId::kLocalEmfile
                                                : common::ErrorId::kLocalOther;
  }
  int one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (local != nullptr && !local->empty()) {
    if (const common::ErrorId error = local->Bind(s, addr.ss_family);
        error != common::ErrorId::kNone) {
      close(s);
      return error;
    }
  }
  *fd = s;
  return common::ErrorId::kNone;
}

absl::Status SourceAddresses::Set(const std::vector<std::string>& addresses) {
  addresses_.clear();
  for (const std::string& text : addresses) {
    Address a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.addr);
    if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      a.len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      a.len = sizeof(sockaddr_in6);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("local address ", text, " is not an IP address"));
    }
    addresses_.push_back(a);
  }
  return absl::OkStatus();
}

common::ErrorId SourceAddresses::Bind(int fd, sa_family_t family) {
  for (size_t i = 0; i < addresses_.size(); ++i) {
    const Address& a = addresses_[next_++ % addresses_.size()];
    if (a.addr.ss_family != family) continue;
    // The port is chosen at connect, for the whole 4-tuple: more than ~28k
    // connections per source address to different targets.
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (bind(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) != 0)
      return common::ErrorIdFromErrno(errno, common::ErrorId::kLocalOther);
    return common::ErrorId::kNone;
  }
  return common::ErrorId::kLocalEaddrnotavail;  // none of the target's family
}

}  // namespace stampede::agent::http1
