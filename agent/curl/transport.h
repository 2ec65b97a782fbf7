// HTTP through libcurl's multi socket interface, driven by the worker's epoll
// loop: curl tells us which sockets to watch and when to wake it, we tell it
// what happened. Easy handles are pooled (one per connection under the cap) and
// keep their options between sends of the same request.
// Flow steps (Sent::flow): the URL is the request's origin with the rendered
// target, the rendered header lines go as they are (libcurl's conventions:
// "Name:" removes a header, "Name;" sends it empty) and the rendered body as
// the POST fields; the final response's status line and header lines (as
// received, up to 64 KiB; not a 1xx's, an auth round's or a proxy CONNECT's,
// nor trailers) fill FlowSend::head, and its body response_body up to
// body_limit (body_cut beyond). libcurl allocates per send here (the URL and
// header list are set for each); that is accepted for this engine. A step
// marked invalid fails with invalid_request, unsent. Sent::connection is not
// honoured: libcurl's connection cache is shared by the multi handle, so a
// user's step takes any idle connection to its origin (or opens one) rather
// than its own; keeping one per user would need a multi handle per user.
// Not thread-safe: owned by one worker.
#ifndef STAMPEDE_AGENT_CURL_TRANSPORT_H_
#define STAMPEDE_AGENT_CURL_TRANSPORT_H_

#include <curl/curl.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/net/event_loop.h"
#include "agent/net/tls.h"
#include "agent/transport.h"
#include "common/allow_list.h"

namespace stampede::agent {

class CurlTransport : public Transport, private EventLoop::Handler {
 public:
  // `loop` and `listener` must outlive the transport. At most `max_connections`
  // requests are in flight at once. `tls` sets verification and trust for
  // https:// as the native engine does (its ALPN list is not used).
  static absl::StatusOr<std::unique_ptr<CurlTransport>> Create(
      EventLoop* loop, Listener* listener, size_t max_connections,
      const tls::ClientOptions& tls = {});
  ~CurlTransport() override;

  void Prepare(const PreparedRequest& request) override;
  bool HasCapacity() const override { return !free_.empty(); }
  void Send(const Sent& sent) override;
  size_t InFlight() const override { return slots_.size() - free_.size(); }
  // Failures found in Send are due at once.
  int64_t DeadlineNs() const override {
    return failed_.empty() ? deadline_ns_ : 1;
  }
  void OnDeadline() override;

  // Binds connections to these source addresses (IP literals), requests taking
  // them in turn.
  absl::Status SetLocalAddresses(const std::vector<std::string>& addresses);
  // Checks the address of every connection libcurl opens (to the target, or
  // to the proxy) against `allow` (null: the default list, which denies only
  // link-local and metadata addresses); a denied one fails its request with
  // blocked_target, unsent. `allow` must outlive the transport.
  void SetAllowList(const common::AllowList* allow) {
    allow_ = allow != nullptr ? allow : &common::AllowList::Default();
  }

 private:
  struct Slot {
    CURL* easy = nullptr;
    Sent sent;
    const PreparedRequest* configured_for = nullptr;
    int socket_errno = 0;  // why our open-socket callback failed, for this send
    bool blocked = false;  // the allow-list refused an address, for this send
    CurlTransport* owner = nullptr;
    const std::string* host = nullptr;  // what the connection is for
    bool added = false;                 // in the multi handle
    // A flow step's URL and header list, set for each send of one.
    std::string url;
    std::string line;  // a header line, NUL-terminated for libcurl
    curl_slist* flow_headers = nullptr;
    bool in_head = false;  // between a status line and the blank line
  };

  CurlTransport(EventLoop* loop, Listener* listener, CURLM* multi);
  void OnEvents(int fd, uint32_t events) override;
  void Configure(Slot* slot, const PreparedRequest& request);
  void ConfigureFlow(Slot* slot, const PreparedRequest& request,
                     const FlowSend& flow);

  void Complete(CURLMsg* msg);
  void DrainDone();
  static int SocketCallback(CURL* easy, curl_socket_t fd, int what, void* self,
                            void*);
  static curl_socket_t OpenSocket(void* slot, curlsocktype purpose,
                                  curl_sockaddr* address);
  static int TimerCallback(CURLM* multi, long timeout_ms, void* self);
  static size_t OnHeader(char* data, size_t size, size_t n, void* slot);
  static size_t OnBody(char* data, size_t size, size_t n, void* slot);

  EventLoop* loop_;
  Listener* listener_;
  CURLM* multi_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> free_;
  // Holding the slots of sends that failed in Send, reported from OnDeadline
  // so that Send never calls the listener (which may Send again).
  std::vector<Slot*> failed_;
  std::vector<std::string>
      local_binds_;  // "host!ADDRESS" for CURLOPT_INTERFACE
  size_t next_local_ = 0;
  std::unordered_map<const PreparedRequest*, curl_slist*> headers_;
  // The host a request's connections go to: its proxy's, else its URL's.
  std::unordered_map<const PreparedRequest*, std::string> hosts_;
  const common::AllowList* allow_ = &common::AllowList::Default();
  std::vector<bool> watched_;  // by fd: registered with the loop
  int64_t deadline_ns_ = 0;
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_CURL_TRANSPORT_H_
