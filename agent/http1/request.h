// What the native HTTP/1.1 engine makes of a plan request before the run: its
// bytes on the wire. Pure functions; thread-safe.
#ifndef STAMPEDE_AGENT_HTTP1_REQUEST_H_
#define STAMPEDE_AGENT_HTTP1_REQUEST_H_

#include <optional>
#include <string>
#include <string_view>

#include "agent/net/url.h"
#include "agent/transport.h"

namespace stampede::agent::http1 {

// The request's bytes as they go on the wire, or nullopt if it cannot be
// written safely. Header lists follow libcurl's conventions, as the curl
// transport does: "Name:" suppresses a header we would add, "Name;" sends it
// empty. Like the curl transport, GET and HEAD carry no body.
std::optional<std::string> Serialize(const PreparedRequest& request,
                                     const net::Url& url);

// A flow step's request as rendered for one send, into *out (cleared; its
// capacity kept): `method` and Host `authority` from the plan, the rest from
// `flow`, whose headers have been checked (FlowSend::invalid). Host is added
// unless the step names one; GET and HEAD carry no body.
void SerializeFlow(std::string_view method, std::string_view authority,
                   bool keep_alive, const FlowSend& flow, std::string* out);

}  // namespace stampede::agent::http1

#endif  // STAMPEDE_AGENT_HTTP1_REQUEST_H_
