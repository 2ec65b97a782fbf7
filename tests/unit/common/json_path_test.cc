#include "common/json_path.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace stampede::common {
namespace {

JsonPath Path(std::string_view expr) {
  absl::StatusOr<JsonPath> path = JsonPath::Parse(expr);
  EXPECT_TRUE(path.ok()) << expr << ": " << path.status();
  return path.ok() ? *std::move(path) : *JsonPath::Parse("$");
}

// The match of `expr` in `json`, or nullopt.
std::optional<std::string> Find(std::string_view expr, std::string_view json,
                                JsonKind* kind = nullptr) {
  std::string value = "left over";
  if (!Path(expr).Find(json, &value, kind)) {
    EXPECT_EQ(value, "") << "a miss leaves the value empty";
    return std::nullopt;
  }
  return value;
}

std::string ParseError(std::string_view expr) {
  absl::StatusOr<JsonPath> path = JsonPath::Parse(expr);
  EXPECT_FALSE(path.ok()) << expr << " parsed";
  return path.ok() ? "" : std::string(path.status().message());
}

constexpr std::string_view kAgent = R"({
  "name": "Test Agent",
  "id": 201,
  "token": "abc.def",
  "tags": ["a", "b", "c"],
  "owner": {"team": "load", "on-call": true, "pager": null},
  "items": [{"sku": 1}, {"id": "first"}, {"id": "second"}],
  "odd key": 1.5e3
})";

TEST(JsonPathFind, EveryFormOfTheSubset) {
  EXPECT_EQ(Find("$.name", kAgent), "Test Agent");
  EXPECT_EQ(Find("$['name']", kAgent), "Test Agent");
  EXPECT_EQ(Find(R"($["name"])", kAgent), "Test Agent");
  EXPECT_EQ(Find("$['odd key']", kAgent), "1.5e3");
  EXPECT_EQ(Find("$.owner.on-call", kAgent), "true");
  EXPECT_EQ(Find("$.tags[0]", kAgent), "a");
  EXPECT_EQ(Find("$.tags[2]", kAgent), "c");
  EXPECT_EQ(Find("$.tags[-1]", kAgent), "c");
  EXPECT_EQ(Find("$.tags[-3]", kAgent), "a");
  EXPECT_EQ(Find("$.tags[*]", kAgent), "a");
  EXPECT_EQ(Find("$.owner[*]", kAgent), "load");
  EXPECT_EQ(Find("$[*]", kAgent), "Test Agent");
}

TEST(JsonPathFind, MissesAreFalse) {
  EXPECT_EQ(Find("$.missing", kAgent), std::nullopt);
  EXPECT_EQ(Find("$.tags[3]", kAgent), std::nullopt);
  EXPECT_EQ(Find("$.tags[-4]", kAgent), std::nullopt);
  EXPECT_EQ(Find("$.name.first", kAgent), std::nullopt);  // not an object
  EXPECT_EQ(Find("$.tags.a", kAgent), std::nullopt);      // an array
  EXPECT_EQ(Find("$.owner[0]", kAgent), std::nullopt);    // an object
  EXPECT_EQ(Find("$.items[*].missing", kAgent), std::nullopt);
  EXPECT_EQ(Find("$[*]", "[]"), std::nullopt);
  EXPECT_EQ(Find("$[*]", "{}"), std::nullopt);
  EXPECT_EQ(Find("$[-1]", "[]"), std::nullopt);
  EXPECT_EQ(Find("$.a", "{}"), std::nullopt);
  EXPECT_EQ(Find("$.Name", kAgent), std::nullopt);  // keys are exact
}

TEST(JsonPathFind, RootIsTheWholeDocument) {
  EXPECT_EQ(Find("$", R"(  {"a": [1, 2]}  )"), R"({"a": [1, 2]})");
  EXPECT_EQ(Find("$", "\"x\""), "x");
  EXPECT_EQ(Find("$", "42"), "42");
  EXPECT_EQ(Find("$", ""), std::nullopt);
  EXPECT_EQ(Find("$", "   "), std::nullopt);
}

