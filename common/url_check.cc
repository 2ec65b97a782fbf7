// What is wrong with a plan's URL (scheme, spaces, host, port, user info),
// for the plan validator. Part of the validator's sources (see
// plan_validate_internal.h).
#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/plan_validate_internal.h"

namespace stampede::common {

std::string UrlProblem(absl::string_view url, bool websocket) {
  absl::string_view rest = url;
  if (absl::StartsWith(rest, "http://")) {
    rest.remove_prefix(7);
  } else if (absl::StartsWith(rest, "https://")) {
    rest.remove_prefix(8);
  } else if (websocket && absl::StartsWith(rest, "ws://")) {
    rest.remove_prefix(5);
  } else if (websocket && absl::StartsWith(rest, "wss://")) {
    rest.remove_prefix(6);
  } else {
    return websocket ? "must start with ws://, wss://, http:// or https://"
                     : "must start with http:// or https://";
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ') return "must not contain spaces";
  }
  const absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  absl::string_view host = authority;
  absl::string_view port;
  if (absl::StartsWith(authority, "[")) {  // [::1]:8080
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos)
      return "has an unclosed [ in its host";
    host = authority.substr(0, close + 1);
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return "has text after the ]";
      port = after.substr(1);
      if (port.empty()) return "has an empty port";
    }
    if (host.size() == 2) return "has no host";
  } else if (const size_t colon = authority.rfind(':');
             colon != absl::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return "has an empty port";
  }
  if (host.empty()) return "has no host";
  if (host.find('@') != absl::string_view::npos)
    return "must not contain user info (@)";
  if (!port.empty()) {
    uint32_t n = 0;
    const bool digits = std::all_of(
        port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || port.size() > 5 || !absl::SimpleAtoi(port, &n) || n < 1 ||
        n > 65535) {
      return absl::StrCat("has port ", port, "; a port must be 1..65535");
    }
  }
  return "";
}

}  // namespace stampede::common
