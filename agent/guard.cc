#include "agent/guard.h"

#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/load/engine.h"
#include "agent/net/event_loop.h"
#include "agent/net/resolver.h"
#include "common/schedule.h"
#include "common/units.h"

namespace stampede::agent {
namespace {

std::string Number(double v) { return absl::StrFormat("%.6g", v); }

// A URL's host (without brackets) and port, by libcurl's parser, which reads
// every URL the transports take (a proxy may leave out its scheme).
struct HostPort {
  std::string host;
  uint16_t port = 0;
};

std::optional<HostPort> Split(const std::string& url) {
  CURLU* u = curl_url();
  if (u == nullptr) return std::nullopt;
  std::optional<HostPort> out;
  char* host = nullptr;
  char* port = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(),
                   CURLU_DEFAULT_SCHEME | CURLU_NON_SUPPORT_SCHEME) ==
          CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
    HostPort hp;
    hp.host = host;
    if (hp.host.size() >= 2 && hp.host.front() == '[' &&
        hp.host.back() == ']') {
      hp.host = hp.host.substr(1, hp.host.size() - 2);
    }
    int p = 0;
    if (absl::SimpleAtoi(port, &p) && p > 0 && p <= 65535) {
      hp.port = static_cast<uint16_t>(p);
      out = std::move(hp);
    }
  }
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return out;
}

using Addresses = std::vector<std::pair<sockaddr_storage, socklen_t>>;

// `host`'s addresses by the system's resolver, as libcurl finds them.
Addresses SystemAddresses(const std::string& host) {
  Addresses out;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return out;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    sockaddr_storage addr{};
    std::memcpy(&addr, a->ai_addr, a->ai_addrlen);
    out.emplace_back(addr, a->ai_addrlen);
  }
  freeaddrinfo(found);
  return out;
}

// The native engines' names, looked up as their workers will: the plan's
// hosts:, dns.servers and family, through c-ares.
class NativeNames {
 public:
  explicit NativeNames(const net::DnsOptions& dns) {
    auto loop = EventLoop::Create();
    if (!loop.ok()) return;
    loop_ = std::move(*loop);
    auto resolver = net::Resolver::Create(loop_.get(), dns);
    if (resolver.ok()) resolver_ = std::move(*resolver);
  }
  void Add(const std::string& host) {
    if (resolver_ != nullptr && !ids_.contains(host))
      ids_[host] = resolver_->Add(host);
  }
  // Every name's first answer, as a worker waits before the run.
  void Wait() {
    if (resolver_ != nullptr) resolver_->WaitForAnswers(kFirstLookupWaitNs);
  }
  Addresses Of(const std::string& host) const {
    auto it = ids_.find(host);
    if (resolver_ == nullptr || it == ids_.end()) return {};
    return resolver_->Addresses(it->second);
  }

 private:
  static constexpr int64_t kFirstLookupWaitNs = 5'000'000'000;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<net::Resolver> resolver_;
  absl::flat_hash_map<std::string, int> ids_;
};

// Why `hp` may not be loaded from here, given the addresses its host resolved
// to; nullopt when at least one of them is allowed (connections to the others
// are refused at run time: "localhost" under 127.0.0.0/8 still runs, over
// 127.0.0.1). A name that does not resolve here is judged by name alone.
std::optional<std::string> Judge(const common::AllowList& allow,
                                 const HostPort& hp, const Addresses& found) {
  if (found.empty()) return allow.Check(hp.host, nullptr, hp.port);
  std::optional<std::string> first_denial;
  for (const auto& [addr, len] : found) {
    std::optional<std::string> why =
        allow.Check(hp.host, reinterpret_cast<const sockaddr*>(&addr), hp.port);
    if (!why) return std::nullopt;
    if (!first_denial) first_denial = std::move(why);
  }
  return first_denial;
}

// Why `url` may not be loaded from here, resolved by the system (libcurl's
// requests and proxies, name servers).
std::optional<std::string> Denied(const common::AllowList& allow,
                                  const std::string& url) {
  std::optional<HostPort> hp = Split(url);
  if (!hp) return absl::StrCat("cannot find the host in ", url);
  return Judge(allow, *hp, SystemAddresses(hp->host));
}

}  // namespace

absl::StatusOr<std::unique_ptr<AgentGuard>> AgentGuard::Create(
    const Flags& flags) {
  std::unique_ptr<AgentGuard> guard(new AgentGuard());
  if (!flags.allow_targets.empty()) {
    absl::StatusOr<common::AllowList> list =
        common::AllowList::Parse(flags.allow_targets);
    if (!list.ok()) return list.status();
    guard->allow_ = std::move(*list);
  }
  if (!flags.max_rate.empty()) {
    double rate = 0;
    if (!absl::SimpleAtod(flags.max_rate, &rate)) {
      absl::StatusOr<double> parsed = common::ParseRate(flags.max_rate);
      if (!parsed.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--max-rate ", flags.max_rate, ": ", parsed.status().message()));
      }
      rate = *parsed;
    }
    if (!(rate > 0) || !std::isfinite(rate)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--max-rate ", flags.max_rate,
                       ": must be above 0 (per second, e.g. 100 or 100/s)"));
    }
    guard->max_rate_ = rate;
  }
  if (flags.max_connections < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-connections ", flags.max_connections, ": must be above 0"));
  }
  guard->max_connections_ = flags.max_connections;
  if (!flags.max_duration.empty()) {
    absl::StatusOr<absl::Duration> d =
        common::ParseDuration(flags.max_duration);
    if (!d.ok() || *d <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--max-duration ", flags.max_duration, ": ",
                       d.ok() ? "must be above 0" : d.status().message()));
    }
    guard->max_duration_ = *d;
  }
  return guard;
}

