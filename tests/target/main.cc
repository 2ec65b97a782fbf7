// stampede-target: the HTTP/1.1 + WebSocket server (with fault injection)
// that Stampede's tests and demos load. Parses flags, binds, reports the port,
// serves until SIGTERM or SIGINT.

#include <stdio.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "tests/target/server.h"

namespace {

constexpr char kUsage[] =
    "usage: stampede-target --listen HOST:PORT [--threads N] "
    "[--port-file FILE] [--tls-cert FILE --tls-key FILE]\n"
    "\n"
    "  --threads N        event loops, each with its own listener (default 2)\n"
    "  --port-file FILE   write the bound port there (useful with port 0)\n"
    "  --tls-cert/--tls-key  serve HTTPS and wss:// instead\n"
    "\n"
    "routes: / · /bytes/N · /delay/MS · /status/CODE · /auth/basic/U/P\n"
    "  /ws/echo[?close=CODE&after=N&delay=MS]   WebSocket echo\n"
    "  /ws/stream[?n=N&every=MS&size=B]         WebSocket pushes, then close\n"
    "  /sse[?n=N&every=MS]                      server-sent events\n"
    "  /stats · /stats/reset                    JSON counters\n"
    "  /ok · /redirect/N · /cookies/set?NAME=VALUE · /cookies/echo\n"
    "  /api/login · /api/me · /api/agents[/ID] · /api/sessions[/ID/turns]\n"
    "                                           stateful JSON routes\n"
    "faults (process-wide, never on /stats* or /fault/*):\n"
    "  /fault/freeze/MS · /fault/latency/MS[-MAX] · "
    "/fault/status/CODE/PERCENT\n"
    "  /fault/reset/PERCENT · /fault/ws_close/CODE · /fault/clear\n";

int Fail(absl::string_view what, absl::string_view message, int code) {
  absl::FPrintF(stderr, "stampede-target: %s: %s\n%s", what, message,
                code == 2 ? kUsage : "");
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  namespace target = stampede::target;
  target::ServerOptions options;
  std::string listen, threads = "2", port_file;
  for (int i = 1; i < argc; ++i) {
    absl::string_view name = argv[i], value;
    if (name == "--help" || name == "-h") return fputs(kUsage, stdout), 0;
    if (size_t eq = name.find('='); eq != absl::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    std::string* flag = name == "--listen"      ? &listen
                        : name == "--threads"   ? &threads
                        : name == "--port-file" ? &port_file
                        : name == "--tls-cert"  ? &options.tls_cert
                        : name == "--tls-key"   ? &options.tls_key
                                                : nullptr;
    if (flag == nullptr) return Fail(name, "unknown flag", 2);
    if (value.empty()) return Fail(name, "missing value", 2);
    *flag = std::string(value);
  }
  if (listen.empty()) return Fail("--listen", "required", 2);
  absl::StatusOr<target::ListenAddress> address =
      target::ParseListenAddress(listen);
  if (!address.ok()) return Fail("--listen", address.status().message(), 2);
  options.listen = *address;
  if (!absl::SimpleAtoi(threads, &options.threads) || options.threads < 1 ||
      options.threads > 256) {
    return Fail("--threads", "expected a thread count from 1 to 256", 2);
  }

  target::RaiseFdLimit();
  target::BlockStopSignals();  // Before any loop thread starts.
  absl::StatusOr<std::unique_ptr<target::Server>> server =
      target::Server::Create(options);
  if (!server.ok()) return Fail("listen", server.status().message(), 1);
  (*server)->Start();
  int port = (*server)->address().port;
  if (!port_file.empty()) {
    absl::Status status = target::WritePortFile(port_file, port);
    if (!status.ok()) return Fail("--port-file", status.message(), 1);
  }
  absl::PrintF("stampede-target listening on %s%s\n",
               (*server)->address().ToString(),
               options.tls_cert.empty() ? "" : " (https)");
  fflush(stdout);
  target::WaitForStopSignal();
  (*server)->Shutdown();
  return 0;
}
