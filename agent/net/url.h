// URLs as every native engine takes them apart, and the RFC 9110 token rules
// their requests are checked with. Pure functions; thread-safe.
#ifndef STAMPEDE_AGENT_NET_URL_H_
#define STAMPEDE_AGENT_NET_URL_H_

#include <optional>
#include <string>
#include <string_view>

namespace stampede::agent::net {

struct Url {
  bool https = false;
  std::string host;  // without brackets
  bool bracketed = false;
  std::string port;
  std::string authority;  // as written, for the Host header
  std::string target;     // path and query
};

// RFC 9110 token characters, for methods and header names.
bool IsToken(std::string_view s);
// Without leading and trailing spaces and tabs.
std::string_view TrimSpace(std::string_view s);

// An http:// or https:// URL without credentials, or nullopt.
std::optional<Url> ParseUrl(std::string_view url);

}  // namespace stampede::agent::net

#endif  // STAMPEDE_AGENT_NET_URL_H_
