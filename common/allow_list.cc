#include "common/allow_list.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace stampede::common {
namespace {

using Address = std::array<uint8_t, 16>;

// Denied unless a network rule inside the range lists the address.
struct DeniedRange {
  const char* text;  // as a rule would give it
  const char* what;
};
constexpr DeniedRange kDenied[] = {
    {"169.254.169.254/32", "a cloud metadata address"},
    {"100.100.100.200/32", "a cloud metadata address"},
    {"fd00:ec2::254/128", "a cloud metadata address"},
    {"169.254.0.0/16", "link-local"},
    {"fe80::/10", "link-local"},
};

Address MappedV4(const in_addr& a) {
  Address out{};
  out[10] = out[11] = 0xff;
  std::memcpy(out.data() + 12, &a, 4);
  return out;
}

bool IsMappedV4(const Address& a) {
  for (int i = 0; i < 10; ++i)
    if (a[i] != 0) return false;
  return a[10] == 0xff && a[11] == 0xff;
}

bool InNetwork(const Address& a, const Address& net, int prefix) {
  const int bytes = prefix / 8;
  if (std::memcmp(a.data(), net.data(), bytes) != 0) return false;
  const int bits = prefix % 8;
  if (bits == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits));
  return (a[bytes] & mask) == (net[bytes] & mask);
}

bool HostBitsClear(const Address& a, int prefix) {
  for (int bit = prefix; bit < 128; ++bit) {
    if (a[bit / 8] & (0x80 >> (bit % 8))) return false;
  }
  return true;
}

// An IP literal, into `out`; `v4` says which family it was.
bool ParseIp(absl::string_view text, Address* out, bool* v4) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  in_addr a4;
  if (inet_pton(AF_INET, buf, &a4) == 1) {
    *out = MappedV4(a4);
    *v4 = true;
    return true;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, buf, &a6) == 1) {
    std::memcpy(out->data(), &a6, 16);
    *v4 = false;
    return true;
  }
  return false;
}

// `as_v4`: a mapped IPv4 address in dotted form.
std::string AddressText(const Address& a, bool as_v4) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (as_v4 && IsMappedV4(a)) {
    inet_ntop(AF_INET, a.data() + 12, buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, a.data(), buf, sizeof(buf));
  }
  return buf;
}

struct Network {
  Address address;
  int prefix;
};

Network ParseDenied(const DeniedRange& range) {
  absl::string_view text = range.text;
  const size_t slash = text.find('/');
  Network n{};
  bool v4 = false;
  ParseIp(text.substr(0, slash), &n.address, &v4);
  int len = 0;
  (void)absl::SimpleAtoi(text.substr(slash + 1), &len);
  n.prefix = v4 ? len + 96 : len;
  return n;
}

constexpr size_t kDeniedCount = sizeof(kDenied) / sizeof(kDenied[0]);

const std::array<Network, kDeniedCount>& DeniedNetworks() {
  static const std::array<Network, kDeniedCount> kNetworks = [] {
    std::array<Network, kDeniedCount> out{};
    for (size_t i = 0; i < kDeniedCount; ++i) out[i] = ParseDenied(kDenied[i]);
    return out;
  }();
  return kNetworks;
}

// Letters, digits, '-' and '_' (seen in real names), 1..63 per label, no
// label starting or ending with '-'; the last label not all digits (that
// would be a mistyped address).
std::optional<std::string> HostProblem(absl::string_view host) {
  if (host.empty()) return "an empty host name";
  if (host.size() > 253) return "a host name over 253 characters";
  std::vector<absl::string_view> labels = absl::StrSplit(host, '.');
  for (absl::string_view label : labels) {
    if (label.empty()) return "an empty label in the host name";
    if (label.size() > 63) return "a label over 63 characters";
    for (char c : label) {
      if (!absl::ascii_isalnum(c) && c != '-' && c != '_') {
        return absl::StrCat("'", std::string(1, c),
                            "' is not allowed in a host name");
      }
    }
    if (label.front() == '-' || label.back() == '-')
      return "a label starting or ending with '-'";
  }
  if (std::all_of(labels.back().begin(), labels.back().end(),
                  [](char c) { return absl::ascii_isdigit(c); })) {
    return "not a valid IP address";
  }
  return std::nullopt;
}

std::optional<std::string> ParsePorts(absl::string_view text,
                                      AllowList::Rule* rule) {
  if (text == "*") return std::nullopt;
  auto port = [](absl::string_view p, uint16_t* out) {
    int v = 0;
    if (p.empty() || p.size() > 5 ||
        !std::all_of(p.begin(), p.end(),
                     [](char c) { return absl::ascii_isdigit(c); }) ||
        !absl::SimpleAtoi(p, &v) || v < 1 || v > 65535) {
      return false;
    }
    *out = static_cast<uint16_t>(v);
    return true;
  };
  const size_t dash = text.find('-');
  if (dash == absl::string_view::npos) {
    if (!port(text, &rule->port_min))
      return absl::StrCat("port '", text, "' is not a number 1-65535 or *");
    rule->port_max = rule->port_min;
    return std::nullopt;
  }
  if (!port(text.substr(0, dash), &rule->port_min) ||
      !port(text.substr(dash + 1), &rule->port_max)) {
    return absl::StrCat("port range '", text,
                        "' is not A-B with ports 1-65535");
  }
  if (rule->port_min > rule->port_max)
    return absl::StrCat("port range '", text, "' ends before it starts");
  return std::nullopt;
}

