// The agent's end of the control stream: a gRPC client reactor that turns
// everything the controller says, and the stream's end, into events on a queue
// the agent's control thread reads; and that sends from any thread. Reactions
// never block.
#ifndef STAMPEDE_AGENT_SESSION_H_
#define STAMPEDE_AGENT_SESSION_H_

#include <deque>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/write_queue.h"
#include "grpcpp/grpcpp.h"
#include "stampede/v1/agent.grpc.pb.h"

namespace stampede::agent {

class Session
    : public grpc::ClientBidiReactor<v1::AgentMessage, v1::ControllerMessage> {
 public:
  struct Event {
    std::optional<v1::ControllerMessage>
        message;  // empty: the controller's side ended
    grpc::Status status;
  };

  // `stub` must outlive the session.
  explicit Session(v1::Controller::Stub* stub);
  ~Session() override;

  // Opens the stream and sends `hello` first.
  void Begin(v1::AgentMessage hello);
  // Thread-safe; dropped after Close().
  void Send(v1::AgentMessage message);
  // Half-closes once queued messages are written.
  void Close();
  // Next event, or nullopt after `timeout`.
  std::optional<Event> NextEvent(absl::Duration timeout);
  // Waits until gRPC is done with the stream (after Close and the controller's
  // finish); its final status, or nullopt after `timeout`.
  std::optional<grpc::Status> AwaitDone(absl::Duration timeout);

 private:
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnWritesDoneDone(bool ok) override {}
  void OnDone(const grpc::Status& status) override;
  void Act(common::WriteQueue<v1::AgentMessage>::Action action);

  grpc::ClientContext context_;
  v1::ControllerMessage incoming_;
  common::WriteQueue<v1::AgentMessage> writes_;
  absl::Mutex mu_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_SESSION_H_
