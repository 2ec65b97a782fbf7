#include "common/control_tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "spdlog/spdlog.h"

namespace stampede::common {
namespace {

constexpr std::string_view kBearer = "Bearer ";

struct Pem {
  std::string ca;
  std::string cert;
  std::string key;
};

absl::StatusOr<std::string> ReadWhole(const char* what,
                                      const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " file ", path, ": cannot open: ", std::strerror(errno)));
  }
  std::string out;
  char buf[8192];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int read_errno = errno;
  std::fclose(f);
  if (failed) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " file ", path, ": cannot read: ", std::strerror(read_errno)));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " file ", path, ": is empty"));
  }
  return out;
}

// The first reason OpenSSL queued, or "" (and the queue is cleared either way).
std::string OpenSslReason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return absl::StrCat(" (", buf, ")");
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

BioPtr MemBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Never prompts on the terminal for an encrypted key: it simply fails.
int NoPassword(char*, int, int, void*) { return -1; }

// Every certificate in a PEM bundle; an error unless there is at least one.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(const char* what,
                                                       const std::string& path,
                                                       const std::string& pem) {
  std::vector<X509Ptr> certs;
  BioPtr bio = MemBio(pem);
  while (true) {
    X509* x = PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr);
    if (x == nullptr) break;
    certs.emplace_back(x);
  }
  ERR_clear_error();  // the end of the bundle reads as an error
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " file ", path,
                     ": no PEM certificate (BEGIN CERTIFICATE) in it"));
  }
  return certs;
}

absl::StatusOr<Pem> LoadPem(const ControlTlsOptions& o) {
  if (!o.enabled()) {
    if (!o.token.empty()) {
      return absl::InvalidArgumentError(
          "a token is sent only over TLS: give the CA, certificate and key "
          "files too");
    }
    return absl::InvalidArgumentError(
        "control-plane TLS needs a CA, a certificate and a key file; none was "
        "given");
  }
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string*>{"CA", &o.ca_file},
        {"certificate", &o.cert_file},
        {"key", &o.key_file}}) {
    if (value->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "control-plane TLS needs a CA, a certificate and a key file; the ",
          name, " file is not set"));
    }
  }
  for (unsigned char c : o.token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          "the token must be printable ASCII without spaces");
    }
  }
  Pem pem;
  auto ca = ReadWhole("CA", o.ca_file);
  if (!ca.ok()) return ca.status();
  pem.ca = std::move(*ca);
  if (auto s = ParseCertificates("CA", o.ca_file, pem.ca); !s.ok()) {
    return s.status();
  }
  auto cert = ReadWhole("certificate", o.cert_file);
  if (!cert.ok()) return cert.status();
  pem.cert = std::move(*cert);
  auto chain = ParseCertificates("certificate", o.cert_file, pem.cert);
  if (!chain.ok()) return chain.status();
  auto key = ReadWhole("key", o.key_file);
  if (!key.ok()) return key.status();
  pem.key = std::move(*key);
  BioPtr bio = MemBio(pem.key);
  PkeyPtr pkey(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key file ", o.key_file, ": no unencrypted PEM private key in it",
        OpenSslReason()));
  }
  if (X509_check_private_key(chain->front().get(), pkey.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key file ", o.key_file, " does not belong to certificate ",
        o.cert_file, OpenSslReason()));
  }
  return pem;
}

// Constant time in the length of `expected`, so a wrong token does not tell
// how much of it was right.
bool SameSecret(std::string_view got, std::string_view expected) {
  unsigned char diff = got.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g =
        i < got.size() ? static_cast<unsigned char>(got[i]) : 0;
    diff |= g ^ static_cast<unsigned char>(expected[i]);
  }
  return diff == 0;
}

// Runs on each call, after the handshake verified the client certificate
// against the CA: the agent_san and token checks.
class AgentCheck : public grpc::AuthMetadataProcessor {
 public:
  AgentCheck(std::string agent_san, std::string token)
      : agent_san_(std::move(agent_san)), token_(std::move(token)) {}

