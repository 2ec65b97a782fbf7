// Test helpers for end-to-end tests: start the project's real binaries as child
// processes, wait for them, talk HTTP to the reference target. Only PIDs
// started here are signalled.
#ifndef STAMPEDE_TESTS_INTEGRATION_PROCESS_H_
#define STAMPEDE_TESTS_INTEGRATION_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

namespace stampede::testing {

// A child process, killed (SIGKILL) and reaped on destruction if still running.
class Child {
 public:
  // Runs argv[0] with stdout and stderr sent to `log_file`.
  Child(const std::vector<std::string>& argv, const std::string& log_file);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int pid() const { return pid_; }
  // Waits up to `timeout_s` for the exit; returns the exit code, or -1 on
  // timeout/signal.
  int Wait(double timeout_s);

 private:
  int pid_ = 0;
};

// A loopback port that was free a moment ago (bound to 0, then released).
int FreePort();
// The path of a binary built by this project (build/bin/NAME).
std::string BinaryPath(const std::string& name);
// A fresh temporary directory for one test.
std::string MakeTempDir();
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);
// Blocking HTTP/1.1 GET against 127.0.0.1:port; returns the body ("" on
// failure). `tls`: over HTTPS, without checking the certificate.
std::string HttpGet(int port, const std::string& path, bool tls = false);
// Sends the raw `request` to 127.0.0.1:port and returns the whole response,
// status line and headers included ("" if the connection failed).
std::string HttpExchange(int port, const std::string& request);
// Plain HTTP/1.1 GET against an IPv4 `host` (numeric), in the calling thread's
// network namespace; returns the body ("" on failure).
std::string HttpGet(const std::string& host, int port, const std::string& path);

// The target's request count from its /stats JSON; -1 if absent.
long long RequestsServed(const std::string& stats);

// A self-signed certificate for the names in `san` (by default "localhost"
// and 127.0.0.1), valid one day, made with the openssl command line in `dir`.
struct TestCert {
  std::string cert;  // PEM; also the CA file that trusts it
  std::string key;
};
TestCert MakeTestCert(const std::string& dir,
                      const std::string& san = "DNS:localhost,IP:127.0.0.1");

// The reference target on 127.0.0.1 with a port of its choosing; with `cert`,
// it serves HTTPS.
class Target {
 public:
  // `listen`: the address to bind (port 0: any); Served() and Stats() ask
  // 127.0.0.1, so they work for IPv4 loopback targets only.
  explicit Target(const std::string& dir, const TestCert* cert = nullptr,
                  const std::string& listen = "127.0.0.1:0");
  int port() const { return port_; }
  // Requests served, from /stats.
  long long Served();
  // /stats, as JSON.
  std::string Stats() { return HttpGet(port_, "/stats", tls_); }

 private:
  static std::vector<std::string> Argv(const std::string& dir,
                                       const TestCert* cert,
                                       const std::string& listen);
  Child child_;
  int port_ = 0;
  bool tls_ = false;
};

// nginx (Debian's nginx-light) on 127.0.0.1 as a child process with its files
// in `dir`: `location /` returns 200 "ok", `/status/` 404. Without `cert` it
// speaks h2c with prior knowledge; with `cert`, TLS with ALPN "h2" (or, when
// `http2` is false, HTTP/1.1 only). Each request is logged as "CONNECTION
// PROTOCOL STATUS URI ua=USER-AGENT" ("-" when none was sent), and with TLS
// " REUSED" after it ("r": the session was resumed, else "."). Throws (so a
// test fails, never skips) when nginx is not installed.
class Nginx {
 public:
  explicit Nginx(const std::string& dir,
                 const std::string& extra_http_config = "",
                 const TestCert* cert = nullptr, bool http2 = true);
  int port() const { return port_; }
  // The access log's lines, once there are at least `at_least` (nginx logs a
  // request just after answering it) or after a few seconds.
  std::vector<std::string> LogLines(size_t at_least = 0) const;

 private:
  std::string dir_;
  std::unique_ptr<Child> child_;
  int port_ = 0;
};

}  // namespace stampede::testing

#endif  // STAMPEDE_TESTS_INTEGRATION_PROCESS_H_
