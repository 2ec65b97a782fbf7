#include "agent/curl/transport.h"

#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace stampede::agent {
namespace {

using common::ErrorId;

// A flow step's response head is kept up to this much (the native
// engines' limit too).
constexpr size_t kMaxKeptHead = 64 * 1024;

// The host part of `url` (a proxy may leave out its scheme), without
// brackets; "" when it has none.
std::string HostOf(const std::string& url) {
  std::string host;
  CURLU* u = curl_url();
  if (u == nullptr) return host;
  char* part = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(),
                   CURLU_DEFAULT_SCHEME | CURLU_NON_SUPPORT_SCHEME) ==
          CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &part, 0) == CURLUE_OK) {
    host = part;
    curl_free(part);
  }
  curl_url_cleanup(u);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host;
}

ErrorId Classify(CURLcode code, CURL* easy, int socket_errno, bool blocked) {
  // Our open-socket callback refused every address it was offered.
  if (blocked && code != CURLE_OK) return ErrorId::kBlockedTarget;
  // socket() failing (e.g. out of fds) leaves curl's OS errno unset; we saw it
  // ourselves.
  if (socket_errno != 0)
    return common::ErrorIdFromErrno(socket_errno, ErrorId::kLocalOther);
  long os_errno = 0;
  curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
  switch (code) {
    case CURLE_OK:
      return ErrorId::kNone;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return ErrorId::kDnsFailure;
    case CURLE_COULDNT_CONNECT:
      return common::ErrorIdFromErrno(os_errno, ErrorId::kTransportOther);
    case CURLE_OPERATION_TIMEDOUT: {
      curl_off_t connected_us = 0;
      curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connected_us);
      return connected_us == 0 ? ErrorId::kTcpTimeout
                               : ErrorId::kRequestTimeout;
    }
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return common::ErrorIdFromErrno(os_errno, ErrorId::kTcpReset);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return ErrorId::kHttpProtocol;
    case CURLE_PEER_FAILED_VERIFICATION:
      return ErrorId::kTlsCertificate;
    case CURLE_SSL_CONNECT_ERROR:
      return ErrorId::kTlsHandshake;
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      return ErrorId::kTlsError;
    case CURLE_OUT_OF_MEMORY:
      return ErrorId::kLocalOther;
    default:
      return common::ErrorIdFromErrno(os_errno, ErrorId::kTransportOther);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<CurlTransport>> CurlTransport::Create(
    EventLoop* loop, Listener* listener, size_t max_connections,
    const tls::ClientOptions& tls) {
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return absl::InternalError("curl_multi_init failed");
  std::unique_ptr<CurlTransport> t(new CurlTransport(loop, listener, multi));
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION,
                    &CurlTransport::SocketCallback);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, t.get());
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION,
                    &CurlTransport::TimerCallback);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, t.get());
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    static_cast<long>(max_connections));
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
                    static_cast<long>(max_connections));
  for (size_t i = 0; i < max_connections; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->easy = curl_easy_init();
    if (slot->easy == nullptr)
      return absl::InternalError("curl_easy_init failed");
    curl_easy_setopt(slot->easy, CURLOPT_PRIVATE, slot.get());
    slot->owner = t.get();
    // A redirect would reach a host the allow-list never saw by name; every
    // connection still passes OpenSocket, but we do not follow them at all.
    curl_easy_setopt(slot->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(slot->easy, CURLOPT_OPENSOCKETFUNCTION,
                     &CurlTransport::OpenSocket);
    curl_easy_setopt(slot->easy, CURLOPT_OPENSOCKETDATA, slot.get());
    curl_easy_setopt(slot->easy, CURLOPT_NOSIGNAL, 1L);
    // Bodies are dropped, and heads ignored, unless a flow step keeps them.
    curl_easy_setopt(slot->easy, CURLOPT_WRITEFUNCTION, &CurlTransport::OnBody);
    curl_easy_setopt(slot->easy, CURLOPT_WRITEDATA, slot.get());
    curl_easy_setopt(slot->easy, CURLOPT_HEADERFUNCTION,
                     &CurlTransport::OnHeader);
    curl_easy_setopt(slot->easy, CURLOPT_HEADERDATA, slot.get());
    curl_easy_setopt(slot->easy, CURLOPT_HTTP_VERSION,
                     static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(slot->easy, CURLOPT_TCP_NODELAY, 1L);
    const long verify = tls.insecure_skip_verify ? 0L : 1L;
    curl_easy_setopt(slot->easy, CURLOPT_SSL_VERIFYPEER, verify);
    curl_easy_setopt(slot->easy, CURLOPT_SSL_VERIFYHOST, verify * 2);
    if (!tls.ca_file.empty()) {
      // Only the plan's CAs, as in the native engine (curl copies the path).
      curl_easy_setopt(slot->easy, CURLOPT_CAINFO, tls.ca_file.c_str());
      curl_easy_setopt(slot->easy, CURLOPT_CAPATH, nullptr);
    }
    t->free_.push_back(slot.get());
    t->slots_.push_back(std::move(slot));
  }
  t->failed_.reserve(max_connections);
  return t;
}

CurlTransport::CurlTransport(EventLoop* loop, Listener* listener, CURLM* multi)
    : loop_(loop), listener_(listener), multi_(multi) {}

CurlTransport::~CurlTransport() {
  for (auto& slot : slots_) {
    if (slot->added) curl_multi_remove_handle(multi_, slot->easy);
    curl_easy_cleanup(slot->easy);
    curl_slist_free_all(slot->flow_headers);
  }
  curl_multi_cleanup(
      multi_);  // closes pooled connections through SocketCallback
  for (auto& [request, list] : headers_) curl_slist_free_all(list);
}

void CurlTransport::Prepare(const PreparedRequest& request) {
  curl_slist* list = nullptr;
  for (const std::string& h : request.headers)
    list = curl_slist_append(list, h.c_str());
  // libcurl would add "Expect: 100-continue" to larger bodies and wait for it.
  list = curl_slist_append(list, "Expect:");
  if (!request.keep_alive) list = curl_slist_append(list, "Connection: close");
  headers_[&request] = list;
  hosts_[&request] =
      HostOf(request.proxy.empty() ? request.url : request.proxy);
}

absl::Status CurlTransport::SetLocalAddresses(
    const std::vector<std::string>& addresses) {
  local_binds_.clear();
  for (const std::string& a : addresses) {
    // "host!" makes libcurl bind to the address rather than look it up as an
    // interface name.
    local_binds_.push_back("host!" + a);
  }
  return absl::OkStatus();
}

void CurlTransport::Configure(Slot* slot, const PreparedRequest& request) {
  if (slot->configured_for == &request) return;
  CURL* easy = slot->easy;
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_.at(&request));
  slot->host = &hosts_.at(&request);
  curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, request.keep_alive ? 0L : 1L);
  curl_easy_setopt(easy, CURLOPT_PROXY,
                   request.proxy.empty() ? "" : request.proxy.c_str());
  if (request.auth_scheme.empty()) {
    curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_NONE);
  } else {
    const std::string& s = request.auth_scheme;
    curl_easy_setopt(easy, CURLOPT_HTTPAUTH,
                     s == "digest" ? CURLAUTH_DIGEST
                     : s == "ntlm" ? CURLAUTH_NTLM
                     : s == "any"  ? CURLAUTH_ANY
                                   : CURLAUTH_BASIC);
    curl_easy_setopt(easy, CURLOPT_USERNAME, request.username.c_str());
    curl_easy_setopt(easy, CURLOPT_PASSWORD, request.password.c_str());
  }
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(request.timeout_ms));
  curl_easy_setopt(easy, CURLOPT_NOBODY, request.method == "HEAD" ? 1L : 0L);
  if (request.method == "GET" || request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, nullptr);
  } else {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(
        easy, CURLOPT_CUSTOMREQUEST,
        request.method == "POST" ? nullptr : request.method.c_str());
  }
  slot->configured_for = &request;
}

