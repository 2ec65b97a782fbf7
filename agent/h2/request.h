// What the HTTP/2 engine sends for one plan request, built once at Prepare:
// the header block (pseudo-headers first, lower-case names) and the resolved
// address, and for https:// the name TLS uses (SNI, certificate check).
// Plain data; thread-compatible.
#ifndef STAMPEDE_AGENT_H2_REQUEST_H_
#define STAMPEDE_AGENT_H2_REQUEST_H_

#include <nghttp2/nghttp2.h>
#include <sys/socket.h>

#include <string>
#include <utility>
#include <vector>

#include "agent/transport.h"
#include "common/errors.h"

namespace stampede::agent {

struct H2Request {
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<nghttp2_nv> nva;  // points into `fields`: do not copy or move
  std::string body;
  bool has_body = false;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  bool https = false;  // h2 over TLS (ALPN "h2"), else h2c
  std::string host;    // as in the URL, without brackets

  H2Request() = default;
  H2Request(const H2Request&) = delete;
  H2Request& operator=(const H2Request&) = delete;
};

// "" when the HTTP/2 engine serves `request`: an http:// (h2c) or https://
// (h2 by ALPN) URL with a numeric host or "localhost", a valid method and
// headers. Else why not.
std::string H2Unsupported(const PreparedRequest& request);

// Fills `out` and resolves the host (blocking). kNone, kTransportOther for a
// request the engine cannot serve, or kDnsFailure.
common::ErrorId BuildH2Request(const PreparedRequest& request, H2Request* out);

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_H2_REQUEST_H_
