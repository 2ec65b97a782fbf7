#include "tests/target/faults.h"

#include <algorithm>

#include "tests/target/http.h"

namespace stampede::target {

Faults::Settings Faults::Get() const {
  absl::MutexLock lock(&mu_);
  return settings_;
}

void Faults::SetLatency(uint32_t min_ms, uint32_t max_ms) {
  absl::MutexLock lock(&mu_);
  settings_.latency_min_ms = min_ms;
  settings_.latency_max_ms = max_ms;
  version_.fetch_add(1, std::memory_order_release);
}

void Faults::SetStatus(int code, uint64_t share) {
  absl::MutexLock lock(&mu_);
  settings_.status_code = code;
  settings_.status_share = share;
  ++settings_.status_epoch;
  version_.fetch_add(1, std::memory_order_release);
}

void Faults::SetReset(uint64_t share) {
  absl::MutexLock lock(&mu_);
  settings_.reset_share = share;
  ++settings_.reset_epoch;
  version_.fetch_add(1, std::memory_order_release);
}

void Faults::Clear() {
  {
    absl::MutexLock lock(&mu_);
    settings_.latency_min_ms = settings_.latency_max_ms = 0;
    settings_.status_code = 0;
    settings_.status_share = settings_.reset_share = 0;
    ++settings_.status_epoch;
    ++settings_.reset_epoch;
    version_.fetch_add(1, std::memory_order_release);
  }
  FreezeUntil(absl::ZeroDuration());
}

absl::Duration Faults::ServeSerially(absl::Duration now,
                                     absl::Duration service) {
  const int64_t now_ns = absl::ToInt64Nanoseconds(now);
  const int64_t service_ns = absl::ToInt64Nanoseconds(service);
  int64_t busy = serial_busy_until_ns_.load(std::memory_order_relaxed);
  int64_t done = 0;
  do {
    done = std::max(busy, now_ns) + service_ns;
  } while (!serial_busy_until_ns_.compare_exchange_weak(
      busy, done, std::memory_order_relaxed));
  const int64_t wait = done - service_ns - now_ns;
  if (wait > 0) {
    serial_queued_.fetch_add(1, std::memory_order_relaxed);
    int64_t max = serial_max_wait_ns_.load(std::memory_order_relaxed);
    while (wait > max && !serial_max_wait_ns_.compare_exchange_weak(
                             max, wait, std::memory_order_relaxed)) {
    }
  }
  return absl::Nanoseconds(done);
}

void Faults::FreezeUntil(absl::Duration deadline) {
  frozen_until_ns_.store(absl::ToInt64Nanoseconds(deadline),
                         std::memory_order_relaxed);
  freeze_epoch_.fetch_add(1, std::memory_order_release);
}

void Faults::CloseWebSockets(uint16_t code) {
  uint64_t old = ws_close_.load(std::memory_order_relaxed);
  while (!ws_close_.compare_exchange_weak(old, ((old >> 16) + 1) << 16 | code,
                                          std::memory_order_acq_rel)) {
  }
}

void ExactShare::Restart(uint64_t share) {
  share_ = share;
  remainder_ = 0;
}

bool ExactShare::Next() {
  // floor((i+1)p) > floor(ip) exactly when the fractional part of i*p plus p
  // reaches 1; remainder_ keeps that fractional part in units of 1/kShareOne.
  remainder_ += share_;
  if (remainder_ < kShareOne) return false;
  remainder_ -= kShareOne;
  return true;
}

LoopFaults::Decision LoopFaults::Decide() {
  if (uint64_t version = faults_->version(); version != version_) {
    version_ = version;
    Faults::Settings settings = faults_->Get();
    if (settings.status_epoch != settings_.status_epoch)
      status_.Restart(settings.status_share);
    if (settings.reset_epoch != settings_.reset_epoch)
      reset_.Restart(settings.reset_share);
    settings_ = settings;
  }
  Decision decision;
  // Both counters see every load request, so each share is of all of them.
  decision.reset = reset_.Next();
  const bool status = status_.Next();
  if (decision.reset) return decision;
  if (status) decision.status = settings_.status_code;
  uint32_t ms = settings_.latency_min_ms;
  if (settings_.latency_max_ms > ms) {
    ms = std::uniform_int_distribution<uint32_t>(
        ms, settings_.latency_max_ms)(rng_);
  }
  decision.latency = absl::Milliseconds(ms);
  return decision;
}

}  // namespace stampede::target
