// The reference target's stateful routes (state.h): login and tokens, /api/me
// by bearer and by cookie, agents and sessions behind a bearer token, their
// /stats counts, redirects and cookies, checked against the real binary with
// the clients of target_harness.h; and the body reader they rely on
// (ReadJsonFields), directly.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "tests/target/state.h"
#include "tests/unit/target/target_harness.h"

namespace stampede::target {
namespace {

// A request with a Content-Length body; `headers` are whole lines.
Response Call(Socket& s, const std::string& method, const std::string& path,
              const std::string& body = "", const std::string& headers = "") {
  s.Send(method + " " + path + " HTTP/1.1\r\nHost: t\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + headers + "\r\n" + body);
  return ReadResponse(s);
}

// A string member of a flat JSON object ("" if absent).
std::string JsonString(const std::string& json, const std::string& name) {
  std::smatch m;
  std::regex re("\"" + name + "\":\"([^\"]*)\"");
  return std::regex_search(json, m, re) ? m[1].str() : "";
}

std::string Bearer(const std::string& token) {
  return "Authorization: Bearer " + token + "\r\n";
}

std::string LoginBody(const std::string& user, const std::string& password) {
  return "{\"user\":\"" + user + "\",\"password\":\"" + password + "\"}";
}

class StateTest : public TargetTest {
 protected:
  // Logs `user` in; the token ("" on failure).
  std::string Login(const std::string& user) {
    Socket s(port_);
    Response r = Call(s, "POST", "/api/login", LoginBody(user, "pw-" + user));
    EXPECT_EQ(r.status, 200) << r.head << r.body;
    return JsonString(r.body, "token");
  }
};

TEST_F(StateTest, LoginNeedsTheUsersPasswordAndSetsTheSidCookie) {
  Socket s(port_);
  Response r = Call(s, "POST", "/api/login", LoginBody("alice", "pw-alice"));
  ASSERT_EQ(r.status, 200) << r.head << r.body;
  const std::string token = JsonString(r.body, "token");
  EXPECT_TRUE(std::regex_match(token, std::regex("[0-9a-f]{32}"))) << r.body;
  EXPECT_EQ(r.body, "{\"token\":\"" + token + "\",\"user\":\"alice\"}");
  EXPECT_EQ(Header(r.head, "Content-Type"), "application/json");
  EXPECT_EQ(Header(r.head, "Set-Cookie"),
            "sid=" + token + "; Path=/; HttpOnly");

  // Each login makes a new token; the old one stays live.
  r = Call(s, "POST", "/api/login", LoginBody("alice", "pw-alice"));
  ASSERT_EQ(r.status, 200);
  const std::string second = JsonString(r.body, "token");
  EXPECT_NE(second, token);
  EXPECT_EQ(Get(s, "/api/me", Bearer(token)).status, 200);
  EXPECT_EQ(Get(s, "/api/me", Bearer(second)).status, 200);

  r = Call(s, "POST", "/api/login", LoginBody("alice", "pw-bob"));
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(Header(r.head, "Set-Cookie"), "");
  EXPECT_EQ(Call(s, "POST", "/api/login", LoginBody("alice", "")).status, 401);
  // Not the expected JSON: 400, and the connection goes on.
  EXPECT_EQ(Call(s, "POST", "/api/login", "{\"user\":\"alice\"}").status, 400);
  EXPECT_EQ(
      Call(s, "POST", "/api/login", "user=alice&password=pw-alice").status,
      400);
  EXPECT_EQ(Call(s, "POST", "/api/login").status, 400);
  EXPECT_EQ(Get(s, "/api/login").status, 405);

  const std::string stats = Stats();
  EXPECT_EQ(Nested(stats, "logins_by_user", "alice"), 2) << stats;
  EXPECT_EQ(Stat(stats, "unauthorized"), 2) << stats;
}

TEST_F(StateTest, MeKnowsTheUserByBearerTokenOrSidCookie) {
  const std::string token = Login("bob");
  ASSERT_FALSE(token.empty());
  Socket s(port_);
  Response r = Get(s, "/api/me", Bearer(token));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"user\":\"bob\"}");
  r = Get(s, "/api/me", "Cookie: theme=dark; sid=" + token + "; x=1\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"user\":\"bob\"}");
  // The scheme's case does not matter; the token's does.
  EXPECT_EQ(Get(s, "/api/me", "Authorization: bearer " + token + "\r\n").status,
            200);

  EXPECT_EQ(Get(s, "/api/me").status, 401);
  EXPECT_EQ(
      Get(s, "/api/me", Bearer("0123456789abcdef0123456789abcdef")).status,
      401);
  EXPECT_EQ(Get(s, "/api/me", "Authorization: Basic " + token + "\r\n").status,
            401);
  EXPECT_EQ(Get(s, "/api/me", "Cookie: notsid=" + token + "\r\n").status, 401);
}

TEST_F(StateTest, TheStateIsSharedByEveryLoop) {
  const std::string token = Login("carol");
  // Fresh connections land on either loop.
  for (int i = 0; i < 8; ++i) {
    Socket s(port_);
    ASSERT_EQ(Get(s, "/api/me", Bearer(token)).status, 200) << i;
    ASSERT_EQ(Call(s, "POST", "/api/agents",
                   "{\"id\":\"a" + std::to_string(i) + "\",\"name\":\"n\"}",
                   Bearer(token))
                  .status,
              201);
  }
  Socket s(port_);
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(Get(s, "/api/agents/a" + std::to_string(i), Bearer(token)).status,
              200);
}

TEST_F(StateTest, AgentsAreCreatedReadAndDeleted) {
  const std::string token = Login("dave");
  Socket s(port_);
  Response r = Call(s, "POST", "/api/agents",
                    "{\"id\":\"agent-7\",\"name\":\"builder\"}", Bearer(token));
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.body, "{\"id\":\"agent-7\",\"name\":\"builder\"}");