// The address part (no ports) of a network rule: ADDRESS or ADDRESS/LEN.
std::optional<std::string> ParseNetwork(absl::string_view text,
                                        AllowList::Rule* rule) {
  const size_t slash = text.find('/');
  absl::string_view ip = text.substr(0, slash);
  rule->kind = AllowList::Rule::Kind::kNetwork;
  if (!ParseIp(ip, &rule->address, &rule->v4))
    return absl::StrCat("'", ip, "' is not an IP address");
  const int bits = rule->v4 ? 32 : 128;
  int len = bits;
  if (slash != absl::string_view::npos) {
    absl::string_view l = text.substr(slash + 1);
    if (l.empty() || l.size() > 3 ||
        !std::all_of(l.begin(), l.end(),
                     [](char c) { return absl::ascii_isdigit(c); }) ||
        !absl::SimpleAtoi(l, &len) || len > bits) {
      return absl::StrCat("prefix length '/", l, "' is not 0-", bits);
    }
  }
  rule->prefix = rule->v4 ? len + 96 : len;
  if (!HostBitsClear(rule->address, rule->prefix)) {
    std::array<uint8_t, 16> net = rule->address;
    for (int bit = rule->prefix; bit < 128; ++bit)
      net[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    return absl::StrCat("bits are set after the /", len,
                        " prefix (did you mean ", AddressText(net, rule->v4),
                        "/", len, "?)");
  }
  return std::nullopt;
}

absl::StatusOr<AllowList::Rule> ParseRule(absl::string_view text) {
  AllowList::Rule rule;
  auto fail = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--allow-targets: rule '", text, "': ", why));
  };
  absl::string_view where = text;
  absl::string_view ports;
  bool has_ports = false;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) return fail("'[' without ']'");
    where = text.substr(1, close - 1);
    absl::string_view rest = text.substr(close + 1);
    std::string prefixed;
    if (!rest.empty() && rest.front() == '/') {
      if (where.find('/') != absl::string_view::npos)
        return fail("two prefix lengths");
      const size_t colon = rest.find(':');
      prefixed = absl::StrCat(where, rest.substr(0, colon));
      rest = colon == absl::string_view::npos ? "" : rest.substr(colon);
    }
    if (!rest.empty()) {
      if (rest.front() != ':') return fail("expected ':PORTS' after ']'");
      ports = rest.substr(1);
      has_ports = true;
    }
    bracketed = true;
    if (!prefixed.empty()) {
      if (auto why = ParseNetwork(prefixed, &rule)) return fail(*why);
    } else if (auto why = ParseNetwork(where, &rule)) {
      return fail(*why);
    }
    if (rule.v4 && bracketed && where.find(':') == absl::string_view::npos)
      return fail("brackets are for IPv6 addresses");
  } else if (std::count(text.begin(), text.end(), ':') >= 2) {
    // An IPv6 address or network; ports need brackets.
    if (auto why = ParseNetwork(text, &rule)) {
      return fail(absl::StrCat(
          *why, " (an IPv6 address with ports is written [ADDR]:PORTS)"));
    }
  } else {
    const size_t colon = text.find(':');
    if (colon != absl::string_view::npos) {
      where = text.substr(0, colon);
      ports = text.substr(colon + 1);
      has_ports = true;
    }
    if (where.empty()) return fail("no address or host before ':'");
    bool v4 = false;
    Address ignored;
    const absl::string_view ip = where.substr(0, where.find('/'));
    if (where.find('/') != absl::string_view::npos ||
        ParseIp(ip, &ignored, &v4)) {
      if (auto why = ParseNetwork(where, &rule)) return fail(*why);
    } else {
      std::string host = absl::AsciiStrToLower(where);
      if (host == "*")
        return fail(
            "'*' alone is not a pattern; 0.0.0.0/0 and ::/0 allow "
            "every address");
      if (absl::StartsWith(host, "*.")) {
        rule.wildcard = true;
        host.erase(0, 2);
      }
      if (!host.empty() && host.back() == '.') host.pop_back();
      if (auto why = HostProblem(host)) return fail(*why);
      rule.kind = AllowList::Rule::Kind::kHost;
      rule.host = std::move(host);
    }
  }
  if (has_ports) {
    if (ports.empty()) return fail("':' without ports (use N, A-B or *)");
    if (auto why = ParsePorts(ports, &rule)) return fail(*why);
  }
  return rule;
}

