// Which engine serves each scenario of a run, and why: chosen once while the
// agent prepares the run, reported to the controller in Ready, and used by
// every worker. `http_version: auto` (the default) asks each https:// origin by
// ALPN whether it speaks h2.
#ifndef STAMPEDE_AGENT_LOAD_ENGINE_H_
#define STAMPEDE_AGENT_LOAD_ENGINE_H_

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/load/run_spec.h"
#include "agent/net/tls.h"
#include "agent/net/url.h"

namespace stampede::agent {

// "http1", "h2", "websocket", "curl": as Ready and the result name them.
std::string_view EngineName(ScenarioSpec::Engine engine);

// The protocol an https:// origin selects among tls.alpn (see
// net::ProbeAlpn); a seam for tests.
using AlpnAsker = std::function<absl::StatusOr<std::string>(
    const net::Url& origin, const tls::ClientOptions& tls)>;

// Whether libcurl serves the scenario (transport: curl, or a request with a
// proxy or auth), as ChooseEngine decides before asking anyone anything; its
// names are then the system's, not the plan's dns: and hosts:.
bool ServedByCurl(const ScenarioSpec& scenario);

// Sets scenario->engine and engine_why, or says why the scenario cannot run
// as the plan asks (transport: native with a request only libcurl carries,
// http_version "2" with a request HTTP/2 cannot send).
absl::Status ChooseEngine(ScenarioSpec* scenario, const AlpnAsker& ask);

// Every scenario of `spec`, asking origins with net::ProbeAlpn under the
// run's dns:, hosts: and allow-list (each origin once).
absl::Status ChooseEngines(RunSpec* spec);

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_LOAD_ENGINE_H_