  r = Get(s, "/api/agents/agent-7", Bearer(token));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"id\":\"agent-7\",\"name\":\"builder\"}");

  r = Call(s, "DELETE", "/api/agents/agent-7", "", Bearer(token));
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(Get(s, "/api/agents/agent-7", Bearer(token)).status, 404);
  EXPECT_EQ(Call(s, "DELETE", "/api/agents/agent-7", "", Bearer(token)).status,
            404);

  // Without an id the server makes one, which then works like any other.
  r = Call(s, "POST", "/api/agents", "{\"name\":\"made\"}", Bearer(token));
  ASSERT_EQ(r.status, 201);
  const std::string id = JsonString(r.body, "id");
  EXPECT_FALSE(id.empty());
  r = Get(s, "/api/agents/" + id, Bearer(token));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(JsonString(r.body, "name"), "made");

  // Names are JSON strings: escapes in, escapes out.
  r = Call(s, "POST", "/api/agents",
           "{\"id\":\"q\",\"name\":\"say \\\"hi\\\" \\u00e9\"}", Bearer(token));
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "{\"id\":\"q\",\"name\":\"say \\\"hi\\\" \xC3\xA9\"}");
}

TEST_F(StateTest, BadAgentBodiesAre400AndDuplicates409) {
  const std::string token = Login("erin");
  Socket s(port_);
  const std::string body = "{\"id\":\"dup\",\"name\":\"first\"}";
  EXPECT_EQ(Call(s, "POST", "/api/agents", body, Bearer(token)).status, 201);
  Response r = Call(s, "POST", "/api/agents",
                    "{\"id\":\"dup\",\"name\":\"second\"}", Bearer(token));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(JsonString(Get(s, "/api/agents/dup", Bearer(token)).body, "name"),
            "first");

  for (const std::string bad : {
           "",
           "{}",                               // no name
           "{\"name\":1}",                     // not a string
           "{\"id\":\"a/b\",\"name\":\"n\"}",  // not a path segment
           "{\"id\":\"\",\"name\":\"n\"}",     // empty id
           "{\"name\":\"n\",\"name\":\"m\"}",  // repeated
           "{\"name\":\"n\"} trailing",        // more than one value
           "[\"name\",\"n\"]",                 // not an object
           "{\"name\":\"n\"",                  // cut short
           "{\"name\":\"\\ud800\"}",           // a lone surrogate
           "{\"name\":\"\xff\"}",              // not UTF-8
       }) {
    EXPECT_EQ(Call(s, "POST", "/api/agents", bad, Bearer(token)).status, 400)
        << bad;
  }
  // Members the route does not read may hold anything.
  r = Call(s, "POST", "/api/agents",
           "{\"tags\":[1,2.5e3,{\"a\":null}],\"ok\":true,\"name\":\"n\"}",
           Bearer(token));
  EXPECT_EQ(r.status, 201) << r.body;
  const std::string stats = Stats();
  EXPECT_EQ(Stat(stats, "conflict"), 1) << stats;
}

