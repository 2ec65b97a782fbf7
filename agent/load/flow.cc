#include "agent/load/flow.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace stampede::agent {

using common::Template;

bool FindHeader(std::string_view head, std::string_view lower_name,
                std::string_view* value) {
  size_t at = head.find('\n');  // past the status line
  while (at != std::string_view::npos && at + 1 < head.size()) {
    const size_t start = at + 1;
    size_t end = head.find('\n', start);
    std::string_view line = head.substr(start, end == std::string_view::npos
                                                   ? std::string_view::npos
                                                   : end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t colon = line.find(':');
    if (colon == lower_name.size()) {
      bool same = true;
      for (size_t i = 0; i < colon && same; ++i) {
        same = absl::ascii_tolower(static_cast<unsigned char>(line[i])) ==
               lower_name[i];
      }
      if (same) {
        std::string_view v = line.substr(colon + 1);
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
          v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
          v.remove_suffix(1);
        *value = v;
        return true;
      }
    }
    at = end;
  }
  return false;
}

FlowInstance::FlowInstance(const FlowSpec* spec)
    : spec_(spec),
      variables_(spec->variables),
      data_(spec->data_set_count, nullptr) {}

void FlowInstance::Begin(uint64_t vu, uint64_t iteration) {
  pc_ = 0;
  depth_ = 0;
  vu_ = vu;
  iteration_ = iteration;
  aborted_ = false;
  if (!spec_->keep_cookies) cookies_.Clear();
}

FlowInstance::Action FlowInstance::Next(std::mt19937_64* rng) {
  while (pc_ < spec_->ops.size()) {
    const FlowOp& op = spec_->ops[pc_];
    switch (op.kind) {
      case FlowOp::Kind::kRequest: {
        Action a;
        a.kind = Action::Kind::kSend;
        a.step = &spec_->steps[op.step];
        ++pc_;  // Judge comes before the next Next
        return a;
      }
      case FlowOp::Kind::kThink: {
        ++pc_;
        Action a;
        a.kind = Action::Kind::kThink;
        switch (op.think) {
          case FlowOp::Think::kConstant:
            a.think_ns = op.a_ns;
            break;
          case FlowOp::Think::kUniform:
            a.think_ns =
                std::uniform_int_distribution<int64_t>(op.a_ns, op.b_ns)(*rng);
            break;
          case FlowOp::Think::kExponential:
            a.think_ns =
                static_cast<int64_t>(std::exponential_distribution<double>(
                    1.0 / static_cast<double>(op.a_ns))(*rng));
            break;
        }
        return a;
      }
      case FlowOp::Kind::kRepeat:
        loops_[depth_++] = Loop{pc_, 0};
        ++pc_;
        break;
      case FlowOp::Kind::kEnd: {
        Loop& loop = loops_[depth_ - 1];
        if (++loop.index < spec_->ops[loop.op].count) {
          pc_ = loop.op + 1;
        } else {
          --depth_;
          ++pc_;
        }
        break;
      }
    }
  }
  return Action{};
}

uint64_t FlowInstance::RequestsBetween(uint32_t from, uint32_t to) const {
  uint64_t n = 0;
  for (uint32_t i = from; i < to; ++i) {
    const FlowOp& op = spec_->ops[i];
    if (op.kind == FlowOp::Kind::kRequest) {
      ++n;
    } else if (op.kind == FlowOp::Kind::kRepeat) {
      n += uint64_t{op.count} * RequestsBetween(i + 1, op.jump);
      i = op.jump;
    }
  }
  return n;
}

uint64_t FlowInstance::Abort() {
  // What is left: the rest of this pass of each loop it is in, its later
  // passes, and the ops after the outermost loop.
  uint64_t left = 0;
  uint32_t from = pc_;
  for (int d = depth_ - 1; d >= 0; --d) {
    const FlowOp& repeat = spec_->ops[loops_[d].op];
    left += RequestsBetween(from, repeat.jump);
    const uint64_t passes = repeat.count - loops_[d].index - 1;
    left += passes * RequestsBetween(loops_[d].op + 1, repeat.jump);
    from = repeat.jump + 1;
  }
  left += RequestsBetween(from, static_cast<uint32_t>(spec_->ops.size()));
  pc_ = static_cast<uint32_t>(spec_->ops.size());
  depth_ = 0;
  aborted_ = true;
  return left;
}

common::TemplateContext FlowInstance::Context() const {
  common::TemplateContext c;
  c.variables = &variables_;
  c.data = &data_;
  c.setup = spec_->setup_values;
  c.vu = vu_;
  c.iteration = iteration_;
  c.index = depth_ > 0 ? loops_[depth_ - 1].index : 0;
  c.agent = agent_;
  c.now_ms = now_ms_;
  c.rng = rng_;
  return c;
}

void FlowInstance::Render(const FlowStepSpec& step, uint64_t agent,
                          int64_t now_unix_ms, std::mt19937_64* rng) {
  agent_ = agent;
  now_ms_ = now_unix_ms;
  rng_ = rng;
  const common::TemplateContext c = Context();
  send_.invalid = step.literal_invalid;
  send_.target.clear();
  if (step.target.RenderChecked(c, &send_.target, BadInTarget))
    send_.invalid = true;
  send_.headers.clear();
  for (const Template& h : step.headers) {
    const size_t from = send_.headers.size();
    if (h.RenderChecked(c, &send_.headers, BadInHeader)) send_.invalid = true;
    // A header whose value renders empty is not sent, as the other engines
    // (and the plan's requests) leave out an empty "Name:".
    size_t end = send_.headers.size();
    while (end > from && send_.headers[end - 1] == ' ') --end;
    if (end > from && send_.headers[end - 1] == ':') {
      send_.headers.resize(from);
      continue;
    }
    send_.headers.append("\r\n");
  }
  if (cookies_.size() > 0) {
    scratch_.clear();
    if (cookies_.AppendCookieHeader(step.host, send_.target, step.https,
                                    now_unix_ms / 1000, &scratch_) > 0) {
      send_.headers.append("Cookie: ").append(scratch_).append("\r\n");
    }
  }
  send_.body.clear();
  send_.method.clear();
  redirects_ = 0;
  step.body.Render(c, &send_.body);
  send_.keep_head = step.keep_head;
  send_.body_limit = step.body_limit;
  send_.head.clear();
  send_.response_body.clear();
  send_.body_cut = false;
}

void FlowInstance::StoreCookies(const FlowStepSpec& step, int64_t now_unix_s) {
  if (!send_.head.empty()) {
    size_t at = send_.head.find('\n');
    std::string_view head = send_.head;
    while (at != std::string::npos) {
      const size_t start = at + 1;
      const size_t end = head.find('\n', start);
      std::string_view line = head.substr(
          start, end == std::string::npos ? std::string::npos : end - start);
      if (line.size() > 11 &&
          absl::EqualsIgnoreCase(absl::string_view(line.data(), 11),
                                 "set-cookie:")) {
        std::string_view cookie = line.substr(11);
        if (!cookie.empty() && cookie.back() == '\r') cookie.remove_suffix(1);
        while (!cookie.empty() && cookie.front() == ' ')
          cookie.remove_prefix(1);
        cookies_.Store(cookie, step.host, send_.target, step.https, now_unix_s);
      }
      at = end;
    }
  }
}

bool FlowInstance::FollowRedirect(const FlowStepSpec& step,
                                  const Outcome& outcome,
                                  uint32_t max_redirects, int64_t now_unix_s) {
  const int status = outcome.status;
  if (status != 301 && status != 302 && status != 303 && status != 307 &&
      status != 308) {
    return false;
  }
  std::string_view location;
  if (redirects_ >= max_redirects ||
      !FindHeader(send_.head, "location", &location) || location.empty()) {
    return false;
  }
  // Same origin only: a path, or a URL whose scheme and host are the step's.
  if (location.front() != '/' || (location.size() > 1 && location[1] == '/')) {
    const std::string_view scheme = step.https ? "https://" : "http://";
    if (location.substr(0, scheme.size()) != scheme) return false;
    std::string_view rest = location.substr(scheme.size());
    const size_t slash = rest.find('/');
    std::string authority(rest.substr(0, slash));
    absl::AsciiStrToLower(&authority);
    if (authority != step.authority) return false;
    location = slash == std::string_view::npos ? std::string_view("/")
                                               : rest.substr(slash);
  }
  StoreCookies(step, now_unix_s);
  ++redirects_;
  scratch_.assign(location.data(), location.size());
  send_.target.swap(scratch_);
  if (status == 303 ||
      ((status == 301 || status == 302) &&
       (send_.method.empty() ? step.method : send_.method) == "POST")) {
    send_.method = "GET";
    send_.body.clear();
  }
  // The Cookie line again, for the new path and what this response set.
  const size_t cookie = send_.headers.find("Cookie: ");
  if (cookie != std::string::npos &&
      (cookie == 0 || send_.headers[cookie - 1] == '\n')) {
    const size_t end = send_.headers.find('\n', cookie);
    send_.headers.erase(cookie, end == std::string::npos ? std::string::npos
                                                         : end + 1 - cookie);
  }
  if (cookies_.size() > 0) {
    scratch_.clear();
    if (cookies_.AppendCookieHeader(step.host, send_.target, step.https,
                                    now_unix_s, &scratch_) > 0) {
      send_.headers.append("Cookie: ").append(scratch_).append("\r\n");
    }
  }
  send_.head.clear();
  send_.response_body.clear();
  send_.body_cut = false;
  return true;
}

StepVerdict FlowInstance::Judge(const FlowStepSpec& step,
                                const Outcome& outcome, int64_t latency_ns,
                                int64_t now_unix_s) {
  StepVerdict v;
  // Cookies first: a cookie capture reads the jar after this response.
  StoreCookies(step, now_unix_s);
  const bool answered = outcome.status > 0;
  for (const FlowCapture& c : step.captures) {
    std::string& out = variables_[c.variable];
    bool found = false;
    if (answered) {
      switch (c.kind) {
        case FlowCapture::Kind::kJson:
          found = c.json->Find(send_.response_body, &out);
          break;
        case FlowCapture::Kind::kHeader: {
          std::string_view value;
          found = FindHeader(send_.head, c.name, &value);
          if (found) out.assign(value.data(), value.size());
          break;
        }
        case FlowCapture::Kind::kRegex: {
          re2::StringPiece match[2];
          const int groups = c.regex->NumberOfCapturingGroups();
          found =
              c.regex->Match(send_.response_body, 0, send_.response_body.size(),
                             re2::RE2::UNANCHORED, match, groups + 1);
          if (found) out.assign(match[groups].data(), match[groups].size());
          break;
        }
        case FlowCapture::Kind::kCookie:
          found = cookies_.Find(c.name, now_unix_s, &out);
          break;
      }
    }
    if (!found) v.capture_failed = true;
  }
  // Every check is judged (and counted) on its own, in CheckNames order.
  uint32_t bit = 0;
  auto judge = [&v, &bit](bool passed) {
    if (passed) {
      ++v.checks_passed;
    } else if (bit < 32) {
      v.failed_checks |= uint32_t{1} << bit;
    }
    ++bit;
  };
  if (!step.statuses.empty()) {
    judge(std::find(step.statuses.begin(), step.statuses.end(),
                    static_cast<uint32_t>(outcome.status)) !=
          step.statuses.end());
  }
  // The expected values render with what the request saw (Render's context;
  // captures of this step are in already, but no check names them).
  const common::TemplateContext c = Context();
  auto expect = [this, &c](const Template& t) -> std::string_view {
    expected_.clear();
    t.Render(c, &expected_);
    return expected_;
  };
  if (step.body_contains) {
    judge(answered && send_.response_body.find(expect(*step.body_contains)) !=
                          std::string::npos);
  }
  for (const auto& [path, expected] : step.json_checks) {
    judge(answered && path.Find(send_.response_body, &scratch_) &&
          scratch_ == expect(expected));
  }
  for (const auto& [name, expected] : step.header_checks) {
    std::string_view value;
    judge(answered && FindHeader(send_.head, name, &value) &&
          value == expect(expected));
  }
  if (step.latency_lt_ns > 0)
    judge(answered && latency_ns < step.latency_lt_ns);
  const bool ok = v.failed_checks == 0 && bit <= 32;
  v.check_failed = !ok;
  return v;
}

}  // namespace stampede::agent
