// What the native HTTP/1.1 engine makes of a plan request before the run: its
// bytes on the wire. Pure functions (Resolve may block on DNS); thread-safe.
#ifndef STAMPEDE_AGENT_HTTP1_REQUEST_H_
#define STAMPEDE_AGENT_HTTP1_REQUEST_H_

#include <sys/socket.h>

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

// Blocking. Prefers an IPv4 address when the name has both, so "localhost"
// reaches a target listening on 127.0.0.1.
bool Resolve(const net::Url& url, sockaddr_storage* addr, socklen_t* len);

}  // namespace stampede::agent::http1

#endif  // STAMPEDE_AGENT_HTTP1_REQUEST_H_
