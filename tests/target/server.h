// The HTTP/1.1 + WebSocket server Stampede's tests and benchmarks aim at: one
// epoll loop and SO_REUSEPORT listener per thread. Create/Start/Shutdown are
// for one controlling thread; the loops share only their stats (merged under
// locks) and the fault settings (atomics).

#ifndef STAMPEDE_TESTS_TARGET_SERVER_H_
#define STAMPEDE_TESTS_TARGET_SERVER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/listen_socket.h"

namespace stampede::target {

using common::ListenAddress;
using common::ParseListenAddress;

struct ServerOptions {
  ListenAddress listen;
  int threads = 2;  // One event loop and one listening socket each.
  // PEM files; both set: serve HTTPS (TLS 1.2+) instead of plain HTTP.
  std::string tls_cert;
  std::string tls_key;
};

class EventLoop;  // event_loop.h
class Faults;     // faults.h
class AppState;   // state.h
}  // namespace stampede::target
struct ssl_ctx_st;  // OpenSSL's SSL_CTX.
namespace stampede::target {

// Routes (GET; "load" routes obey the faults, /stats* and /fault/* never do):
//   /                 200 "ok"
//   /bytes/N          N bytes of 'x'
//   /delay/MS         "ok" after MS ms
//   /status/CODE      CODE with its reason phrase as the body
//   /auth/basic/U/P   200 with Basic credentials U:P, else 401
//   /ws/echo          WebSocket (RFC 6455): echoes each data message whole, as
//                     one frame; ?close=CODE&after=N closes with CODE after N
//                     echoes; ?delay=MS holds each echo MS ms. Messages up to
//                     1 MiB (else close 1009).
//   /ws/stream        WebSocket: ?n=N&every=MS&size=B (10, 100, 16) pushes N
//                     text messages of B bytes, one every MS ms, then close
//                     1000; what the client sends is counted, not answered.
//                     Any /ws/ path without a valid upgrade: 400 (426 for a
//                     Sec-WebSocket-Version other than 13). An upgrade to any
//                     other path gets that path's plain HTTP answer.
//   /sse              ?n=N&every=MS (5, 100): N server-sent events, chunked,
//                     one every MS ms; the connection stays usable after.
//   /stats            JSON counters over every loop; /stats/reset zeroes them.
//   /fault/freeze/MS  hold every load response, echo and push for MS ms.
//   /fault/latency/MS or /fault/latency/MIN-MAX   delay every load response
//                     (and a 101, and an event stream's first byte).
//   /fault/status/CODE/PERCENT   answer that share of load requests with CODE.
//   /fault/reset/PERCENT         reset (RST) that share of load requests.
//                     Shares are exact per loop: its i-th load request (from
//                     0) is picked when floor((i+1)p) > floor(ip), p =
//                     PERCENT/100; setting a share restarts its count.
//   /fault/ws_close/CODE         close every open WebSocket with CODE.
//   /fault/clear      latency, status and reset off; any freeze ended.
//   /ok               200 "ok", like /
//   /redirect/N       302 to /redirect/N-1; /redirect/0 to /ok (N <= 1000).
//   /cookies/set?NAME=VALUE[&...]   200, a Set-Cookie: NAME=VALUE; Path=/ each
//   /cookies/echo     200, the request's Cookie header as the body
//   /api/...          stateful routes (login, tokens, agents, sessions): see
//                     state.h. Load routes too (faults apply); the only ones
//                     whose request bodies are kept (up to 64 KiB).
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
  // Read and written by every loop; declared before loops_ so it outlives
  // them.
  std::unique_ptr<Faults> faults_;
  // The stateful routes' state, shared by every loop (thread-safe); declared
  // before loops_ so it outlives them.
  std::unique_ptr<AppState> state_;
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

// Raises the soft limit on open files to the hard one, for tests that hold
// tens of thousands of connections.
void RaiseFdLimit();

// Ignores SIGPIPE and blocks SIGINT and SIGTERM in the calling thread and the
// threads it starts later; call it before Server::Start().
void BlockStopSignals();

// Waits until SIGINT or SIGTERM (as blocked above) arrives.
void WaitForStopSignal();

}  // namespace stampede::target

#endif  // STAMPEDE_TESTS_TARGET_SERVER_H_
