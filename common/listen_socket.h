// A numeric address to listen on and the listening TCP socket for it, shared
// by the controller's /metrics and dashboard servers and the reference target.
#ifndef STAMPEDE_COMMON_LISTEN_SOCKET_H_
#define STAMPEDE_COMMON_LISTEN_SOCKET_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stampede::common {

// e.g. "127.0.0.1:8080" or "[::1]:0" (port 0 = any free port).
struct ListenAddress {
  std::string host;  // IPv4 or IPv6 literal, without brackets.
  int port = 0;

  std::string ToString() const;  // "127.0.0.1:8080" or "[::1]:8080".
};

// IPV4:PORT or [IPV6]:PORT, numeric only.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

struct ListenOptions {
  int backlog = 64;
  bool nonblocking = false;
  bool reuse_port = false;  // SO_REUSEPORT: several sockets share the port
};

// A bound, listening socket (SO_REUSEADDR, close-on-exec; IPv6 sockets are
// v6-only). Errors name the call that failed.
absl::StatusOr<int> ListenOn(const ListenAddress& address,
                             const ListenOptions& options = {});

// The port a socket is bound to.
absl::StatusOr<int> BoundPort(int fd);

// The listening socket of a controller's local HTTP server flag
// (--metrics-listen, --dashboard-listen): `where` is HOST:PORT, [V6]:PORT, or
// PORT, :PORT or localhost:PORT for 127.0.0.1 (loopback by default). Fills
// `bound` (its port too, when 0 asked for any). Errors name `flag`:
// InvalidArgument for an address it cannot read, Unavailable when it cannot
// listen there.
absl::StatusOr<int> ListenForFlag(absl::string_view flag,
                                  const std::string& where,
                                  ListenAddress* bound);

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_LISTEN_SOCKET_H_
