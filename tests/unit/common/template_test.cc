#include "common/template.h"

#include <map>
#include <regex>

#include "gtest/gtest.h"

namespace stampede::common {
namespace {

// Captures "token" (0) and "id" (1), setup.admin (0), users.email (set 0,
// column 1).
class Scope final : public TemplateScope {
 public:
  explicit Scope(bool in_repeat = false) : in_repeat_(in_repeat) {}
  bool Lookup(std::string_view name, TemplateName* out,
              std::string* why) const override {
    static const std::map<std::string_view, TemplateName> kNames = {
        {"token", {TemplateSource::kVariable, 0, 0}},
        {"id", {TemplateSource::kVariable, 1, 0}},
        {"setup.admin", {TemplateSource::kSetup, 0, 0}},
        {"users.email", {TemplateSource::kData, 0, 1}},
    };
    if (name == "users.nope") {
      *why = "data set users has no column nope";
      return false;
    }
    auto it = kNames.find(name);
    if (it == kNames.end()) return false;
    *out = it->second;
    return true;
  }
  bool InRepeat() const override { return in_repeat_; }

 private:
  bool in_repeat_;
};

struct Values {
  std::vector<std::string> variables = {"tok-1", "a b/c"};
  std::vector<std::string> setup = {"admin-tok"};
  std::vector<std::string> row = {"u1", "u1@example.com"};
  std::vector<const std::vector<std::string>*> data = {&row};
  std::mt19937_64 rng{42};
  TemplateContext Context() {
    TemplateContext c;
    c.variables = &variables;
    c.setup = &setup;
    c.data = &data;
    c.vu = 17;
    c.iteration = 3;
    c.index = 5;
    c.agent = 2;
    c.now_ms = 1'700'000'000'123;
    c.rng = &rng;
    return c;
  }
};

std::string Render(std::string_view text, bool in_repeat = false) {
  auto t = Template::Compile(text, Scope(in_repeat));
  EXPECT_TRUE(t.ok()) << t.status();
  if (!t.ok()) return "";
  Values v;
  std::string out;
  t->Render(v.Context(), &out);
  return out;
}

std::string ErrorOf(std::string_view text, bool in_repeat = false) {
  auto t = Template::Compile(text, Scope(in_repeat));
  EXPECT_FALSE(t.ok()) << text;
  return t.ok() ? "" : std::string(t.status().message());
}

TEST(Template, LiteralTextRendersAsWritten) {
  auto t = Template::Compile("/api/v1/items?x=1", Scope());
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->dynamic());
  EXPECT_EQ(t->literal(), "/api/v1/items?x=1");
  EXPECT_EQ(Render(""), "");
}

TEST(Template, CapturesSetupAndDataColumns) {
  EXPECT_EQ(Render("Bearer {{token}}"), "Bearer tok-1");
  EXPECT_EQ(Render("/agents/{{ id }}/run"), "/agents/a b/c/run");
  EXPECT_EQ(Render("{{setup.admin}}|{{users.email}}"),
            "admin-tok|u1@example.com");
}

TEST(Template, BuiltIns) {
  EXPECT_EQ(Render("agent-{{vu}}-{{iteration}}"), "agent-17-3");
  EXPECT_EQ(Render("{{agent}}"), "2");
  EXPECT_EQ(Render("{{index}}", /*in_repeat=*/true), "5");
  EXPECT_EQ(Render("{{now_ms}}"), "1700000000123");
  const std::string uuid = Render("{{uuid}}");
  EXPECT_TRUE(std::regex_match(
      uuid, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                       "[0-9a-f]{12}")))
      << uuid;
  for (int n = 0; n < 50; ++n) {
    int v = std::stoi(Render("{{random_int(-3, 3)}}"));
    EXPECT_GE(v, -3);
    EXPECT_LE(v, 3);
  }
  const std::string s = Render("{{random_string(12)}}");
  EXPECT_TRUE(std::regex_match(s, std::regex("[A-Za-z0-9]{12}"))) << s;
}

TEST(Template, TheSameSeedRendersTheSameRandomText) {
  auto t = Template::Compile("{{uuid}} {{random_int(1, 1000000)}}", Scope());
  ASSERT_TRUE(t.ok());
  Values a, b;
  std::string out_a, out_b;
  t->Render(a.Context(), &out_a);
  t->Render(b.Context(), &out_b);
  EXPECT_EQ(out_a, out_b);
  b.rng.seed(43);
  out_b.clear();
  t->Render(b.Context(), &out_b);
  EXPECT_NE(out_a, out_b);
}

TEST(Template, FiltersEscapeForUrlsAndJson) {
  EXPECT_EQ(Render("/q?x={{id | url}}"), "/q?x=a%20b%2Fc");
  Values v;
  v.variables[0] = "say \"hi\"\n\\";
  auto t = Template::Compile(R"({"t":"{{token|json}}"})", Scope());
  ASSERT_TRUE(t.ok());
  std::string out;
  t->Render(v.Context(), &out);
  EXPECT_EQ(out, R"({"t":"say \"hi\"\n\\"})");
}

TEST(Template, BackslashMakesLiteralBraces) {
  auto t = Template::Compile(R"(a \{{token}} b)", Scope());
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->dynamic());
  EXPECT_EQ(Render(R"(a \{{token}} b)"), "a {{token}} b");
}

TEST(Template, UndefinedNamesAreErrorsAtTheirColumn) {
  EXPECT_EQ(ErrorOf("/items/{{agent_id}}").substr(0, 10), "column 8: ");
  EXPECT_NE(ErrorOf("/items/{{agent_id}}").find("{{agent_id}} is not defined"),
            std::string::npos);
  EXPECT_EQ(ErrorOf("{{users.nope}}"),
            "column 1: data set users has no column nope");
  size_t offset = 0;
  auto t = Template::Compile("ab{{x}}", Scope(), &offset);
  EXPECT_FALSE(t.ok());
  EXPECT_EQ(offset, 2u);
}

TEST(Template, MisusedBuiltInsAreErrors) {
  EXPECT_NE(ErrorOf("{{index}}").find("only defined inside a repeat"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"n":{{seq}}})").find("only websocket.message"),
            std::string::npos);
  EXPECT_NE(ErrorOf("{{random_int(5, 1)}}").find("A <= B"), std::string::npos);
  EXPECT_NE(ErrorOf("{{random_int(5)}}").find("2 integer arguments"),
            std::string::npos);
  EXPECT_NE(ErrorOf("{{random_string(0)}}").find("1 <= N"), std::string::npos);
  EXPECT_NE(ErrorOf("{{random_string(x)}}").find("not an integer"),
            std::string::npos);
  EXPECT_NE(ErrorOf("{{token | upper}}").find("unknown filter 'upper'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("x {{token").find("without a closing"), std::string::npos);
  EXPECT_NE(ErrorOf("{{}}").find("empty"), std::string::npos);
  EXPECT_NE(ErrorOf("{{a b}}").find("is not a name"), std::string::npos);
}

TEST(Template, RenderingAppendsAndReusesTheBuffer) {
  auto t = Template::Compile("{{token}}:{{id}}", Scope());
  ASSERT_TRUE(t.ok());
  Values v;
  std::string out = "prefix ";
  t->Render(v.Context(), &out);
  EXPECT_EQ(out, "prefix tok-1:a b/c");
  EXPECT_EQ(t->Names(), (std::vector<std::string>{"token", "id"}));
}

}  // namespace
}  // namespace stampede::common
