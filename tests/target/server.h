// The HTTP/1.1 server Stampede's tests and benchmarks aim at: one epoll loop
// and SO_REUSEPORT listener per thread. Create/Start/Shutdown are for one
// controlling thread; the loops share only their stats, merged under locks.

#ifndef STAMPEDE_TESTS_TARGET_SERVER_H_
#define STAMPEDE_TESTS_TARGET_SERVER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stampede::target {

// A numeric address to listen on, e.g. "127.0.0.1:8080" or "[::1]:0" (port 0 =
// any free port).
struct ListenAddress {
  std::string host;  // IPv4 or IPv6 literal, without brackets.
  int port = 0;

  std::string ToString() const;  // "127.0.0.1:8080" or "[::1]:8080".
};

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

struct ServerOptions {
  ListenAddress listen;
  int threads = 2;  // One event loop and one listening socket each.
  // PEM files; both set: serve HTTPS (TLS 1.2+) instead of plain HTTP.
  std::string tls_cert;
  std::string tls_key;
};

class EventLoop;  // Defined in server.cc.
}  // namespace stampede::target
struct ssl_ctx_st;  // OpenSSL's SSL_CTX.
namespace stampede::target {

// Routes: "/" -> "ok"; "/bytes/N"; "/delay/MS"; "/status/CODE"; "/stats";
// "/stats/reset"; "/fault/freeze/MS" (every thread holds load requests
// unanswered for MS milliseconds, as a stalled server would).
class Server {
 public:
  // Binds every listener, so that port() is known (and connectable) before
  // Start().
  static absl::StatusOr<std::unique_ptr<Server>> Create(
      const ServerOptions& options);

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();  // Shuts down if still running.

  // Starts one thread per loop. Call at most once.
  void Start();

  // Stops the loops, closes every connection and joins the threads. Idempotent.
  void Shutdown();

  // The bound address; its port is the real one even when 0 was asked for.
  const ListenAddress& address() const { return address_; }

 private:
  Server() = default;

  struct TlsContextDeleter {
    void operator()(ssl_ctx_st* ctx) const;
  };

  ListenAddress address_;
  // Shared by every loop (OpenSSL makes connections from it thread-safely);
  // null for plain HTTP. Declared before loops_ so it outlives them.
  std::unique_ptr<ssl_ctx_st, TlsContextDeleter> tls_;
  // Each loop reads the others' stats through this vector, so it must outlive
  // the threads.
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
};

// Writes "PORT\n" to `path` atomically (via `path`.tmp and rename), for tests
// to poll.
absl::Status WritePortFile(const std::string& path, int port);

// Ignores SIGPIPE and blocks SIGINT and SIGTERM in the calling thread and the
// threads it starts later; call it before Server::Start().
void BlockStopSignals();

// Waits until SIGINT or SIGTERM (as blocked above) arrives.
void WaitForStopSignal();

}  // namespace stampede::target

#endif  // STAMPEDE_TESTS_TARGET_SERVER_H_
