// The live dashboard (`stampede run --dashboard-listen ADDR`): the HTML
// report's page, drawn while the run goes on. GET / is the page; GET /events
// is a server-sent event stream: one `history` event with every merged
// interval so far (a late browser gets the run in one piece), then one
// `interval` event per merged interval, and `done` with the verdict. POST
// /stop stops the run (drain, write every output, exit 4), only with
// --dashboard-token (as `Authorization: Bearer TOKEN`) and only from the
// page's own origin. Its own thread serves every connection; the run's
// thread only publishes: nothing here can slow or touch the run.
#ifndef STAMPEDE_CONTROLLER_WEB_DASHBOARD_H_
#define STAMPEDE_CONTROLLER_WEB_DASHBOARD_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "stampede/v1/result.pb.h"

namespace stampede::controller {

// At most this many browsers at once (others are answered 503).
inline constexpr size_t kDashboardClients = 32;

class DashboardServer {
 public:
  // `listen` as --metrics-listen takes it (a bare PORT is 127.0.0.1); an
  // empty `token` makes the dashboard read-only.
  static absl::StatusOr<std::unique_ptr<DashboardServer>> Start(
      const std::string& listen, const std::string& token,
      const std::string& title);
  ~DashboardServer();

  // A merged interval, for every browser (and the history of later ones).
  void PublishInterval(const v1::IntervalResult& interval);
  // The run's end: its verdict to every browser; the streams then end.
  void PublishDone(const v1::RunResult& result);
  // A POST /stop with the token came.
  bool stop_requested() const { return stop_.load(); }

  int port() const { return port_; }
  const std::string& address() const { return address_; }

 private:
  struct Client {
    int fd = -1;
    std::string in;            // the request so far
    std::string out;           // what is left to send
    bool streaming = false;    // an /events stream
    bool close_after = false;  // close once `out` is sent
    bool drop = false;
    size_t next = 0;  // the first interval its history did not hold
  };
  DashboardServer(int fd, int port, std::string address, std::string token,
                  std::string title);
  void Loop();
  // A whole request head in `c.in`: answers it (or starts its stream).
  void Answer(Client& c);
  void Wake();

  int fd_;
  int port_;
  std::string address_;
  std::string token_;
  std::string page_;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<bool> quit_{false};
  std::atomic<bool> idle_{false};  // the run ended and every stream has it
  std::mutex mu_;  // guards the three below, written by the run's thread
  std::vector<std::string> history_;  // each interval's JSON
  // Events not yet given to the streams, with their interval's index.
  std::vector<std::pair<size_t, std::string>> pending_;
  std::string done_;             // the `done` event, once the run ended
  std::vector<Client> clients_;  // the server thread's only
  std::thread thread_;
};

// One interval as the dashboard's events carry it (JSON, one line).
std::string DashboardIntervalJson(const v1::IntervalResult& interval);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_WEB_DASHBOARD_H_
