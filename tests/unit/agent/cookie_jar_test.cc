// A VU's cookie jar (RFC 6265 section 5): what a later request's Cookie
// header carries after responses set, replace, expire and scope cookies.
#include "agent/load/cookie_jar.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>

// Every allocation in this binary is counted, so that a test can hold the jar
// to its promise of not allocating once warm.
namespace {
std::atomic<int64_t> g_allocations{0};
}  // namespace

void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace stampede::agent {
namespace {

constexpr int64_t kNow = 1'700'000'000;  // 2023-11-14, the tests' clock

// The Cookie header a request would carry.
std::string Header(const CookieJar& jar, std::string_view host,
                   std::string_view path = "/", bool secure = false,
                   int64_t now = kNow) {
  std::string out;
  const size_t n = jar.AppendCookieHeader(host, path, secure, now, &out);
  EXPECT_EQ(n == 0, out.empty()) << out;
  return out;
}

// `prefix` and n copies of `c`, built by appending (GCC 12's -Wrestrict warns
// falsely on "literal" + std::string, so these tests append).
std::string Padded(std::string_view prefix, size_t n, char c) {
  std::string s(prefix);
  s.append(n, c);
  return s;
}

bool Store(CookieJar& jar, std::string_view set_cookie,
           std::string_view host = "example.com", std::string_view path = "/",
           bool secure = false, int64_t now = kNow) {
  return jar.Store(set_cookie, host, path, secure, now);
}

// --- name=value (5.2) ---

TEST(CookieJarTest, AStoredCookieIsSentBackToItsHost) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "sid=abc123"));
  std::string out;
  EXPECT_EQ(jar.AppendCookieHeader("example.com", "/", false, kNow, &out), 1u);
  EXPECT_EQ(out, "sid=abc123");
  EXPECT_EQ(jar.size(), 1u);
  EXPECT_EQ(Header(jar, "other.com"), "");
}

TEST(CookieJarTest, NameAndValueAreTrimmedAndOtherwiseKeptAsSent) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, " \ta = 1 \t; Path=/"));
  EXPECT_TRUE(Store(jar, "token=x=y=="));
  EXPECT_TRUE(Store(jar, "quoted=\"v w\""));
  EXPECT_TRUE(Store(jar, "empty="));
  EXPECT_TRUE(Store(jar, "odd chars=\xc3\xa9\t,x"));
  EXPECT_EQ(Header(jar, "example.com"),
            "a=1; token=x=y==; quoted=\"v w\"; empty=; odd chars=\xc3\xa9\t,x");
}

TEST(CookieJarTest, MalformedCookiesAreIgnored) {
  CookieJar jar;
  EXPECT_FALSE(Store(jar, ""));
  EXPECT_FALSE(Store(jar, "no-equals-sign"));
  EXPECT_FALSE(Store(jar, "no-equals; Path=/"));
  EXPECT_FALSE(Store(jar, "=value"));
  EXPECT_FALSE(Store(jar, "  =value"));
  // Control characters could split the request's header: the whole
  // Set-Cookie is ignored, attributes included.
  EXPECT_FALSE(Store(jar, "a=1\r\nX-Injected: yes"));
  EXPECT_FALSE(Store(jar, "a=1\n"));
  EXPECT_FALSE(Store(jar, std::string_view("a=\0b", 4)));
  EXPECT_FALSE(Store(jar, "a=1; Path=/\x7f"));
  EXPECT_FALSE(Store(jar, "a=1", ""));
  EXPECT_EQ(jar.size(), 0u);
  EXPECT_EQ(Header(jar, "example.com"), "");
}

TEST(CookieJarTest, NameAndValueAreLimitedTo4096Bytes) {
  CookieJar jar;
  const std::string fits = Padded("n=", 4095, 'v');
  const std::string too_big = Padded("n2=", 4095, 'v');
  EXPECT_TRUE(Store(jar, fits));
  EXPECT_FALSE(Store(jar, too_big));
  EXPECT_EQ(Header(jar, "example.com"), fits);
  // Attributes do not count.
  EXPECT_TRUE(Store(jar, fits + "; Path=/; Max-Age=60; HttpOnly"));
  EXPECT_EQ(jar.size(), 1u);
}

// --- Max-Age and Expires ---

TEST(CookieJarTest, MaxAgeExpiresTheCookieThatManySecondsLater) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1; Max-Age=60"));
  EXPECT_EQ(Header(jar, "example.com", "/", false, kNow + 59), "a=1");
  EXPECT_EQ(Header(jar, "example.com", "/", false, kNow + 60), "");
  std::string v;
  EXPECT_FALSE(jar.Find("a", kNow + 60, &v));
}