const AgentGuard& AgentGuard::Default() {
  static const AgentGuard* const kDefault = new AgentGuard();
  return *kDefault;
}

absl::Status AgentGuard::CheckPlan(const RunSpec& spec,
                                   const std::string& agent_id) const {
  auto refuse = [&](const std::string& why) {
    return absl::PermissionDeniedError(
        absl::StrCat("agent ", agent_id, ": ", why));
  };
  const common::Slice share(spec.ShareWeights(), spec.share_index, 0, 1);
  const double fraction = share.Fraction();

  if (max_rate_ > 0) {
    double total = 0;
    std::vector<std::string> parts;
    for (const ScenarioSpec& s : spec.scenarios) {
      if (s.model != ScenarioSpec::Model::kOpen) continue;
      const double rate = s.peak_rate * fraction;
      if (rate > max_rate_ * (1 + 1e-9)) {
        return refuse(absl::StrCat("scenario ", s.name, " asks for ",
                                   Number(rate), "/s on this agent, over ",
                                   "--max-rate ", Number(max_rate_), "/s"));
      }
      total += rate;
      parts.push_back(absl::StrCat(s.name, " ", Number(rate), "/s"));
    }
    if (total > max_rate_ * (1 + 1e-9)) {
      return refuse(absl::StrCat("scenarios ask for ", Number(total),
                                 "/s together on this agent at their peaks (",
                                 absl::StrJoin(parts, ", "),
                                 "), over --max-rate ", Number(max_rate_),
                                 "/s"));
    }
  }

  if (max_connections_ > 0) {
    uint64_t total = 0;
    std::vector<std::string> parts;
    for (const ScenarioSpec& s : spec.scenarios) {
      const uint64_t n = s.model == ScenarioSpec::Model::kOpen
                             ? s.max_connections
                             : share.ActiveAt(s.max_vus);
      total += n;
      parts.push_back(absl::StrCat(s.name, " ", n));
    }
    if (total > static_cast<uint64_t>(max_connections_)) {
      return refuse(absl::StrCat(
          spec.scenarios.size() == 1
              ? absl::StrCat("scenario ", spec.scenarios[0].name, " asks for ")
              : "scenarios ask for ",
          total, " connections on this agent",
          spec.scenarios.size() == 1
              ? ""
              : absl::StrCat(" (", absl::StrJoin(parts, ", "), ")"),
          ", over --max-connections ", max_connections_));
    }
  }

  if (max_duration_ > absl::ZeroDuration()) {
    for (const ScenarioSpec& s : spec.scenarios) {
      absl::Duration end =
          absl::Nanoseconds(s.start_offset_ns) + s.schedule->Length();
      // Open-model WebSocket connections live their hold past the last
      // arrival.
      if (s.websocket && s.model == ScenarioSpec::Model::kOpen)
        end += absl::Nanoseconds(s.ws.hold_ns);
      if (end > max_duration_) {
        return refuse(absl::StrCat("scenario ", s.name, " runs until ",
                                   common::FormatDuration(end),
                                   " into the plan, over --max-duration ",
                                   common::FormatDuration(max_duration_)));
      }
    }
  }

  // The plan's name servers get this agent's queries: they are targets too,
  // checked before any query goes to them.
  for (const std::string& server : spec.dns.servers) {
    if (std::optional<std::string> why =
            Denied(allow_, absl::StrCat("http://", server, "/"))) {
      return refuse(absl::StrCat("dns server ", server,
                                 " is not allowed by --allow-targets (", *why,
                                 ")"));
    }
  }
  // Every request's host, resolved as the engine that sends it will: the
  // native engines through the plan's dns: and hosts:, libcurl (proxy, auth,
  // transport: curl) by the system.
  NativeNames native(spec.dns);
  for (const ScenarioSpec& s : spec.scenarios) {
    if (ServedByCurl(s)) continue;
    for (const PreparedRequest& r : s.requests) {
      if (std::optional<HostPort> hp = Split(r.url)) native.Add(hp->host);
    }
  }
  native.Wait();
  std::vector<std::string> checked;
  for (const ScenarioSpec& s : spec.scenarios) {
    const bool curl = ServedByCurl(s);
    for (const PreparedRequest& r : s.requests) {
      const std::string key = absl::StrCat(r.url, " ", r.proxy, " ", curl);
      if (std::find(checked.begin(), checked.end(), key) != checked.end())
        continue;
      checked.push_back(key);
      std::optional<std::string> why;
      if (curl) {
        why = Denied(allow_, r.url);
      } else if (std::optional<HostPort> hp = Split(r.url); !hp) {
        why = absl::StrCat("cannot find the host in ", r.url);
      } else {
        why = Judge(allow_, *hp, native.Of(hp->host));
      }
      std::string via;
      if (!why && !r.proxy.empty()) {
        why = Denied(allow_, r.proxy);
        via = absl::StrCat(" via proxy ", r.proxy);
      }
      if (why) {
        return refuse(
            absl::StrCat("scenario ", s.name, ": ", r.method, " ", r.url, via,
                         " is not allowed by --allow-targets (", *why, ")"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace stampede::agent
