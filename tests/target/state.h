// The reference target's stateful routes, for user-journey ("flow") tests:
// log in, carry the token, create and use things by id. AppState is shared by
// every event loop and thread-safe (one mutex, held only to read or change the
// maps, never while parsing); the stateless routes never touch it.
//
// Routes (JSON bodies of at most kMaxStateBody bytes, read by Content-Length
// only: a chunked request body is refused with 411 like on every route):
//   POST /api/login  {"user":"U","password":"P"}
//        200 {"token":"T","user":"U"} and Set-Cookie: sid=T; Path=/; HttpOnly
//        when P is "pw-" + U; 401 otherwise, 400 for a body without both.
//        Every login makes a new token; tokens never expire.
//   GET  /api/me     200 {"user":"U"} with Authorization: Bearer T or a
//        Cookie: header holding sid=T for a live token T; else 401.
//   Under /api/agents and /api/sessions, Authorization: Bearer T is needed
//   (401 first, before any 404 or 405):
//   POST   /api/agents {"id":"X","name":"N"}  201 {"id":"X","name":"N"}; 409 if
//          X exists; without "id" the server makes one ("agent-K"); 400 for
//          a body that is not such an object.
//   GET    /api/agents/X  200 {"id":"X","name":"N"} or 404.
//   DELETE /api/agents/X  204 or 404.
//   POST   /api/sessions  (any body) 201 {"id":"sess-K"}.
//   POST   /api/sessions/ID/turns  (any body) 200 {"session":"ID","turn":K},
//          K = 1, 2, ... per session; 404 for an unknown session.
//   Anything else under /api/: 404 (or 405 for a known path, other method).
//   When kMaxStateEntries tokens, agents or sessions are live, making one more
//   answers 503.
//
// Bodies are untrusted: the object's members "user", "password", "id" and
// "name" must be strings (UTF-8, escapes decoded, at most kMaxFieldBytes);
// other members may hold any JSON value (nested at most kMaxJsonDepth deep)
// and are skipped; a duplicated known member is a 400.

#ifndef STAMPEDE_TESTS_TARGET_STATE_H_
#define STAMPEDE_TESTS_TARGET_STATE_H_

#include <cstdint>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "tests/target/stats.h"

namespace stampede::target {

inline constexpr uint64_t kMaxStateBody = 64 * 1024;  // bigger: 413
inline constexpr size_t kMaxFieldBytes = 256;
// Ids (given or made) name a path segment: 1..kMaxIdBytes of [A-Za-z0-9._~-].
inline constexpr size_t kMaxIdBytes = 64;
inline constexpr size_t kMaxJsonDepth = 16;
// Live tokens, agents and sessions, each (about 100-200 bytes apiece).
inline constexpr size_t kMaxStateEntries = 1000000;

// The string members of a request body the routes read; `has_*` says whether
// each was present.
struct JsonFields {
  std::string user, password, id, name;
  bool has_user = false, has_password = false, has_id = false, has_name = false;
};

// Reads a JSON object's "user", "password", "id" and "name" string members
// into *fields. False when `body` is not one JSON object (whitespace around it
// allowed), when a known member is not a string, is repeated, is longer than
// kMaxFieldBytes or is not UTF-8, or when nesting passes kMaxJsonDepth.
bool ReadJsonFields(absl::string_view body, JsonFields* fields);

// Whether `id` may name an agent or session (see kMaxIdBytes).
bool IsValidId(absl::string_view id);

// What a state route needs of its request, copied out of the head (whose bytes
// go once it is parsed).
struct StateRequest {
  std::string method;
  std::string path;   // no query
  std::string query;  // without the '?'
  std::string authorization;
  std::string cookie;  // the first Cookie header's value
  std::string body;
};

struct StateResponse {
  int status = 200;
  std::string body;  // JSON; empty for 204
  // Header lines to add, each starting with "\r\n".
  std::string headers;
};

class AppState {
 public:
  AppState();
  AppState(const AppState&) = delete;
  AppState& operator=(const AppState&) = delete;

  // Answers one request to a path under /api/. Thread-safe.
  void Handle(const StateRequest& request, StateResponse* response);

  // Adds the counts to snapshot->state. Thread-safe.
  void AddTo(StatsSnapshot* snapshot) const;
  // Zeroes the counts (what /stats/reset does); the tokens, agents and
  // sessions themselves, and agents_live, stay. Thread-safe.
  void ResetCounts();

 private:
  struct Session {
    uint64_t turns = 0;  // for the turn numbers, never reset
  };

  // The routes, after the body (if one is read) was parsed into `fields`
  // (false: it is not such JSON).
  void Route(const StateRequest& request, const JsonFields& fields,
             bool fields_ok, StateResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Login(const JsonFields& fields, bool fields_ok, StateResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Agents(absl::string_view rest, absl::string_view method,
              const JsonFields& fields, bool fields_ok, StateResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Sessions(absl::string_view rest, absl::string_view method,
                StateResponse* response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The user of a live token, or null.
  const std::string* UserOf(absl::string_view token) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NewToken() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::mt19937_64 random_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> users_by_token_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> agent_names_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
  uint64_t next_agent_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_session_ ABSL_GUARDED_BY(mu_) = 1;
  // The counts /stats shows (see StateCounts), up to kMaxTracked keys each.
  absl::flat_hash_map<std::string, uint64_t> logins_by_user_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> turns_by_session_
      ABSL_GUARDED_BY(mu_);
  uint64_t other_logins_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t other_turns_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t agents_created_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t agents_deleted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t sessions_created_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t unauthorized_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t not_found_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t conflict_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace stampede::target

#endif  // STAMPEDE_TESTS_TARGET_STATE_H_