TEST(CookieJarTest, MaxAgeZeroOrNegativeDeletesTheCookie) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1"));
  EXPECT_TRUE(Store(jar, "b=1"));
  EXPECT_TRUE(Store(jar, "a=gone; Max-Age=0"));
  EXPECT_EQ(Header(jar, "example.com"), "b=1");
  EXPECT_TRUE(Store(jar, "b=gone; Max-Age=-5"));
  EXPECT_EQ(Header(jar, "example.com"), "");
  EXPECT_EQ(jar.size(), 0u);
  // Deleting what is not there is still a cookie taken in.
  EXPECT_TRUE(Store(jar, "c=1; Max-Age=0"));
  EXPECT_EQ(jar.size(), 0u);
}

TEST(CookieJarTest, MaxAgeWinsOverExpiresWhateverTheOrder) {
  CookieJar jar;
  EXPECT_TRUE(
      Store(jar, "a=1; Expires=Sun, 06 Nov 1994 08:49:37 GMT; Max-Age=60"));
  EXPECT_TRUE(
      Store(jar, "b=1; Max-Age=60; Expires=Sun, 06 Nov 1994 08:49:37 GMT"));
  EXPECT_EQ(Header(jar, "example.com"), "a=1; b=1");
  EXPECT_TRUE(Store(jar, "a=1; Max-Age=0; Expires=Fri, 01 Jan 2100 00:00:00"));
  EXPECT_EQ(Header(jar, "example.com"), "b=1");
}

TEST(CookieJarTest, AMalformedMaxAgeIsIgnored) {
  CookieJar jar;
  for (std::string_view bad : {"abc", "1a", "-", "", "+5", " 1 2", "0x10"}) {
    CookieJar one;
    const std::string set = std::string("a=1; Max-Age=").append(bad);
    EXPECT_TRUE(Store(one, set)) << set;
    // Still a session cookie, sent a year later.
    EXPECT_EQ(Header(one, "example.com", "/", false, kNow + 31'536'000), "a=1")
        << set;
  }
  // A malformed later Max-Age leaves the earlier one in force.
  EXPECT_TRUE(Store(jar, "a=1; Max-Age=10; Max-Age=x"));
  EXPECT_EQ(Header(jar, "example.com", "/", false, kNow + 10), "");
}

TEST(CookieJarTest, AHugeMaxAgeNeverExpires) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1; Max-Age=99999999999999999999999999"));
  EXPECT_EQ(Header(jar, "example.com", "/", false, kNow + 3'000'000'000),
            "a=1");
}

TEST(CookieJarTest, ExpiresSetsWhenTheCookieStopsBeingSent) {
  CookieJar jar;
  // 2023-11-14 22:13:20 UTC is kNow; this is an hour later.
  EXPECT_TRUE(Store(jar, "a=1; Expires=Tue, 14 Nov 2023 23:13:20 GMT"));
  EXPECT_EQ(Header(jar, "example.com", "/", false, kNow + 3599), "a=1");
  EXPECT_EQ(Header(jar, "example.com", "/", false, kNow + 3600), "");
}

TEST(CookieJarTest, ExpiresInThePastDeletesTheCookie) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1"));
  EXPECT_TRUE(Store(jar, "a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"));
  EXPECT_EQ(Header(jar, "example.com"), "");
  EXPECT_EQ(jar.size(), 0u);
}

TEST(CookieJarTest, AnUnreadableExpiresIsIgnored) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1; Expires=tomorrow"));
  EXPECT_TRUE(Store(jar, "b=1; Expires=31 Apr 2000 00:00:00"));
  EXPECT_EQ(Header(jar, "example.com", "/", false, kNow + 31'536'000),
            "a=1; b=1");
}

