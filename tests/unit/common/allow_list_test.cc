#include "common/allow_list.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <optional>
#include <string>

namespace stampede::common {
namespace {

// An address with its port, as a transport hands it to Check.
struct Addr {
  sockaddr_storage storage{};
  const sockaddr* get() const {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
};

Addr Ip(const std::string& ip, uint16_t port) {
  Addr a;
  if (ip.find(':') == std::string::npos) {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET, ip.c_str(), &in->sin_addr), 1) << ip;
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr), 1) << ip;
  }
  return a;
}

AllowList List(const std::string& text) {
  absl::StatusOr<AllowList> list = AllowList::Parse(text);
  EXPECT_TRUE(list.ok()) << text << ": " << list.status();
  return list.ok() ? *list : AllowList();
}

std::string ParseError(const std::string& text) {
  absl::StatusOr<AllowList> list = AllowList::Parse(text);
  EXPECT_FALSE(list.ok()) << text << " parsed as " << list->ToString();
  return list.ok() ? "" : std::string(list.status().message());
}

bool Allowed(const AllowList& list, const std::string& host,
             const std::string& ip, uint16_t port) {
  return !list.Check(host, Ip(ip, port).get()).has_value();
}

TEST(AllowListParse, ValidFormsAndTheirCanonicalText) {
  const std::pair<std::string, std::string> cases[] = {
      {"10.0.0.0/8", "10.0.0.0/8"},
      {"192.168.1.5:8080", "192.168.1.5/32:8080"},
      {"*.Staging.Example.COM:443", "*.staging.example.com:443"},
      {"[::1]:8000-8100", "[::1/128]:8000-8100"},
      {"127.0.0.0/8", "127.0.0.0/8"},
      {"fe80::/10", "[fe80::/10]"},
      {"[2001:db8::]/32:443", "[2001:db8::/32]:443"},
      {"[2001:db8::/32]", "[2001:db8::/32]"},
      {"2001:db8::1", "[2001:db8::1/128]"},
      {"localhost:*", "localhost"},
      {"example.com.", "example.com"},
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"::/0", "[::/0]"},
      {" 10.0.0.0/8 , api.example.com:80-81 ",
       "10.0.0.0/8,api.example.com:80-81"},
  };
  for (const auto& [text, canonical] : cases) {
    AllowList list = List(text);
    EXPECT_EQ(list.ToString(), canonical) << text;
    EXPECT_EQ(List(list.ToString()).rules(), list.rules()) << text;
  }
  EXPECT_EQ(List("a.example,b.example:1").rules().size(), 2u);
}

TEST(AllowListParse, EveryErrorNamesTheRuleAndWhy) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "no rules given"},
      {"10.0.0.0/8,,1.2.3.4", "an empty rule"},
      {"10.0.0.1/8",
       "rule '10.0.0.1/8': bits are set after the /8 prefix "
       "(did you mean 10.0.0.0/8?)"},
      {"10.0.0.0/33", "rule '10.0.0.0/33': prefix length '/33' is not 0-32"},
      {"fe80::/129", "prefix length '/129' is not 0-128"},
      {"10.0.0.0/", "prefix length '/' is not 0-32"},
      {"1.2.3.400", "rule '1.2.3.400': not a valid IP address"},
      {"bad_host!.com", "'!' is not allowed in a host name"},
      {"a..b", "an empty label in the host name"},
      {"-a.com", "a label starting or ending with '-'"},
      {std::string(64, 'a') + ".com", "a label over 63 characters"},
      {"*", "'*' alone is not a pattern"},
      {"*.", "an empty host name"},
      {"host:0", "port '0' is not a number 1-65535 or *"},
      {"host:70000", "port '70000' is not a number 1-65535 or *"},
      {"host:http", "port 'http' is not a number 1-65535 or *"},
      {"host:", "':' without ports"},
      {"host:90-80", "port range '90-80' ends before it starts"},
      {"host:1-x", "port range '1-x' is not A-B with ports 1-65535"},
      {":80", "no address or host before ':'"},
      {"[::1", "'[' without ']'"},
      {"[::1]x", "expected ':PORTS' after ']'"},
      {"[10.0.0.1]", "brackets are for IPv6 addresses"},
      {"[::1/128]/64", "two prefix lengths"},
      {"[zz::1]:80", "'zz::1' is not an IP address"},
      {"::1:80-90", "(an IPv6 address with ports is written [ADDR]:PORTS)"},
      {"10.0.0.0/8:", "':' without ports"},
  };
  for (const auto& [text, want] : cases) {
    const std::string error = ParseError(text);
    EXPECT_NE(error.find("--allow-targets"), std::string::npos) << error;
    EXPECT_NE(error.find(want), std::string::npos)
        << text << ": got " << error << "; want " << want;
  }
}

