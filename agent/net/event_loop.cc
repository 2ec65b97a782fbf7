#include "agent/net/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace stampede::agent {
namespace {}  // namespace

int64_t EventLoop::MonoNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  int wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ep < 0 || tfd < 0 || wfd < 0) {
    std::string err = strerror(errno);
    if (ep >= 0) close(ep);
    if (tfd >= 0) close(tfd);
    if (wfd >= 0) close(wfd);
    return absl::InternalError(absl::StrCat("event loop: ", err));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = tfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  ev.data.fd = wfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, wfd, &ev);
  return std::unique_ptr<EventLoop>(new EventLoop(ep, tfd, wfd));
}

EventLoop::EventLoop(int epoll_fd, int timer_fd, int wake_fd)
    : epoll_fd_(epoll_fd), timer_fd_(timer_fd), wake_fd_(wake_fd) {}

EventLoop::~EventLoop() {
  close(epoll_fd_);
  close(timer_fd_);
  close(wake_fd_);
}

bool EventLoop::Add(int fd, uint32_t events, Handler* handler) {
  if (static_cast<size_t>(fd) >= handlers_.size())
    handlers_.resize(fd + 64, nullptr);
  handlers_[fd] = handler;
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::Modify(int fd, uint32_t events, Handler* handler) {
  handlers_[fd] = handler;
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void EventLoop::Remove(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  if (static_cast<size_t>(fd) < handlers_.size()) handlers_[fd] = nullptr;
}

void EventLoop::SetDeadline(int64_t mono_ns) {
  if (mono_ns == armed_ns_) return;
  armed_ns_ = mono_ns;
  itimerspec spec{};
  if (mono_ns > 0) {
    spec.it_value.tv_sec = mono_ns / 1'000'000'000;
    spec.it_value.tv_nsec = mono_ns % 1'000'000'000;
  }
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void EventLoop::Wake() {
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof(one));
  (void)n;
}

void EventLoop::RunOnce(bool wait) {
  epoll_event events[256];
  const int64_t entered = MonoNowNs();
  if (returned_ns_ > 0)
    max_stall_ns_ = std::max(max_stall_ns_, entered - returned_ns_);
  // A deadline already due must not wait for the timerfd to tick.
  const int timeout = !wait || (armed_ns_ > 0 && armed_ns_ <= entered) ? 0 : -1;
  int n = epoll_wait(epoll_fd_, events, 256, timeout);
  returned_ns_ = MonoNowNs();
  if (armed_ns_ > 0 && returned_ns_ > armed_ns_) {
    max_stall_ns_ =
        std::max(max_stall_ns_, returned_ns_ - std::max(armed_ns_, entered));
  }
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    if (fd == timer_fd_) {
      uint64_t expirations;
      ssize_t r = read(timer_fd_, &expirations, sizeof(expirations));
      (void)r;
      armed_ns_ = 0;
    } else if (fd == wake_fd_) {
      uint64_t value;
      ssize_t r = read(wake_fd_, &value, sizeof(value));
      (void)r;
    } else if (Handler* h = handlers_[fd]) {  // null: removed by an earlier
                                              // event's handler
      h->OnEvents(fd, events[i].events);
    }
  }
}

}  // namespace stampede::agent
