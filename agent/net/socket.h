// Opening connections for every native engine: the agent's allow-list checked
// against the address a name resolved to, non-blocking TCP sockets, the
// plan's source addresses, and socket errors as error ids. Not thread-safe
// where stated.
#ifndef STAMPEDE_AGENT_NET_SOCKET_H_
#define STAMPEDE_AGENT_NET_SOCKET_H_

#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/allow_list.h"
#include "common/errors.h"

namespace stampede::agent::net {

class SourceAddresses;

// A non-blocking TCP socket (TCP_NODELAY) for a new connection to `addr`,
// which `host` (the URL's) resolved to: refused with kBlockedTarget when
// `allow` denies the address, else bound to the next of `local` (null or
// empty: the kernel's choice). kNone with *fd set, or why not.
common::ErrorId OpenSocket(const common::AllowList& allow,
                           std::string_view host, const sockaddr_storage& addr,
                           SourceAddresses* local, int* fd);

// The local (source) addresses new connections are bound to, in turn. Not
// thread-safe: one per transport.
class SourceAddresses {
 public:
  // IP literals; an error names the one that is not.
  absl::Status Set(const std::vector<std::string>& addresses);
  bool empty() const { return addresses_.empty(); }
  // Binds `fd` to the next address of `family` (IP_BIND_ADDRESS_NO_PORT, so
  // the port is chosen per 4-tuple at connect); kNone, or why not.
  common::ErrorId Bind(int fd, sa_family_t family);

 private:
  struct Address {
    sockaddr_storage addr{};
    socklen_t len = 0;
  };
  std::vector<Address> addresses_;
  size_t next_ = 0;
};

}  // namespace stampede::agent::net

#endif  // STAMPEDE_AGENT_NET_SOCKET_H_
