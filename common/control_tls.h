// Credentials for the control plane (controller <-> agents): mutual TLS from
// PEM files, an optional bearer token, and on the controller a check that each
// agent's certificate names what --agent-san allows. The functions read the
// files once, when called; they are thread-safe. Credentials returned may be
// shared and outlive the options they were made from.
#ifndef STAMPEDE_COMMON_CONTROL_TLS_H_
#define STAMPEDE_COMMON_CONTROL_TLS_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace stampede::common {

struct ControlTlsOptions {
  // PEM files. The CA verifies the other side; cert and key are this side's.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Optional shared secret, sent as "authorization: Bearer TOKEN" on every
  // call and required by the controller when set there. Only over TLS: gRPC
  // does not send call credentials on an insecure channel.
  std::string token;
  // Controller only: every agent certificate must carry a SAN (or, without
  // SANs, a common name) matching this pattern; see MatchesSanPattern. Empty:
  // any certificate the CA signed.
  std::string agent_san;
  // Agent only: the name the controller's certificate must carry, when it is
  // not the host dialled (e.g. dialling an address through a tunnel).
  std::string server_name;

  // Whether any certificate file was given, i.e. TLS was asked for.
  bool enabled() const {
    return !ca_file.empty() || !cert_file.empty() || !key_file.empty();
  }
};

// mTLS server credentials: a client certificate signed by ca_file is required
// at the handshake; agent_san and token are checked on every call, which is
// otherwise refused UNAUTHENTICATED with the reason. Errors name the file that
// cannot be read or parsed, or the key that does not fit the certificate.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const ControlTlsOptions& options);

// TLS channel credentials trusting only ca_file, presenting cert/key, plus the
// token as call credentials when set. Dial with ApplyChannelArgs' arguments.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const ControlTlsOptions& options);

// Sets what the channel needs beyond its credentials: the TLS target name
// override when server_name is set (GRPC_SSL_TARGET_NAME_OVERRIDE_ARG).
void ApplyChannelArgs(const ControlTlsOptions& options,
                      grpc::ChannelArguments* args);

// Whether a certificate name matches a pattern. '*' stands for one or more
// characters, dots included, so "agent-*.stampede.local" matches
// "agent-1.stampede.local" and "agent-1.rack2.stampede.local" but not
// "agent-.stampede.local" or "agent-1.stampede.local.evil". Without '*' the
// names must be equal. ASCII case is ignored, as in DNS. An empty pattern
// matches nothing (callers treat "no pattern" themselves).
bool MatchesSanPattern(std::string_view san, std::string_view pattern);

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_CONTROL_TLS_H_
