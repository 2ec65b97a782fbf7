// Templates of a flow's requests: "{{name}}" slots in a path, a header value or
// a body, compiled once (at validate and at Prepare) into literal and slot
// segments and rendered per send into a caller's buffer with no allocation
// once its capacity suffices. Compiling is given a scope that says which
// names exist, so a name nothing defines is an error at its column. A
// compiled Template is immutable and thread-safe; rendering reads only the
// caller's context.
//
// Syntax inside {{ }} (spaces around the parts are allowed):
//   NAME                   a capture of an earlier step
//   setup.NAME             a capture of the plan's setup steps
//   SET.COLUMN             a column of data set SET's current row
//   vu                     the virtual user's number, unique in the whole run
//   iteration              the VU's iteration (0-based)
//   index                  the innermost repeat's turn (0-based)
//   agent                  this agent's number (its share index)
//   uuid                   a random (version 4) UUID
//   random_int(A, B)       a random integer in [A, B]
//   random_string(N)       N random letters and digits (1 <= N <= 4096)
//   now_ms                 the wall clock, ms since the Unix epoch
// followed by optional filters: "| url" percent-encodes (RFC 3986 unreserved
// characters kept), "| json" escapes for inside a JSON string. "\{{" is a
// literal "{{".
#ifndef STAMPEDE_COMMON_TEMPLATE_H_
#define STAMPEDE_COMMON_TEMPLATE_H_

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace stampede::common {

enum class TemplateSource : uint8_t {
  kVariable,  // id: the flow variable (capture) number
  kSetup,     // id: the setup capture number
  kData,      // id: the data set number, column: its column
  kVu,
  kIteration,
  kIndex,
  kAgent,
  kUuid,
  kRandomInt,
  kRandomString,
  kNowMs,
};

// What one name stands for.
struct TemplateName {
  TemplateSource source = TemplateSource::kVariable;
  uint32_t id = 0;
  uint32_t column = 0;
};

// Which names a template may use; the flow's validator and the agent's
// compiler implement it with what is defined before the step.
class TemplateScope {
 public:
  virtual ~TemplateScope() = default;
  // `name` is a capture (no dot) or "setup.NAME" / "SET.COLUMN". Returns
  // false, and says why in *why when it has more to say than "undefined".
  virtual bool Lookup(std::string_view name, TemplateName* out,
                      std::string* why) const = 0;
  // Whether {{index}} is defined here (inside a repeat).
  virtual bool InRepeat() const = 0;
};

// The values a render reads. The pointed-to vectors outlive the call.
struct TemplateContext {
  const std::vector<std::string>* variables = nullptr;
  const std::vector<std::string>* setup = nullptr;
  // Per data set: its current row's cells (null: the set has no row).
  const std::vector<const std::vector<std::string>*>* data = nullptr;
  uint64_t vu = 0;
  uint64_t iteration = 0;
  uint64_t index = 0;
  uint64_t agent = 0;
  int64_t now_ms = 0;
  std::mt19937_64* rng = nullptr;  // uuid, random_int, random_string
};

class Template {
 public:
  static constexpr size_t kMaxRandomString = 4096;

  Template() = default;
  // A template of `text`; errors say "column N: ..." (1-based, in `text`)
  // and set *error_offset (0-based) when given.
  static absl::StatusOr<Template> Compile(std::string_view text,
                                          const TemplateScope& scope,
                                          size_t* error_offset = nullptr);
  // Only a literal: what text would render to with no scope (\{{ unescaped),
  // or an error when it has a slot.
  static absl::StatusOr<Template> Literal(std::string_view text);
  // `text` as it is, braces and all: nothing in it is a slot.
  static Template Text(std::string_view text);

  // Whether rendering can differ from the literal text (it has a slot).
  bool dynamic() const { return slots_ > 0; }
  // The literal runs alone (all of it for a template with no slot).
  std::string literal() const;
  // Appends the rendered text to *out.
  void Render(const TemplateContext& context, std::string* out) const;
  // As Render; returns whether what a slot appended (after its filter) has a
  // byte `rejected` says no to. Literal runs are not looked at: judge
  // literal() once instead.
  bool RenderChecked(const TemplateContext& context, std::string* out,
                     bool (*rejected)(unsigned char)) const;
  // Every name used, as written inside the braces (for messages).
  std::vector<std::string> Names() const;

 private:
  enum class Filter : uint8_t { kNone, kUrl, kJson };
  struct Segment {
    // A literal run of text_ when !slot; else a slot.
    bool slot = false;
    Filter filter = Filter::kNone;
    uint32_t offset = 0;  // literal: in text_; slot: the name as written
    uint32_t size = 0;
    TemplateName name;
    int64_t a = 0;  // random_int's bounds, random_string's length
    int64_t b = 0;
  };

  void AppendValue(const Segment& s, const TemplateContext& c,
                   std::string* out) const;

  std::string text_;  // literal runs and the names of slots
  std::vector<Segment> segments_;
  size_t slots_ = 0;
};

// Appends `s` percent-encoded (all but RFC 3986 unreserved characters).
void AppendUrlEncoded(std::string_view s, std::string* out);
// Appends `s` escaped for inside a JSON string (quotes, backslash, controls).
void AppendJsonEscaped(std::string_view s, std::string* out);

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_TEMPLATE_H_