TEST(JsonPathFind, NestedPaths) {
  constexpr std::string_view doc =
      R"({"data": {"users": [{"name": "ann", "roles": ["admin", "dev"]},
                             {"name": "bob", "roles": []}]}})";
  EXPECT_EQ(Find("$.data.users[0].name", doc), "ann");
  EXPECT_EQ(Find("$.data.users[1].name", doc), "bob");
  EXPECT_EQ(Find("$.data.users[-1].name", doc), "bob");
  EXPECT_EQ(Find("$.data.users[0].roles[-1]", doc), "dev");
  EXPECT_EQ(Find("$.data.users[-2].roles[1]", doc), "dev");
  EXPECT_EQ(Find("$['data'][\"users\"][0]['roles'][0]", doc), "admin");
  EXPECT_EQ(Find("$.data.users[1].roles[0]", doc), std::nullopt);
  EXPECT_EQ(Find("$.data.users[*].roles[*]", doc), "admin");
}

TEST(JsonPathFind, WildcardTakesTheFirstElementThatMatches) {
  EXPECT_EQ(Find("$.items[*].id", kAgent), "first");
  // The elements before the match may be anything, nested or not.
  EXPECT_EQ(Find("$[*].id", R"([1, "s", [{"id": 0}], {"x": {"id": 2}},
                                {"id": 3}, {"id": 4}])"),
            "3");
  // Nested wildcards search depth-first in document order.
  EXPECT_EQ(Find("$[*][*].v", R"([[{"w": 1}], [{"w": 2}, {"v": 7}],
                                  [{"v": 8}]])"),
            "7");
  // Over an object, each member value in turn.
  EXPECT_EQ(Find("$[*].id", R"({"a": {"x": 1}, "b": {"id": "b"}})"), "b");
  // [*] then [-N]: the first element long enough.
  EXPECT_EQ(Find("$[*][-2]", "[[1], [2, 3], [4, 5]]"), "2");
}

TEST(JsonPathFind, DuplicateKeysTakeTheFirst) {
  EXPECT_EQ(Find("$.a", R"({"a": 1, "a": 2})"), "1");
  // The first "a" decides even when the rest of the path misses in it.
  EXPECT_EQ(Find("$.a.b", R"({"a": {"c": 1}, "a": {"b": 2}})"), std::nullopt);
  EXPECT_EQ(Find("$[*].a.b", R"([{"a": {"c": 1}, "a": {"b": 2}}, {"a":
                                 {"b": 3}}])"),
            "3");
}