void CurlTransport::ConfigureFlow(Slot* slot, const PreparedRequest& request,
                                  const FlowSend& flow) {
  Configure(slot, request);
  // The URL, headers and body below are this send's: the next send of any
  // request configures the handle afresh.
  slot->configured_for = nullptr;
  CURL* easy = slot->easy;
  // A flow's prepared URL is its origin and "/"; the target brings its own.
  std::string_view origin = request.url;
  if (!origin.empty() && origin.back() == '/' && !flow.target.empty() &&
      flow.target.front() == '/') {
    origin.remove_suffix(1);
  }
  slot->url.assign(origin).append(flow.target);
  curl_easy_setopt(easy, CURLOPT_URL, slot->url.c_str());  // libcurl copies it
  curl_slist_free_all(slot->flow_headers);
  curl_slist* list = nullptr;
  ForEachHeaderLine(flow.headers, [&](std::string_view line) {
    slot->line.assign(line);
    list = curl_slist_append(list, slot->line.c_str());
  });
  list = curl_slist_append(list, "Expect:");
  if (!request.keep_alive) list = curl_slist_append(list, "Connection: close");
  slot->flow_headers = list;
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
  if (flow.method == "GET") {
    // A redirect's next hop as a GET (after a 303, or a 301/302 to a POST).
    curl_easy_setopt(easy, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, nullptr);
  } else if (request.method != "GET" && request.method != "HEAD") {
    // Not copied: the flow instance keeps the body until the step is judged.
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, flow.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(flow.body.size()));
  }
}

