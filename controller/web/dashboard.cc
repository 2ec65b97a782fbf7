#include "controller/web/dashboard.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/listen_socket.h"
#include "common/template.h"
#include "controller/report/format.h"

namespace stampede::controller {
namespace {

// A request head larger than this is refused (and the connection closed).
constexpr size_t kMaxHead = 8192;

std::string Response(int status, const std::string& type,
                     const std::string& body, const std::string& extra = "") {
  const char* reason = status == 200   ? "OK"
                       : status == 400 ? "Bad Request"
                       : status == 403 ? "Forbidden"
                       : status == 404 ? "Not Found"
                       : status == 405 ? "Method Not Allowed"
                                       : "Service Unavailable";
  return absl::StrCat(
      "HTTP/1.1 ", status, " ", reason, "\r\nContent-Type: ", type,
      "\r\nContent-Length: ", body.size(), "\r\n", extra,
      "Cache-Control: no-store\r\nConnection: close\r\n\r\n", body);
}

std::string Number(double v) { return absl::StrFormat("%.6g", v); }

// The value of header `name` (lower case) in `head`, or "".
std::string Header(absl::string_view head, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(head, '\n')) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::AsciiStrToLower(
            absl::StripAsciiWhitespace(line.substr(0, colon))) != name)
      continue;
    return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return "";
}

}  // namespace

std::string DashboardIntervalJson(const v1::IntervalResult& i) {
  std::string ids;
  for (const auto& [id, n] : std::map<std::string, int64_t>(
           i.error_ids().begin(), i.error_ids().end())) {
    ids += ids.empty() ? "\"" : ",\"";
    common::AppendJsonEscaped(id, &ids);
    absl::StrAppend(&ids, "\":", n);
  }
  return absl::StrCat(
      "{\"t\":", Number(i.t()), ",\"rps\":", Number(i.rps()),
      ",\"target\":", Number(i.target_rps()), ",\"requests\":", i.requests(),
      ",\"errors\":", i.errors(), ",\"vus\":", i.vus(),
      ",\"in_flight\":", i.in_flight(), ",\"agents\":", i.agents_reported(),
      ",\"limited\":", i.generator_limited() ? 1 : 0, ",\"error_ids\":{", ids,
      "},\"h\":\"", absl::Base64Escape(i.latency_histogram()), "\"}");
}

absl::StatusOr<std::unique_ptr<DashboardServer>> DashboardServer::Start(
    const std::string& where, const std::string& token,
    const std::string& title) {
  common::ListenAddress address;
  absl::StatusOr<int> fd =
      common::ListenForFlag("--dashboard-listen", where, &address);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<DashboardServer>(
      new DashboardServer(*fd, address.port, address.ToString(), token, title));
}

DashboardServer::DashboardServer(int fd, int port, std::string address,
                                 std::string token, std::string title)
    : fd_(fd),
      port_(port),
      address_(std::move(address)),
      token_(std::move(token)),
      page_(FormatLiveHtml(title, !token_.empty())) {
  if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
  thread_ = std::thread([this] { Loop(); });
}

DashboardServer::~DashboardServer() {
  // Let the streams take the `done` event (up to 2 s) before closing.
  for (int i = 0; i < 200 && !idle_.load(); ++i) {
    Wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  quit_ = true;
  Wake();
  if (thread_.joinable()) thread_.join();
  for (Client& c : clients_) close(c.fd);
  close(fd_);
  if (wake_[0] >= 0) close(wake_[0]);
  if (wake_[1] >= 0) close(wake_[1]);
}

void DashboardServer::Wake() {
  if (wake_[1] < 0) return;
  const char c = 0;
  (void)!write(wake_[1], &c, 1);
}

void DashboardServer::PublishInterval(const v1::IntervalResult& interval) {
  std::string json = DashboardIntervalJson(interval);
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.emplace_back(
        history_.size(), absl::StrCat("event: interval\ndata: ", json, "\n\n"));
    history_.push_back(std::move(json));
  }
  Wake();
}

void DashboardServer::PublishDone(const v1::RunResult& result) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = absl::StrCat(
        "event: done\ndata: {\"status\":\"", result.status(),
        "\",\"exit_code\":", result.exit_code(),
        ",\"requests\":", result.summary().requests(),
        ",\"p95\":", Number(result.summary().latency_ms().p95()), "}\n\n");
  }
  Wake();
}

