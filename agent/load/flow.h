// A scenario's `flow:` as the agent runs it: compiled once at Prepare into a
// flat program of ops (request, think, repeat, end) and steps with compiled
// templates, captures and checks (FlowSpec, immutable, shared by the
// workers); and one FlowInstance per virtual user (closed model) or per
// open-model flow slot, which walks the program, renders each step into its
// own FlowSend buffers and judges each response. Instances are owned by one
// worker and used on its thread only.
#ifndef STAMPEDE_AGENT_LOAD_FLOW_H_
#define STAMPEDE_AGENT_LOAD_FLOW_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/load/cookie_jar.h"
#include "agent/transport.h"
#include "common/flow.h"
#include "common/json_path.h"
#include "common/template.h"
#include "re2/re2.h"
#include "stampede/v1/plan.pb.h"

namespace stampede::agent {

struct FlowCapture {
  enum class Kind : uint8_t { kJson, kHeader, kRegex, kCookie };
  Kind kind = Kind::kJson;
  uint32_t variable = 0;
  std::optional<common::JsonPath> json;
  std::string name;                       // header (lower case) or cookie name
  std::shared_ptr<const re2::RE2> regex;  // matching is thread-safe
};

struct FlowStepSpec {
  uint32_t request = 0;   // its PreparedRequest (and metrics) in the scenario
  std::string host;       // for cookies: the URL's host, lower case
  std::string authority;  // host[:port] as written, lower case (redirects)
  std::string method;     // the step's own
  bool https = false;
  common::Template target;  // path and query
  // Each renders one "Name: value" line (without the line end).
  std::vector<common::Template> headers;
  common::Template body;
  std::vector<FlowCapture> captures;
  // A literal part of the target or of a header that may not be sent as it
  // is (judged once here; Render judges only what the slots fill in).
  bool literal_invalid = false;
  // Checks; their expected values are templates, with the names the step's
  // request sees (not its own captures).
  std::vector<uint32_t> statuses;  // empty: not checked
  std::optional<common::Template> body_contains;
  std::vector<std::pair<common::JsonPath, common::Template>> json_checks;
  std::vector<std::pair<std::string, common::Template>> header_checks;  // lower
  int64_t latency_lt_ns = 0;  // 0: none
  // What the response must leave behind.
  bool keep_head = false;
  size_t body_limit = 0;
};

// What a rendered path and query may not carry as they are sent.
inline bool BadInTarget(unsigned char c) { return c <= ' ' || c == 0x7f; }
// What a rendered header line may not carry.
inline bool BadInHeader(unsigned char c) {
  return c == '\r' || c == '\n' || c == 0;
}

struct FlowOp {
  enum class Kind : uint8_t { kRequest, kThink, kRepeat, kEnd };
  enum class Think : uint8_t { kConstant, kUniform, kExponential };
  Kind kind = Kind::kRequest;
  Think think = Think::kConstant;
  uint32_t step = 0;   // kRequest: the step
  uint32_t count = 0;  // kRepeat: how many turns
  uint32_t jump = 0;   // kRepeat: its kEnd; kEnd: its kRepeat
  int64_t a_ns = 0;    // think: constant, uniform min, exponential mean
  int64_t b_ns = 0;    // think: uniform max
};

struct FlowSpec {
  std::vector<FlowStepSpec> steps;
  std::vector<FlowOp> ops;
  uint32_t variables = 0;
  bool abort_on_check_fail = false;
  uint32_t max_redirects = 10;  // followed per step (0: none)
  bool keep_cookies = false;
  uint32_t max_flows = common::kDefaultMaxFlows;  // open model, per agent
  // The plan's data sets: how many, and which of them (ascending) the
  // templates use: only those hand this flow's users a row.
  uint32_t data_set_count = 0;
  std::vector<uint32_t> data_sets;
  // {{setup.NAME}}: the plan's setup captures (common::SetupCaptureNames),
  // and where their values will be once the setup has run (filled before
  // any worker starts; null: no setup).
  std::vector<std::string> setup_names;
  const std::vector<std::string>* setup_values = nullptr;
  // The captures' names, by variable number.
  std::vector<std::string> variable_names;

