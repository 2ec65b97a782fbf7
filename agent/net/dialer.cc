#include "agent/net/dialer.h"

namespace stampede::agent::net {

int Dialer::Add(std::string_view host) {
  if (resolver_ == nullptr) {
    auto own = Resolver::Create(loop_);
    if (!own.ok()) return -1;
    own_ = std::move(*own);
    resolver_ = own_.get();
  }
  const int id = resolver_->Add(host);
  if (own_ != nullptr) own_->WaitForAnswers(kOwnLookupWaitNs);
  return id;
}

common::ErrorId Dialer::Open(int name, uint16_t port, std::string_view host,
                             int* fd, sockaddr_storage* addr, socklen_t* len,
                             int64_t* dns_ns) {
  *dns_ns = Resolver::kNotTimed;
  if (name < 0 || resolver_ == nullptr) return common::ErrorId::kLocalOther;
  if (!resolver_->Pick(name, port, addr, len, dns_ns))
    return common::ErrorId::kDnsFailure;
  return OpenSocket(*allow_, host, *addr, &local_, fd);
}

uint16_t PortOf(std::string_view port) {
  unsigned value = 0;
  for (char c : port) value = value * 10 + static_cast<unsigned>(c - '0');
  return static_cast<uint16_t>(value);
}

}  // namespace stampede::agent::net
