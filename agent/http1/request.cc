#include "agent/http1/request.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstdio>
#include <cstring>

#include "agent/http1/parser.h"

namespace stampede::agent::http1 {

using net::IsToken;
using net::TrimSpace;
using net::Url;

std::optional<std::string> Serialize(const PreparedRequest& request,
                                     const Url& url) {
  std::string method = request.method.empty() ? "GET" : request.method;
  if (!IsToken(method)) return std::nullopt;
  bool host_given = false, length_given = false;
  std::string headers;
  for (const std::string& h : request.headers) {
    if (h.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      return std::nullopt;
    size_t colon = h.find(':');
    if (colon == std::string::npos) {
      if (!h.empty() && h.back() == ';' &&
          IsToken(std::string_view(h).substr(0, h.size() - 1))) {
        headers.append(h, 0, h.size() - 1).append(":\r\n");
        continue;
      }
      return std::nullopt;
    }
    std::string_view name = std::string_view(h).substr(0, colon);
    if (!IsToken(name)) return std::nullopt;
    std::string_view value = TrimSpace(std::string_view(h).substr(colon + 1));
    if (EqualsIgnoreCase(name, "host")) host_given = true;
    if (EqualsIgnoreCase(name, "content-length") ||
        EqualsIgnoreCase(name, "transfer-encoding")) {
      length_given = true;
    }
    if (value.empty()) continue;
    headers.append(name).append(": ").append(value).append("\r\n");
  }
  const bool bodyless = method == "GET" || method == "HEAD";
  std::string_view body = bodyless ? std::string_view() : request.body;
  std::string wire;
  wire.reserve(64 + url.target.size() + url.authority.size() + headers.size() +
               body.size());
  wire.append(method).append(" ").append(url.target).append(" HTTP/1.1\r\n");
  if (!host_given) wire.append("Host: ").append(url.authority).append("\r\n");
  wire.append(headers);
  if (!request.keep_alive) wire.append("Connection: close\r\n");
  if (!length_given && !bodyless) {
    wire.append("Content-Length: ")
        .append(std::to_string(body.size()))
        .append("\r\n");
  }
  wire.append("\r\n").append(body);
  return wire;
}

void SerializeFlow(std::string_view method, std::string_view authority,
                   bool keep_alive, const FlowSend& flow, std::string* out) {
  out->clear();
  if (!flow.method.empty()) method = flow.method;
  out->append(method).append(" ").append(flow.target).append(" HTTP/1.1\r\n");
  bool host_given = false;
  for (size_t at = 0; at < flow.headers.size();) {
    if (flow.headers.size() - at > 5 &&
        EqualsIgnoreCase(std::string_view(flow.headers).substr(at, 5),
                         "host:")) {
      host_given = true;
      break;
    }
    const size_t nl = flow.headers.find('\n', at);
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  if (!host_given) out->append("Host: ").append(authority).append("\r\n");
  out->append(flow.headers);
  if (!keep_alive) out->append("Connection: close\r\n");
  const bool bodyless = method == "GET" || method == "HEAD";
  if (!bodyless) {
    char digits[24];
    const char* end =
        std::to_chars(digits, digits + sizeof(digits), flow.body.size()).ptr;
    out->append("Content-Length: ")
        .append(digits, static_cast<size_t>(end - digits))
        .append("\r\n");
  }
  out->append("\r\n");
  if (!bodyless) out->append(flow.body);
}

}  // namespace stampede::agent::http1
