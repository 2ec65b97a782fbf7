#include "agent/h2/request.h"

#include <charconv>
#include <cstdio>
#include <optional>
#include <string_view>

#include "agent/http1/request.h"
#include "agent/net/url.h"

namespace stampede::agent {
namespace {

using common::ErrorId;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Connection-specific fields are not allowed in HTTP/2 (RFC 9113 8.2.2).
bool ConnectionSpecific(std::string_view lower, std::string_view value) {
  return lower == "connection" || lower == "keep-alive" ||
         lower == "proxy-connection" || lower == "transfer-encoding" ||
         lower == "upgrade" || (lower == "te" && value != "trailers");
}

nghttp2_nv Nv(std::string_view name, std::string_view value) {
  // Never a null pointer, even for an empty value: nghttp2 copies both.
  if (value.empty()) value = "";
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())),
                    name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
}

// The header block as (lower-case name, value) pairs, pseudo-headers first,
// or why the request cannot go as HTTP/2. Header lists follow libcurl's
// conventions like the other engines: "Name:" suppresses a header, "Name;"
// sends it empty. GET and HEAD carry no body.
std::optional<std::vector<std::pair<std::string, std::string>>> HeaderBlock(
    const PreparedRequest& request, const net::Url& url, std::string* why) {
  const std::string method = request.method.empty() ? "GET" : request.method;
  if (!net::IsToken(method)) {
    *why = "bad method";
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {":method", method},
      {":scheme", url.https ? "https" : "http"},
      {":authority", url.authority},
      {":path", url.target}};
  bool length_given = false;
  for (const std::string& h : request.headers) {
    *why = "bad header \"" + h + "\"";
    if (h.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      return std::nullopt;
    size_t colon = h.find(':');
    std::string_view name, value;
    bool empty = false;
    if (colon == std::string::npos) {
      if (h.empty() || h.back() != ';') return std::nullopt;
      name = std::string_view(h).substr(0, h.size() - 1);
      empty = true;
    } else {
      name = std::string_view(h).substr(0, colon);
      value = net::TrimSpace(std::string_view(h).substr(colon + 1));
    }
    if (!net::IsToken(name)) return std::nullopt;
    if (!empty && value.empty()) continue;
    std::string lower = Lower(name);
    if (lower == "host") {
      fields[2].second = std::string(value);
      continue;
    }
    if (ConnectionSpecific(lower, value)) continue;
    if (lower == "content-length") length_given = true;
    fields.emplace_back(std::move(lower), std::string(value));
  }
  const bool bodyless = method == "GET" || method == "HEAD";
  if (!bodyless && !length_given)
    fields.emplace_back("content-length", std::to_string(request.body.size()));
  why->clear();
  return fields;
}

}  // namespace

std::string H2Unsupported(const PreparedRequest& request) {
  std::string why;
  std::optional<net::Url> url = net::ParseUrl(request.url);
  if (!url) {
    return "not an http:// or https:// URL with a host and a valid port "
           "(without credentials or spaces)";
  }
  HeaderBlock(request, *url, &why);
  return why;
}

ErrorId BuildH2Request(const PreparedRequest& request, H2Request* out) {
  std::string why;
  std::optional<net::Url> url = net::ParseUrl(request.url);
  if (!url) return ErrorId::kTransportOther;
  auto fields = HeaderBlock(request, *url, &why);
  if (!fields) return ErrorId::kTransportOther;
  out->fields = std::move(*fields);
  out->nva.clear();
  for (auto& [name, value] : out->fields) {
    out->nva.push_back(nghttp2_nv{
        reinterpret_cast<uint8_t*>(name.data()),
        reinterpret_cast<uint8_t*>(value.data()), name.size(), value.size(),
        NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE});
  }
  const std::string& method = out->fields[0].second;
  out->has_body = method != "GET" && method != "HEAD" && !request.body.empty();
  out->body = out->has_body ? request.body : std::string();
  out->https = url->https;
  out->host = url->host;
  out->port = url->port;
  return ErrorId::kNone;
}

ErrorId BuildH2FlowBlock(const H2Request& base, const FlowSend& flow,
                         H2FlowBlock* out) {
  out->nva.clear();
  out->names.clear();
  // The names are never longer than the lines that hold them: with this
  // much room, appending never moves what earlier entries point at.
  out->names.reserve(flow.headers.size());
  const std::string& method =
      flow.method.empty() ? base.fields[0].second : flow.method;
  out->nva.push_back(Nv(":method", method));
  out->nva.push_back(Nv(":scheme", base.fields[1].second));
  out->nva.push_back(Nv(":authority", base.fields[2].second));
  out->nva.push_back(Nv(":path", flow.target));
  ErrorId error = ErrorId::kNone;
  ForEachHeaderLine(flow.headers, [&](std::string_view line) {
    if (error != ErrorId::kNone) return;
    const size_t colon = line.find(':');
    std::string_view name, value;
    bool empty = false;
    if (colon == std::string_view::npos) {
      if (line.back() != ';') {
        error = ErrorId::kInvalidRequest;
        return;
      }
      name = line.substr(0, line.size() - 1);
      empty = true;
    } else {
      name = line.substr(0, colon);
      value = net::TrimSpace(line.substr(colon + 1));
    }
    if (!net::IsToken(name)) {
      error = ErrorId::kInvalidRequest;
      return;
    }
    if (!empty && value.empty()) return;
    const size_t at = out->names.size();
    for (char c : name)
      out->names.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32)
                                                : c);
    const std::string_view lower(out->names.data() + at, name.size());
    if (lower == "host") {
      out->nva[2] = Nv(":authority", value);
    } else if (!ConnectionSpecific(lower, value) && lower != "content-length") {
      out->nva.push_back(Nv(lower, value));
      return;
    }
    out->names.resize(at);
  });
  if (error != ErrorId::kNone) return error;
  const bool bodyless = method == "GET" || method == "HEAD";
  if (!bodyless) {
    const char* end =
        std::to_chars(out->length, out->length + sizeof(out->length),
                      flow.body.size())
            .ptr;
    out->nva.push_back(Nv(
        "content-length",
        std::string_view(out->length, static_cast<size_t>(end - out->length))));
  }
  out->has_body = !bodyless && !flow.body.empty();
  return ErrorId::kNone;
}

}  // namespace stampede::agent