TEST_F(StateTest, AgentsAndSessionsNeedABearerToken) {
  const std::string token = Login("frank");
  Socket s(port_);
  ASSERT_EQ(Call(s, "POST", "/api/agents", "{\"id\":\"x\",\"name\":\"n\"}",
                 Bearer(token))
                .status,
            201);
  const std::string agent = "{\"id\":\"y\",\"name\":\"n\"}";
  for (const std::string& auth :
       {std::string(""), Bearer("not-a-live-token"),
        "Cookie: sid=" + token + "\r\n"}) {  // a cookie is not enough here
    EXPECT_EQ(Call(s, "POST", "/api/agents", agent, auth).status, 401) << auth;
    EXPECT_EQ(Get(s, "/api/agents/x", auth).status, 401) << auth;
    EXPECT_EQ(Call(s, "DELETE", "/api/agents/x", "", auth).status, 401);
    EXPECT_EQ(Get(s, "/api/agents/nobody", auth).status, 401);  // 401 first
    EXPECT_EQ(Call(s, "POST", "/api/sessions", "", auth).status, 401);
    EXPECT_EQ(Call(s, "POST", "/api/sessions/sess-1/turns", "", auth).status,
              401);
  }
  // Nothing changed.
  EXPECT_EQ(Get(s, "/api/agents/x", Bearer(token)).status, 200);
  EXPECT_EQ(Get(s, "/api/agents/y", Bearer(token)).status, 404);
  EXPECT_EQ(Stat(Stats(), "unauthorized"), 18);
}

TEST_F(StateTest, SessionTurnsAreCountedPerSession) {
  const std::string token = Login("gina");
  Socket s(port_);
  Response r = Call(s, "POST", "/api/sessions", "", Bearer(token));
  ASSERT_EQ(r.status, 201);
  const std::string a = JsonString(r.body, "id");
  r = Call(s, "POST", "/api/sessions", "{\"any\":\"body\"}", Bearer(token));
  ASSERT_EQ(r.status, 201);
  const std::string b = JsonString(r.body, "id");
  ASSERT_FALSE(a.empty());
  ASSERT_NE(a, b);
  EXPECT_EQ(r.body, "{\"id\":\"" + b + "\"}");

  for (int turn = 1; turn <= 3; ++turn) {
    r = Call(s, "POST", "/api/sessions/" + a + "/turns", "hello",
             Bearer(token));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"session\":\"" + a +
                          "\",\"turn\":" + std::to_string(turn) + "}");
  }
  r = Call(s, "POST", "/api/sessions/" + b + "/turns", "", Bearer(token));
  EXPECT_EQ(r.body, "{\"session\":\"" + b + "\",\"turn\":1}");
  EXPECT_EQ(
      Call(s, "POST", "/api/sessions/nope/turns", "", Bearer(token)).status,
      404);
  EXPECT_EQ(Get(s, "/api/sessions/" + a + "/turns", Bearer(token)).status, 405);

  const std::string stats = Stats();
  EXPECT_EQ(Nested(stats, "turns_by_session", a), 3) << stats;
  EXPECT_EQ(Nested(stats, "turns_by_session", b), 1) << stats;
  EXPECT_EQ(Stat(stats, "sessions_created"), 2) << stats;
}

