// What the HTTP/2 engine sends for one plan request, built once at Prepare:
// the header block (pseudo-headers first, lower-case names), the host and port
// to connect to, and for https:// the name TLS uses (SNI, certificate check).
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
  bool https = false;  // h2 over TLS (ALPN "h2"), else h2c
  std::string host;    // as in the URL, without brackets
  std::string port;

  H2Request() = default;
  H2Request(const H2Request&) = delete;
  H2Request& operator=(const H2Request&) = delete;
};

// "" when the HTTP/2 engine serves `request`: an http:// (h2c) or https://
// (h2 by ALPN) URL, a valid method and headers. Else why not.
std::string H2Unsupported(const PreparedRequest& request);

// Fills `out`. kNone, or kTransportOther for a request the engine cannot
// serve.
common::ErrorId BuildH2Request(const PreparedRequest& request, H2Request* out);

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_H2_REQUEST_H_
