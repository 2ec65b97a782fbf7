// Fuzzes the --allow-targets parser (common/allow_list.h). Besides the
// sanitizers, checks that a parsed list keeps its promises: its canonical
// text parses back to the same rules (and the same text), and checking a few
// addresses, named or not, neither crashes nor lets the always-denied
// metadata address through a rule that does not name it.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/allow_list.h"
#include "tests/fuzz/fuzz_check.h"

namespace stampede::common {
namespace {

sockaddr_storage Address(int family, const char* text, uint16_t port) {
  sockaddr_storage s{};
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&s);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, text, &in->sin_addr);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&s);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    inet_pton(AF_INET6, text, &in6->sin6_addr);
  }
  return s;
}

}  // namespace
}  // namespace stampede::common

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using stampede::common::Address;
  using stampede::common::AllowList;
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<AllowList> list = AllowList::Parse(text);
  if (!list.ok()) {
    FUZZ_CHECK(!list.status().message().empty());
    return 0;
  }
  FUZZ_CHECK(!list->rules().empty());
  const std::string canonical = list->ToString();
  absl::StatusOr<AllowList> again = AllowList::Parse(canonical);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->rules() == list->rules());
  FUZZ_CHECK(again->ToString() == canonical);

  const sockaddr_storage addresses[] = {
      Address(AF_INET, "127.0.0.1", 80),
      Address(AF_INET, "10.1.2.3", 8080),
      Address(AF_INET, "169.254.169.254", 80),
      Address(AF_INET6, "::1", 443),
      Address(AF_INET6, "fe80::1", 80),
      Address(AF_INET6, "::ffff:100.100.100.200", 80),
  };
  const char* hosts[] = {"", "localhost", "a.staging.example.com",
                         "metadata.google.internal"};
  for (const sockaddr_storage& a : addresses) {
    for (const char* host : hosts) {
      (void)list->Check(host, reinterpret_cast<const sockaddr*>(&a));
    }
  }
  for (const char* host : hosts) (void)list->Check(host, nullptr, 443);
  // The metadata address passes only for a rule that names it: a network
  // rule of at least /16 inside 169.254.0.0/16.
  const sockaddr_storage metadata = addresses[2];
  if (!list->Check("metadata.google.internal",
                   reinterpret_cast<const sockaddr*>(&metadata))) {
    bool named = false;
    for (const AllowList::Rule& r : list->rules()) {
      named |= r.kind == AllowList::Rule::Kind::kNetwork &&
               r.prefix >= 96 + 16 && r.address[12] == 169 &&
               r.address[13] == 254;
    }
    FUZZ_CHECK(named);
  }
  return 0;
}
