#include "controller/web/metrics_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/listen_socket.h"

namespace stampede::controller {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& where) {
  common::ListenAddress address;
  absl::StatusOr<int> fd =
      common::ListenForFlag("--metrics-listen", where, &address);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(*fd, address.port, address.ToString()));
}

MetricsServer::MetricsServer(int fd, int port, std::string address)
    : fd_(fd), port_(port), address_(std::move(address)) {
  if (pipe2(wake_, O_CLOEXEC) != 0) wake_[0] = wake_[1] = -1;
  thread_ = std::thread([this] { Loop(); });
}

MetricsServer::~MetricsServer() {
  if (wake_[1] >= 0) {
    const char c = 0;
    (void)!write(wake_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  close(fd_);
  if (wake_[0] >= 0) close(wake_[0]);
  if (wake_[1] >= 0) close(wake_[1]);
}

void MetricsServer::Publish(std::string text) {
  std::lock_guard<std::mutex> lock(mu_);
  text_ = std::move(text);
}

void MetricsServer::Loop() {
  while (true) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    const int n = poll(fds, wake_[0] >= 0 ? 2 : 1, 1000);
    if (n < 0 && errno != EINTR) return;
    if (wake_[0] >= 0 && (fds[1].revents & POLLIN)) return;
    if (n <= 0 || !(fds[0].revents & POLLIN)) continue;
    const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    Answer(client);
    close(client);
  }
}

namespace {

// Reads until the end of the request head, 8 KiB or 2 s, whichever first.
std::string ReadHead(int client) {
  constexpr size_t kMax = 8192;
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  std::string head;
  char buf[1024];
  while (head.size() < kMax && head.find("\r\n\r\n") == std::string::npos &&
         head.find("\n\n") == std::string::npos) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd p{client, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0)
      break;
    const ssize_t got = recv(client, buf, sizeof buf, 0);
    if (got <= 0) break;
    head.append(buf, static_cast<size_t>(got));
  }
  return head;
}

void SendAll(int client, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    pollfd p{client, POLLOUT, 0};
    if (poll(&p, 1, 2000) <= 0) return;
    const ssize_t n =
        send(client, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace

void MetricsServer::Answer(int client) {
  const std::string head = ReadHead(client);
  const size_t line_end = head.find_first_of("\r\n");
  const absl::string_view line = absl::string_view(head).substr(
      0, line_end == std::string::npos ? head.size() : line_end);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == absl::string_view::npos ? absl::string_view::npos
                                                    : line.find(' ', sp1 + 1);
  const absl::string_view method = line.substr(0, sp1);
  absl::string_view target = sp2 == absl::string_view::npos
                                 ? absl::string_view()
                                 : line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  int status = 200;
  std::string type = "text/plain; version=0.0.4; charset=utf-8";
  std::string body;
  std::string allow;
  if (sp2 == absl::string_view::npos) {
    status = 400;
    body = "bad request\n";
  } else if (method != "GET" && method != "HEAD") {
    status = 405;
    allow = "Allow: GET, HEAD\r\n";
    body = "read-only: GET /metrics\n";
  } else if (target == "/metrics") {
    std::lock_guard<std::mutex> lock(mu_);
    body = text_;
  } else if (target == "/") {
    type = "text/plain; charset=utf-8";
    body = "stampede controller: metrics at /metrics\n";
  } else {
    status = 404;
    body = "not found; metrics at /metrics\n";
  }
  const char* reason = status == 200   ? "OK"
                       : status == 400 ? "Bad Request"
                       : status == 404 ? "Not Found"
                                       : "Method Not Allowed";
  std::string response =
      absl::StrCat("HTTP/1.1 ", status, " ", reason, "\r\nContent-Type: ", type,
                   "\r\nContent-Length: ", body.size(), "\r\n", allow,
                   "Cache-Control: no-store\r\nConnection: close\r\n\r\n");
  if (method != "HEAD") response += body;
  SendAll(client, response);
}

}  // namespace stampede::controller
