// Asks a TLS server which protocol it speaks before a run: one connection, one
// handshake offering the given ALPN protocols, closed at once. This is how
// `http_version: auto` picks HTTP/2 or HTTP/1.1 for a scenario (browsers and k6
// ask on every connection; a run asks once per origin, so that one engine
// serves the scenario and the console can say which). Blocking; used while an
// agent prepares a run, never on a worker's loop.
#ifndef STAMPEDE_AGENT_NET_ALPN_PROBE_H_
#define STAMPEDE_AGENT_NET_ALPN_PROBE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "agent/net/resolver.h"
#include "agent/net/tls.h"
#include "agent/net/url.h"
#include "common/allow_list.h"

namespace stampede::agent::net {

struct AlpnProbe {
  const DnsOptions* dns = nullptr;           // the plan's dns: and hosts:
  const common::AllowList* allow = nullptr;  // null: the default allow-list
  int64_t timeout_ns = 5'000'000'000;        // lookup, connect and handshake
};

// The protocol `url`'s server selected among `tls.alpn` ("" when it selected
// none, as a server without ALPN does), or why it could not be asked: the
// name did not resolve, the address is not allowed, the connection or the
// handshake failed or timed out. The error's message names the error id
// (dns_failure, connect_refused, tls_certificate...).
absl::StatusOr<std::string> ProbeAlpn(const Url& url,
                                      const tls::ClientOptions& tls,
                                      const AlpnProbe& probe);

}  // namespace stampede::agent::net

#endif  // STAMPEDE_AGENT_NET_ALPN_PROBE_H_
