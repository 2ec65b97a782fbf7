#include "tests/target/stats.h"

#include <string>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "tests/target/http.h"

namespace stampede::target {
namespace {

template <typename Map>
void AppendCounts(std::string* out, absl::string_view name, const Map& counts) {
  absl::StrAppend(out, ",\"", name, "\":{");
  const char* sep = "";
  for (const auto& [key, count] : counts) {
    out->append(sep);
    if constexpr (std::is_same_v<typename Map::key_type, int>) {
      absl::StrAppend(out, "\"", key, "\"");
    } else {
      AppendJsonString(out, key);
    }
    absl::StrAppend(out, ":", count);
    sep = ",";
  }
  out->push_back('}');
}

}  // namespace

std::string StatsSnapshot::ToJson() const {
  std::string out = absl::StrCat("{\"requests\":", requests,
                                 ",\"connections\":", connections);
  AppendCounts(&out, "by_path", by_path);
  AppendCounts(&out, "by_status", by_status);
  AppendCounts(&out, "by_peer", by_peer);
  AppendCounts(&out, "by_user_agent", by_user_agent);
  absl::StrAppend(
      &out, ",\"ws_upgrades\":", ws_upgrades, ",\"ws_open\":", ws_open,
      ",\"ws_messages_in\":", ws_messages_in,
      ",\"ws_messages_out\":", ws_messages_out,
      ",\"ws_bytes_in\":", ws_bytes_in, ",\"ws_bytes_out\":", ws_bytes_out);
  AppendCounts(&out, "ws_closes_sent", ws_closes_sent);
  AppendCounts(&out, "ws_closes_received", ws_closes_received);
  absl::StrAppend(&out, ",\"sse_events\":", sse_events,
                  ",\"faults\":{\"status\":", faulted_status,
                  ",\"reset\":", faulted_reset, "}");
  absl::StrAppend(&out, ",\"state\":{\"agents_created\":", state.agents_created,
                  ",\"agents_deleted\":", state.agents_deleted,
                  ",\"agents_live\":", state.agents_live,
                  ",\"sessions_created\":", state.sessions_created,
                  ",\"unauthorized\":", state.unauthorized,
                  ",\"not_found\":", state.not_found,
                  ",\"conflict\":", state.conflict);
  AppendCounts(&out, "logins_by_user", state.logins_by_user);
  AppendCounts(&out, "turns_by_session", state.turns_by_session);
  out += "}}";
  return out;
}

void ThreadStats::CountUserAgent(absl::string_view user_agent) {
  if (user_agent.empty()) user_agent = "(none)";
  absl::MutexLock lock(&mu_);
  auto it = by_user_agent_.find(user_agent);
  if (it != by_user_agent_.end()) {
    ++it->second;
  } else if (by_user_agent_.size() < kMaxTracked) {
    by_user_agent_.emplace(user_agent, 1);
  }
}

void ThreadStats::CountConnection(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  ++connections_;
  auto it = by_peer_.find(peer);
  if (it != by_peer_.end()) {
    ++it->second;
  } else if (by_peer_.size() < kMaxTracked) {
    by_peer_.emplace(peer, 1);
  }
}

void ThreadStats::CountRequest(absl::string_view path, int status) {
  absl::MutexLock lock(&mu_);
  ++requests_;
  ++by_status_[status];
  auto it = by_path_.find(path);
  if (it != by_path_.end()) {
    ++it->second;
  } else if (!path.empty() && by_path_.size() < kMaxTracked) {
    by_path_.emplace(path, 1);
  } else {
    ++other_paths_;
  }
}

void ThreadStats::CountWsUpgrade() {
  absl::MutexLock lock(&mu_);
  ++ws_upgrades_;
  ++ws_open_;
}

void ThreadStats::CountWsGone() {
  absl::MutexLock lock(&mu_);
  --ws_open_;
}

void ThreadStats::CountWsIn(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  ++ws_messages_in_;
  ws_bytes_in_ += bytes;
}

void ThreadStats::CountWsOut(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  ++ws_messages_out_;
  ws_bytes_out_ += bytes;
}

void ThreadStats::CountClose(CloseCounts& counts, int code) {
  if (code >= kFirstCloseCode &&
      code < kFirstCloseCode + static_cast<int>(counts.size())) {
    ++counts[code - kFirstCloseCode];
  }
}

void ThreadStats::CountCloseSent(int code) {
  absl::MutexLock lock(&mu_);
  CountClose(closes_sent_, code);
}

void ThreadStats::CountCloseReceived(int code) {
  absl::MutexLock lock(&mu_);
  CountClose(closes_received_, code);
}

void ThreadStats::CountSseEvent() {
  absl::MutexLock lock(&mu_);
  ++sse_events_;
}

void ThreadStats::CountFault(Fault fault) {
  absl::MutexLock lock(&mu_);
  ++(fault == Fault::kStatus ? faulted_status_ : faulted_reset_);
}

void ThreadStats::Reset() {
  absl::MutexLock lock(&mu_);
  requests_ = 0;
  connections_ = 0;
  other_paths_ = 0;
  by_path_.clear();
  by_peer_.clear();
  by_user_agent_.clear();
  by_status_.fill(0);
  ws_upgrades_ = 0;
  ws_messages_in_ = 0;
  ws_messages_out_ = 0;
  ws_bytes_in_ = 0;
  ws_bytes_out_ = 0;
  closes_sent_.fill(0);
  closes_received_.fill(0);
  sse_events_ = 0;
  faulted_status_ = 0;
  faulted_reset_ = 0;
}

void ThreadStats::AddTo(StatsSnapshot* snapshot) const {
  absl::MutexLock lock(&mu_);
  snapshot->requests += requests_;
  snapshot->connections += connections_;
  for (const auto& [path, count] : by_path_) snapshot->by_path[path] += count;
  for (const auto& [peer, count] : by_peer_) snapshot->by_peer[peer] += count;
  for (const auto& [agent, count] : by_user_agent_)
    snapshot->by_user_agent[agent] += count;
  if (other_paths_ > 0) snapshot->by_path["other"] += other_paths_;
  for (int status = 0; status < static_cast<int>(by_status_.size()); ++status) {
    if (by_status_[status] > 0)
      snapshot->by_status[status] += by_status_[status];
  }
  snapshot->ws_upgrades += ws_upgrades_;
  snapshot->ws_open += ws_open_;
  snapshot->ws_messages_in += ws_messages_in_;
  snapshot->ws_messages_out += ws_messages_out_;
  snapshot->ws_bytes_in += ws_bytes_in_;
  snapshot->ws_bytes_out += ws_bytes_out_;
  for (size_t i = 0; i < closes_sent_.size(); ++i) {
    const int code = kFirstCloseCode + static_cast<int>(i);
    if (closes_sent_[i] > 0) snapshot->ws_closes_sent[code] += closes_sent_[i];
    if (closes_received_[i] > 0)
      snapshot->ws_closes_received[code] += closes_received_[i];
  }
  snapshot->sse_events += sse_events_;
  snapshot->faulted_status += faulted_status_;
  snapshot->faulted_reset += faulted_reset_;
}

}  // namespace stampede::target