TEST(ParseCookieDateTest, ReadsTheFormsServersSend) {
  const struct {
    std::string_view text;
    int64_t want;
  } cases[] = {
      {"Sun, 06 Nov 1994 08:49:37 GMT", 784111777},     // RFC 1123
      {"Sunday, 06-Nov-94 08:49:37 GMT", 784111777},    // RFC 850
      {"Sun Nov  6 08:49:37 1994", 784111777},          // asctime
      {"6 nov 1994 8:49:37", 784111777},                // loose
      {"Tue!#01&Jan<2019?00:24:20}GMT", 1546302260},    // any delimiters
      {"Thu, 06 Nov 69 08:49:37 GMT", 3150953377},      // 69 is 2069
      {"Fri, 02 Jan 70 00:00:00 GMT", 86400},           // 70 is 1970
      {"Sat, 29 Feb 2020 00:00:00 GMT", 1582934400},    // leap day
      {"Mon, 01 Jan 1601 00:00:00 GMT", -11644473600},  // the first year
      {"06 Nov 1994 08:49:37 +0200", 784111777},        // zones are ignored
      {"06th November 1994 08:49:37am", 784111777},     // trailing letters
  };
  for (const auto& c : cases) {
    int64_t got = 0;
    EXPECT_TRUE(ParseCookieDate(c.text, &got)) << c.text;
    EXPECT_EQ(got, c.want) << c.text;
  }
}

TEST(ParseCookieDateTest, RejectsWhatIsNoDate) {
  for (std::string_view text : {
           "", "tomorrow",
           "Nov 1994 08:49:37",      // no day
           "06 1994 08:49:37",       // no month
           "06 Nov 08:49:37",        // no year
           "06 Nov 1994",            // no time
           "31 Apr 2020 00:00:00",   // no such day
           "29 Feb 2021 00:00:00",   // not a leap year
           "32 Jan 2020 00:00:00",   //
           "00 Jan 2020 00:00:00",   //
           "01 Jan 1600 00:00:00",   // before 1601
           "01 Jan 2020 24:00:00",   //
           "01 Jan 2020 23:60:00",   //
           "01 Jan 2020 23:59:60",   // no leap seconds
           "01 Jan 2020 123:00:00",  // hours are 1-2 digits
           "01 Jan 20201 00:00:00",  // years are 2-4 digits
       }) {
    int64_t got = 0;
    EXPECT_FALSE(ParseCookieDate(text, &got)) << text;
  }
}

// --- Domain ---

TEST(CookieJarTest, WithoutDomainACookieGoesOnlyToItsHost) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1", "example.com"));
  EXPECT_EQ(Header(jar, "example.com"), "a=1");
  EXPECT_EQ(Header(jar, "www.example.com"), "");
  EXPECT_EQ(Header(jar, "EXAMPLE.com"), "a=1");
}

TEST(CookieJarTest, DomainSendsTheCookieToSubdomainsToo) {
  for (std::string_view attr :
       {"Domain=example.com", "Domain=.example.com", "domain=EXAMPLE.COM"}) {
    CookieJar jar;
    EXPECT_TRUE(
        Store(jar, std::string("a=1; ").append(attr), "www.example.com"))
        << attr;
    EXPECT_EQ(Header(jar, "example.com"), "a=1") << attr;
    EXPECT_EQ(Header(jar, "www.example.com"), "a=1") << attr;
    EXPECT_EQ(Header(jar, "a.b.example.com"), "a=1") << attr;
    EXPECT_EQ(Header(jar, "badexample.com"), "") << attr;
    EXPECT_EQ(Header(jar, "example.com.evil.net"), "") << attr;
    EXPECT_EQ(Header(jar, "com"), "") << attr;
  }
}

TEST(CookieJarTest, ADomainTheHostIsNotInIgnoresTheCookie) {
  CookieJar jar;
  EXPECT_FALSE(Store(jar, "a=1; Domain=other.com", "example.com"));
  EXPECT_FALSE(Store(jar, "a=1; Domain=www.example.com", "example.com"));
  EXPECT_FALSE(Store(jar, "a=1; Domain=ample.com", "example.com"));
  EXPECT_FALSE(Store(jar, "a=1; Domain=example.com.", "example.com"));
  EXPECT_EQ(jar.size(), 0u);
}

TEST(CookieJarTest, AnEmptyDomainIsIgnoredAndTheCookieIsHostOnly) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1; Domain=", "www.example.com"));
  EXPECT_TRUE(Store(jar, "b=1; Domain=.", "www.example.com"));
  EXPECT_EQ(Header(jar, "www.example.com"), "a=1; b=1");
  EXPECT_EQ(Header(jar, "x.www.example.com"), "");
}

// No public-suffix list: the documented limit.
TEST(CookieJarTest, APublicSuffixDomainIsKept) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1; Domain=com", "example.com"));
  EXPECT_EQ(Header(jar, "another.com"), "a=1");
}

