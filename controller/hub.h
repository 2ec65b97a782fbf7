// The controller's end of every agent's control stream. The gRPC service
// creates one session per agent stream; whatever agents send, and each stream's
// end, becomes an event on one queue that the run's thread reads. Sends and
// finishes may come from any thread. Sessions live as long as the hub, so a
// session id stays valid after its stream ended. Thread-safe.
#ifndef STAMPEDE_CONTROLLER_HUB_H_
#define STAMPEDE_CONTROLLER_HUB_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "stampede/v1/agent.grpc.pb.h"

namespace stampede::controller {

class Hub : public v1::Controller::CallbackService {
 public:
  struct Event {
    uint64_t session = 0;
    std::string peer;
    std::optional<v1::AgentMessage> message;  // empty: the stream ended
  };

  Hub();
  ~Hub() override;

  // Thread-safe; dropped when the session's stream has ended or is finishing.
  void Send(uint64_t session, v1::ControllerMessage message);
  // When the session's agent last sent anything (heartbeats included): its
  // liveness. InfinitePast for an unknown session.
  absl::Time LastHeard(uint64_t session);
  // Ends the session's stream (status OK) once its queued messages are written.
  void Finish(uint64_t session);
  void FinishAll();
  // Next event, or nullopt after `timeout`.
  std::optional<Event> NextEvent(absl::Duration timeout);
  // Whether every session's stream is completely done (for an orderly
  // shutdown).
  bool AllDone(absl::Duration timeout);

 private:
  class AgentStream;
  grpc::ServerBidiReactor<v1::AgentMessage, v1::ControllerMessage>* Session(
      grpc::CallbackServerContext* context) override;
  void Push(Event event);
  void MarkDone();
  AgentStream* Find(uint64_t id);

  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::unique_ptr<AgentStream>> sessions_
      ABSL_GUARDED_BY(mu_);
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
  size_t done_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_HUB_H_
