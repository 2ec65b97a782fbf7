// Fuzzes the template compiler (common/template.h): plans are written by
// users and reach agents from any controller. Besides the sanitizers, checks
// that a compiled template keeps its promises: one with no slot renders to its
// literal text, rendering twice with the same seed gives the same text, and
// every slot's name is one the scope defined or a built-in.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/template.h"
#include "tests/fuzz/fuzz_check.h"

namespace stampede::common {
namespace {

// Names of 1-8 lower-case letters starting with 'a'..'m' are captures; a
// dotted name "d.COL" is data set 0's column (its length - 2).
class Scope final : public TemplateScope {
 public:
  explicit Scope(bool in_repeat) : in_repeat_(in_repeat) {}
  bool Lookup(std::string_view name, TemplateName* out,
              std::string* why) const override {
    if (name.size() > 2 && name.substr(0, 2) == "d.") {
      *out = {TemplateSource::kData, 0, static_cast<uint32_t>(name.size() - 2)};
      return true;
    }
    if (name.empty() || name.size() > 8 || name[0] < 'a' || name[0] > 'm')
      return false;
    *out = {TemplateSource::kVariable, static_cast<uint32_t>(name.size() - 1),
            0};
    return true;
  }
  bool InRepeat() const override { return in_repeat_; }

 private:
  bool in_repeat_;
};

}  // namespace
}  // namespace stampede::common

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stampede::common;
  if (size == 0) return 0;
  const bool in_repeat = (data[0] & 1) != 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t offset = SIZE_MAX;
  auto t = Template::Compile(text, Scope(in_repeat), &offset);
  if (!t.ok()) {
    FUZZ_CHECK(offset < text.size());
    return 0;
  }
  std::vector<std::string> variables = {"v0", "v1", "", "v3"};
  std::vector<std::string> row = {"c0", "c1", "c2"};
  std::vector<const std::vector<std::string>*> sets = {&row};
  auto render = [&](std::string* out) {
    std::mt19937_64 rng(7);
    TemplateContext c;
    c.variables = &variables;
    c.data = &sets;
    c.vu = 1;
    c.rng = &rng;
    t->Render(c, out);
  };
  std::string a, b;
  render(&a);
  render(&b);
  FUZZ_CHECK(a == b);
  if (!t->dynamic()) FUZZ_CHECK(a == t->literal());
  FUZZ_CHECK(t->Names().size() > 0 || !t->dynamic());
  return 0;
}
