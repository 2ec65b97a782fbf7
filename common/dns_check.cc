// The plan's dns: and hosts:, checked as every agent's resolver would take
// them (see plan_validate.cc).
#include <arpa/inet.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/plan_validate_internal.h"

namespace stampede::common {
namespace {

bool IsPort(absl::string_view text) {
  uint32_t port = 0;
  return text.find_first_not_of("0123456789") == absl::string_view::npos &&
         absl::SimpleAtoi(text, &port) && port >= 1 && port <= 65535;
}

// "IP", "IP:PORT" or "[IPv6]:PORT", as the agents' resolver takes it.
bool IsNameServer(const std::string& server) {
  if (!server.empty() && server.front() == '[') {
    const size_t close = server.find(']');
    if (close == std::string::npos) return false;
    in6_addr buf;
    const std::string ip = server.substr(1, close - 1);
    if (inet_pton(AF_INET6, ip.c_str(), &buf) != 1) return false;
    const absl::string_view rest = absl::string_view(server).substr(close + 1);
    return rest.empty() || (rest.front() == ':' && IsPort(rest.substr(1)));
  }
  if (std::count(server.begin(), server.end(), ':') == 1) {
    const size_t colon = server.find(':');
    return IsIpAddress(server.substr(0, colon)) &&
           IsPort(absl::string_view(server).substr(colon + 1));
  }
  return IsIpAddress(server);
}

}  // namespace

bool IsIpAddress(const std::string& text) {
  in6_addr buf;
  return inet_pton(AF_INET, text.c_str(), &buf) == 1 ||
         inet_pton(AF_INET6, text.c_str(), &buf) == 1;
}

void CheckDns(const LoadedPlan& loaded, std::vector<PlanIssue>* issues) {
  auto add = [&](const std::string& where, std::string message) {
    issues->push_back(loaded.IssueAt(where, std::move(message)));
  };
  const v1::Dns& dns = loaded.plan.dns();
  const std::string& select = dns.select();
  if (!select.empty() && select != "round_robin" && select != "first" &&
      select != "random") {
    add("dns.select", absl::StrCat("unknown select ", Quote(select),
                                   "; use round_robin, first or random"));
  }
  const std::string& family = dns.family();
  if (!family.empty() && family != "auto" && family != "ipv4" &&
      family != "ipv6" && family != "any") {
    add("dns.family", absl::StrCat("unknown family ", Quote(family),
                                   "; use auto, ipv4, ipv6 or any"));
  }
  if (dns.has_ttl() && ToDuration(dns.ttl()) < absl::ZeroDuration()) {
    add("dns.ttl", "ttl must not be negative");
  }
  for (int i = 0; i < dns.servers_size(); ++i) {
    const std::string& server = dns.servers(i);
    if (!IsNameServer(server)) {
      add(absl::StrCat("dns.servers[", i, "]"),
          absl::StrCat(Quote(server),
                       " is not a name server address: write IP, IP:PORT "
                       "or [IPv6]:PORT (e.g. 10.0.0.53:53)"));
    }
  }
  // Map order is unspecified: sorted, so messages come out the same each time.
  std::vector<std::pair<std::string, std::string>> hosts(
      loaded.plan.hosts().begin(), loaded.plan.hosts().end());
  std::sort(hosts.begin(), hosts.end());
  for (const auto& [name, ip] : hosts) {
    if (name.empty() || name.find_first_of(" /:@[]") != std::string::npos) {
      add(absl::StrCat("hosts.", name),
          absl::StrCat(Quote(name), " is not a host name"));
    } else if (!IsIpAddress(ip)) {
      add(absl::StrCat("hosts.", name),
          absl::StrCat(Quote(ip),
                       " is not an IP address (hosts: maps a name to an "
                       "address, e.g. api.example.com: 10.0.0.7)"));
    }
  }
}

}  // namespace stampede::common