  // The flow of `scenario` (a normalized plan's); `requests` are the
  // scenario's prepared requests, one per request step in
  // ForEachFlowRequest's order; `data_columns` the plan's data sets' columns
  // in name order, by set name.
  static absl::StatusOr<std::unique_ptr<FlowSpec>> Compile(
      const v1::Scenario& scenario,
      const std::vector<PreparedRequest>& requests,
      const std::vector<std::pair<std::string, std::vector<std::string>>>&
          data_columns = {},
      std::vector<std::string> setup_names = {},
      const std::vector<std::string>* setup_values = nullptr);
};

// How a step's response was judged.
struct StepVerdict {
  bool capture_failed = false;
  bool check_failed = false;
  uint32_t checks_passed = 0;
  // Bit i: the step's check i (common::CheckNames order) failed.
  uint32_t failed_checks = 0;
};

class FlowInstance {
 public:
  struct Action {
    enum class Kind : uint8_t { kSend, kThink, kDone };
    Kind kind = Kind::kDone;
    const FlowStepSpec* step = nullptr;  // kSend
    int64_t think_ns = 0;                // kThink
  };

  // `spec` outlives the instance.
  explicit FlowInstance(const FlowSpec* spec);

  // A new iteration (a new flow for an open-model arrival): from the first
  // op, cookies cleared unless the plan keeps them.
  void Begin(uint64_t vu, uint64_t iteration);
  // The next thing to do: a step to send (render it with Render first), a
  // think time, or the flow's end. Call again after a send's Judge or once
  // the think time has passed.
  Action Next(std::mt19937_64* rng);
  // Renders `step` into send(); sets the response parts it needs.
  void Render(const FlowStepSpec& step, uint64_t agent, int64_t now_unix_ms,
              std::mt19937_64* rng);
  // Judges the response to the step sent last: its captures into the
  // variables, its checks, its cookies into the jar. `latency_ns` is what
  // latency_lt checks.
  StepVerdict Judge(const FlowStepSpec& step, const Outcome& outcome,
                    int64_t latency_ns, int64_t now_unix_s);
  // The response to the step sent last is a redirect this user follows (a
  // 301/302/303/307/308 with a Location on the same origin, fewer than
  // `max_redirects` so far): sets send() up for the next hop (the new
  // target; GET without a body after a 303, or a 301/302 to a POST; the
  // Cookie line again from the jar, after this response's Set-Cookie) and
  // returns true.
  bool FollowRedirect(const FlowStepSpec& step, const Outcome& outcome,
                      uint32_t max_redirects, int64_t now_unix_s);

  // Ends the flow here (a failed capture, or abort_flow): Next is kDone;
  // returns how many request steps of this iteration were left unsent
  // (counting each pass of a repeat).
  uint64_t Abort();

  // The row of data set `set` that renders see from now on (null: none);
  // `row` outlives its use.
  void SetRow(uint32_t set, const std::vector<std::string>* row) {
    data_[set] = row;
  }

  FlowSend* send() { return &send_; }
  // The captured values, by variable number (FlowSpec::variable_names).
  const std::vector<std::string>& variables() const { return variables_; }
  // Whether this iteration's flow was ended by Abort.
  bool aborted() const { return aborted_; }
  uint64_t iteration() const { return iteration_; }
  const CookieJar& cookies() const { return cookies_; }

 private:
  struct Loop {
    uint32_t op = 0;  // its kRepeat
    uint32_t index = 0;
  };

  // Request ops between op `from` and `to` (exclusive), each repeat block's
  // counted once per turn.
  uint64_t RequestsBetween(uint32_t from, uint32_t to) const;

  const FlowSpec* spec_;
  uint32_t pc_ = 0;
  std::array<Loop, common::kMaxFlowDepth> loops_{};
  int depth_ = 0;
  uint64_t vu_ = 0;
  uint64_t iteration_ = 0;
  bool aborted_ = false;
  std::vector<std::string> variables_;
  std::vector<const std::vector<std::string>*> data_;  // [data set]
  uint32_t redirects_ = 0;  // hops of the step sent last
  FlowSend send_;
  CookieJar cookies_;
  std::string scratch_;
  std::string expected_;  // a check's rendered value
  // What the step sent last was rendered with (its checks render alike).
  uint64_t agent_ = 0;
  int64_t now_ms_ = 0;
  std::mt19937_64* rng_ = nullptr;

  common::TemplateContext Context() const;

  // Stores the Set-Cookie values of the response head in send() into the jar.
  void StoreCookies(const FlowStepSpec& step, int64_t now_unix_s);
};

// The value of the first header `lower_name` in a raw response head ("HTTP/1.1
// 200 OK\r\nName: value\r\n..."), trimmed; false when there is none.
bool FindHeader(std::string_view head, std::string_view lower_name,
                std::string_view* value);

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_LOAD_FLOW_H_
