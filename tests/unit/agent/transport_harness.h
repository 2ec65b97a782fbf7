// Drives one transport on its own event loop the way a worker does (deadlines
// first, then socket events), recording every outcome: the seam the transport
// tests share. Not thread-safe.
#ifndef STAMPEDE_TESTS_UNIT_AGENT_TRANSPORT_HARNESS_H_
#define STAMPEDE_TESTS_UNIT_AGENT_TRANSPORT_HARNESS_H_

#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "agent/net/event_loop.h"
#include "agent/transport.h"
#include "gtest/gtest.h"

namespace stampede::agent {

struct Done {
  Sent sent;
  Outcome outcome;
};

class Recorder : public Transport::Listener {
 public:
  void OnDone(const Sent& sent, const Outcome& outcome,
              int64_t done_ns) override {
    EXPECT_GE(done_ns, sent.sent_ns);
    done.push_back({sent, outcome});
    if (then) then(sent, outcome);
  }
  std::vector<Done> done;
  // Runs inside OnDone, e.g. to send the next request (as the worker does).
  std::function<void(const Sent&, const Outcome&)> then;
};

template <typename T>
struct TransportHarness {
  // As the agent does: a write (OpenSSL's, or a test server's) to a peer that
  // has gone must not kill the test.
  TransportHarness() { signal(SIGPIPE, SIG_IGN); }

  void Send(const PreparedRequest& request) {
    int64_t now = EventLoop::MonoNowNs();
    transport->Send(Sent{&request, now, now});
  }

  // One turn of the worker's loop: a due deadline, else up to 100 ms of
  // events.
  void Turn() {
    const int64_t now = EventLoop::MonoNowNs();
    const int64_t due = transport->DeadlineNs();
    if (due != 0 && due <= now) {
      transport->OnDeadline();
      return;
    }
    int64_t wake = now + 100'000'000;
    if (due != 0) wake = std::min(wake, due);
    loop->SetDeadline(wake);
    loop->RunOnce();
  }

  // Runs the loop until `count` requests are done. The give-up time only stops
  // a hung test; nothing is asserted about durations.
  void RunUntilDone(size_t count) {
    const int64_t give_up = EventLoop::MonoNowNs() + 60'000'000'000;
    while (recorder.done.size() < count) {
      ASSERT_LT(EventLoop::MonoNowNs(), give_up) << "requests never completed";
      Turn();
    }
  }

  Recorder recorder;
  std::unique_ptr<EventLoop> loop = std::move(EventLoop::Create()).value();
  std::unique_ptr<T> transport;
};

}  // namespace stampede::agent

#endif  // STAMPEDE_TESTS_UNIT_AGENT_TRANSPORT_HARNESS_H_
