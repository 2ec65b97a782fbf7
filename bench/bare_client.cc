// stampede-bare-client: the floor of what an HTTP/1.1 load generator can cost
// on this machine. N keep-alive connections to 127.0.0.1:PORT, each sending
// one fixed GET again as soon as the previous response has arrived, on one
// edge-triggered epoll loop: one send and one recv per request (over TLS: one
// SSL_write and SSL_reads until the socket is drained, OpenSSL read-ahead on,
// as Stampede's engine does) and nothing else: no parsing (every response must
// have the first one's length), no clock reads, no histograms, no reports.
// What it spends per request is almost all the kernel's TCP path (and
// OpenSSL's record layer), which any generator on the same loop pays too;
// bench/http1-vs-wrk runs it beside wrk and Stampede to show that share.
//
// Usage: stampede-bare-client PORT PATH CONNS SECONDS [tls]
//   tls: speak TLS (the certificate is not checked, as wrk does not)
// Prints: requests=R seconds=S cpu_seconds=C   (CPU: this process, getrusage)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
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

// One connection: a socket, and its TLS state when speaking TLS.
struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  size_t pending = 0;  // bytes of the current response so far

  // Like send/recv: > 0 bytes, 0 closed, -1 with errno EAGAIN or another.
  ssize_t Send(const std::string& data) {
    if (ssl == nullptr) return send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    int n = SSL_write(ssl, data.data(), static_cast<int>(data.size()));
    return n > 0 ? n : Failed(n);
  }
  ssize_t Recv(char* buf, size_t size) {
    if (ssl == nullptr) return recv(fd, buf, size, 0);
    int n = SSL_read(ssl, buf, static_cast<int>(size));
    return n > 0 ? n : Failed(n);
  }
  ssize_t Failed(int n) {
    switch (SSL_get_error(ssl, n)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
      case SSL_ERROR_ZERO_RETURN:
        return 0;
      default:
        errno = EIO;
        return -1;
    }
  }
};

// A blocking connection (TLS handshake done when `ctx` is set); fd -1 if not.
Conn Connect(int port, SSL_CTX* ctx) {
  Conn c;
  c.fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c.fd < 0) return c;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    close(c.fd);
    c.fd = -1;
    return c;
  }
  if (ctx != nullptr) {
    c.ssl = SSL_new(ctx);
    SSL_set_fd(c.ssl, c.fd);
    if (SSL_connect(c.ssl) != 1) {
      ERR_print_errors_fp(stderr);
      SSL_free(c.ssl);
      c.ssl = nullptr;
      close(c.fd);
      c.fd = -1;
    }
  }
  return c;
}

// The whole length of one response (head + Content-Length body), learnt by a
// blocking exchange on `c`; 0 if the server does not give a Content-Length.
size_t ResponseLength(Conn& c, const std::string& request) {
  std::string got;
  char buf[65536];
  size_t length = 0;
  if (c.Send(request) != static_cast<ssize_t>(request.size())) return 0;
  while (length == 0 || got.size() < length) {
    ssize_t n = c.Recv(buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
    size_t head_end = got.find("\r\n\r\n");
    if (length != 0 || head_end == std::string::npos) continue;
    std::string head = got.substr(0, head_end);
    for (char& ch : head) ch = static_cast<char>(std::tolower(ch));
    size_t at = head.find("\r\ncontent-length:");
    if (at == std::string::npos) break;
    std::string_view value(head.c_str() + at + 17);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    size_t body = 0;
    std::from_chars(value.data(), value.data() + value.size(), body);
    length = head_end + 4 + body;
  }
  return got.size() == length ? length : 0;
}

int Usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s PORT PATH CONNS SECONDS [tls]\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) return Usage(argv[0]);
  const int port = std::atoi(argv[1]);
  const std::string path = argv[2];
  const int conns = std::atoi(argv[3]);
  const double seconds = std::atof(argv[4]);
  const bool tls = argc == 6 && std::string_view(argv[5]) == "tls";
  if (port <= 0 || port > 65535 || path.empty() || path[0] != '/' ||
      conns <= 0 || seconds <= 0 || (argc == 6 && !tls)) {
    return Usage(argv[0]);
  }
  SSL_CTX* ctx = nullptr;
  if (tls) {
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_read_ahead(ctx, 1);
  }
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + argv[1] + "\r\n\r\n";
  int ep = epoll_create1(0);
  std::vector<Conn> cs(static_cast<size_t>(conns));
  size_t length = 0;
  for (size_t i = 0; i < cs.size(); ++i) {
    cs[i] = Connect(port, ctx);
    if (cs[i].fd < 0) {
      std::perror("bare-client: connect");
      return 1;
    }
    if (i == 0 && (length = ResponseLength(cs[0], request)) == 0) {
      std::fprintf(stderr, "bare-client: no fixed-length response from :%d%s\n",
                   port, path.c_str());
      return 1;
    }
    fcntl(cs[i].fd, F_SETFL, fcntl(cs[i].fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
  }
  const double start = MonoSeconds();
  const double cpu_start = CpuSeconds();
  const double end = start + seconds;
  for (Conn& c : cs) c.Send(request);
  static char buffer[64 * 1024];
  epoll_event events[256];
  long long requests = 0;
  while (true) {
    int n = epoll_wait(ep, events, 256, 100);
    if (n < 0 && errno != EINTR) break;
    if (MonoSeconds() >= end) break;  // once per wakeup, not per request
    for (int k = 0; k < n; ++k) {
      Conn& c = cs[events[k].data.u64];
      while (true) {
        ssize_t got = c.Recv(buffer, sizeof(buffer));
        if (got <= 0) {
          if (got == 0 || errno != EAGAIN) {
            std::fprintf(stderr, "bare-client: a connection was lost\n");
            return 1;
          }
          break;
        }
        c.pending += static_cast<size_t>(got);
        if (c.pending >= length) {  // one request in flight: never more
          c.pending -= length;
          ++requests;
          if (c.Send(request) != static_cast<ssize_t>(request.size())) {
            std::fprintf(stderr, "bare-client: a request did not fit\n");
            return 1;
          }
        }
        // A short plain read drained the socket; OpenSSL may hold more.
        if (c.ssl == nullptr && static_cast<size_t>(got) < sizeof(buffer))
          break;
      }
    }
  }
  const double elapsed = MonoSeconds() - start;
  const double cpu = CpuSeconds() - cpu_start;
  std::printf("requests=%lld seconds=%.3f cpu_seconds=%.3f\n", requests,
              elapsed, cpu);
  for (Conn& c : cs) {
    if (c.ssl != nullptr) SSL_free(c.ssl);
    close(c.fd);
  }
  if (ctx != nullptr) SSL_CTX_free(ctx);
  close(ep);
  return 0;
}
