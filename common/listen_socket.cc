#include "common/listen_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace stampede::common {
namespace {

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

std::string ListenAddress::ToString() const {
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text) {
  auto invalid = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected IPV4:PORT or [IPV6]:PORT with a numeric address, got '", text,
        "'"));
  };
  ListenAddress address;
  absl::string_view port;
  if (absl::StartsWith(text, "[")) {
    size_t close = text.find("]:");
    if (close == absl::string_view::npos) return invalid();
    address.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
    in6_addr addr6;
    if (inet_pton(AF_INET6, address.host.c_str(), &addr6) != 1)
      return invalid();
  } else {
    size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) return invalid();
    address.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    in_addr addr4;
    if (inet_pton(AF_INET, address.host.c_str(), &addr4) != 1) return invalid();
  }
  if (port.empty() || port.size() > 5) return invalid();
  for (char c : port) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return invalid();
  }
  if (!absl::SimpleAtoi(port, &address.port) || address.port > 65535)
    return invalid();
  return address;
}

absl::StatusOr<int> ListenOn(const ListenAddress& address,
                             const ListenOptions& options) {
  sockaddr_storage storage = {};
  socklen_t len;
  int family;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
      inet_pton(AF_INET, address.host.c_str(), &v4->sin_addr) == 1) {
    family = v4->sin_family = AF_INET;
    v4->sin_port = htons(address.port);
    len = sizeof(*v4);
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
             inet_pton(AF_INET6, address.host.c_str(), &v6->sin6_addr) == 1) {
    family = v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(address.port);
    len = sizeof(*v6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("not a numeric address: ", address.host));
  }
  int fd = socket(
      family,
      SOCK_STREAM | SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0),
      0);
  if (fd < 0) return ErrnoError("socket");
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      (options.reuse_port &&
       setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
      (family == AF_INET6 &&
       setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)) {
    absl::Status status = ErrnoError("setsockopt");
    close(fd);
    return status;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), len) != 0) {
    absl::Status status = ErrnoError(absl::StrCat("bind ", address.ToString()));
    close(fd);
    return status;
  }
  if (listen(fd, options.backlog) != 0) {
    absl::Status status = ErrnoError("listen");
    close(fd);
    return status;
  }
  return fd;
}

absl::StatusOr<int> BoundPort(int fd) {
  sockaddr_storage storage = {};
  socklen_t len = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0) {
    return ErrnoError("getsockname");
  }
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
}

absl::StatusOr<int> ListenForFlag(absl::string_view flag,
                                  const std::string& where,
                                  ListenAddress* bound) {
  std::string text = where;
  if (where.find(':') == std::string::npos) {
    text = absl::StrCat("127.0.0.1:", where);
  } else if (absl::StartsWith(where, ":")) {
    text = absl::StrCat("127.0.0.1", where);
  } else if (absl::StartsWith(where, "localhost:")) {
    text = absl::StrCat("127.0.0.1", where.substr(9));
  }
  absl::StatusOr<ListenAddress> address = ParseListenAddress(text);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", where, ": ", address.status().message(),
                     " (or a bare PORT for 127.0.0.1)"));
  }
  absl::StatusOr<int> fd = ListenOn(*address);
  if (!fd.ok()) {
    return absl::UnavailableError(absl::StrCat(
        flag, " ", where, ": cannot listen there: ", fd.status().message()));
  }
  absl::StatusOr<int> port = BoundPort(*fd);
  if (!port.ok()) {
    close(*fd);
    return port.status();
  }
  address->port = *port;
  *bound = *address;
  return *fd;
}

}  // namespace stampede::common