  // Cheap and non-blocking: run inline on the call's thread.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& metadata,
                       grpc::AuthContext* context,
                       OutputMetadata* consumed_metadata,
                       OutputMetadata* /*response_metadata*/) override {
    if (!context->IsPeerAuthenticated()) {
      return Refuse("the agent presented no verified client certificate");
    }
    if (!agent_san_.empty()) {
      std::vector<std::string> names;
      for (const grpc::string_ref& v :
           context->FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME)) {
        names.emplace_back(v.data(), v.size());
      }
      std::string kind = "SANs";
      if (names.empty()) {
        kind = "common name (it has no SANs)";
        for (const grpc::string_ref& v :
             context->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
          names.emplace_back(v.data(), v.size());
        }
      }
      const bool match =
          std::any_of(names.begin(), names.end(), [&](const std::string& n) {
            return MatchesSanPattern(n, agent_san_);
          });
      if (!match) {
        return Refuse(absl::StrCat(
            "the agent certificate's ", kind, " [",
            names.empty() ? "none" : absl::StrJoin(names, ", "),
            "] do not match the agent SAN pattern \"", agent_san_, "\""));
      }
    }
    if (!token_.empty()) {
      auto it = metadata.find("authorization");
      if (it == metadata.end()) {
        return Refuse(
            "no token: this controller requires one (authorization: Bearer)");
      }
      const std::string_view value(it->second.data(), it->second.size());
      if (value.substr(0, kBearer.size()) != kBearer ||
          !SameSecret(value.substr(kBearer.size()), token_)) {
        return Refuse("wrong token");
      }
      // The service never sees the secret.
      consumed_metadata->emplace("authorization", std::string(value));
    }
    return grpc::Status::OK;
  }

 private:
  static grpc::Status Refuse(const std::string& why) {
    // Only holders of a certificate from our CA get this far, so this cannot
    // be flooded by strangers.
    spdlog::warn("control plane: refused an agent: {}", why);
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, why);
  }

  const std::string agent_san_;
  const std::string token_;
};

}  // namespace

bool MatchesSanPattern(std::string_view san, std::string_view pattern) {
  if (pattern.empty()) return false;
  // at[j]: whether san[i..] matches pattern[j..], for the current i, walking i
  // from the end (a row of the usual wildcard table).
  const size_t n = san.size(), m = pattern.size();
  std::vector<char> next(m + 1, 0), at(m + 1, 0);
  // i == n: only the empty pattern matches the empty rest ('*' needs a char).
  next[m] = 1;
  for (size_t i = n; i-- > 0;) {
    at[m] = 0;
    for (size_t j = m; j-- > 0;) {
      if (pattern[j] == '*') {
        // One char taken by '*', then '*' goes on or stops.
        at[j] = next[j] || next[j + 1];
      } else {
        at[j] = absl::ascii_tolower(static_cast<unsigned char>(pattern[j])) ==
                    absl::ascii_tolower(static_cast<unsigned char>(san[i])) &&
                next[j + 1];
      }
    }
    std::swap(at, next);
  }
  return next[0] != 0;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const ControlTlsOptions& options) {
  auto pem = LoadPem(options);
  if (!pem.ok()) return pem.status();
  grpc::SslServerCredentialsOptions ssl(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = pem->ca;
  ssl.pem_key_cert_pairs.push_back({pem->key, pem->cert});
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::SslServerCredentials(ssl);
  if (creds == nullptr) {
    return absl::InternalError("gRPC refused the TLS server credentials");
  }
  creds->SetAuthMetadataProcessor(
      std::make_shared<AgentCheck>(options.agent_san, options.token));
  return creds;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const ControlTlsOptions& options) {
  auto pem = LoadPem(options);
  if (!pem.ok()) return pem.status();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = pem->ca;
  ssl.pem_private_key = pem->key;
  ssl.pem_cert_chain = pem->cert;
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::SslCredentials(ssl);
  if (creds == nullptr) {
    return absl::InternalError("gRPC refused the TLS channel credentials");
  }
  if (!options.token.empty()) {
    creds = grpc::CompositeChannelCredentials(
        creds, grpc::AccessTokenCredentials(options.token));
    if (creds == nullptr) {
      return absl::InternalError("gRPC refused the token credentials");
    }
  }
  return creds;
}

void ApplyChannelArgs(const ControlTlsOptions& options,
                      grpc::ChannelArguments* args) {
  if (!options.server_name.empty()) {
    args->SetSslTargetNameOverride(options.server_name);
  }
}

}  // namespace stampede::common