TEST(JsonPathFind, EscapesInKeys) {
  // JSON keys are compared decoded.
  EXPECT_EQ(Find("$.ab", R"({"a\u0062": 1})"), "1");
  EXPECT_EQ(Find("$['a\"b']", R"({"a\"b": 2})"), "2");
  EXPECT_EQ(Find(R"($["it's"])", R"({"it's": 3})"), "3");
  EXPECT_EQ(Find(R"($['it\'s'])", R"({"it's": 3})"), "3");
  EXPECT_EQ(Find(R"($['back\\slash'])", R"({"back\\slash": 4})"), "4");
  EXPECT_EQ(Find("$['a/b']", R"({"a\/b": 5})"), "5");
  EXPECT_EQ(Find("$['\xC3\xA9t\xC3\xA9']", R"({"\u00e9t\u00E9": 6})"), "6");
  EXPECT_EQ(Find("$['\xF0\x9F\x98\x80']", R"({"\ud83d\ude00": 7})"), "7");
  EXPECT_EQ(Find("$['']", R"({"": 8})"), "8");
  EXPECT_EQ(Find("$['a.b[0]']", R"({"a.b[0]": 9, "a": {"b": [1]}})"), "9");
  // A key that only starts like the path's key, or is only its start.
  EXPECT_EQ(Find("$.ab", R"({"abc": 1, "a": 2})"), std::nullopt);
}

TEST(JsonPathFind, StringValuesAreDecoded) {
  EXPECT_EQ(Find("$", R"("q\"b\\s\/n\nt\tr\rb\bf\f")"),
            "q\"b\\s/n\nt\tr\rb\bf\f");
  EXPECT_EQ(Find("$", R"("\u0041\u00e9\u20AC")"), "A\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(Find("$", R"("\uD83D\uDE00!")"), "\xF0\x9F\x98\x80!");
  EXPECT_EQ(Find("$", R"("\u0000")"), std::string("\0", 1));
  // A lone surrogate is no character: U+FFFD.
  EXPECT_EQ(Find("$", R"("\ud800x")"), "\xEF\xBF\xBDx");
  EXPECT_EQ(Find("$", R"("\udc00")"), "\xEF\xBF\xBD");
  EXPECT_EQ(Find("$", R"("\ud800\u0041")"),
            "\xEF\xBF\xBD"
            "A");
  // UTF-8 as written passes through.
  EXPECT_EQ(Find("$", "\"caf\xC3\xA9\""), "caf\xC3\xA9");
}

TEST(JsonPathFind, OtherValuesAreTheirTextAsWritten) {
  constexpr std::string_view doc =
      R"({"n": -12.50E+3, "t": true, "f": false, "z": null,
          "o": {"a" : [1, {}]}, "e": [ ], "s": "201", "i": 201})";
  JsonKind kind;
  EXPECT_EQ(Find("$.n", doc, &kind), "-12.50E+3");
  EXPECT_EQ(kind, JsonKind::kNumber);
  EXPECT_EQ(Find("$.t", doc, &kind), "true");
  EXPECT_EQ(kind, JsonKind::kBool);
  EXPECT_EQ(Find("$.f", doc, &kind), "false");
  EXPECT_EQ(kind, JsonKind::kBool);
  EXPECT_EQ(Find("$.z", doc, &kind), "null");
  EXPECT_EQ(kind, JsonKind::kNull);
  EXPECT_EQ(Find("$.o", doc, &kind), R"({"a" : [1, {}]})");
  EXPECT_EQ(kind, JsonKind::kObject);
  EXPECT_EQ(Find("$.e", doc, &kind), "[ ]");
  EXPECT_EQ(kind, JsonKind::kArray);
  // A check can tell the string "201" from the number 201.
  EXPECT_EQ(Find("$.s", doc, &kind), "201");
  EXPECT_EQ(kind, JsonKind::kString);
  EXPECT_EQ(Find("$.i", doc, &kind), "201");
  EXPECT_EQ(kind, JsonKind::kNumber);
  EXPECT_EQ(JsonKindName(JsonKind::kString), "string");
  EXPECT_EQ(JsonKindName(JsonKind::kArray), "array");
}

TEST(JsonPathFind, WhitespaceAndByteOrderMark) {
  EXPECT_EQ(Find("$.a[1]", " \t\r\n{ \"a\" \n:\t[ 1 ,\r\n 2 ] } "), "2");
  EXPECT_EQ(Find("$.a", "\xEF\xBB\xBF{\"a\": 1}"), "1");
  // Only those four: a form feed or a non-breaking space is no JSON space.
  EXPECT_EQ(Find("$.a", "{\f\"a\": 1}"), std::nullopt);
  EXPECT_EQ(Find("$.a", "{\xC2\xA0\"a\": 1}"), std::nullopt);
  // A byte order mark anywhere else is not skipped.
  EXPECT_EQ(Find("$.a", " \xEF\xBB\xBF{\"a\": 1}"), std::nullopt);
}

TEST(JsonPathFind, MalformedBeforeTheMatchIsNotFound) {
  const std::string_view bad[] = {
      R"({"x": [1, 2,], "a": 1})",    // trailing comma
      R"({"x": 01, "a": 1})",         // leading zero
      R"({"x": 1., "a": 1})",         // no digit after '.'
      R"({"x": .5, "a": 1})",         // no digit before '.'
      R"({"x": 1e, "a": 1})",         // no exponent digits
      R"({"x": +1, "a": 1})",         // no '+' sign
      R"({"x": tru, "a": 1})",        // not a literal
      R"({"x": True, "a": 1})",       //
      R"({"x": 'y', "a": 1})",        // single quotes
      R"({x: 1, "a": 1})",            // unquoted key
      R"({"x" 1, "a": 1})",           // no colon
      R"({"x": 1 "a": 1})",           // no comma
      R"({"x": "\q", "a": 1})",       // bad escape
      R"({"x": "\u12G4", "a": 1})",   // bad \u
      "{\"x\": \"a\tb\", \"a\": 1}",  // raw control character
      R"({"x": [1}, "a": 1})",        // mismatched bracket
      R"({"x": {"y": 1]], "a": 1})", R"({"x": 1,, "a": 1})", R"({, "a": 1})",
  };
  for (std::string_view doc : bad) {
    EXPECT_EQ(Find("$.a", doc), std::nullopt) << doc;
  }
  // A string match must be valid UTF-8.
  EXPECT_EQ(Find("$.a", "{\"a\": \"\xFF\"}"), std::nullopt);
  EXPECT_EQ(Find("$.a", "{\"a\": \"\xC0\xAF\"}"), std::nullopt);  // overlong
  EXPECT_EQ(Find("$.a", "{\"a\": \"\xED\xA0\x80\"}"),
            std::nullopt);                                        // surrogate
  EXPECT_EQ(Find("$.a", "{\"a\": \"\xE2\x82\"}"), std::nullopt);  // cut
  // A whole object or array match must be well formed to its end.
  EXPECT_EQ(Find("$.a", R"({"a": {"b": 1,}})"), std::nullopt);
  EXPECT_EQ(Find("$.a", R"({"a": [1 2]})"), std::nullopt);
  // [-N] reads the whole array, so it must be well formed.
  EXPECT_EQ(Find("$[-1]", "[1, 2, x]"), std::nullopt);
  EXPECT_EQ(Find("$[0]", "[1, 2, x]"), "1");
}

TEST(JsonPathFind, WhatFollowsTheMatchIsNotRead) {
  EXPECT_EQ(Find("$.a", R"({"a": 1, "b": nonsense)"), "1");
  EXPECT_EQ(Find("$[*].id", R"([{"id": 1}, {)"), "1");
  EXPECT_EQ(Find("$", "1 2"), "1");
}

TEST(JsonPathFind, TruncatedDocumentsAreNotFound) {
  const std::string doc = R"({"a": {"b": [10, "twenty", {"c": 30}], "d": 4}})";
  // Cut anywhere before the match is complete, the path misses.
  const size_t complete = doc.find("30") + 2;
  for (size_t cut = 0; cut < doc.size(); ++cut) {
    std::optional<std::string> found =
        Find("$.a.b[2].c", std::string_view(doc).substr(0, cut));
    if (cut <= complete) {
      EXPECT_EQ(found, std::nullopt) << "cut at " << cut;
    } else {
      EXPECT_EQ(found, "30") << "cut at " << cut;
    }
  }
  // A number at the end of a nested document may have been cut short.
  EXPECT_EQ(Find("$.a", R"({"a": 12)"), std::nullopt);
  EXPECT_EQ(Find("$[0]", "[1"), std::nullopt);
  EXPECT_EQ(Find("$.a", R"({"a": "ab)"), std::nullopt);
  EXPECT_EQ(Find("$.a", R"({"a": "ab\)"), std::nullopt);
  EXPECT_EQ(Find("$.a", R"({"a": "\u12)"), std::nullopt);
  EXPECT_EQ(Find("$.a", R"({"a": tr)"), std::nullopt);
  EXPECT_EQ(Find("$.a", R"({"a": [1, 2)"), std::nullopt);
  EXPECT_EQ(Find("$[-1]", "[1, 2"), std::nullopt);
}

std::string Nested(int depth, std::string_view inner) {
  return std::string(depth, '[') + std::string(inner) + std::string(depth, ']');
}

// [nested, 5], built by appending (GCC 12 misjudges "[" + std::string).
std::string NestedThenFive(int depth) {
  std::string doc = "[";
  doc += Nested(depth, "");
  doc += ", 5]";
  return doc;
}

TEST(JsonPathFind, DepthLimit) {
  const int max = JsonPath::kMaxDepth;
  // Skipped or matched, nesting up to the limit is fine, and past it is
  // malformed.
  EXPECT_EQ(Find("$[1]", NestedThenFive(max - 1)), "5");
  EXPECT_EQ(Find("$[1]", NestedThenFive(max)), std::nullopt);
  EXPECT_EQ(Find("$", Nested(max, "")), Nested(max, ""));
  EXPECT_EQ(Find("$", Nested(max + 1, "")), std::nullopt);
  std::string deepest = "$";
  for (int i = 0; i < max; ++i) deepest += "[0]";
  EXPECT_EQ(Find(deepest, Nested(max, "7")), "7");
  // A body far deeper than the limit is no danger: it is rejected.
  const std::string hostile(1 << 20, '[');
  EXPECT_EQ(Find("$[0]", hostile), std::nullopt);
  EXPECT_EQ(Find("$[-1]", hostile), std::nullopt);
  EXPECT_EQ(Find("$[*][*][*]", hostile), std::nullopt);
  EXPECT_EQ(Find("$", std::string(1 << 20, '{')), std::nullopt);
}

TEST(JsonPathFind, ReusesTheValuesCapacity) {
  const JsonPath path = Path("$.s");
  std::string value;
  value.reserve(64);
  const char* buffer = value.data();
  ASSERT_TRUE(path.Find(R"({"s": "one\u00e9"})", &value));
  EXPECT_EQ(value, "one\xC3\xA9");
  ASSERT_TRUE(path.Find(R"({"s": [1, 2, 3]})", &value));
  EXPECT_EQ(value, "[1, 2, 3]");
  EXPECT_FALSE(path.Find(R"({"t": 1})", &value));
  EXPECT_EQ(value.data(), buffer);
}

TEST(JsonPathParse, TextIsTheExpression) {
  EXPECT_EQ(Path("$.items[*]['id']").text(), "$.items[*]['id']");
  EXPECT_EQ(Path("$").text(), "$");
}

TEST(JsonPathParse, ErrorsNameTheColumnAndWhy) {
  EXPECT_EQ(ParseError("$.a..b"),
            "column 4: '..' (recursive descent) is not supported");
  EXPECT_EQ(ParseError("$..a"),
            "column 2: '..' (recursive descent) is not supported");
  EXPECT_EQ(ParseError(""), "column 1: empty path; a path starts with '$'");
  EXPECT_EQ(ParseError("name"), "column 1: a path starts with '$', found 'n'");
  EXPECT_EQ(ParseError("$name"), "column 2: expected '.' or '[', found 'n'");
  EXPECT_EQ(ParseError("$.a b"),
            "column 4: expected '.' or '[', found a space");
  EXPECT_EQ(ParseError("$.*"), "column 2: '.*' is not supported; write '[*]'");
  EXPECT_EQ(ParseError("$."),
            "column 2: expected a name (letters, digits, '_', '-') after '.'; "
            "quote other keys as ['...']");
  EXPECT_EQ(ParseError("$.\xC3\xA9"),
            "column 2: expected a name (letters, digits, '_', '-') after '.', "
            "found byte 0xc3; quote other keys as ['...']");
  EXPECT_EQ(ParseError("$.a["),
            "column 5: expected a quoted key, an index or '*'");
  EXPECT_EQ(ParseError("$[?(@.a)]"),
            "column 3: filters ('[?...]') are not supported");
  EXPECT_EQ(ParseError("$[(@.length-1)]"),
            "column 3: script expressions ('[(...)]') are not supported");
  EXPECT_EQ(ParseError("$[1:2]"),
            "column 4: slices ('[start:end]') are not supported");
  EXPECT_EQ(ParseError("$[:2]"),
            "column 3: slices ('[start:end]') are not supported");
  EXPECT_EQ(ParseError("$[0,1]"),
            "column 4: unions ('[a,b]') are not supported");
  EXPECT_EQ(ParseError("$['a','b']"),
            "column 6: unions ('[a,b]') are not supported");
  EXPECT_EQ(ParseError("$[01]"), "column 3: an index has no leading zeros");
  EXPECT_EQ(ParseError("$[-0]"),
            "column 3: '-0' is not an index; the last element is [-1]");
  EXPECT_EQ(ParseError("$[-]"), "column 4: expected a digit after '-'");
  EXPECT_EQ(ParseError("$[1000000000]"),
            "column 3: index larger than 999999999");
  EXPECT_EQ(Path("$[999999999]").text(), "$[999999999]");
  EXPECT_EQ(ParseError("$[1"), "column 4: expected ']'");
  EXPECT_EQ(ParseError("$[*x]"), "column 4: expected ']', found 'x'");
  EXPECT_EQ(ParseError("$[ 0]"),
            "column 3: expected a quoted key, an index or '*', found a space");
  EXPECT_EQ(ParseError("$.a['b"), "column 5: unterminated quoted key");
  EXPECT_EQ(ParseError("$['b\\"), "column 3: unterminated quoted key");
  EXPECT_EQ(ParseError("$['a\\n']"),
            "column 5: unknown escape '\\n' in a quoted key (only \\', \\\" "
            "and \\\\)");
  EXPECT_EQ(ParseError("$[name]"),
            "column 3: expected a quoted key, an index or '*', found 'n'");
  EXPECT_EQ(ParseError("$ "), "column 2: expected '.' or '[', found a space");
}

TEST(JsonPathParse, AtMostMaxDepthSteps) {
  std::string expr = "$";
  for (int i = 0; i < JsonPath::kMaxDepth; ++i) expr += ".a";
  EXPECT_TRUE(JsonPath::Parse(expr).ok());
  const size_t column = expr.size() + 1;
  EXPECT_EQ(ParseError(expr + ".a"),
            "column " + std::to_string(column) +
                ": more than 256 steps (documents nest at most that deep)");
}

}  // namespace
}  // namespace stampede::common
