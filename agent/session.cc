#include "agent/session.h"

namespace stampede::agent {

Session::Session(v1::Controller::Stub* stub) {
  stub->async()->Session(&context_, this);
  // Held until Close() decides no more writes will start, so OnDone cannot race
  // a write.
  AddHold();
}

Session::~Session() = default;

void Session::Begin(v1::AgentMessage hello) {
  StartRead(&incoming_);
  StartCall();
  Send(std::move(hello));
}

void Session::Send(v1::AgentMessage message) {
  Act(writes_.Push(std::move(message)));
}

void Session::Close() { Act(writes_.Close()); }

void Session::Act(common::WriteQueue<v1::AgentMessage>::Action action) {
  if (action.write != nullptr) StartWrite(action.write);
  if (action.finish) {
    StartWritesDone();
    RemoveHold();
  }
}

void Session::OnWriteDone(bool ok) { Act(writes_.WriteDone(ok)); }

void Session::OnReadDone(bool ok) {
  if (!ok) {
    // The controller ended the stream, or it broke. OnDone waits for Close().
    absl::MutexLock lock(&mu_);
    events_.push_back(
        Event{std::nullopt,
              grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream ended")});
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    events_.push_back(Event{std::move(incoming_), grpc::Status::OK});
  }
  incoming_.Clear();
  StartRead(&incoming_);
}

void Session::OnDone(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  final_status_ = status;
  done_ = true;
}

std::optional<Session::Event> Session::NextEvent(absl::Duration timeout) {
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

std::optional<grpc::Status> Session::AwaitDone(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(&done_), timeout))
    return std::nullopt;
  return final_status_;
}

}  // namespace stampede::agent