void CurlTransport::Send(const Sent& sent) {
  Slot* slot = free_.back();
  free_.pop_back();
  if (sent.flow != nullptr && sent.flow->invalid) {
    slot->sent = sent;
    failed_.push_back(slot);
    return;
  }
  if (sent.flow != nullptr) {
    ConfigureFlow(slot, *sent.request, *sent.flow);
  } else {
    Configure(slot, *sent.request);
  }
  if (!local_binds_.empty()) {
    // Requests take the addresses in turn; libcurl reuses a connection only
    // for the same one.
    curl_easy_setopt(slot->easy, CURLOPT_INTERFACE,
                     local_binds_[next_local_++ % local_binds_.size()].c_str());
  }
  slot->sent = sent;
  slot->socket_errno = 0;
  slot->blocked = false;
  slot->in_head = false;
  CURLMcode rc = curl_multi_add_handle(multi_, slot->easy);
  slot->added = rc == CURLM_OK;
  if (rc != CURLM_OK) {
    slot->sent.request = nullptr;
    free_.push_back(slot);
    Outcome outcome;
    outcome.error = ErrorId::kLocalOther;
    listener_->OnDone(sent, outcome, EventLoop::MonoNowNs());
  }
}

void CurlTransport::OnDeadline() {
  // The listener may Send (and so fail more) while this runs.
  for (size_t i = 0; i < failed_.size(); ++i) {
    Slot* slot = failed_[i];
    const Sent sent = slot->sent;
    slot->sent.request = nullptr;
    free_.push_back(slot);
    Outcome outcome;
    outcome.error = ErrorId::kInvalidRequest;
    listener_->OnDone(sent, outcome, EventLoop::MonoNowNs());
  }
  failed_.clear();
  // Called for the failures alone: libcurl's own timer is not due yet.
  if (deadline_ns_ == 0 || EventLoop::MonoNowNs() < deadline_ns_) return;
  deadline_ns_ = 0;
  int running = 0;
  curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  DrainDone();
}

void CurlTransport::OnEvents(int fd, uint32_t events) {
  int flags = 0;
  if (events & EPOLLIN) flags |= CURL_CSELECT_IN;
  if (events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
  if (events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
  int running = 0;
  curl_multi_socket_action(multi_, fd, flags, &running);
  DrainDone();
}

void CurlTransport::DrainDone() {
  int pending = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &pending)) {
    if (msg->msg == CURLMSG_DONE) Complete(msg);
  }
}

namespace {

// libcurl's phase times are cumulative µs from the transfer's start; the
// connection phases count only when this transfer opened the connection.
void ReadTimings(CURL* easy, Outcome* outcome) {
  curl_off_t lookup = 0, connect = 0, tls = 0, pretransfer = 0, first = 0;
  long new_connections = 0;
  curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &new_connections);
  curl_easy_getinfo(easy, CURLINFO_NAMELOOKUP_TIME_T, &lookup);
  curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME_T, &connect);
  curl_easy_getinfo(easy, CURLINFO_APPCONNECT_TIME_T, &tls);
  curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
  curl_easy_getinfo(easy, CURLINFO_STARTTRANSFER_TIME_T, &first);
  if (new_connections > 0 && connect > 0) {
    outcome->dns_ns = lookup * 1000;
    outcome->connect_ns = (connect - lookup) * 1000;
    if (tls > 0) outcome->tls_ns = (tls - connect) * 1000;
  }
  if (first > 0 && first >= pretransfer)
    outcome->ttfb_ns = (first - pretransfer) * 1000;
}

}  // namespace

