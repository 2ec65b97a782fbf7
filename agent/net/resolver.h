// Name resolution for the native engines, asynchronous on a worker's event loop
// through c-ares. A name is looked up once, kept for its records' TTL (or the
// plan's override) and looked up again in the background when that runs out,
// while new connections go on using the addresses it had; a name that stops
// resolving has no address until it resolves again. New connections are spread
// over every address of a name. Numeric hosts and the plan's `hosts:` names
// never query. Not thread-safe: one per worker, used on its loop's thread.
#ifndef STAMPEDE_AGENT_NET_RESOLVER_H_
#define STAMPEDE_AGENT_NET_RESOLVER_H_

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/net/event_loop.h"

struct ares_channeldata;
struct ares_addrinfo;

namespace stampede::agent::net {

// The plan's `dns:` and `hosts:`.
struct DnsOptions {
  enum class Select : uint8_t { kRoundRobin, kFirst, kRandom };
  // kAuto: the IPv4 addresses when a name has any, else its IPv6 ones (so
  // "localhost" reaches a target listening on 127.0.0.1); kAny: all of them.
  enum class Family : uint8_t { kAuto, kIpv4, kIpv6, kAny };
  Select select = Select::kRoundRobin;
  Family family = Family::kAuto;
  // How long an answer is kept; < 0: the records' own TTL (at least kMinTtl).
  int64_t ttl_ns = -1;
  // Name -> IP literal: connections go there, the name stays for Host, SNI
  // and the certificate check. Names compare case-insensitively.
  std::vector<std::pair<std::string, std::string>> hosts;
  // Name servers ("IP" or "IP:PORT", IPv6 as "[IP]:PORT"); empty: the
  // system's (/etc/resolv.conf).
  std::vector<std::string> servers;
};

class Resolver {
 public:
  // The shortest time an answer is kept (a TTL of 0 would mean a lookup per
  // connection), and how soon a name that failed is tried again.
  static constexpr int64_t kMinTtlNs = 1'000'000'000;
  static constexpr int64_t kRetryNs = 1'000'000'000;
  // One query's time-out and tries, per name server.
  static constexpr int kQueryTimeoutMs = 2'000;
  static constexpr int kQueryTries = 2;
  static constexpr int64_t kNotTimed = -1;

  using Clock = std::function<int64_t()>;  // CLOCK_MONOTONIC ns

  // `loop` must outlive the resolver. `clock` decides when answers expire
  // (tests pass a fake one); c-ares keeps its own query time-outs. Fails on a
  // `hosts:` address or name server that is not an IP literal.
  static absl::StatusOr<std::unique_ptr<Resolver>> Create(
      EventLoop* loop, const DnsOptions& options = {}, Clock clock = {});
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // The id of `host` (a URL's host, without brackets), added once; a name is
  // looked up from the first DeadlineNs/OnDeadline or WaitForAnswers on.
  int Add(std::string_view host);

  // An address of `id` with `port` for a new connection, by the plan's
  // `select`; false when the name has none now (it failed, or has not been
  // answered yet): the connection fails with dns_failure. `lookup_ns` gets how
  // long the lookup that gave these addresses took, once per lookup (the first
  // connection to use its answer reports it), else kNotTimed.
  bool Pick(int id, uint16_t port, sockaddr_storage* addr, socklen_t* len,
            int64_t* lookup_ns);

  // Runs the loop until every name added so far has its first answer (or
  // failure), or `timeout_ns` passed: before the run starts, so that the first
  // sends find their addresses.
  void WaitForAnswers(int64_t timeout_ns);

  // When OnDeadline is next needed (c-ares' own time-outs, the next answer to
  // expire), on `clock`'s time base; 0 for never.
  int64_t DeadlineNs() const;
  // Handles c-ares' time-outs and looks up again the names whose answers
  // expired.
  void OnDeadline();

  // Every address `id` has now (port 0), in its records' order; none when it
  // failed or has no answer yet. For checks before the run (the guard), not
  // for connections.
  std::vector<std::pair<sockaddr_storage, socklen_t>> Addresses(int id) const;

  // For tests and the agent's report.
  size_t AddressCount(int id) const;
  const std::string& Host(int id) const;
  uint64_t lookups() const { return lookups_; }
  uint64_t failures() const { return failures_; }

 private:
  struct Address {
    sockaddr_storage addr{};  // port 0
    socklen_t len = 0;
  };
  struct Name {
    std::string host;
    std::vector<Address> addresses;
    bool fixed = false;      // numeric or from `hosts:`: never looked up
    bool answered = false;   // the first answer (or failure) came
    bool querying = false;   // a lookup is under way
    int64_t expires_ns = 0;  // look up again from then on (0: now)
    int64_t query_started_ns = 0;
    int64_t lookup_ns = kNotTimed;  // not reported yet
    size_t next = 0;                // round robin
  };
  struct Query;
  class SocketHandler;

  Resolver(EventLoop* loop, const DnsOptions& options, Clock clock);
  absl::Status Init();
  void StartLookups(int64_t now_ns);
  void Lookup(int id, int64_t now_ns);
  void OnAnswer(int id, int status, ares_addrinfo* result);
  void UpdateExpiry();
  static void OnSocketState(void* data, int fd, int readable, int writable);

  EventLoop* loop_;
  DnsOptions options_;
  Clock clock_;
  ares_channeldata* channel_ = nullptr;
  std::vector<Name> names_;
  std::vector<std::unique_ptr<SocketHandler>> sockets_;
  std::mt19937_64 rng_{0x5eed};
  // The earliest expires_ns of a name that is looked up and not under way;
  // INT64_MAX: none. Kept up to date wherever names_ change.
  int64_t next_expiry_ns_ = INT64_MAX;
  int in_flight_ = 0;
  uint64_t lookups_ = 0;
  uint64_t failures_ = 0;
};

}  // namespace stampede::agent::net

#endif  // STAMPEDE_AGENT_NET_RESOLVER_H_
