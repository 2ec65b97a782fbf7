// Fuzzes the reference target's stateful routes (tests/target/state.h) with
// untrusted requests: byte 0 picks the method (low 3 bits) and whether a live
// bearer token, a sid cookie or neither comes along (next 2 bits); the rest,
// up to its first '\n', is the path after "/api/", and what follows is the
// body. The same bytes are also read as a /cookies/set query. Besides the
// sanitizers, checks that ReadJsonFields keeps its bounds and that what it
// read round-trips through AppendJsonString, that every answer is one the
// routes document, and that a Set-Cookie line comes per cookie set.
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/target/http.h"
#include "tests/target/state.h"

namespace stampede::target {
namespace {

void CheckFields(absl::string_view body) {
  JsonFields fields;
  if (!ReadJsonFields(body, &fields)) return;
  std::string again = "{";
  const char* sep = "";
  for (auto [name, value, has] :
       {std::tuple{"user", &fields.user, fields.has_user},
        std::tuple{"password", &fields.password, fields.has_password},
        std::tuple{"id", &fields.id, fields.has_id},
        std::tuple{"name", &fields.name, fields.has_name}}) {
    FUZZ_CHECK(value->size() <= kMaxFieldBytes);
    FUZZ_CHECK(has || value->empty());
    if (!has) continue;
    again += sep;
    AppendJsonString(&again, name);
    again += ":";
    AppendJsonString(&again, *value);
    sep = ",";
  }
  again += "}";
  JsonFields reread;
  FUZZ_CHECK(ReadJsonFields(again, &reread));
  FUZZ_CHECK(reread.user == fields.user && reread.password == fields.password &&
             reread.id == fields.id && reread.name == fields.name);
  FUZZ_CHECK(reread.has_user == fields.has_user &&
             reread.has_password == fields.has_password &&
             reread.has_id == fields.has_id &&
             reread.has_name == fields.has_name);
}

void CheckRoutes(uint8_t pick, absl::string_view input) {
  AppState state;
  StateResponse response;
  state.Handle({.method = "POST",
                .path = "/api/login",
                .body = "{\"user\":\"fuzz\",\"password\":\"pw-fuzz\"}"},
               &response);
  FUZZ_CHECK(response.status == 200);
  const size_t at = response.body.find("\"token\":\"") + 9;
  const std::string token = response.body.substr(at, 32);

  static constexpr const char* kMethods[] = {"GET", "POST", "DELETE", "HEAD",
                                             "PUT", "POST", "DELETE", "GET"};
  const size_t nl = input.find('\n');
  StateRequest request;
  request.method = kMethods[pick & 7];
  request.path = absl::StrCat("/api/", input.substr(0, nl));
  if (nl != absl::string_view::npos)
    request.body = std::string(input.substr(nl + 1));
  switch (pick >> 3 & 3) {
    case 1:
      request.authorization = "Bearer " + token;
      break;
    case 2:
      request.cookie = "sid=" + token;
      break;
    default:
      break;
  }
  // Twice: a create then meets what it made.
  for (int i = 0; i < 2; ++i) {
    state.Handle(request, &response);
    const int s = response.status;
    FUZZ_CHECK(s == 200 || s == 201 || s == 204 || s == 400 || s == 401 ||
               s == 404 || s == 405 || s == 409);
    FUZZ_CHECK((s == 204) == response.body.empty());
    FUZZ_CHECK(response.headers.empty() ||
               absl::StartsWith(response.headers, "\r\n"));
  }
  StatsSnapshot snapshot;
  state.AddTo(&snapshot);
  FUZZ_CHECK(snapshot.state.agents_live <= 2);
  FUZZ_CHECK(!snapshot.ToJson().empty());
}

void CheckCookies(absl::string_view query) {
  std::string headers, body;
  if (!CookiesToSet(query, &headers, &body)) return;
  size_t lines = 0;
  for (absl::string_view line : absl::StrSplit(headers, "\r\n")) {
    if (line.empty()) continue;
    FUZZ_CHECK(absl::StartsWith(line, "Set-Cookie: "));
    FUZZ_CHECK(absl::EndsWith(line, "; Path=/"));
    ++lines;
  }
  FUZZ_CHECK(lines >= 1 && lines <= kMaxSetCookies);
  FUZZ_CHECK(body.size() >= 2 && body.front() == '{' && body.back() == '}');
}

}  // namespace
}  // namespace stampede::target

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view input(reinterpret_cast<const char*>(data) + 1,
                                size - 1);
  stampede::target::CheckFields(input);
  stampede::target::CheckRoutes(data[0], input);
  stampede::target::CheckCookies(input);
  return 0;
}
