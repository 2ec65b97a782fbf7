#include "agent/net/socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace stampede::agent::net {

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

}  // namespace stampede::agent::net