TEST(CookieJarTest, AnIpAddressHostOnlyGetsHostOnlyCookies) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1; Domain=10.0.0.1", "10.0.0.1"));
  EXPECT_FALSE(Store(jar, "b=1; Domain=0.0.1", "10.0.0.1"));
  EXPECT_FALSE(Store(jar, "c=1; Domain=1", "10.0.0.1"));
  EXPECT_EQ(Header(jar, "10.0.0.1"), "a=1");
  EXPECT_EQ(Header(jar, "0.10.0.0.1"), "");

  EXPECT_TRUE(Store(jar, "v6=1", "[::1]"));
  EXPECT_FALSE(Store(jar, "v6b=1; Domain=1", "[::1]"));
  EXPECT_EQ(Header(jar, "::1"), "v6=1");
  EXPECT_EQ(Header(jar, "[::1]"), "v6=1");
}

// --- Path ---

TEST(CookieJarTest, WithoutPathTheCookieScopesToTheRequestsDirectory) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1", "example.com", "/docs/api/index.html?v=/x/y"));
  EXPECT_EQ(Header(jar, "example.com", "/docs/api"), "a=1");
  EXPECT_EQ(Header(jar, "example.com", "/docs/api/"), "a=1");
  EXPECT_EQ(Header(jar, "example.com", "/docs/api/v2/x?q=1"), "a=1");
  EXPECT_EQ(Header(jar, "example.com", "/docs"), "");
  EXPECT_EQ(Header(jar, "example.com", "/docs/apix"), "");
  EXPECT_EQ(Header(jar, "example.com", "/"), "");

  for (std::string_view root : {"/", "/index.html", "", "*", "/?a=/b/c"}) {
    CookieJar one;
    EXPECT_TRUE(Store(one, "r=1", "example.com", root)) << root;
    EXPECT_EQ(Header(one, "example.com", "/anything/at/all"), "r=1") << root;
  }
}

TEST(CookieJarTest, PathLimitsTheCookieToThatPathAndBelow) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1; Path=/admin", "example.com", "/login"));
  EXPECT_EQ(Header(jar, "example.com", "/admin"), "a=1");
  EXPECT_EQ(Header(jar, "example.com", "/admin/"), "a=1");
  EXPECT_EQ(Header(jar, "example.com", "/admin/users?id=1"), "a=1");
  EXPECT_EQ(Header(jar, "example.com", "/administrator"), "");
  EXPECT_EQ(Header(jar, "example.com", "/"), "");
  EXPECT_EQ(Header(jar, "example.com", "/Admin"), "");

  CookieJar slash;
  EXPECT_TRUE(Store(slash, "b=1; Path=/admin/"));
  EXPECT_EQ(Header(slash, "example.com", "/admin/x"), "b=1");
  EXPECT_EQ(Header(slash, "example.com", "/admin"), "");
}

TEST(CookieJarTest, APathNotStartingWithSlashMeansTheDefault) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1; Path=admin", "example.com", "/shop/cart"));
  EXPECT_TRUE(Store(jar, "b=1; Path=", "example.com", "/shop/cart"));
  EXPECT_EQ(Header(jar, "example.com", "/shop/x"), "a=1; b=1");
  EXPECT_EQ(Header(jar, "example.com", "/admin"), "");
}

TEST(CookieJarTest, TheLastOfAnAttributeCounts) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1; Path=/a; Path=/b"));
  EXPECT_EQ(Header(jar, "example.com", "/b"), "a=1");
  EXPECT_EQ(Header(jar, "example.com", "/a"), "");
}

TEST(CookieJarTest, OverlongPathOrDomainValuesAreIgnored) {
  CookieJar jar;
  const std::string long_path = Padded("/", 1024, 'p');
  EXPECT_TRUE(Store(jar, "a=1; Path=" + long_path, "example.com", "/x/y"));
  EXPECT_EQ(Header(jar, "example.com", "/x/z"), "a=1");  // default path /x
  // A default path over the limit cannot be kept.
  EXPECT_FALSE(Store(jar, "b=1", "example.com", long_path + "/x"));
  EXPECT_FALSE(Store(jar, "c=1", std::string(256, 'h')));
}

// --- Secure and HttpOnly ---

TEST(CookieJarTest, SecureCookiesComeAndGoOnlyOverTls) {
  CookieJar jar;
  EXPECT_FALSE(Store(jar, "a=1; Secure", "example.com", "/", false));
  EXPECT_EQ(jar.size(), 0u);
  EXPECT_TRUE(Store(jar, "a=1; Secure", "example.com", "/", true));
  EXPECT_TRUE(Store(jar, "b=1", "example.com", "/", true));
  EXPECT_EQ(Header(jar, "example.com", "/", true), "a=1; b=1");
  EXPECT_EQ(Header(jar, "example.com", "/", false), "b=1");
}