void CurlTransport::Complete(CURLMsg* msg) {
  const int64_t done_ns = EventLoop::MonoNowNs();
  Slot* slot = nullptr;
  curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &slot);
  CURLcode code = msg->data.result;
  Outcome outcome;
  outcome.error = Classify(code, slot->easy, slot->socket_errno, slot->blocked);
  long status = 0;
  curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &status);
  outcome.status = static_cast<int>(status);
  long header_bytes = 0, request_bytes = 0;
  curl_off_t body_bytes = 0;
  curl_easy_getinfo(slot->easy, CURLINFO_HEADER_SIZE, &header_bytes);
  curl_easy_getinfo(slot->easy, CURLINFO_REQUEST_SIZE, &request_bytes);
  curl_easy_getinfo(slot->easy, CURLINFO_SIZE_DOWNLOAD_T, &body_bytes);
  outcome.bytes_in = header_bytes + body_bytes;
  outcome.bytes_out = request_bytes;
  ReadTimings(slot->easy, &outcome);
  curl_multi_remove_handle(multi_, slot->easy);
  slot->added = false;
  Sent sent = slot->sent;
  slot->sent.request = nullptr;
  free_.push_back(slot);
  listener_->OnDone(sent, outcome, done_ns);
}

int CurlTransport::SocketCallback(CURL*, curl_socket_t fd, int what, void* self,
                                  void*) {
  auto* t = static_cast<CurlTransport*>(self);
  if (static_cast<size_t>(fd) >= t->watched_.size())
    t->watched_.resize(fd + 64, false);
  if (what == CURL_POLL_REMOVE) {
    if (t->watched_[fd]) t->loop_->Remove(fd);
    t->watched_[fd] = false;
    return 0;
  }
  uint32_t events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= EPOLLOUT;
  // A closed fd leaves epoll by itself and its number may come back: fall back
  // either way.
  bool ok = t->watched_[fd] ? t->loop_->Modify(fd, events, t)
                            : t->loop_->Add(fd, events, t);
  if (!ok)
    ok = t->watched_[fd] ? t->loop_->Add(fd, events, t)
                         : t->loop_->Modify(fd, events, t);
  t->watched_[fd] = ok;
  return ok ? 0 : -1;
}

curl_socket_t CurlTransport::OpenSocket(void* slot, curlsocktype,
                                        curl_sockaddr* address) {
  // After libcurl's DNS, before the socket exists: a denied address never
  // sees a byte. libcurl tries the name's other addresses, if any.
  auto* s = static_cast<Slot*>(slot);
  const absl::string_view host =
      s->host != nullptr ? absl::string_view(*s->host) : absl::string_view();
  if (s->owner->allow_->Check(host, &address->addr)) {
    s->blocked = true;
    return CURL_SOCKET_BAD;
  }
  curl_socket_t fd = socket(address->family, address->socktype | SOCK_CLOEXEC,
                            address->protocol);
  if (fd < 0) s->socket_errno = errno;
  return fd < 0 ? CURL_SOCKET_BAD : fd;
}

size_t CurlTransport::OnHeader(char* data, size_t size, size_t n, void* slot) {
  auto* s = static_cast<Slot*>(slot);
  const size_t len = size * n;
  FlowSend* f = s->sent.flow;
  if (f == nullptr) return len;
  const std::string_view line(data, len);
  if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
    // A new response: only the last one (after any 1xx, auth round or
    // proxy CONNECT) is the step's.
    f->head.clear();
    f->response_body.clear();
    f->body_cut = false;
    s->in_head = true;
  } else if (line == "\r\n" || line == "\n") {
    s->in_head = false;  // what follows the body is trailers
    return len;
  }
  if (s->in_head && f->keep_head && f->head.size() + len <= kMaxKeptHead)
    f->head.append(line);
  return len;
}

size_t CurlTransport::OnBody(char* data, size_t size, size_t n, void* slot) {
  auto* s = static_cast<Slot*>(slot);
  const size_t len = size * n;
  FlowSend* f = s->sent.flow;
  if (f == nullptr || f->body_limit == 0) return len;
  const size_t room = f->body_limit > f->response_body.size()
                          ? f->body_limit - f->response_body.size()
                          : 0;
  const size_t take = std::min(room, len);
  f->response_body.append(data, take);
  if (take < len) f->body_cut = true;
  return len;
}

int CurlTransport::TimerCallback(CURLM*, long timeout_ms, void* self) {
  auto* t = static_cast<CurlTransport*>(self);
  // Never call back into curl from here: the worker's loop calls OnDeadline
  // when it is due.
  t->deadline_ns_ =
      timeout_ms < 0 ? 0 : EventLoop::MonoNowNs() + timeout_ms * 1'000'000;
  return 0;
}

}  // namespace stampede::agent