TEST(AllowListCheck, DefaultAllowsAllButLinkLocalAndMetadata) {
  const AllowList& list = AllowList::Default();
  EXPECT_FALSE(list.restricted());
  EXPECT_TRUE(Allowed(list, "example.com", "93.184.216.34", 443));
  EXPECT_TRUE(Allowed(list, "127.0.0.1", "127.0.0.1", 8080));
  EXPECT_TRUE(Allowed(list, "::1", "::1", 80));
  EXPECT_TRUE(Allowed(list, "x", "100.100.100.199", 80));
  for (const char* ip :
       {"169.254.169.254", "169.254.1.1", "fe80::1", "febf::1", "fd00:ec2::254",
        "100.100.100.200", "::ffff:169.254.169.254"}) {
    EXPECT_FALSE(Allowed(list, "metadata.internal", ip, 80)) << ip;
  }
  EXPECT_EQ(*list.Check("metadata.internal", Ip("169.254.169.254", 80).get()),
            "metadata.internal = 169.254.169.254:80 is a cloud metadata "
            "address, denied unless --allow-targets lists it (e.g. "
            "169.254.169.254/32)");
  EXPECT_EQ(*list.Check("", Ip("169.254.3.4", 80).get()),
            "169.254.3.4:80 is link-local, denied unless --allow-targets "
            "lists it (e.g. 169.254.0.0/16)");
  // A name that did not resolve here: nothing says no.
  EXPECT_FALSE(list.Check("unresolved.example", nullptr, 80).has_value());
}

TEST(AllowListCheck, AlwaysDeniedOnlyWhenListedLiterally) {
  // Broader rules do not count as listing them.
  for (const char* text : {"0.0.0.0/0", "169.0.0.0/8", "169.254.0.0/15",
                           "100.64.0.0/10", "::/0", "fd00::/8"}) {
    AllowList list = List(text);
    EXPECT_FALSE(Allowed(list, "", "169.254.169.254", 80)) << text;
    EXPECT_FALSE(Allowed(list, "", "100.100.100.200", 80)) << text;
    EXPECT_FALSE(Allowed(list, "", "fd00:ec2::254", 80)) << text;
  }
  EXPECT_TRUE(Allowed(List("0.0.0.0/0"), "", "10.1.2.3", 80));
  // A rule inside the range, holding the address, does.
  EXPECT_TRUE(Allowed(List("169.254.0.0/16"), "", "169.254.169.254", 80));
  EXPECT_TRUE(Allowed(List("169.254.0.0/16"), "", "169.254.7.7", 80));
  EXPECT_TRUE(Allowed(List("169.254.169.254"), "", "169.254.169.254", 80));
  EXPECT_FALSE(Allowed(List("169.254.169.254"), "", "169.254.169.253", 80));
  EXPECT_TRUE(
      Allowed(List("100.100.100.200/32:80"), "", "100.100.100.200", 80));
  EXPECT_FALSE(
      Allowed(List("100.100.100.200/32:80"), "", "100.100.100.200", 81));
  EXPECT_TRUE(Allowed(List("fd00:ec2::254"), "", "fd00:ec2::254", 80));
  EXPECT_TRUE(Allowed(List("fe80::/10"), "", "fe80::1", 80));
  EXPECT_TRUE(Allowed(List("[fe80::/64]:80"), "", "fe80::1", 80));
  EXPECT_FALSE(Allowed(List("fe80::/10"), "", "169.254.1.1", 80));
  // A host pattern never lets a name reach them (DNS rebinding).
  EXPECT_FALSE(
      Allowed(List("*.internal"), "metadata.internal", "169.254.169.254", 80));
}