TEST_F(StateTest, StatsCountTheStateAndResetZeroesTheCounts) {
  const std::string token = Login("hank");
  Login("hank");
  Login("ivy");
  Socket s(port_);
  for (const char* id : {"a", "b", "c"}) {
    ASSERT_EQ(Call(s, "POST", "/api/agents",
                   std::string("{\"id\":\"") + id + "\",\"name\":\"n\"}",
                   Bearer(token))
                  .status,
              201);
  }
  Call(s, "POST", "/api/agents", "{\"id\":\"a\",\"name\":\"n\"}",
       Bearer(token));                                    // 409
  Call(s, "DELETE", "/api/agents/b", "", Bearer(token));  // 204
  Get(s, "/api/agents/b", Bearer(token));                 // 404
  Get(s, "/api/me");                                      // 401
  const std::string session = JsonString(
      Call(s, "POST", "/api/sessions", "", Bearer(token)).body, "id");
  Call(s, "POST", "/api/sessions/" + session + "/turns", "", Bearer(token));

  std::string stats = Stats();
  EXPECT_EQ(Nested(stats, "logins_by_user", "hank"), 2) << stats;
  EXPECT_EQ(Nested(stats, "logins_by_user", "ivy"), 1) << stats;
  EXPECT_EQ(Nested(stats, "turns_by_session", session), 1) << stats;
  EXPECT_EQ(Stat(stats, "agents_created"), 3) << stats;
  EXPECT_EQ(Stat(stats, "agents_deleted"), 1) << stats;
  EXPECT_EQ(Stat(stats, "agents_live"), 2) << stats;
  EXPECT_EQ(Stat(stats, "sessions_created"), 1) << stats;
  EXPECT_EQ(Stat(stats, "unauthorized"), 1) << stats;
  EXPECT_EQ(Stat(stats, "not_found"), 1) << stats;
  EXPECT_EQ(Stat(stats, "conflict"), 1) << stats;
  // They are load routes too, counted like any other.
  EXPECT_EQ(Nested(stats, "by_path", "/api/login"), 3) << stats;

  // A reset zeroes the counts; what exists stays, and turns go on counting.
  EXPECT_EQ(Control("/stats/reset"), "{\"reset\":true}");
  stats = Stats();
  EXPECT_EQ(Nested(stats, "logins_by_user", "hank"), 0) << stats;
  EXPECT_EQ(Stat(stats, "agents_created"), 0) << stats;
  EXPECT_EQ(Stat(stats, "agents_live"), 2) << stats;
  EXPECT_EQ(Stat(stats, "unauthorized"), 0) << stats;
  EXPECT_EQ(Get(s, "/api/me", Bearer(token)).status, 200);
  Response r =
      Call(s, "POST", "/api/sessions/" + session + "/turns", "", Bearer(token));
  EXPECT_EQ(r.body, "{\"session\":\"" + session + "\",\"turn\":2}");
  EXPECT_EQ(Nested(Stats(), "turns_by_session", session), 1);
}

TEST_F(StateTest, RedirectsCountDownToOk) {
  Socket s(port_);
  std::string path = "/redirect/3";
  std::vector<std::string> seen;
  for (int hops = 0; hops < 10; ++hops) {
    Response r = Get(s, path);
    if (r.status != 302) {
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.body, "ok");
      break;
    }
    path = Header(r.head, "Location");
    seen.push_back(path);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"/redirect/2", "/redirect/1",
                                            "/redirect/0", "/ok"}));
  EXPECT_EQ(Get(s, "/redirect/x").status, 400);
  EXPECT_EQ(Get(s, "/redirect/1001").status, 400);
}

