#include "agent/net/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace stampede::agent::net {
namespace {

// c-ares' global state, set up once per process.
void InitLibrary() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

// An IP literal (IPv6 without brackets) as an address with port 0.
bool ParseIp(const std::string& text, sockaddr_storage* addr, socklen_t* len) {
  std::memset(addr, 0, sizeof(*addr));
  auto* v4 = reinterpret_cast<sockaddr_in*>(addr);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(addr);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// "IP", "IP:PORT" or "[IPv6]:PORT" as c-ares' CSV form takes it; the IP is
// checked here so that a typo is named.
absl::StatusOr<std::string> ServerEntry(const std::string& server) {
  std::string ip = server;
  if (!server.empty() && server.front() == '[') {
    const size_t close = server.find(']');
    if (close == std::string::npos)
      return absl::InvalidArgumentError(
          absl::StrCat("dns server ", server, ": no closing ']'"));
    ip = server.substr(1, close - 1);
  } else if (std::count(server.begin(), server.end(), ':') == 1) {
    ip = server.substr(0, server.find(':'));
  }
  sockaddr_storage addr;
  socklen_t len;
  if (!ParseIp(ip, &addr, &len))
    return absl::InvalidArgumentError(
        absl::StrCat("dns server ", server, " is not an IP address"));
  return server;
}

}  // namespace

// One c-ares socket registered with the loop.
class Resolver::SocketHandler final : public EventLoop::Handler {
 public:
  SocketHandler(Resolver* owner, int fd) : owner_(owner), fd_(fd) {}
  void OnEvents(int fd, uint32_t events) override {
    const bool in = (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0;
    const bool out = (events & EPOLLOUT) != 0;
    ares_process_fd(owner_->channel_, in ? fd : ARES_SOCKET_BAD,
                    out ? fd : ARES_SOCKET_BAD);
  }
  int fd() const { return fd_; }

 private:
  Resolver* owner_;
  int fd_;
};

// What a lookup's callback needs: the resolver and the name's id.
struct Resolver::Query {
  Resolver* owner;
  int id;
};

absl::StatusOr<std::unique_ptr<Resolver>> Resolver::Create(
    EventLoop* loop, const DnsOptions& options, Clock clock) {
  std::unique_ptr<Resolver> r(new Resolver(loop, options, std::move(clock)));
  if (absl::Status s = r->Init(); !s.ok()) return s;
  return r;
}

Resolver::Resolver(EventLoop* loop, const DnsOptions& options, Clock clock)
    : loop_(loop),
      options_(options),
      clock_(clock ? std::move(clock) : Clock(&EventLoop::MonoNowNs)) {}

absl::Status Resolver::Init() {
  for (const auto& [name, ip] : options_.hosts) {
    sockaddr_storage addr;
    socklen_t len;
    if (!ParseIp(ip, &addr, &len))
      return absl::InvalidArgumentError(
          absl::StrCat("hosts: ", name, " -> ", ip, " is not an IP address"));
  }
  std::vector<std::string> servers;
  for (const std::string& server : options_.servers) {
    auto entry = ServerEntry(server);
    if (!entry.ok()) return entry.status();
    servers.push_back(*entry);
  }
  InitLibrary();
  ares_options opts{};
  opts.sock_state_cb = &Resolver::OnSocketState;
  opts.sock_state_cb_data = this;
  opts.timeout = kQueryTimeoutMs;
  opts.tries = kQueryTries;
  const int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  if (int rc = ares_init_options(&channel_, &opts, mask); rc != ARES_SUCCESS)
    return absl::InternalError(
        absl::StrCat("dns: c-ares did not start: ", ares_strerror(rc)));
  if (!servers.empty()) {
    const std::string csv = absl::StrJoin(servers, ",");
    if (int rc = ares_set_servers_ports_csv(channel_, csv.c_str());
        rc != ARES_SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("dns servers ", csv, ": ", ares_strerror(rc)));
    }
  }
  return absl::OkStatus();
}

Resolver::~Resolver() {
  // Pending callbacks run with ARES_EDESTRUCTION; they only touch names_.
  if (channel_ != nullptr) ares_destroy(channel_);
}

void Resolver::OnSocketState(void* data, int fd, int readable, int writable) {
  auto* self = static_cast<Resolver*>(data);
  auto it = std::find_if(
      self->sockets_.begin(), self->sockets_.end(),
      [fd](const std::unique_ptr<SocketHandler>& h) { return h->fd() == fd; });
  if (!readable && !writable) {
    if (it != self->sockets_.end()) {
      self->loop_->Remove(fd);
      self->sockets_.erase(it);
    }
    return;
  }
  // Level-triggered: c-ares reads only what it needs per call.
  const uint32_t events =
      (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
  if (it == self->sockets_.end()) {
    self->sockets_.push_back(std::make_unique<SocketHandler>(self, fd));
    self->loop_->Add(fd, events, self->sockets_.back().get());
  } else {
    self->loop_->Modify(fd, events, it->get());
  }
}

namespace {
bool SameName(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(absl::string_view(a.data(), a.size()),
                                absl::string_view(b.data(), b.size()));
}
}  // namespace

int Resolver::Add(std::string_view host) {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (SameName(names_[i].host, host)) return static_cast<int>(i);
  }
  Name& n = names_.emplace_back();
  n.host = std::string(host);
  Address a;
  for (const auto& [name, ip] : options_.hosts) {
    if (SameName(name, host) && ParseIp(ip, &a.addr, &a.len)) {
      n.addresses.push_back(a);
    }
  }
  if (n.addresses.empty() && ParseIp(n.host, &a.addr, &a.len))
    n.addresses.push_back(a);
  n.fixed = !n.addresses.empty();
  n.answered = n.fixed;
  n.expires_ns = 0;
  if (!n.fixed) next_expiry_ns_ = 0;  // look it up at the next chance
  return static_cast<int>(names_.size() - 1);
}

std::vector<std::pair<sockaddr_storage, socklen_t>> Resolver::Addresses(
    int id) const {
  std::vector<std::pair<sockaddr_storage, socklen_t>> out;
  for (const Address& a : names_[static_cast<size_t>(id)].addresses)
    out.emplace_back(a.addr, a.len);
  return out;
}

bool Resolver::Pick(int id, uint16_t port, sockaddr_storage* addr,
                    socklen_t* len, int64_t* lookup_ns) {
  Name& n = names_[static_cast<size_t>(id)];
  *lookup_ns = kNotTimed;
  if (n.addresses.empty()) return false;
  size_t index = 0;
  switch (options_.select) {
    case DnsOptions::Select::kFirst:
      break;
    case DnsOptions::Select::kRoundRobin:
      index = n.next++ % n.addresses.size();
      break;
    case DnsOptions::Select::kRandom:
      index = std::uniform_int_distribution<size_t>(
          0, n.addresses.size() - 1)(rng_);
      break;
  }
  const Address& a = n.addresses[index];
  *addr = a.addr;
  *len = a.len;
  if (addr->ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(addr)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(addr)->sin6_port = htons(port);
  }
  *lookup_ns = n.lookup_ns;
  n.lookup_ns = kNotTimed;
  return true;
}

void Resolver::Lookup(int id, int64_t now_ns) {
  Name& n = names_[static_cast<size_t>(id)];
  n.querying = true;
  n.query_started_ns = EventLoop::MonoNowNs();
  ++in_flight_;
  ++lookups_;
  ares_addrinfo_hints hints{};
  switch (options_.family) {
    case DnsOptions::Family::kIpv4:
      hints.ai_family = AF_INET;
      break;
    case DnsOptions::Family::kIpv6:
      hints.ai_family = AF_INET6;
      break;
    default:
      hints.ai_family = AF_UNSPEC;
  }
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = ARES_AI_NOSORT;  // the server's order: `first` means it
  auto* query = new Query{this, id};
  ares_getaddrinfo(
      channel_, n.host.c_str(), nullptr, &hints,
      [](void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
        std::unique_ptr<Query> q(static_cast<Query*>(arg));
        if (status == ARES_EDESTRUCTION) {
          if (result != nullptr) ares_freeaddrinfo(result);
          return;
        }
        q->owner->OnAnswer(q->id, status, result);
      },
      query);
}

void Resolver::OnAnswer(int id, int status, ares_addrinfo* result) {
  Name& n = names_[static_cast<size_t>(id)];
  --in_flight_;
  n.querying = false;
  n.answered = true;
  const int64_t now = clock_();
  std::vector<Address> v4, v6;
  int64_t ttl_s = INT64_MAX;
  if (status == ARES_SUCCESS && result != nullptr) {
    for (const ares_addrinfo_node* node = result->nodes; node != nullptr;
         node = node->ai_next) {
      if (node->ai_addrlen > sizeof(sockaddr_storage)) continue;
      Address a;
      std::memcpy(&a.addr, node->ai_addr, node->ai_addrlen);
      a.len = node->ai_addrlen;
      if (node->ai_family == AF_INET) {
        reinterpret_cast<sockaddr_in*>(&a.addr)->sin_port = 0;
      } else if (node->ai_family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(&a.addr)->sin6_port = 0;
      } else {
        continue;
      }
      auto& list = node->ai_family == AF_INET ? v4 : v6;
      // c-ares lists an address once per socket type asked for; once is enough.
      const bool seen =
          std::any_of(list.begin(), list.end(), [&](const Address& b) {
            return b.len == a.len && std::memcmp(&b.addr, &a.addr, a.len) == 0;
          });
      if (!seen) list.push_back(a);
      ttl_s = std::min<int64_t>(ttl_s, std::max(0, node->ai_ttl));
    }
  }
  if (result != nullptr) ares_freeaddrinfo(result);
  std::vector<Address> addresses;
  switch (options_.family) {
    case DnsOptions::Family::kAuto:
      addresses = !v4.empty() ? std::move(v4) : std::move(v6);
      break;
    case DnsOptions::Family::kIpv4:
      addresses = std::move(v4);
      break;
    case DnsOptions::Family::kIpv6:
      addresses = std::move(v6);
      break;
    case DnsOptions::Family::kAny:
      addresses = std::move(v4);
      addresses.insert(addresses.end(), v6.begin(), v6.end());
      break;
  }
  if (addresses.empty()) {
    // NXDOMAIN, a time-out, or no address of the family asked for: new
    // connections fail with dns_failure until it resolves again.
    ++failures_;
    n.addresses.clear();
    n.expires_ns = now + kRetryNs;
  } else {
    n.addresses = std::move(addresses);
    int64_t keep = options_.ttl_ns;
    if (keep < 0) {
      keep = std::max<int64_t>(kMinTtlNs,
                               ttl_s == INT64_MAX ? 0 : ttl_s * 1'000'000'000);
    }
    n.expires_ns = keep == INT64_MAX ? INT64_MAX : now + keep;
    n.lookup_ns = EventLoop::MonoNowNs() - n.query_started_ns;
  }
  UpdateExpiry();
}

void Resolver::UpdateExpiry() {
  next_expiry_ns_ = INT64_MAX;
  for (const Name& n : names_) {
    if (n.fixed || n.querying) continue;
    next_expiry_ns_ = std::min(next_expiry_ns_, n.expires_ns);
  }
}

void Resolver::StartLookups(int64_t now_ns) {
  if (now_ns < next_expiry_ns_) return;
  for (size_t i = 0; i < names_.size(); ++i) {
    const Name& n = names_[i];
    if (n.fixed || n.querying || n.expires_ns > now_ns) continue;
    Lookup(static_cast<int>(i), now_ns);
  }
  UpdateExpiry();
}

int64_t Resolver::DeadlineNs() const {
  int64_t due = next_expiry_ns_;
  if (in_flight_ > 0) {
    timeval tv{};
    if (ares_timeout(channel_, nullptr, &tv) != nullptr) {
      due = std::min(due, clock_() + int64_t{tv.tv_sec} * 1'000'000'000 +
                              int64_t{tv.tv_usec} * 1000);
    }
  }
  return due == INT64_MAX ? 0 : std::max<int64_t>(due, 1);
}

void Resolver::OnDeadline() {
  if (in_flight_ > 0)
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  StartLookups(clock_());
}

void Resolver::WaitForAnswers(int64_t timeout_ns) {
  const int64_t give_up = EventLoop::MonoNowNs() + timeout_ns;
  StartLookups(clock_());
  auto waiting = [this] {
    return std::any_of(names_.begin(), names_.end(),
                       [](const Name& n) { return !n.answered; });
  };
  while (waiting()) {
    const int64_t now = EventLoop::MonoNowNs();
    if (now >= give_up) break;
    int64_t wake = give_up;
    if (in_flight_ > 0) {
      timeval tv{};
      if (ares_timeout(channel_, nullptr, &tv) != nullptr)
        wake = std::min(wake, now + int64_t{tv.tv_sec} * 1'000'000'000 +
                                  int64_t{tv.tv_usec} * 1000);
    }
    loop_->SetDeadline(std::max(wake, now + 1));
    loop_->RunOnce();
    if (in_flight_ > 0)
      ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  }
  loop_->SetDeadline(0);
}

size_t Resolver::AddressCount(int id) const {
  return names_[static_cast<size_t>(id)].addresses.size();
}

const std::string& Resolver::Host(int id) const {
  return names_[static_cast<size_t>(id)].host;
}

}  // namespace stampede::agent::net
