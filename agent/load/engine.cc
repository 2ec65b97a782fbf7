#include "agent/load/engine.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/h2/transport.h"
#include "agent/http1/transport.h"
#include "agent/net/alpn_probe.h"

namespace stampede::agent {
namespace {

using Engine = ScenarioSpec::Engine;

constexpr char kOffered[] = "from h2, http/1.1";

void Set(ScenarioSpec* scenario, Engine engine, std::string why) {
  scenario->engine = engine;
  scenario->engine_why = std::move(why);
}

// "METHOD URL: why" for the first request HTTP/2 cannot send; "" if none.
std::string H2Refusal(const ScenarioSpec& scenario) {
  for (const PreparedRequest& r : scenario.requests) {
    const std::string why = H2Transport::Unsupported(r);
    if (!why.empty()) return absl::StrCat(r.method, " ", r.url, ": ", why);
  }
  return "";
}

// Why `auto` cannot pick HTTP/2 for the scenario; "" if it may.
std::string WhyNotH2(const ScenarioSpec& scenario) {
  if (std::string why = H2Refusal(scenario); !why.empty()) return why;
  for (const PreparedRequest& r : scenario.requests) {
    if (!r.keep_alive) return "keep_alive: false is HTTP/1.1's";
  }
  if (!scenario.local_addresses.empty())
    return "local_addresses binds HTTP/1.1 connections only";
  return "";
}

// The first request the native HTTP/1.1 engine cannot serve (a proxy, auth).
const PreparedRequest* NotNative(const ScenarioSpec& scenario) {
  for (const PreparedRequest& r : scenario.requests) {
    if (!Http1Transport::Supports(r)) return &r;
  }
  return nullptr;
}

}  // namespace

bool ServedByCurl(const ScenarioSpec& scenario) {
  return !scenario.websocket && scenario.http_version != "2" &&
         (scenario.transport == "curl" || NotNative(scenario) != nullptr);
}

std::string_view EngineName(Engine engine) {
  switch (engine) {
    case Engine::kHttp1:
      return "http1";
    case Engine::kH2:
      return "h2";
    case Engine::kWebSocket:
      return "websocket";
    case Engine::kCurl:
      return "curl";
  }
  return "http1";
}

absl::Status ChooseEngine(ScenarioSpec* scenario, const AlpnAsker& ask) {
  if (scenario->websocket) {
    Set(scenario, Engine::kWebSocket, "websocket: in the plan");
    return absl::OkStatus();
  }
  // A flow is chosen for like any scenario: every HTTP engine renders its
  // steps and keeps their responses.
  const std::string& version = scenario->http_version;
  if (version == "2") {
    if (const std::string why = H2Refusal(*scenario); !why.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "scenario ", scenario->name, ": HTTP/2 cannot serve ", why));
    }
    Set(scenario, Engine::kH2, "http_version \"2\" in the plan");
    return absl::OkStatus();
  }
  if (const PreparedRequest* unsupported = NotNative(*scenario)) {
    if (scenario->transport == "native") {
      return absl::InvalidArgumentError(absl::StrCat(
          "scenario ", scenario->name, ": the native engine cannot serve ",
          unsupported->method, " ", unsupported->url,
          " (http:// or https:// without proxy or auth only)"));
    }
    Set(scenario, Engine::kCurl,
        scenario->transport == "curl"
            ? std::string("transport: curl in the plan")
            : absl::StrCat(unsupported->method, " ", unsupported->url,
                           " has a proxy or auth, which only libcurl carries"));
    return absl::OkStatus();
  }
  if (scenario->transport == "curl") {
    Set(scenario, Engine::kCurl, "transport: curl in the plan");
    return absl::OkStatus();
  }
  if (version == "1.1") {
    Set(scenario, Engine::kHttp1, "http_version \"1.1\" in the plan");
    return absl::OkStatus();
  }
  // auto: h2 only where every origin is https:// and picks it by ALPN.
  std::vector<net::Url> origins;
  for (const PreparedRequest& r : scenario->requests) {
    std::optional<net::Url> url = net::ParseUrl(r.url);
    if (!url->https) {
      Set(scenario, Engine::kHttp1,
          "http_version auto: http:// is HTTP/1.1; h2c needs http_version "
          "\"2\"");
      return absl::OkStatus();
    }
    if (std::none_of(origins.begin(), origins.end(), [&](const net::Url& o) {
          return o.host == url->host && o.port == url->port;
        })) {
      origins.push_back(*std::move(url));
    }
  }
  if (const std::string why = WhyNotH2(*scenario); !why.empty()) {
    Set(scenario, Engine::kHttp1, absl::StrCat("http_version auto: ", why));
    return absl::OkStatus();
  }
  tls::ClientOptions offer = scenario->tls;
  offer.alpn = {"h2", "http/1.1"};
  for (const net::Url& origin : origins) {
    absl::StatusOr<std::string> chosen = ask(origin, offer);
    if (!chosen.ok()) {
      Set(scenario, Engine::kHttp1,
          absl::StrCat("http_version auto: could not ask ", origin.authority,
                       " by ALPN (", chosen.status().message(),
                       "), so HTTP/1.1"));
      return absl::OkStatus();
    }
    if (*chosen != "h2") {
      Set(scenario, Engine::kHttp1,
          absl::StrCat("http_version auto: ", origin.authority, " chose ",
                       chosen->empty() ? "no protocol" : *chosen, " by ALPN ",
                       kOffered));
      return absl::OkStatus();
    }
  }
  Set(scenario, Engine::kH2,
      absl::StrCat("http_version auto: ",
                   origins.size() == 1 ? origins[0].authority
                                       : std::string("every origin"),
                   " chose h2 by ALPN ", kOffered));
  return absl::OkStatus();
}

absl::Status ChooseEngines(RunSpec* spec) {
  // Each origin is asked once per run, whatever scenarios share it.
  std::map<std::pair<std::string, std::string>, absl::StatusOr<std::string>>
      asked;
  net::AlpnProbe probe;
  probe.dns = &spec->dns;
  probe.allow = spec->allow_list;
  for (ScenarioSpec& scenario : spec->scenarios) {
    auto ask =
        [&](const net::Url& origin,
            const tls::ClientOptions& tls) -> absl::StatusOr<std::string> {
      auto key = std::make_pair(
          origin.authority,
          absl::StrCat(tls.ca_file, "|", tls.insecure_skip_verify));
      auto it = asked.find(key);
      if (it == asked.end())
        it = asked.emplace(key, net::ProbeAlpn(origin, tls, probe)).first;
      return it->second;
    };
    if (absl::Status s = ChooseEngine(&scenario, ask); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace stampede::agent
