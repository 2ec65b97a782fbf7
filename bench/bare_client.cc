// stampede-bare-client: the floor of what an HTTP/1.1 load generator can cost
// on this machine. N keep-alive connections to 127.0.0.1:PORT, each sending
// one fixed GET again as soon as the previous response has arrived, on one
// edge-triggered epoll loop: one send and one recv per request and nothing
// else: no parsing (every response must have the first one's length), no
// clock reads, no histograms, no reports. What it spends per request is almost
// all the kernel's TCP path, which any generator on the same loop pays too;
// bench/http1-vs-wrk runs it beside wrk and Stampede to show that share.
//
// Usage: stampede-bare-client PORT PATH CONNS SECONDS
// Prints: requests=R seconds=S cpu_seconds=C   (CPU: this process, getrusage)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

double MonoSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

double CpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) +
           static_cast<double>(tv.tv_usec) * 1e-6;
  };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// The whole length of one response (head + Content-Length body), learnt by a
// blocking exchange; 0 if the server does not give a Content-Length.
size_t ResponseLength(int port, const std::string& request) {
  int fd = Connect(port);
  if (fd < 0) return 0;
  std::string got;
  char buf[65536];
  size_t length = 0;
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size())) {
    while (length == 0 || got.size() < length) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
      size_t head_end = got.find("\r\n\r\n");
      if (length != 0 || head_end == std::string::npos) continue;
      std::string head = got.substr(0, head_end);
      for (char& c : head) c = static_cast<char>(std::tolower(c));
      size_t at = head.find("\r\ncontent-length:");
      if (at == std::string::npos) break;
      std::string_view value(head.c_str() + at + 17);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      size_t body = 0;
      std::from_chars(value.data(), value.data() + value.size(), body);
      length = head_end + 4 + body;
    }
  }
  close(fd);
  return got.size() == length ? length : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s PORT PATH CONNS SECONDS\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string path = argv[2];
  const int conns = std::atoi(argv[3]);
  const double seconds = std::atof(argv[4]);
  if (port <= 0 || port > 65535 || path.empty() || path[0] != '/' ||
      conns <= 0 || seconds <= 0) {
    std::fprintf(stderr, "usage: %s PORT PATH CONNS SECONDS\n", argv[0]);
    return 2;
  }
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + argv[1] + "\r\n\r\n";
  const size_t length = ResponseLength(port, request);
  if (length == 0) {
    std::fprintf(stderr, "bare-client: no fixed-length response from :%d%s\n",
                 port, path.c_str());
    return 1;
  }
  int ep = epoll_create1(0);
  std::vector<int> fds(static_cast<size_t>(conns));
  std::vector<size_t> pending(fds.size(), 0);  // bytes of the current response
  for (size_t i = 0; i < fds.size(); ++i) {
    fds[i] = Connect(port);
    if (fds[i] < 0) {
      std::perror("bare-client: connect");
      return 1;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
  }
  const double start = MonoSeconds();
  const double cpu_start = CpuSeconds();
  const double end = start + seconds;
  for (int fd : fds) send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  static char buffer[64 * 1024];
  epoll_event events[256];
  long long requests = 0;
  while (true) {
    int n = epoll_wait(ep, events, 256, 100);
    if (n < 0 && errno != EINTR) break;
    if (MonoSeconds() >= end) break;  // once per wakeup, not per request
    for (int k = 0; k < n; ++k) {
      const size_t i = events[k].data.u64;
      while (true) {
        ssize_t got = recv(fds[i], buffer, sizeof(buffer), 0);
        if (got <= 0) {
          if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
            std::fprintf(stderr, "bare-client: connection %zu lost\n", i);
            return 1;
          }
          break;
        }
        pending[i] += static_cast<size_t>(got);
        if (pending[i] >= length) {  // one request in flight: never more
          pending[i] -= length;
          ++requests;
          send(fds[i], request.data(), request.size(), MSG_NOSIGNAL);
        }
        if (static_cast<size_t>(got) < sizeof(buffer)) break;  // drained
      }
    }
  }
  const double elapsed = MonoSeconds() - start;
  const double cpu = CpuSeconds() - cpu_start;
  std::printf("requests=%lld seconds=%.3f cpu_seconds=%.3f\n", requests,
              elapsed, cpu);
  for (int fd : fds) close(fd);
  close(ep);
  return 0;
}
