// What the HTTP/2 engine sends for one plan request, built once at Prepare:
// the header block (pseudo-headers first, lower-case names), the host and port
// to connect to, and for https:// the name TLS uses (SNI, certificate check);
// and a flow step's header block, rebuilt for each send into reused buffers.
// Plain data and pure functions; thread-compatible.
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

// A flow step's header block for one send. Its buffers keep their capacity
// from send to send; `nva` points into `names` (the lower-cased names),
// `length`, the FlowSend and the H2Request it was built from, so it is valid
// while those are unchanged: nghttp2 must copy it (no NO_COPY flags).
struct H2FlowBlock {
  std::vector<nghttp2_nv> nva;
  std::string names;
  char length[24] = {};
  bool has_body = false;

  H2FlowBlock() = default;
  H2FlowBlock(const H2FlowBlock&) = delete;
  H2FlowBlock& operator=(const H2FlowBlock&) = delete;
};

// "" when the HTTP/2 engine serves `request`: an http:// (h2c) or https://
// (h2 by ALPN) URL, a valid method and headers. Else why not.
std::string H2Unsupported(const PreparedRequest& request);

// Fills `out`. kNone, or kTransportOther for a request the engine cannot
// serve.
common::ErrorId BuildH2Request(const PreparedRequest& request, H2Request* out);

// Fills `out` for a flow step: :method, :scheme and :authority from `base`
// (the step's prepared request), :path from flow.target, then the rendered
// header lines with lower-cased names. A Host line becomes :authority;
// connection-specific fields (Connection, Keep-Alive, Proxy-Connection,
// Transfer-Encoding, Upgrade, TE other than "trailers", RFC 9113 8.2.2) are
// dropped, and so is Content-Length, which is counted here from flow.body for
// every method but GET and HEAD (which carry no body). As in the other
// engines, "Name:" with no value sends nothing and "Name;" sends it empty.
// kNone, or kInvalidRequest for a line that is not "token: value" (nothing is
// to be sent then).
common::ErrorId BuildH2FlowBlock(const H2Request& base, const FlowSend& flow,
                                 H2FlowBlock* out);

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_H2_REQUEST_H_
