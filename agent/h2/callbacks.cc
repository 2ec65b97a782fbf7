// nghttp2's callbacks for H2Transport (they see its private parts through the
// nested Callbacks struct), and its stream lists: waiting line and deadlines.
#include <algorithm>
#include <cstring>

#include "agent/h2/internal.h"

namespace stampede::agent {

using common::ErrorId;

namespace {
// How often a request the server did not process is sent again.
constexpr uint8_t kMaxRetries = 5;
}  // namespace

// nghttp2 calls these with the Connection as the session's user data. A
// stream is ours only while it still points at that connection and id: a
// slot that timed out may already carry another request.
H2Transport::Stream* H2Transport::Callbacks::Find(Connection* c, int32_t id) {
  auto* s = static_cast<Stream*>(
      nghttp2_session_get_stream_user_data(c->session, id));
  return s != nullptr && s->conn == c && s->id == id ? s : nullptr;
}

int H2Transport::Callbacks::OnBeginHeaders(nghttp2_session*,
                                           const nghttp2_frame* frame,
                                           void* user_data) {
  auto* c = static_cast<Connection*>(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  Stream* s = Find(c, frame->hd.stream_id);
  if (s == nullptr) return 0;
  s->responded = true;
  s->head_open = false;
  if (s->ttfb_ns == Outcome::kNotTimed && s->written_ns > 0)
    s->ttfb_ns = std::max<int64_t>(0, c->owner->now_ns_ - s->written_ns);
  return 0;
}

int H2Transport::Callbacks::OnHeader(nghttp2_session*,
                                     const nghttp2_frame* frame,
                                     const uint8_t* name, size_t namelen,
                                     const uint8_t* value, size_t valuelen,
                                     uint8_t, void* user_data) {
  const bool status = namelen == 7 && std::memcmp(name, ":status", 7) == 0;
  if (!status) {
    // Only a flow step keeps the other fields.
    auto* c = static_cast<Connection*>(user_data);
    if (!c->flows) return 0;
    Stream* s = Find(c, frame->hd.stream_id);
    if (s == nullptr || !s->head_open) return 0;
    std::string& head = s->sent.flow->head;
    if (head.size() + namelen + valuelen + 4 <= kH2MaxKeptHead) {
      head.append(reinterpret_cast<const char*>(name), namelen)
          .append(": ")
          .append(reinterpret_cast<const char*>(value), valuelen)
          .append("\r\n");
    }
    return 0;
  }
  Stream* s = Find(static_cast<Connection*>(user_data), frame->hd.stream_id);
  if (s == nullptr || valuelen != 3) return 0;
  s->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
  if (s->sent.flow != nullptr && s->sent.flow->keep_head) {
    // A new response head (a 1xx's is replaced by the final one); nghttp2
    // has checked that :status comes first and is three digits.
    s->head_open = true;
    s->sent.flow->head.assign("HTTP/2 ")
        .append(reinterpret_cast<const char*>(value), 3)
        .append("\r\n");
  }
  return 0;
}

int H2Transport::Callbacks::OnFrameRecv(nghttp2_session*,
                                        const nghttp2_frame* frame,
                                        void* user_data) {
  auto* c = static_cast<Connection*>(user_data);
  switch (frame->hd.type) {
    case NGHTTP2_DATA:
    case NGHTTP2_HEADERS:
      if (Stream* s = Find(c, frame->hd.stream_id); s != nullptr) {
        s->responded = true;
        s->bytes_in += 9 + static_cast<int64_t>(frame->hd.length);
      }
      break;
    case NGHTTP2_GOAWAY:
      c->goaway = true;
      c->goaway_last_id = frame->goaway.last_stream_id;
      c->draining = true;
      c->owner->drained_ = true;
      break;
    default:
      break;
  }
  return 0;
}

int H2Transport::Callbacks::BeforeFrameSend(nghttp2_session*,
                                            const nghttp2_frame* frame,
                                            void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;
  }
  auto* c = static_cast<Connection*>(user_data);
  auto* s = static_cast<Stream*>(
      nghttp2_session_get_stream_user_data(c->session, frame->hd.stream_id));
  // A request that timed out before its HEADERS left: do not send it.
  if (s != nullptr && (s->conn != c || s->id != frame->hd.stream_id))
    return NGHTTP2_ERR_CANCEL;
  return 0;
}

int H2Transport::Callbacks::OnFrameSend(nghttp2_session*,
                                        const nghttp2_frame* frame,
                                        void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
    return 0;
  auto* c = static_cast<Connection*>(user_data);
  Stream* s = Find(c, frame->hd.stream_id);
  if (s == nullptr) return 0;
  s->opened = true;
  s->bytes_out += 9 + static_cast<int64_t>(frame->hd.length);
  // Serialised now and written right after: the request's end is handed to
  // the socket (unless the socket is full, a wait TTFB then includes).
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0)
    s->written_ns = c->owner->now_ns_;
  return 0;
}

int H2Transport::Callbacks::OnFrameNotSend(nghttp2_session*,
                                           const nghttp2_frame* frame, int,
                                           void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;
  }
  // E.g. after a GOAWAY: the request never left, and nghttp2 may not open
  // (nor close) its stream, so look for it here.
  auto* c = static_cast<Connection*>(user_data);
  for (Stream* s = c->streams; s != nullptr; s = s->next) {
    if (s->id == frame->hd.stream_id) {
      c->owner->Detach(s);
      c->owner->Refused(s, ErrorId::kHttpProtocol);
      break;
    }
  }
  return 0;
}