TEST(CookieJarTest, HttpOnlyCookiesAreSentLikeAnyOther) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1; HttpOnly; SameSite=Lax; Unknown=thing"));
  EXPECT_EQ(Header(jar, "example.com"), "a=1");
}

// --- replacement and order ---

TEST(CookieJarTest, TheSameNameDomainAndPathReplacesKeepingItsPlace) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1"));
  EXPECT_TRUE(Store(jar, "b=1"));
  EXPECT_TRUE(Store(jar, "a=2"));
  EXPECT_EQ(jar.size(), 2u);
  EXPECT_EQ(Header(jar, "example.com"), "a=2; b=1");

  // Another path or domain is another cookie; names are case-sensitive.
  EXPECT_TRUE(Store(jar, "a=3; Path=/x"));
  EXPECT_TRUE(Store(jar, "A=4"));
  EXPECT_EQ(jar.size(), 4u);
  EXPECT_EQ(Header(jar, "example.com", "/x"), "a=3; a=2; b=1; A=4");

  // Host-only and Domain= of the same host share the domain: a replacement,
  // which now reaches subdomains.
  EXPECT_TRUE(Store(jar, "b=5; Domain=example.com"));
  EXPECT_EQ(jar.size(), 4u);
  EXPECT_EQ(Header(jar, "www.example.com"), "b=5");
  EXPECT_EQ(Header(jar, "example.com"), "a=2; b=5; A=4");
}

TEST(CookieJarTest, ReplacingAnExpiringCookieWithASessionOneKeepsIt) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1; Max-Age=10"));
  EXPECT_TRUE(Store(jar, "a=2"));
  EXPECT_EQ(Header(jar, "example.com", "/", false, kNow + 100), "a=2");
}

TEST(CookieJarTest, LongerPathsComeFirstThenEarlierCreation) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "root=1; Path=/"));
  EXPECT_TRUE(Store(jar, "deep=1; Path=/x/y"));
  EXPECT_TRUE(Store(jar, "mid=1; Path=/x"));
  EXPECT_TRUE(Store(jar, "root2=1; Path=/", "example.com", "/", false, kNow));
  EXPECT_TRUE(
      Store(jar, "mid0=1; Path=/x", "example.com", "/", false, kNow - 10));
  EXPECT_EQ(Header(jar, "example.com", "/x/y/z"),
            "deep=1; mid=1; mid0=1; root=1; root2=1");
  // Removing and re-adding moves a cookie to the end of its path group.
  EXPECT_TRUE(Store(jar, "root=; Max-Age=0"));
  EXPECT_TRUE(Store(jar, "root=2"));
  EXPECT_EQ(Header(jar, "example.com", "/"), "root2=1; root=2");
}

// --- limits ---

TEST(CookieJarTest, AFullJarEvictsTheOldestCookie) {
  CookieJar jar;
  for (size_t i = 0; i < CookieJar::kMaxCookies; ++i) {
    EXPECT_TRUE(
        Store(jar, std::string("c").append(std::to_string(i)).append("=1")));
  }
  EXPECT_EQ(jar.size(), CookieJar::kMaxCookies);
  // Replacing in a full jar evicts nothing.
  EXPECT_TRUE(Store(jar, "c0=2"));
  EXPECT_EQ(jar.size(), CookieJar::kMaxCookies);
  EXPECT_TRUE(Store(jar, "new=1"));
  EXPECT_EQ(jar.size(), CookieJar::kMaxCookies);
  const std::string header = Header(jar, "example.com");
  EXPECT_EQ(header.find("c0="), std::string::npos) << header;
  EXPECT_NE(header.find("c1=1"), std::string::npos) << header;
  EXPECT_EQ(header.substr(header.size() - 5), "new=1") << header;
}

TEST(CookieJarTest, AFullJarDropsExpiredCookiesBeforeEvicting) {
  CookieJar jar;
  for (size_t i = 0; i < CookieJar::kMaxCookies; ++i) {
    const std::string max_age = i == 10 || i == 20 ? "; Max-Age=5" : "";
    EXPECT_TRUE(Store(jar, std::string("c")
                               .append(std::to_string(i))
                               .append("=1")
                               .append(max_age)));
  }
  EXPECT_TRUE(Store(jar, "new=1", "example.com", "/", false, kNow + 5));
  EXPECT_EQ(jar.size(), CookieJar::kMaxCookies - 1);
  const std::string header = Header(jar, "example.com", "/", false, kNow + 5);
  EXPECT_NE(header.find("c0=1"), std::string::npos) << header;
  EXPECT_NE(header.find("new=1"), std::string::npos) << header;
}

