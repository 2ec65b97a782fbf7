// Serialises writes on a gRPC callback stream: the API allows one write in
// flight, while any thread may want to send. Callers StartWrite the message an
// Action names, outside any lock (gRPC may run reactions inline), and finish
// the stream when an Action says so: only once no write is in flight, so a
// reactor is never finished (and freed) under a pending write. Thread-safe.
#ifndef STAMPEDE_COMMON_WRITE_QUEUE_H_
#define STAMPEDE_COMMON_WRITE_QUEUE_H_

#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace stampede::common {

template <typename Msg>
class WriteQueue {
 public:
  struct Action {
    const Msg* write = nullptr;  // StartWrite this (stable until its WriteDone)
    bool finish = false;         // then, or instead, finish the stream
  };

  // Queues `msg`; dropped once Close() was called or a write failed.
  Action Push(Msg msg) {
    absl::MutexLock lock(&mu_);
    if (closed_) return {};
    queue_.push_back(std::move(msg));
    if (writing_) return {};
    writing_ = true;
    return {&queue_.front(), false};
  }

  // After a write completed; `ok` false means the stream is broken.
  Action WriteDone(bool ok) {
    absl::MutexLock lock(&mu_);
    queue_.pop_front();
    if (!ok) {
      closed_ = true;
      queue_.clear();
    }
    if (!queue_.empty()) return {&queue_.front(), false};
    writing_ = false;
    return {nullptr, TakeFinish()};
  }

  // No more messages will be queued; finish as soon as what is queued is
  // written.
  Action Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    if (writing_) return {};
    return {nullptr, TakeFinish()};
  }

 private:
  bool TakeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!closed_ || finished_) return false;
    finished_ = true;
    return true;
  }

  absl::Mutex mu_;
  std::deque<Msg> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_WRITE_QUEUE_H_