int H2Transport::Callbacks::OnStreamClose(nghttp2_session*, int32_t id,
                                          uint32_t error_code,
                                          void* user_data) {
  auto* c = static_cast<Connection*>(user_data);
  Stream* s = Find(c, id);
  if (s == nullptr) return 0;
  H2Transport* t = c->owner;
  t->Detach(s);
  if (error_code == NGHTTP2_REFUSED_STREAM && !s->responded) {
    t->Refused(s, ErrorId::kHttpProtocol);
  } else if (error_code == NGHTTP2_NO_ERROR && s->status > 0) {
    ++c->served;
    t->Finish(s, ErrorId::kNone);
  } else {
    t->Finish(s, ErrorId::kHttpProtocol);
  }
  return 0;
}

int H2Transport::Callbacks::OnDataChunk(nghttp2_session*, uint8_t, int32_t id,
                                        const uint8_t* data, size_t len,
                                        void* user_data) {
  auto* c = static_cast<Connection*>(user_data);
  if (!c->flows) return 0;
  Stream* s = Find(c, id);
  if (s == nullptr || s->sent.flow == nullptr) return 0;
  FlowSend& f = *s->sent.flow;
  if (f.body_limit == 0) return 0;
  const size_t room = f.body_limit > f.response_body.size()
                          ? f.body_limit - f.response_body.size()
                          : 0;
  const size_t take = std::min(room, len);
  f.response_body.append(reinterpret_cast<const char*>(data), take);
  if (take < len) f.body_cut = true;
  return 0;
}

ssize_t H2Transport::Callbacks::ReadBody(nghttp2_session*, int32_t id,
                                         uint8_t* buf, size_t length,
                                         uint32_t* data_flags,
                                         nghttp2_data_source* source,
                                         void* user_data) {
  auto* s = static_cast<Stream*>(source->ptr);
  if (s->conn != user_data || s->id != id)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const std::string& body =
      s->sent.flow != nullptr ? s->sent.flow->body : s->target->request.body;
  size_t n = std::min(length, body.size() - s->body_off);
  std::memcpy(buf, body.data() + s->body_off, n);
  s->body_off += n;
  if (s->body_off == body.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

nghttp2_session_callbacks* H2Transport::Callbacks::New() {
  nghttp2_session_callbacks* cb = nullptr;
  if (nghttp2_session_callbacks_new(&cb) != 0) return nullptr;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cb, OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, OnFrameRecv);
  nghttp2_session_callbacks_set_before_frame_send_callback(cb, BeforeFrameSend);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, OnFrameSend);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cb, OnFrameNotSend);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, OnStreamClose);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, OnDataChunk);
  return cb;
}

void H2Transport::Refused(Stream* s, ErrorId error) {
  if (++s->retries > kMaxRetries) {
    Finish(s, error);
    return;
  }
  s->opened = s->responded = s->head_open = false;
  s->status = 0;
  if (FlowSend* f = s->sent.flow; f != nullptr) {
    // What the lost attempt left is not this request's answer.
    f->head.clear();
    f->response_body.clear();
    f->body_cut = false;
  }
  s->body_off = 0;
  s->bytes_in = 0;
  s->written_ns = 0;
  s->ttfb_ns = Outcome::kNotTimed;
  PushWaiting(s);
  pump_ = true;
}

void H2Transport::Detach(Stream* s) {
  Connection* c = s->conn;
  if (s->prev != nullptr) {
    s->prev->next = s->next;
  } else {
    c->streams = s->next;
  }
  if (s->next != nullptr) s->next->prev = s->prev;
  s->prev = s->next = nullptr;
  s->conn = nullptr;
  --c->active;
  if (waiting_head_ != nullptr) pump_ = true;
}

void H2Transport::PushWaiting(Stream* s) {
  // In the order the requests were sent: one coming back (refused) goes
  // before those sent after it.
  Stream* after = waiting_tail_;
  while (after != nullptr && after->sent.sent_ns > s->sent.sent_ns)
    after = after->prev;
  s->conn = nullptr;
  s->prev = after;
  s->next = after != nullptr ? after->next : waiting_head_;
  if (s->next != nullptr) {
    s->next->prev = s;
  } else {
    waiting_tail_ = s;
  }
  if (after != nullptr) {
    after->next = s;
  } else {
    waiting_head_ = s;
  }
}

void H2Transport::RemoveWaiting(Stream* s) {
  if (s->prev != nullptr) {
    s->prev->next = s->next;
  } else {
    waiting_head_ = s->next;
  }
  if (s->next != nullptr) {
    s->next->prev = s->prev;
  } else {
    waiting_tail_ = s->prev;
  }
  s->prev = s->next = nullptr;
}

void H2Transport::LinkDeadline(Stream* s) {
  if (s->deadline_ns == 0) return;
  // From the tail: with one timeout for all, the newest is the latest.
  Stream* after = deadline_tail_;
  while (after != nullptr && after->deadline_ns > s->deadline_ns)
    after = after->dl_prev;
  s->dl_prev = after;
  s->dl_next = after != nullptr ? after->dl_next : deadline_head_;
  if (s->dl_next != nullptr) {
    s->dl_next->dl_prev = s;
  } else {
    deadline_tail_ = s;
  }
  if (after != nullptr) {
    after->dl_next = s;
  } else {
    deadline_head_ = s;
  }
  s->linked = true;
}

void H2Transport::UnlinkDeadline(Stream* s) {
  if (!s->linked) return;
  if (s->dl_prev != nullptr) {
    s->dl_prev->dl_next = s->dl_next;
  } else {
    deadline_head_ = s->dl_next;
  }
  if (s->dl_next != nullptr) {
    s->dl_next->dl_prev = s->dl_prev;
  } else {
    deadline_tail_ = s->dl_prev;
  }
  s->dl_prev = s->dl_next = nullptr;
  s->linked = false;
}
}  // namespace stampede::agent
