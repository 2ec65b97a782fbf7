// How every native engine opens a new connection: the name's next address
// from the resolver, the agent's allow-list checked against that address, a
// non-blocking socket bound to the plan's next source address. Not
// thread-safe: one per transport, on its worker's loop.
#ifndef STAMPEDE_AGENT_NET_DIALER_H_
#define STAMPEDE_AGENT_NET_DIALER_H_

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "agent/net/event_loop.h"
#include "agent/net/resolver.h"
#include "agent/net/socket.h"
#include "common/allow_list.h"
#include "common/errors.h"

namespace stampede::agent::net {

class Dialer {
 public:
  // How long Add waits for a name's first answer with a resolver of its own.
  static constexpr int64_t kOwnLookupWaitNs = 5'000'000'000;

  // `loop` must outlive the dialer.
  explicit Dialer(EventLoop* loop) : loop_(loop) {}

  // The worker's resolver, which it drives (DeadlineNs/OnDeadline) and waits
  // on before the run; call before the first Add. Without one the dialer
  // makes its own with default options, and Add waits for each name's answer
  // on the loop (a transport used alone, as in tests).
  void SetResolver(Resolver* resolver) { resolver_ = resolver; }
  void SetAllowList(const common::AllowList* allow) {
    allow_ = allow != nullptr ? allow : &common::AllowList::Default();
  }
  absl::Status SetLocalAddresses(const std::vector<std::string>& addresses) {
    return local_.Set(addresses);
  }

  // The resolver's id of `host`; -1 if no resolver could be made.
  int Add(std::string_view host);

  // A non-blocking socket for a new connection to name `name` on `port`
  // (`host` is the URL's, for the allow-list's patterns), and the address to
  // connect it to. kNone, kDnsFailure (the name has no address now),
  // kBlockedTarget, or a local error. `dns_ns` gets the lookup's duration when
  // this is the first connection to use its answer, else kNotTimed.
  common::ErrorId Open(int name, uint16_t port, std::string_view host, int* fd,
                       sockaddr_storage* addr, socklen_t* len, int64_t* dns_ns);

 private:
  EventLoop* loop_;
  Resolver* resolver_ = nullptr;
  std::unique_ptr<Resolver> own_;
  const common::AllowList* allow_ = &common::AllowList::Default();
  SourceAddresses local_;
};

// A URL's port (already checked by ParseUrl) as a number.
uint16_t PortOf(std::string_view port);

}  // namespace stampede::agent::net

#endif  // STAMPEDE_AGENT_NET_DIALER_H_
