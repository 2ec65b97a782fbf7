// The reference target's counters: one ThreadStats per event loop, written by
// that loop only, summed into a StatsSnapshot for /stats. Each ThreadStats is
// guarded by its own mutex, so any loop may read or reset any other's.

#ifndef STAMPEDE_TESTS_TARGET_STATS_H_
#define STAMPEDE_TESTS_TARGET_STATS_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace stampede::target {

// Keys (paths, peers, user agents, users, sessions) tracked per map; more are
// counted together or not at all, as each map says.
inline constexpr size_t kMaxTracked = 10000;

// The stateful routes' counts (state.h), for /stats' "state" object.
struct StateCounts {
  // Keys past the first kMaxTracked count under "(other)".
  std::map<std::string, uint64_t> logins_by_user;
  std::map<std::string, uint64_t> turns_by_session;
  uint64_t agents_created = 0;
  uint64_t agents_deleted = 0;
  uint64_t agents_live = 0;  // a level, like ws_open: never reset
  uint64_t sessions_created = 0;
  // Answers of the /api/ routes.
  uint64_t unauthorized = 0;  // 401
  uint64_t not_found = 0;     // 404
  uint64_t conflict = 0;      // 409
};

// Sorted sums over every loop, for /stats.
struct StatsSnapshot {
  uint64_t requests = 0;
  uint64_t connections = 0;
  std::map<std::string, uint64_t, std::less<>> by_path;
  std::map<int, uint64_t> by_status;
  std::map<std::string, uint64_t> by_peer;
  std::map<std::string, uint64_t> by_user_agent;  // "(none)": no User-Agent
  uint64_t ws_upgrades = 0;
  int64_t ws_open = 0;
  uint64_t ws_messages_in = 0;
  uint64_t ws_messages_out = 0;
  uint64_t ws_bytes_in = 0;
  uint64_t ws_bytes_out = 0;
  std::map<int, uint64_t> ws_closes_sent;      // by close code
  std::map<int, uint64_t> ws_closes_received;  // 1005: a close with no code
  uint64_t sse_events = 0;
  uint64_t faulted_status = 0;
  uint64_t faulted_reset = 0;
  StateCounts state;

  std::string ToJson() const;
};

// One loop's counters.
class ThreadStats {
 public:
  enum class Fault { kStatus, kReset };

  // `peer`: the client's address, e.g. "127.0.0.2".
  void CountConnection(const std::string& peer);
  // Every request head, by its User-Agent (empty: none).
  void CountUserAgent(absl::string_view user_agent);
  // An empty path (a request too malformed to have one) counts under "other".
  void CountRequest(absl::string_view path, int status);
  void CountWsUpgrade();  // and one more WebSocket open
  void CountWsGone();     // one WebSocket fewer open
  // A data message, by its payload size.
  void CountWsIn(uint64_t bytes);
  void CountWsOut(uint64_t bytes);
  void CountCloseSent(int code);
  void CountCloseReceived(int code);
  void CountSseEvent();
  void CountFault(Fault fault);

  // Zeroes everything but the open WebSocket count.
  void Reset();
  void AddTo(StatsSnapshot* snapshot) const;

 private:
  // Close codes 1000..4999 (the ones that may be sent, and 1005).
  static constexpr int kFirstCloseCode = 1000;
  using CloseCounts = std::array<uint64_t, 4000>;
  static void CountClose(CloseCounts& counts, int code);

  mutable absl::Mutex mu_;
  uint64_t requests_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t connections_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t other_paths_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, uint64_t> by_path_ ABSL_GUARDED_BY(mu_);
  // Connections by client address (tracked for up to kMaxTracked).
  absl::flat_hash_map<std::string, uint64_t> by_peer_ ABSL_GUARDED_BY(mu_);
  // Request heads by User-Agent (tracked for up to kMaxTracked).
  absl::flat_hash_map<std::string, uint64_t> by_user_agent_
      ABSL_GUARDED_BY(mu_);
  std::array<uint64_t, 600> by_status_ ABSL_GUARDED_BY(mu_) = {};
  uint64_t ws_upgrades_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t ws_open_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ws_messages_in_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ws_messages_out_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ws_bytes_in_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ws_bytes_out_ ABSL_GUARDED_BY(mu_) = 0;
  CloseCounts closes_sent_ ABSL_GUARDED_BY(mu_) = {};
  CloseCounts closes_received_ ABSL_GUARDED_BY(mu_) = {};
  uint64_t sse_events_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t faulted_status_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t faulted_reset_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace stampede::target

#endif  // STAMPEDE_TESTS_TARGET_STATS_H_