bool HostMatches(const AllowList::Rule& rule, absl::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  const absl::string_view pattern = rule.host;
  if (!rule.wildcard) return absl::EqualsIgnoreCase(host, pattern);
  // "*." + pattern: at least one label, then ".", then the pattern.
  if (host.size() < pattern.size() + 2) return false;
  const absl::string_view tail = host.substr(host.size() - pattern.size());
  return host[host.size() - pattern.size() - 1] == '.' &&
         absl::EqualsIgnoreCase(tail, pattern);
}

bool PortMatches(const AllowList::Rule& rule, uint16_t port) {
  return port >= rule.port_min && port <= rule.port_max;
}

std::string PortsText(const AllowList::Rule& rule) {
  if (rule.port_min == 0 && rule.port_max == 65535) return "";
  if (rule.port_min == rule.port_max) return absl::StrCat(":", rule.port_min);
  return absl::StrCat(":", rule.port_min, "-", rule.port_max);
}

}  // namespace

std::string AllowList::Rule::ToString() const {
  if (kind == Kind::kHost)
    return absl::StrCat(wildcard ? "*." : "", host, PortsText(*this));
  if (v4) {
    return absl::StrCat(AddressText(address, true), "/", prefix - 96,
                        PortsText(*this));
  }
  return absl::StrCat("[", AddressText(address, false), "/", prefix, "]",
                      PortsText(*this));
}

absl::StatusOr<AllowList> AllowList::Parse(absl::string_view text) {
  AllowList list;
  if (absl::StripAsciiWhitespace(text).empty())
    return absl::InvalidArgumentError("--allow-targets: no rules given");
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) {
      return absl::InvalidArgumentError(
          "--allow-targets: an empty rule (two commas in a row?)");
    }
    absl::StatusOr<Rule> rule = ParseRule(item);
    if (!rule.ok()) return rule.status();
    list.rules_.push_back(std::move(*rule));
  }
  return list;
}

const AllowList& AllowList::Default() {
  static const AllowList* const kDefault = new AllowList();
  return *kDefault;
}

std::string AllowList::ToString() const {
  std::vector<std::string> parts;
  for (const Rule& r : rules_) parts.push_back(r.ToString());
  return absl::StrJoin(parts, ",");
}

std::optional<std::string> AllowList::Check(absl::string_view host,
                                            const sockaddr* addr) const {
  uint16_t port = 0;
  if (addr != nullptr && addr->sa_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in*>(addr)->sin_port);
  } else if (addr != nullptr && addr->sa_family == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6*>(addr)->sin6_port);
  }
  return Check(host, addr, port);
}

std::optional<std::string> AllowList::Check(absl::string_view host,
                                            const sockaddr* addr,
                                            uint16_t port) const {
  Address a{};
  bool resolved = false;
  if (addr != nullptr && addr->sa_family == AF_INET) {
    a = MappedV4(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr);
    resolved = true;
  } else if (addr != nullptr && addr->sa_family == AF_INET6) {
    std::memcpy(a.data(),
                &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, 16);
    resolved = true;
  } else if (addr != nullptr) {
    return "not an IPv4 or IPv6 address";
  }
  auto what = [&] {
    const std::string ip = resolved ? AddressText(a, true) : "";
    const std::string hostport =
        resolved ? (IsMappedV4(a) ? absl::StrCat(ip, ":", port)
                                  : absl::StrCat("[", ip, "]:", port))
                 : absl::StrCat(host, ":", port, " (not resolved here)");
    if (resolved && !host.empty() && !absl::EqualsIgnoreCase(host, ip))
      return absl::StrCat(host, " = ", hostport);
    return hostport;
  };
  if (resolved) {
    // Denied unless a network rule holding it lies inside one of the ranges
    // that deny it (the first of them, the narrowest, is the one named).
    const DeniedRange* denied_by = nullptr;
    for (size_t i = 0; i < kDeniedCount; ++i) {
      const Network& denied = DeniedNetworks()[i];
      if (!InNetwork(a, denied.address, denied.prefix)) continue;
      if (denied_by == nullptr) denied_by = &kDenied[i];
      for (const Rule& r : rules_) {
        if (r.kind == Rule::Kind::kNetwork && r.prefix >= denied.prefix &&
            InNetwork(r.address, denied.address, denied.prefix) &&
            InNetwork(a, r.address, r.prefix) && PortMatches(r, port)) {
          return std::nullopt;
        }
      }
    }
    if (denied_by != nullptr) {
      return absl::StrCat(what(), " is ", denied_by->what,
                          ", denied unless --allow-targets lists it (e.g. ",
                          denied_by->text, ")");
    }
  }
  if (rules_.empty()) return std::nullopt;
  for (const Rule& r : rules_) {
    if (!PortMatches(r, port)) continue;
    if (r.kind == Rule::Kind::kHost
            ? HostMatches(r, host)
            : resolved && InNetwork(a, r.address, r.prefix)) {
      return std::nullopt;
    }
  }
  if (rules_.size() == 1)
    return absl::StrCat(what(), " is outside ", rules_[0].ToString());
  return absl::StrCat(what(), " matches none of ", ToString());
}

}  // namespace stampede::common