TEST(AllowListCheck, Networks) {
  AllowList list = List("10.0.0.0/8,192.168.1.5:8080,[2001:db8::/32]:443");
  EXPECT_TRUE(Allowed(list, "", "10.255.0.1", 1));
  EXPECT_FALSE(Allowed(list, "", "11.0.0.1", 80));
  EXPECT_TRUE(Allowed(list, "", "192.168.1.5", 8080));
  EXPECT_FALSE(Allowed(list, "", "192.168.1.5", 8081));
  EXPECT_FALSE(Allowed(list, "", "192.168.1.6", 8080));
  EXPECT_TRUE(Allowed(list, "", "2001:db8:ffff::1", 443));
  EXPECT_FALSE(Allowed(list, "", "2001:db9::1", 443));
  EXPECT_FALSE(Allowed(list, "", "2001:db8::1", 80));
  // IPv4-mapped IPv6 is the IPv4 address.
  EXPECT_TRUE(Allowed(list, "", "::ffff:10.1.2.3", 80));
  EXPECT_FALSE(Allowed(list, "", "::ffff:11.1.2.3", 80));
  // Odd prefix lengths.
  AllowList odd = List("10.128.0.0/9,[2001:db8:8000::/33]");
  EXPECT_TRUE(Allowed(odd, "", "10.200.0.1", 80));
  EXPECT_FALSE(Allowed(odd, "", "10.100.0.1", 80));
  EXPECT_TRUE(Allowed(odd, "", "2001:db8:8000::1", 80));
  EXPECT_FALSE(Allowed(odd, "", "2001:db8:7fff::1", 80));
  // A name that did not resolve here cannot match a network.
  EXPECT_TRUE(list.Check("x.example", nullptr, 80).has_value());
}

TEST(AllowListCheck, HostPatterns) {
  AllowList list = List("*.staging.example.com:443,api.example.com");
  EXPECT_TRUE(Allowed(list, "a.staging.example.com", "10.0.0.1", 443));
  EXPECT_TRUE(Allowed(list, "A.B.Staging.Example.Com", "10.0.0.1", 443));
  EXPECT_TRUE(Allowed(list, "a.staging.example.com.", "10.0.0.1", 443));
  EXPECT_FALSE(Allowed(list, "staging.example.com", "10.0.0.1", 443));
  EXPECT_FALSE(Allowed(list, "xstaging.example.com", "10.0.0.1", 443));
  EXPECT_FALSE(Allowed(list, "a.staging.example.com", "10.0.0.1", 80));
  EXPECT_TRUE(Allowed(list, "API.example.com", "10.0.0.1", 8080));
  EXPECT_FALSE(Allowed(list, "www.api.example.com", "10.0.0.1", 80));
  // Judged by name when it did not resolve here.
  EXPECT_FALSE(list.Check("api.example.com", nullptr, 80).has_value());
  // The URL's host, not the address: an IP literal matches no pattern.
  EXPECT_FALSE(Allowed(list, "10.0.0.1", "10.0.0.1", 443));
}

TEST(AllowListCheck, PortsAndRanges) {
  AllowList list = List("[::1]:8000-8100,127.0.0.0/8:80,localhost:*");
  EXPECT_TRUE(Allowed(list, "", "::1", 8000));
  EXPECT_TRUE(Allowed(list, "", "::1", 8100));
  EXPECT_FALSE(Allowed(list, "", "::1", 7999));
  EXPECT_FALSE(Allowed(list, "", "::1", 8101));
  EXPECT_TRUE(Allowed(list, "", "127.0.0.9", 80));
  EXPECT_FALSE(Allowed(list, "", "127.0.0.9", 81));
  EXPECT_TRUE(Allowed(list, "localhost", "127.0.0.1", 9999));
}

TEST(AllowListCheck, ReasonsNameTheRules) {
  EXPECT_EQ(*List("127.0.0.0/8").Check("10.1.2.3", Ip("10.1.2.3", 80).get()),
            "10.1.2.3:80 is outside 127.0.0.0/8");
  EXPECT_EQ(
      *List("127.0.0.0/8,[::1]:80").Check("db.example", Ip("::2", 80).get()),
      "db.example = [::2]:80 matches none of 127.0.0.0/8,[::1/128]:80");
  EXPECT_EQ(*List("127.0.0.0/8").Check("x.example", nullptr, 80),
            "x.example:80 (not resolved here) is outside 127.0.0.0/8");
}

}  // namespace
}  // namespace stampede::common
