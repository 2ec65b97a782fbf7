// What the native HTTP/1.1 engine makes of a plan request before the run: its
// bytes on the wire. Pure functions; thread-safe.
#ifndef STAMPEDE_AGENT_HTTP1_REQUEST_H_
#define STAMPEDE_AGENT_HTTP1_REQUEST_H_

#include <optional>
#include <string>

#include "agent/net/url.h"
#include "agent/transport.h"

namespace stampede::agent::http1 {

// The request's bytes as they go on the wire, or nullopt if it cannot be
// written safely. Header lists follow libcurl's conventions, as the curl
// transport does: "Name:" suppresses a header we would add, "Name;" sends it
// empty. Like the curl transport, GET and HEAD carry no body.
std::optional<std::string> Serialize(const PreparedRequest& request,
                                     const net::Url& url);

}  // namespace stampede::agent::http1

#endif  // STAMPEDE_AGENT_HTTP1_REQUEST_H_
