// An agent owner's list of targets the agent may load (`--allow-targets`):
// CIDR or host-pattern rules, each with a port range, plus the addresses that
// are always denied unless a rule names them (link-local, cloud metadata).
// Pure and immutable once parsed; thread-safe. Check allocates only to say why
// it denies.
#ifndef STAMPEDE_COMMON_ALLOW_LIST_H_
#define STAMPEDE_COMMON_ALLOW_LIST_H_

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stampede::common {

class AllowList {
 public:
  // One rule: a network (address/prefix) or a host-name pattern, and ports.
  struct Rule {
    enum class Kind { kNetwork, kHost };
    Kind kind = Kind::kNetwork;
    // kNetwork: 16 bytes, IPv4 as ::ffff:a.b.c.d (prefix counted in those
    // 128 bits, so a /8 of IPv4 is 104 here).
    std::array<uint8_t, 16> address{};
    int prefix = 0;  // of the 128 bits
    bool v4 = false;
    // kHost: lower case, without a trailing dot; `wildcard`: "*." + pattern
    // matches one or more leading labels before it.
    std::string host;
    bool wildcard = false;
    uint16_t port_min = 0;
    uint16_t port_max = 65535;

    std::string ToString() const;
    bool operator==(const Rule& other) const = default;
  };

  // The default: everything is allowed but the always-denied addresses.
  AllowList() = default;

  // Parses `--allow-targets` text: comma-separated `CIDR[:PORTS]`,
  // `ADDRESS[:PORTS]`, `[IPV6][/LEN][:PORTS]` or `HOSTPATTERN[:PORTS]`, PORTS
  // being `N`, `A-B` or `*`. The error names the bad rule and why.
  static absl::StatusOr<AllowList> Parse(absl::string_view text);

  // The list every transport uses when given none: Default-constructed.
  static const AllowList& Default();

  // nullopt when a connection to `addr` (AF_INET or AF_INET6; null when the
  // name did not resolve here, then only host patterns can allow it) on
  // `port`, made for the URL host `host`, is allowed; else why not, naming
  // the rule or range at fault.
  std::optional<std::string> Check(absl::string_view host, const sockaddr* addr,
                                   uint16_t port) const;
  // The same, with the port taken from `addr`.
  std::optional<std::string> Check(absl::string_view host,
                                   const sockaddr* addr) const;

  // Whether any rule was given (else the default applies).
  bool restricted() const { return !rules_.empty(); }
  const std::vector<Rule>& rules() const { return rules_; }
  // The canonical text: Parse(ToString()) gives the same rules; "" for the
  // default.
  std::string ToString() const;

 private:
  std::vector<Rule> rules_;
};

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_ALLOW_LIST_H_
