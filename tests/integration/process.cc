#include "tests/integration/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace stampede::testing {

Child::Child(const std::vector<std::string>& argv,
             const std::string& log_file) {
  std::vector<char*> args;
  std::vector<std::string> copy = argv;
  for (std::string& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
}

Child::~Child() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

int Child::Wait(double timeout_s) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration<double>(timeout_s);
  while (pid_ > 0) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

std::string BinaryPath(const std::string& name) {
  return std::string(STAMPEDE_BINARY_DIR) + "/bin/" + name;
}

std::string MakeTempDir() {
  std::string pattern = "/tmp/stampede-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  return pattern;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

namespace {

// The whole exchange over TLS (blocking, no verification): the raw response.
std::string TlsExchange(int fd, const std::string& request) {
  std::string response;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = ctx != nullptr ? SSL_new(ctx) : nullptr;
  if (ssl != nullptr && SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1 &&
      SSL_write(ssl, request.data(), static_cast<int>(request.size())) > 0) {
    char buf[4096];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) response.append(buf, n);
  }
  ERR_clear_error();
  if (ssl != nullptr) SSL_free(ssl);
  if (ctx != nullptr) SSL_CTX_free(ctx);
  return response;
}

// Sends `request` to host:port and returns the whole response ("" if the
// connection failed).
std::string Exchange(const in_addr& host, int port, const std::string& request,
                     bool tls) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr = host;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  std::string response;
  if (tls) {
    response = TlsExchange(fd, request);
  } else if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) >= 0) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) response.append(buf, n);
  }
  close(fd);
  return response;
}

std::string Get(const in_addr& host, int port, const std::string& path,
                bool tls) {
  const std::string response = Exchange(
      host, port,
      "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", tls);
  size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

}  // namespace

std::string HttpExchange(int port, const std::string& request) {
  in_addr loopback{};
  loopback.s_addr = htonl(INADDR_LOOPBACK);
  return Exchange(loopback, port, request, /*tls=*/false);
}

std::string HttpGet(int port, const std::string& path, bool tls) {
  in_addr loopback{};
  loopback.s_addr = htonl(INADDR_LOOPBACK);
  return Get(loopback, port, path, tls);
}

std::string HttpGet(const std::string& host, int port,
                    const std::string& path) {
  in_addr addr{};
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) return "";
  return Get(addr, port, path, /*tls=*/false);
}

TestCert MakeTestCert(const std::string& dir, const std::string& san) {
  TestCert out{dir + "/cert.pem", dir + "/key.pem"};
  Child openssl(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
       "-subj", "/CN=localhost", "-addext", "subjectAltName=" + san, "-days",
       "1", "-keyout", out.key, "-out", out.cert},
      dir + "/openssl.log");
  if (openssl.Wait(60) != 0)
    throw std::runtime_error("openssl req failed: " +
                             ReadFile(dir + "/openssl.log"));
  return out;
}

std::vector<std::string> Target::Argv(const std::string& dir,
                                      const TestCert* cert,
                                      const std::string& listen) {
  std::vector<std::string> argv = {BinaryPath("stampede-target"), "--listen",
                                   listen, "--port-file", dir + "/target.port"};
  if (cert != nullptr) {
    argv.insert(argv.end(), {"--tls-cert", cert->cert, "--tls-key", cert->key});
  }
  return argv;
}

Target::Target(const std::string& dir, const TestCert* cert,
               const std::string& listen)
    : child_(Argv(dir, cert, listen), dir + "/target.log"),
      tls_(cert != nullptr) {
  for (int i = 0; i < 500 && port_ == 0; ++i) {
    port_ = std::atoi(ReadFile(dir + "/target.port").c_str());
    if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (port_ == 0) throw std::runtime_error("stampede-target did not start");
}

long long RequestsServed(const std::string& stats) {
  std::smatch m;
  static const std::regex kRequests("\"requests\":([0-9]+)");
  if (!std::regex_search(stats, m, kRequests)) return -1;
  return std::stoll(m[1].str());
}

long long Target::Served() { return RequestsServed(Stats()); }

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

namespace {

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

constexpr char kNginx[] = "/usr/sbin/nginx";

}  // namespace

Nginx::Nginx(const std::string& dir, const std::string& extra_http_config,
             const TestCert* cert, bool http2)
    : dir_(dir) {
  if (access(kNginx, X_OK) != 0) {
    throw std::runtime_error(
        "nginx is not installed (/usr/sbin/nginx): HTTP/2 tests need Debian's "
        "nginx-light; run scripts/setup");
  }
  // The port may be taken between FreePort and nginx's bind: try again then.
  for (int attempt = 0; attempt < 5 && port_ == 0; ++attempt) {
    const int port = FreePort();
    std::string listen = "127.0.0.1:" + std::to_string(port);
    if (cert != nullptr) listen += " ssl";
    if (http2) listen += " http2";
    std::string tls;
    if (cert != nullptr) {
      tls = "    ssl_certificate " + cert->cert +
            ";\n    ssl_certificate_key " + cert->key + ";\n";
    }
    WriteFile(dir + "/nginx.conf",
              "daemon off;\nmaster_process off;\nworker_processes 1;\n"
              "pid " +
                  dir + "/nginx.pid;\nerror_log " + dir +
                  "/error.log;\nevents { worker_connections 1024; }\n"
                  "http {\n"
                  "  log_format h2 '$connection $server_protocol $status "
                  "$request_uri ua=$http_user_agent" +
                  (cert != nullptr ? " $ssl_session_reused" : "") +
                  "';\n"
                  "  access_log " +
                  dir + "/access.log h2;\n" + "  client_body_temp_path " + dir +
                  "/body;\n" + "  proxy_temp_path " + dir + "/proxy;\n" +
                  "  fastcgi_temp_path " + dir + "/fastcgi;\n" +
                  "  uwsgi_temp_path " + dir + "/uwsgi;\n" +
                  "  scgi_temp_path " + dir + "/scgi;\n" + extra_http_config +
                  "\n  server {\n    listen " + listen + ";\n" + tls +
                  "    location / { return 200 \"ok\"; }\n"
                  "    location /status/ { return 404; }\n  }\n}\n");
    child_ = std::make_unique<Child>(
        std::vector<std::string>{kNginx, "-p", dir, "-e", dir + "/error.log",
                                 "-c", dir + "/nginx.conf"},
        dir + "/nginx.out");
    for (int i = 0; i < 500; ++i) {
      if (Accepts(port)) {
        port_ = port;
        break;
      }
      if (child_->Wait(0) >= 0) break;  // exited: the port was taken?
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (port_ == 0) child_.reset();
  }
  if (port_ == 0) {
    throw std::runtime_error("nginx did not start: " +
                             ReadFile(dir + "/error.log"));
  }
}

std::vector<std::string> Nginx::LogLines(size_t at_least) const {
  std::vector<std::string> lines;
  for (int i = 0; i < 500; ++i) {
    lines.clear();
    std::istringstream in(ReadFile(dir_ + "/access.log"));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) lines.push_back(line);
    }
    if (lines.size() >= at_least) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return lines;
}

}  // namespace stampede::testing
