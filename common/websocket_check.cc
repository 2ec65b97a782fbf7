// The WebSocket half of scenario validation (see plan_validate.cc).
#include <string>

#include "absl/strings/str_cat.h"
#include "common/plan_validate_internal.h"

namespace stampede::common {
namespace {

constexpr uint32_t kMaxPayload = 16 * 1024 * 1024;
constexpr uint64_t kMaxMessageSize = 64 * 1024 * 1024;

}  // namespace

void CheckWebSocket(const LoadedPlan& loaded, const std::string& path,
                    std::vector<PlanIssue>* issues) {
  const int index = std::stoi(path.substr(path.find('[') + 1));
  const v1::Scenario& scenario = loaded.plan.scenarios(index);
  const v1::WebSocket& ws = scenario.websocket();
  const std::string ws_path = path + ".websocket";
  auto add = [&](const std::string& where, std::string message) {
    issues->push_back(loaded.IssueAt(where, std::move(message)));
  };
  const std::string& mode = ws.mode();
  if (!mode.empty() && mode != "send" && mode != "request_reply" &&
      mode != "listen") {
    add(ws_path + ".mode", absl::StrCat("unknown mode ", Quote(mode),
                                        "; use send, request_reply or listen"));
  }
  const absl::Duration every = ToDuration(ws.send_every());
  if (every < absl::ZeroDuration()) {
    add(ws_path + ".send_every", "send_every must not be negative");
  } else if ((mode.empty() || mode == "send") &&
             every == absl::ZeroDuration()) {
    add(ws_path + ".send_every",
        "mode send needs send_every, e.g. send_every: 1s (or mode: "
        "request_reply, or mode: listen)");
  }
  if (mode == "listen") {
    if (!ws.message().empty() || ws.size() > 0 || ws.has_expect_reply() ||
        ws.has_send_every()) {
      add(ws_path,
          "mode listen sends nothing: message, size, send_every and "
          "expect_reply do not apply");
    }
  }
  if (ws.size() > kMaxPayload) {
    add(ws_path + ".size",
        absl::StrCat("size ", ws.size(), " is above the limit of 16 MiB"));
  }
  if (ws.max_message_size() > kMaxMessageSize) {
    add(ws_path + ".max_message_size",
        "max_message_size is above the limit of 64 MiB");
  }
  if (!ws.match().empty() && ws.match() != "order" && ws.match() != "id") {
    add(ws_path + ".match",
        absl::StrCat("unknown match ", Quote(ws.match()), "; use order or id"));
  }
  if (!ws.id_field().empty() && ws.match() != "id") {
    add(ws_path + ".id_field", "id_field needs match: id");
  }
  if (ws.match() == "id" && ws.message().find("{{seq}}") == std::string::npos) {
    add(ws_path + ".message",
        "match: id needs the message to carry {{seq}}, e.g. message: "
        "'{\"id\":{{seq}}}'");
  }
  if (ws.has_hold() && ToDuration(ws.hold()) <= absl::ZeroDuration()) {
    add(ws_path + ".hold", "hold must be longer than 0s");
  }
  if (ws.has_reply_timeout() &&
      ToDuration(ws.reply_timeout()) <= absl::ZeroDuration()) {
    add(ws_path + ".reply_timeout", "reply_timeout must be longer than 0s");
  }
  if (scenario.load().has_arrival_rate() && !ws.has_hold()) {
    add(ws_path + ".hold",
        "with arrival_rate (a rate of new connections) each connection needs "
        "a hold time, e.g. hold: 30s");
  }
  // What a WebSocket connection cannot carry.
  if (scenario.http_version() == "2") {
    add(path + ".http_version",
        "WebSocket runs over HTTP/1.1 here; remove "
        "http_version \"2\"");
  }
  if (scenario.transport() == "curl") {
    add(path + ".transport",
        "WebSocket runs on the native engine only (Debian's libcurl has no "
        "WebSocket); use transport auto or native");
  }
  if (!scenario.proxy().empty() || scenario.has_auth()) {
    add(path + ".proxy", "proxy and auth are not available for WebSocket");
  }
  if (scenario.expected_statuses_size() > 0) {
    add(path + ".expected_statuses",
        "a WebSocket handshake succeeds only with 101; other statuses are "
        "ws_upgrade_<status> errors");
  }
  if (scenario.has_keep_alive()) {
    add(path + ".keep_alive", "keep_alive does not apply to WebSocket");
  }
  for (int j = 0; j < scenario.requests_size(); ++j) {
    const v1::Request& request = scenario.requests(j);
    const std::string request_path = absl::StrCat(path, ".requests[", j, "]");
    if (!request.method().empty() && request.method() != "GET") {
      add(request_path + ".method", "a WebSocket handshake is a GET");
    }
    if (!request.body().empty()) {
      add(request_path + ".body",
          "a WebSocket handshake has no body; the payload is "
          "websocket.message");
    }
  }
}

}  // namespace stampede::common
