// Fault injection for the reference target. Faults holds the process-wide
// settings that /fault/* requests change on any loop (thread-safe: atomics, and
// a mutex for the settings read together); LoopFaults is one loop's view of
// them, with that loop's own counters and random numbers (loop thread only).

#ifndef STAMPEDE_TESTS_TARGET_FAULTS_H_
#define STAMPEDE_TESTS_TARGET_FAULTS_H_

#include <atomic>
#include <cstdint>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace stampede::target {

class Faults {
 public:
  // Settings read together. Shares are in units of 1/kShareOne (http.h).
  struct Settings {
    uint32_t latency_min_ms = 0;
    uint32_t latency_max_ms = 0;
    int status_code = 0;
    uint64_t status_share = 0;
    uint64_t reset_share = 0;
    // Bumped whenever that share is set, so that loops restart its count.
    uint64_t status_epoch = 0;
    uint64_t reset_epoch = 0;
  };

  // Changes whenever Settings do; cheap enough to poll per request.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  Settings Get() const;

  void SetLatency(uint32_t min_ms, uint32_t max_ms);
  void SetStatus(int code, uint64_t share);
  void SetReset(uint64_t share);
  // Latency, status and reset off, and any freeze ended.
  void Clear();

  // Load requests, WebSocket echoes and pushes wait until `deadline`
  // (CLOCK_MONOTONIC, as MonotonicNow()).
  void FreezeUntil(absl::Duration deadline);
  absl::Duration frozen_until() const {
    return absl::Nanoseconds(frozen_until_ns_.load(std::memory_order_relaxed));
  }
  // Bumped whenever a freeze is set or ended, so that loops look again at what
  // they hold.
  uint64_t freeze_epoch() const {
    return freeze_epoch_.load(std::memory_order_acquire);
  }

  // /capacity/N: one server for the whole process, serving requests in the
  // order they came for `service` each (1/N s). Returns when this one is
  // done (on MonotonicNow()'s clock): its wait in the queue plus its
  // service. What waited longer than its service is counted in
  // serial_queued().
  absl::Duration ServeSerially(absl::Duration now, absl::Duration service);
  // Requests of /capacity/N that found the server busy, and the longest any
  // waited for it (ns): the server's own view of its queue.
  uint64_t serial_queued() const {
    return serial_queued_.load(std::memory_order_relaxed);
  }
  int64_t serial_max_wait_ns() const {
    return serial_max_wait_ns_.load(std::memory_order_relaxed);
  }
  void ResetSerialStats() {
    serial_queued_.store(0, std::memory_order_relaxed);
    serial_max_wait_ns_.store(0, std::memory_order_relaxed);
  }

  // Asks every loop to close the WebSockets open now with `code`.
  void CloseWebSockets(uint16_t code);
  // (epoch << 16) | code: the epoch changes with every CloseWebSockets.
  uint64_t ws_close() const {
    return ws_close_.load(std::memory_order_acquire);
  }

 private:
  mutable absl::Mutex mu_;
  Settings settings_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> version_{0};
  std::atomic<int64_t> frozen_until_ns_{0};
  std::atomic<uint64_t> freeze_epoch_{0};
  std::atomic<uint64_t> ws_close_{0};
  std::atomic<int64_t> serial_busy_until_ns_{0};
  std::atomic<uint64_t> serial_queued_{0};
  std::atomic<int64_t> serial_max_wait_ns_{0};
};

// Picks an exact share of a sequence of events, spread evenly: event i
// (counting from 0) is picked when floor((i+1) * p) > floor(i * p), so of the
// first n events exactly floor(n * p) are picked.
class ExactShare {
 public:
  // Starts counting again from event 0.
  void Restart(uint64_t share);
  bool Next();

 private:
  uint64_t share_ = 0;
  uint64_t remainder_ = 0;  // (i * share) mod kShareOne
};

class LoopFaults {
 public:
  // `faults` must outlive this.
  LoopFaults(const Faults* faults, uint64_t seed)
      : faults_(faults), rng_(seed) {}

  // What to do with one load request; counts it.
  struct Decision {
    bool reset = false;  // reset the connection instead of answering
    int status = 0;      // if not 0, answer this status instead of the route
    absl::Duration latency;
  };
  Decision Decide();

 private:
  const Faults* const faults_;
  uint64_t version_ = 0;
  Faults::Settings settings_;
  ExactShare status_;
  ExactShare reset_;
  std::mt19937_64 rng_;
};

}  // namespace stampede::target

#endif  // STAMPEDE_TESTS_TARGET_FAULTS_H_
