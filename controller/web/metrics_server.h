// Serves the /metrics text (`stampede run --metrics-listen`). The run's
// thread publishes a snapshot after every merged interval; the server thread
// only ever reads the latest snapshot, so nothing on the endpoint can touch
// the run.
#ifndef STAMPEDE_CONTROLLER_WEB_METRICS_SERVER_H_
#define STAMPEDE_CONTROLLER_WEB_METRICS_SERVER_H_

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace stampede::controller {

// A minimal HTTP/1.1 server on one thread: GET (or HEAD) /metrics answers the
// last published text, / a pointer to it, anything else 404 or 405. One
// request per connection, 2 s to send it, 8 KiB at most.
class MetricsServer {
 public:
  // `listen`: HOST:PORT, [V6]:PORT, or PORT / :PORT for 127.0.0.1 (loopback
  // by default). Port 0 picks one; port() tells which.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen);
  ~MetricsServer();

  void Publish(std::string text);
  int port() const { return port_; }
  const std::string& address() const { return address_; }

 private:
  MetricsServer(int fd, int port, std::string address);
  void Loop();
  void Answer(int client);

  int fd_;
  int port_;
  std::string address_;
  int wake_[2] = {-1, -1};  // a pipe: Stop wakes the loop
  std::mutex mu_;
  std::string text_;
  std::thread thread_;
};

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_WEB_METRICS_SERVER_H_