void DashboardServer::Answer(Client& c) {
  const size_t line_end = c.in.find_first_of("\r\n");
  const absl::string_view line = absl::string_view(c.in).substr(0, line_end);
  const std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  c.close_after = true;
  if (parts.size() != 3) {
    c.out = Response(400, "text/plain", "bad request\n");
    return;
  }
  const absl::string_view method = parts[0];
  const absl::string_view target = parts[1].substr(0, parts[1].find('?'));
  if (method == "POST" && target == "/stop") {
    // Only with the token, and only from the page itself: a browser sends
    // Origin with a cross-site POST, so another site cannot stop the run.
    const std::string origin = Header(c.in, "origin");
    const bool same_origin =
        origin.empty() || origin == absl::StrCat("http://", address_);
    if (token_.empty() || !same_origin ||
        Header(c.in, "authorization") != absl::StrCat("Bearer ", token_)) {
      c.out = Response(
          403, "text/plain",
          token_.empty() ? "read-only: no --dashboard-token\n" : "forbidden\n");
      return;
    }
    stop_ = true;
    c.out = Response(200, "text/plain", "stopping\n");
    return;
  }
  if (method != "GET") {
    c.out = Response(405, "text/plain", "GET / and /events; POST /stop\n",
                     "Allow: GET, POST\r\n");
    return;
  }
  if (target == "/") {
    c.out = Response(200, "text/html; charset=utf-8", page_);
    return;
  }
  if (target == "/events") {
    // The run so far in one event, then the stream.
    std::lock_guard<std::mutex> lock(mu_);
    c.out = absl::StrCat(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        "retry: 2000\nevent: history\ndata: [",
        absl::StrJoin(history_, ","), "]\n\n");
    c.next = history_.size();
    if (!done_.empty()) {
      c.out += done_;
    } else {
      c.streaming = true;
      c.close_after = false;
    }
    return;
  }
  c.out = Response(404, "text/plain", "not found: GET / or /events\n");
}

void DashboardServer::Loop() {
  while (!quit_) {
    std::vector<pollfd> fds = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    for (const Client& c : clients_) {
      fds.push_back(
          {c.fd, static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
    }
    if (poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) return;
    if (fds[1].revents & POLLIN) {
      char buf[64];
      while (read(wake_[0], buf, sizeof buf) > 0) {
      }
    }
    {
      // New events (and the end) for the streams.
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [index, event] : pending_) {
        for (Client& c : clients_)
          if (c.streaming && index >= c.next) c.out += event;
      }
      pending_.clear();
      if (!done_.empty()) {
        for (Client& c : clients_) {
          if (!c.streaming) continue;
          c.out += done_;
          c.streaming = false;
          c.close_after = true;
        }
      }
    }
    const size_t polled = fds.size() - 2;
    for (size_t k = 0; k < polled; ++k) {
      Client& c = clients_[k];
      const short ev = fds[k + 2].revents;
      bool drop = (ev & (POLLERR | POLLNVAL)) != 0;
      if (!drop && (ev & (POLLIN | POLLHUP)) && c.out.empty()) {
        char buf[2048];
        const ssize_t n = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          drop = true;
        } else if (n > 0) {
          c.in.append(buf, static_cast<size_t>(n));
          if (c.in.find("\r\n\r\n") != std::string::npos ||
              c.in.find("\n\n") != std::string::npos) {
            Answer(c);
          } else if (c.in.size() > kMaxHead) {
            c.out = Response(400, "text/plain", "request too large\n");
            c.close_after = true;
          }
        }
      }
      if (!drop && !c.out.empty() && (ev & POLLOUT)) {
        const ssize_t n =
            send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) drop = true;
        if (n > 0) c.out.erase(0, static_cast<size_t>(n));
        if (c.out.empty() && c.close_after) drop = true;
      }
      c.drop = drop;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      idle_ =
          !done_.empty() && pending_.empty() &&
          std::all_of(clients_.begin(), clients_.end(), [](const Client& c) {
            return c.drop || (c.out.empty() && !c.streaming);
          });
    }
    for (Client& c : clients_)
      if (c.drop) close(c.fd);
    clients_.erase(std::remove_if(clients_.begin(), clients_.end(),
                                  [](const Client& c) { return c.drop; }),
                   clients_.end());
    if (fds[0].revents & POLLIN) {
      const int client =
          accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (client >= 0) {
        if (clients_.size() >= kDashboardClients) {
          const std::string busy =
              Response(503, "text/plain", "too many dashboard clients\n");
          (void)!send(client, busy.data(), busy.size(),
                      MSG_NOSIGNAL | MSG_DONTWAIT);
          close(client);
        } else {
          Client c;
          c.fd = client;
          clients_.push_back(std::move(c));
        }
      }
    }
  }
}

}  // namespace stampede::controller
