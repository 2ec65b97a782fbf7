// What the native HTTP/1.1 engine makes of a plan request before the run:
// its URL taken apart, its bytes on the wire, its address. Pure functions
// (Resolve may block on DNS); thread-safe.
#ifndef STAMPEDE_AGENT_HTTP1_REQUEST_H_
#define STAMPEDE_AGENT_HTTP1_REQUEST_H_

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "agent/transport.h"
#include "common/allow_list.h"
#include "common/errors.h"

namespace stampede::agent::http1 {

struct Url {
  bool https = false;
  std::string host;  // without brackets
  bool bracketed = false;
  std::string port;
  std::string authority;  // as written, for the Host header
  std::string target;     // path and query
};

// RFC 9110 token characters, for methods and header names.
bool IsToken(std::string_view s);
// Without leading and trailing spaces and tabs.
std::string_view TrimSpace(std::string_view s);

// An http:// or https:// URL without credentials, or nullopt.
std::optional<Url> ParseUrl(std::string_view url);

// The request's bytes as they go on the wire, or nullopt if it cannot be
// written safely. Header lists follow libcurl's conventions, as the curl
// transport does: "Name:" suppresses a header we would add, "Name;" sends it
// empty. Like the curl transport, GET and HEAD carry no body.
std::optional<std::string> Serialize(const PreparedRequest& request,
                                     const Url& url);

// A numeric IPv4/IPv6 host or "localhost": no name service needed.
bool IsNumericHost(const Url& url);

// Blocking. Prefers an IPv4 address when the name has both, so "localhost"
// reaches a target listening on 127.0.0.1.
bool Resolve(const Url& url, sockaddr_storage* addr, socklen_t* len);

bool SameAddress(const sockaddr_storage& a, const sockaddr_storage& b);

class SourceAddresses;

// A non-blocking TCP socket (TCP_NODELAY) for a new connection to `addr`,
// which `host` (the URL's) resolved to: refused with kBlockedTarget when
// `allow` denies the address, else bound to the next of `local` (null or
// empty: the kernel's choice). kNone with *fd set, or why not. For every
// native engine.
common::ErrorId OpenSocket(const common::AllowList& allow,
                           std::string_view host, const sockaddr_storage& addr,
                           SourceAddresses* local, int* fd);

// The local (source) addresses new connections are bound to, in turn; for
// every native engine. Not thread-safe: one per transport.
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

}  // namespace stampede::agent::http1

#endif  // STAMPEDE_AGENT_HTTP1_REQUEST_H_
