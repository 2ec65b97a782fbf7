#include "controller/hub.h"

#include <atomic>

#include "absl/time/clock.h"
#include "common/write_queue.h"
#include "google/protobuf/util/time_util.h"

namespace stampede::controller {

using google::protobuf::util::TimeUtil;

class Hub::AgentStream
    : public grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage> {
 public:
  AgentStream(Hub* hub, uint64_t id, std::string peer)
      : hub_(hub), id_(id), peer_(std::move(peer)) {
    StartRead(&incoming_);
  }

  void Send(v1::ControllerMessage message) {
    Act(writes_.Push(std::move(message)));
  }
  void Close() { Act(writes_.Close()); }
  // CLOCK_REALTIME ns of the last message read (0: none yet).
  int64_t last_heard_ns() const {
    return last_heard_ns_.load(std::memory_order_relaxed);
  }

 private:
  void Act(common::WriteQueue<v1::ControllerMessage>::Action action) {
    if (action.write != nullptr) StartWrite(action.write);
    if (action.finish) Finish(grpc::Status::OK);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      hub_->Push(Event{id_, peer_, std::nullopt});
      Close();
      return;
    }
    last_heard_ns_.store(absl::ToUnixNanos(absl::Now()),
                         std::memory_order_relaxed);
    if (incoming_.has_heartbeat()) {
      // Answered here, at once, so that the agent's round trip (and so its
      // clock offset estimate) holds no queueing in the controller.
      v1::ControllerMessage reply;
      v1::HeartbeatReply* r = reply.mutable_heartbeat_reply();
      *r->mutable_echoed_sent_at() = incoming_.heartbeat().sent_at();
      *r->mutable_controller_time() =
          TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
      Send(std::move(reply));
    } else {
      hub_->Push(Event{id_, peer_, std::move(incoming_)});
    }
    incoming_.Clear();
    StartRead(&incoming_);
  }
  void OnWriteDone(bool ok) override { Act(writes_.WriteDone(ok)); }
  void OnDone() override { hub_->MarkDone(); }

  Hub* hub_;
  const uint64_t id_;
  const std::string peer_;
  v1::AgentMessage incoming_;
  common::WriteQueue<v1::ControllerMessage> writes_;
  std::atomic<int64_t> last_heard_ns_{0};
};

Hub::Hub() = default;
Hub::~Hub() = default;

grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>* Hub::Session(
    grpc::CallbackServerContext* context) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_id_++;
  auto session = std::make_unique<AgentStream>(this, id, context->peer());
  auto* raw = session.get();
  sessions_[id] = std::move(session);
  return raw;
}

Hub::AgentStream* Hub::Find(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

void Hub::Send(uint64_t session, v1::ControllerMessage message) {
  // Called outside mu_: gRPC may run a reaction inline, and reactions take mu_.
  if (AgentStream* s = Find(session)) s->Send(std::move(message));
}

absl::Time Hub::LastHeard(uint64_t session) {
  AgentStream* s = Find(session);
  return s == nullptr ? absl::InfinitePast()
                      : absl::FromUnixNanos(s->last_heard_ns());
}

void Hub::Finish(uint64_t session) {
  if (AgentStream* s = Find(session)) s->Close();
}

void Hub::FinishAll() {
  std::vector<AgentStream*> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, s] : sessions_) all.push_back(s.get());
  }
  for (AgentStream* s : all) s->Close();
}

void Hub::Push(Event event) {
  absl::MutexLock lock(&mu_);
  events_.push_back(std::move(event));
}

void Hub::MarkDone() {
  absl::MutexLock lock(&mu_);
  ++done_;
}

std::optional<Hub::Event> Hub::NextEvent(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto has_event = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !events_.empty();
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&has_event), timeout))
    return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

bool Hub::AllDone(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto all_done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return done_ == sessions_.size();
  };
  return mu_.AwaitWithTimeout(absl::Condition(&all_done), timeout);
}

}  // namespace stampede::controller
