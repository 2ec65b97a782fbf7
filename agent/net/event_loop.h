// A minimal epoll loop owned by one worker thread: fds with handlers, plus one
// deadline armed on a timerfd (the caller keeps the earliest of its own
// deadlines there). Not thread-safe except Wake(), which any thread may call to
// interrupt Run().
#ifndef STAMPEDE_AGENT_NET_EVENT_LOOP_H_
#define STAMPEDE_AGENT_NET_EVENT_LOOP_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"

namespace stampede::agent {

class EventLoop {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // `events` is the epoll mask for `fd`, a descriptor registered with this
    // handler.
    virtual void OnEvents(int fd, uint32_t events) = 0;
  };

  static absl::StatusOr<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();

  // Registers, changes or removes interest in `fd`. The handler must outlive
  // the registration.
  bool Add(int fd, uint32_t events, Handler* handler);
  bool Modify(int fd, uint32_t events, Handler* handler);
  void Remove(int fd);

  // Arms the deadline (CLOCK_MONOTONIC ns); RunOnce returns after it passes. 0
  // disarms.
  void SetDeadline(int64_t mono_ns);
  // Waits for events or the deadline or Wake(), dispatches the events, and
  // returns. `wait` false: only dispatches what is ready now.
  void RunOnce(bool wait = true);
  // Thread-safe.
  void Wake();

  // The longest stall since the last call (or StartStallWatch): one turn's
  // work between two waits (handlers and the owner's own), or waking later
  // than the deadline asked (CPU throttled, the process stopped or swapping).
  int64_t TakeMaxStallNs() {
    const int64_t v = max_stall_ns_;
    max_stall_ns_ = 0;
    return v;
  }
  // Forgets the stalls so far, and the time since the last wait (e.g. the
  // wait before a run starts).
  void StartStallWatch() {
    max_stall_ns_ = 0;
    returned_ns_ = 0;
  }

  static int64_t MonoNowNs();

 private:
  EventLoop(int epoll_fd, int timer_fd, int wake_fd);
  int epoll_fd_;
  int timer_fd_;
  int wake_fd_;
  int64_t armed_ns_ = 0;
  int64_t returned_ns_ = 0;  // when the last wait returned; 0: not watched
  int64_t max_stall_ns_ = 0;
  std::vector<Handler*>
      handlers_;  // by fd; grows with the highest fd, never per event
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_NET_EVENT_LOOP_H_