TEST_F(StateTest, CookiesAreSetAndEchoed) {
  Socket s(port_);
  Response r = Get(s, "/cookies/set?flavor=oat&n=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"flavor\":\"oat\",\"n\":\"1\"}");
  EXPECT_NE(r.head.find("\r\nSet-Cookie: flavor=oat; Path=/\r\n"),
            std::string::npos)
      << r.head;
  EXPECT_NE(r.head.find("\r\nSet-Cookie: n=1; Path=/\r\n"), std::string::npos)
      << r.head;

  r = Get(s, "/cookies/echo", "Cookie: flavor=oat; n=1\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "flavor=oat; n=1");
  r = Get(s, "/cookies/echo");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");

  EXPECT_EQ(Get(s, "/cookies/set").status, 400);
  EXPECT_EQ(Get(s, "/cookies/set?a=b;c").status, 400);  // ';' in a value
  EXPECT_EQ(Get(s, "/cookies/set?a(b=c").status, 400);  // not a token
  EXPECT_EQ(Get(s, "/cookies/set?=c").status, 400);
}

TEST_F(StateTest, BodiesAreCappedAndPipelinedRequestsStayApart) {
  const std::string token = Login("jo");
  {
    Socket s(port_);
    // A body in pieces, and a second request right behind it.
    const std::string body = "{\"id\":\"piece\",\"name\":\"n\"}";
    s.Send("POST /api/agents HTTP/1.1\r\nHost: t\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + Bearer(token) + "\r\n" +
           body.substr(0, 5));
    s.Send(body.substr(5) + "GET /api/agents/piece HTTP/1.1\r\nHost: t\r\n" +
           Bearer(token) + "\r\n");
    EXPECT_EQ(ReadResponse(s).status, 201);
    Response r = ReadResponse(s);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(JsonString(r.body, "id"), "piece");
  }
  {
    Socket s(port_);
    Response r = Call(s, "POST", "/api/agents",
                      std::string(kMaxStateBody + 1, ' '), Bearer(token));
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(Header(r.head, "Connection"), "close");
  }
  {
    Socket s(port_);  // exactly the cap is read
    std::string body = "{\"name\":\"n\"}";
    body.resize(kMaxStateBody, ' ');
    EXPECT_EQ(Call(s, "POST", "/api/agents", body, Bearer(token)).status, 201);
  }
  {
    Socket s(port_);
    s.Send(
        "POST /api/login HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        "\r\n5\r\nhello\r\n0\r\n\r\n");
    EXPECT_EQ(ReadResponse(s).status, 411);
  }
  Socket s(port_);
  EXPECT_EQ(Get(s, "/api/nothing").status, 404);
  EXPECT_EQ(Get(s, "/api/me", Bearer(token)).status, 200);  // still serving
}

TEST_F(StateTest, FaultsApplyToTheStateRoutes) {
  const std::string token = Login("kim");
  EXPECT_EQ(Control("/fault/status/503/100"),
            "{\"status\":503,\"percent\":100}");
  Socket s(port_);
  EXPECT_EQ(Get(s, "/api/me", Bearer(token)).status, 503);
  EXPECT_EQ(Control("/fault/clear"), "{\"cleared\":true}");
  EXPECT_EQ(Get(s, "/api/me", Bearer(token)).status, 200);
}

TEST(ReadJsonFieldsTest, ReadsTheKnownStringMembers) {
  JsonFields f;
  ASSERT_TRUE(ReadJsonFields(
      " {\"user\" : \"a\\tb\", \"password\":\"\\u00e9\\ud83d\\ude00\\/\","
      "\"id\":\"x\",\"name\":\"\",\"other\":{\"user\":1}} \n",
      &f));
  EXPECT_EQ(f.user, "a\tb");
  EXPECT_EQ(f.password, "\xC3\xA9\xF0\x9F\x98\x80/");
  EXPECT_EQ(f.id, "x");
  EXPECT_TRUE(f.has_name);
  EXPECT_EQ(f.name, "");

  JsonFields empty;
  ASSERT_TRUE(ReadJsonFields("{}", &empty));
  EXPECT_FALSE(empty.has_user || empty.has_password || empty.has_id ||
               empty.has_name);
}

TEST(ReadJsonFieldsTest, RefusesWhatIsNotSuchAnObject) {
  JsonFields f;
  const std::string deep = "{\"x\":" + std::string(kMaxJsonDepth, '[') +
                           std::string(kMaxJsonDepth, ']') + "}";
  const std::string long_name =
      "{\"name\":\"" + std::string(kMaxFieldBytes + 1, 'n') + "\"}";
  for (const std::string bad :
       {"", "null", "{", "{\"user\"}", "{\"user\":}", "{\"user\":\"a\",}",
        "{\"user\":\"a\"}{}", "{\"user\":\"\x01\"}", "{\"user\":\"\\x\"}",
        "{\"user\":\"\\u12\"}", "{\"user\":\"\\udc00\"}",
        "{\"user\":\"\xC0\xAF\"}",  // overlong
        "{\"x\":01}", "{\"x\":-}", "{\"x\":1.}", "{\"x\":tru}",
        "{\"user\":null}"}) {
    EXPECT_FALSE(ReadJsonFields(bad, &f)) << bad;
    f = JsonFields();
  }
  EXPECT_FALSE(ReadJsonFields(deep, &f));
  f = JsonFields();
  EXPECT_FALSE(ReadJsonFields(long_name, &f));
  f = JsonFields();
  // One level less is fine, and so is a long member nobody reads.
  const std::string ok_deep = "{\"x\":" + std::string(kMaxJsonDepth - 1, '[') +
                              std::string(kMaxJsonDepth - 1, ']') + "}";
  EXPECT_TRUE(ReadJsonFields(ok_deep, &f));
  f = JsonFields();
  EXPECT_TRUE(ReadJsonFields(
      "{\"note\":\"" + std::string(kMaxFieldBytes * 4, 'n') + "\"}", &f));
}

}  // namespace
}  // namespace stampede::target
