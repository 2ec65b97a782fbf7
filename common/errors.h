// The fixed taxonomy of per-request failures, with stable ids shared by every
// transport and by the reports. HTTP statuses >= 400 are errors named
// http_<code> (ws_upgrade_<code> for a refused WebSocket handshake, and
// ws_close_<code> for a WebSocket the server closed with an error); local_* ids
// are the generator's own limits and never count as the target's errors.
// Thread-safe (constants).
#ifndef STAMPEDE_COMMON_ERRORS_H_
#define STAMPEDE_COMMON_ERRORS_H_

#include <cerrno>
#include <cstdint>
#include <string_view>

namespace stampede::common {

enum class ErrorId : uint8_t {
  kNone = 0,
  kDnsFailure,
  kTcpRefused,
  kTcpReset,
  kTcpTimeout,
  kTlsError,
  kHttpProtocol,
  kRequestTimeout,
  kLocalEmfile,
  kLocalEaddrnotavail,
  kLocalOther,
  kTransportOther,
  kTlsHandshake,    // the TLS handshake failed (not the certificate)
  kTlsCertificate,  // the server's certificate did not verify
  kWsProtocol,      // WebSocket: a bad handshake answer or frame
  kWsTimeout,       // WebSocket: a reply or the close handshake overdue
  // The agent's --allow-targets (or the always-denied ranges) refused the
  // address: no byte was sent. The plan's fault, counted as an error.
  kBlockedTarget,
  // Flows: a capture found nothing (the flow instance ends), or a check
  // failed. The target answered; the answer was not what the user needed.
  kCaptureFailed,
  kCheckFailed,
  // Flows: a rendered request that cannot be sent as it is (a line break in
  // a header value, a space in the path); nothing was sent.
  kInvalidRequest,
  kCount,
};

constexpr std::string_view ErrorIdName(ErrorId id) {
  switch (id) {
    case ErrorId::kNone:
      return "none";
    case ErrorId::kDnsFailure:
      return "dns_failure";
    case ErrorId::kTcpRefused:
      return "tcp_refused";
    case ErrorId::kTcpReset:
      return "tcp_reset";
    case ErrorId::kTcpTimeout:
      return "tcp_timeout";
    case ErrorId::kTlsError:
      return "tls_error";
    case ErrorId::kHttpProtocol:
      return "http_protocol";
    case ErrorId::kRequestTimeout:
      return "request_timeout";
    case ErrorId::kLocalEmfile:
      return "local_emfile";
    case ErrorId::kLocalEaddrnotavail:
      return "local_eaddrnotavail";
    case ErrorId::kLocalOther:
      return "local_other";
    case ErrorId::kTransportOther:
      return "transport_other";
    case ErrorId::kTlsHandshake:
      return "tls_handshake";
    case ErrorId::kTlsCertificate:
      return "tls_certificate";
    case ErrorId::kWsProtocol:
      return "ws_protocol";
    case ErrorId::kWsTimeout:
      return "ws_timeout";
    case ErrorId::kBlockedTarget:
      return "blocked_target";
    case ErrorId::kCaptureFailed:
      return "capture_failed";
    case ErrorId::kCheckFailed:
      return "check_failed";
    case ErrorId::kInvalidRequest:
      return "invalid_request";
    case ErrorId::kCount:
      break;
  }
  return "unknown";
}

constexpr bool IsLocalError(ErrorId id) {
  return id == ErrorId::kLocalEmfile || id == ErrorId::kLocalEaddrnotavail ||
         id == ErrorId::kLocalOther;
}

// The id of a failed socket call by its errno, for every transport; `otherwise`
// for an errno with no id of its own.
constexpr ErrorId ErrorIdFromErrno(long err, ErrorId otherwise) {
  switch (err) {
    case ECONNREFUSED:
      return ErrorId::kTcpRefused;
    case ECONNRESET:
    case EPIPE:
      return ErrorId::kTcpReset;
    case ETIMEDOUT:
      return ErrorId::kTcpTimeout;
    case EMFILE:
    case ENFILE:
      return ErrorId::kLocalEmfile;
    case EADDRNOTAVAIL:
      return ErrorId::kLocalEaddrnotavail;
    case ENOBUFS:
    case ENOMEM:
      return ErrorId::kLocalOther;
    default:
      return otherwise;
  }
}

// The id of a failed non-blocking connect, for the native engines: EAGAIN
// means no free local port; anything else that is not the generator's own
// limit means the target cannot be reached.
constexpr ErrorId ErrorIdFromConnectErrno(long err) {
  if (err == EAGAIN) return ErrorId::kLocalEaddrnotavail;
  return ErrorIdFromErrno(err, ErrorId::kTcpRefused);
}

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_ERRORS_H_