// --- Find, Clear, the caller's string ---

TEST(CookieJarTest, FindGivesTheLatestStoredUnexpiredValue) {
  CookieJar jar;
  std::string value = "untouched";
  EXPECT_FALSE(jar.Find("sid", kNow, &value));
  EXPECT_EQ(value, "untouched");

  EXPECT_TRUE(Store(jar, "sid=first; Path=/a"));
  EXPECT_TRUE(Store(jar, "sid=second; Domain=example.com", "www.example.com"));
  ASSERT_TRUE(jar.Find("sid", kNow, &value));
  EXPECT_EQ(value, "second");
  EXPECT_TRUE(Store(jar, "sid=third; Path=/a; Max-Age=5"));
  ASSERT_TRUE(jar.Find("sid", kNow, &value));
  EXPECT_EQ(value, "third");
  ASSERT_TRUE(jar.Find("sid", kNow + 5, &value));
  EXPECT_EQ(value, "second");
  EXPECT_FALSE(jar.Find("SID", kNow, &value));
  EXPECT_FALSE(jar.Find("si", kNow, &value));
}

TEST(CookieJarTest, ClearForgetsEverything) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1"));
  EXPECT_TRUE(Store(jar, "b=1"));
  jar.Clear();
  EXPECT_EQ(jar.size(), 0u);
  EXPECT_EQ(Header(jar, "example.com"), "");
  std::string v;
  EXPECT_FALSE(jar.Find("a", kNow, &v));
  EXPECT_TRUE(Store(jar, "c=1"));
  EXPECT_EQ(Header(jar, "example.com"), "c=1");
}

TEST(CookieJarTest, TheHeaderIsAppendedInTheCallersString) {
  CookieJar jar;
  EXPECT_TRUE(Store(jar, "a=1"));
  EXPECT_TRUE(Store(jar, "b=2"));
  std::string out = "Cookie: ";
  out.reserve(256);
  const char* buffer = out.data();
  EXPECT_EQ(jar.AppendCookieHeader("example.com", "/", false, kNow, &out), 2u);
  EXPECT_EQ(out, "Cookie: a=1; b=2");
  EXPECT_EQ(out.data(), buffer);  // its capacity was enough: no new buffer
  EXPECT_EQ(jar.AppendCookieHeader("other.com", "/", false, kNow, &out), 0u);
  EXPECT_EQ(out, "Cookie: a=1; b=2");
}

TEST(CookieJarTest, AWarmJarAllocatesNothing) {
  CookieJar jar;
  std::string out;
  std::string value;
  out.reserve(1024);
  value.reserve(64);
  // What a VU does per iteration: the login sets, the page reads, a
  // temporary cookie comes and goes.
  auto iteration = [&](int64_t now) {
    EXPECT_TRUE(Store(jar, "sid=abcdef; Path=/; Max-Age=60; HttpOnly",
                      "example.com", "/login", false, now));
    EXPECT_TRUE(Store(jar, "pref=dark", "example.com", "/", false, now));
    EXPECT_TRUE(Store(jar, "tmp=1; Path=/x", "example.com", "/", false, now));
    out.clear();
    EXPECT_EQ(jar.AppendCookieHeader("example.com", "/x/y", false, now, &out),
              3u);
    EXPECT_TRUE(jar.Find("sid", now, &value));
    EXPECT_TRUE(
        Store(jar, "tmp=; Path=/x; Max-Age=0", "example.com", "/", false, now));
  };
  iteration(kNow);
  const int64_t before = g_allocations.load();
  ASSERT_GT(before, 0);  // the counter sees this binary's allocations
  for (int i = 1; i <= 10; ++i) iteration(kNow + i);
  jar.Clear();
  iteration(kNow + 11);
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(out, "tmp=1; sid=abcdef; pref=dark");
}

TEST(CookieJarTest, AnEmptyJarIsSmall) {
  // 10,000 VUs each hold one; an empty one is a vector and two counters.
  EXPECT_LE(sizeof(CookieJar), 48u);
  CookieJar jar;
  CookieJar copy = jar;
  EXPECT_EQ(copy.size(), 0u);
}

}  // namespace
}  // namespace stampede::agent
