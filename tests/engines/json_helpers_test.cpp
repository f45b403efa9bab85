// The shared JSON helpers: the .NET-compatible writer (engines.md §1.4), the strict reader over
// simdjson (§1.3), the token-level RawJsonTree and the UTF-16 conversions. The reader tests pin down
// simdjson 3.0.1's actual behaviour on every rule the reference enforces.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engines/json/json_reader.hpp"
#include "engines/json/json_writer.hpp"
#include "engines/json/raw_json.hpp"
#include "engines/json/utf16.hpp"
#include "ot_test_support.hpp"

namespace opstream::engines::json {
namespace {

using testing::TestRandom;

std::string Escaped(std::string_view utf8) {
  std::string out;
  AppendJsonString(out, utf8);
  return out;
}

std::string Escaped(std::u16string_view utf16) {
  std::string out;
  AppendJsonString(out, utf16);
  return out;
}

// Unit-at-a-time transcription of the §1.4 table, to check the bulk-copy paths against.
std::string NaiveEscaped(std::u16string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  auto unit_escape = [](std::string& out, unsigned unit) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(unit >> shift) & 0xF];
  };
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const char16_t u = s[i];
    if (u == '\\') {
      out += "\\\\";
    } else if (u == '\b') {
      out += "\\b";
    } else if (u == '\t') {
      out += "\\t";
    } else if (u == '\n') {
      out += "\\n";
    } else if (u == '\f') {
      out += "\\f";
    } else if (u == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7F || u == '"' || u == '&' || u == '\'' || u == '+' || u == '<' || u == '>' ||
               u == '`') {
      unit_escape(out, u);
    } else if (u < 0x80) {
      out += static_cast<char>(u);
    } else if (IsHighSurrogate(u) && i + 1 < s.size() && IsLowSurrogate(s[i + 1])) {
      unit_escape(out, u);
      unit_escape(out, s[++i]);
    } else if (IsHighSurrogate(u) || IsLowSurrogate(u)) {
      unit_escape(out, 0xFFFD);
    } else {
      unit_escape(out, u);
    }
  }
  return out + "\"";
}

// ------------------------------------------------------------------------------------------------
// Writer

TEST(JsonWriter, EscapesExactlyPerTheTable) {
  EXPECT_EQ(Escaped("\""), R"("\u0022")");
  EXPECT_EQ(Escaped("\\"), R"("\\")");
  EXPECT_EQ(Escaped("\b\t\n\f\r"), R"("\b\t\n\f\r")");
  EXPECT_EQ(Escaped(std::string_view("\0\x01\x1f", 3)), R"("\u0000\u0001\u001F")");
  EXPECT_EQ(Escaped("\x0b"), R"("\u000B")");
  EXPECT_EQ(Escaped("\x7f"), R"("\u007F")");
  EXPECT_EQ(Escaped("&'+<>`"), R"("\u0026\u0027\u002B\u003C\u003E\u0060")");
  EXPECT_EQ(Escaped("/"), R"("/")");
  EXPECT_EQ(Escaped("\u00e9\u20ac\uffff"), R"("\u00E9\u20AC\uFFFF")");
  EXPECT_EQ(Escaped("\u0080"), R"("\u0080")");
  EXPECT_EQ(Escaped("\U0001F600"), R"("\uD83D\uDE00")");
  EXPECT_EQ(Escaped(""), R"("")");
  // Every other printable ASCII character is written as itself.
  for (char c = 0x20; c < 0x7F; ++c) {
    if (std::string_view("\"\\&'+<>`").find(c) != std::string_view::npos) continue;
    EXPECT_EQ(Escaped(std::string(1, c)), "\"" + std::string(1, c) + "\"") << "character " << c;
  }
}

TEST(JsonWriter, Utf16LoneSurrogatesBecomeReplacementCharacters) {
  EXPECT_EQ(Escaped(u"\xD83D"), R"("\uFFFD")");
  EXPECT_EQ(Escaped(u"\xDE00"), R"("\uFFFD")");
  EXPECT_EQ(Escaped(u"a\xD83D"
                    u"b"),
            R"("a\uFFFDb")");
  EXPECT_EQ(Escaped(u"\xDE00\xD83D"), R"("\uFFFD\uFFFD")");
  EXPECT_EQ(Escaped(u"\xD83D\xDE00"), R"("\uD83D\uDE00")");
  EXPECT_EQ(Escaped(u"\xD83D\xD83D\xDE00"), R"("\uFFFD\uD83D\uDE00")");
}

TEST(JsonWriter, InvalidUtf8BytesBecomeReplacementCharacters) {
  EXPECT_EQ(Escaped("a\xff"
                    "b"),
            R"("a\uFFFDb")");
  EXPECT_EQ(Escaped("\xc3"), R"("\uFFFD")");            // truncated
  EXPECT_EQ(Escaped("\xc0\xaf"), R"("\uFFFD\uFFFD")");  // overlong
}

TEST(JsonWriter, PairSplitAcrossTwoPiecesStaysAPair) {
  std::string out;
  AppendJsonString(out, u"a\xD83D", u"\xDE00z");
  EXPECT_EQ(out, R"("a\uD83D\uDE00z")");
  out.clear();
  AppendJsonString(out, u"a\xD83D", u"z");
  EXPECT_EQ(out, R"("a\uFFFDz")");
  out.clear();
  AppendJsonString(out, u"", u"<");
  EXPECT_EQ(out, R"("\u003C")");
}

TEST(JsonWriter, BulkPathsAgreeWithTheTableAtEveryOffset) {
  // Special characters at every position of strings longer than the 16-byte blocks.
  const std::u16string specials = u"\"\\\n\x01\x7f&'+<>`\u00e9\xD83D\xDE00\xD800";
  for (size_t length : {15, 16, 17, 31, 32, 33, 47, 64}) {
    for (size_t position = 0; position < length; ++position) {
      for (char16_t special : specials) {
        std::u16string text(length, u'a');
        text[position] = special;
        ASSERT_EQ(Escaped(text), NaiveEscaped(text)) << "length " << length << " position " << position;
        const std::string utf8 = Utf16ToUtf8(text);
        if (!IsHighSurrogate(special) && !IsLowSurrogate(special)) {
          ASSERT_EQ(Escaped(utf8), NaiveEscaped(text)) << "UTF-8, length " << length << " position " << position;
        }
      }
    }
  }
}

TEST(JsonWriter, RandomStringsMatchTheTable) {
  const std::u16string alphabet = u"ab /\"\\\t\x1f\x7f<&\u00e9\u4e2d\xD83D\xDE00\xDBFF\xDC00";
  TestRandom random(testing::PropertyBaseSeed(0x57A6'0001));
  for (int i = 0; i < 3000; ++i) {
    std::u16string text;
    const int64_t length = random.Between(0, 70);
    for (int64_t k = 0; k < length; ++k) {
      text.push_back(random.Chance(70) ? u'x' : alphabet[static_cast<size_t>(random.Between(0, alphabet.size() - 1))]);
    }
    ASSERT_EQ(Escaped(text), NaiveEscaped(text));
    // The UTF-8 path gives the same bytes for the same text (lone surrogates map to U+FFFD both ways).
    ASSERT_EQ(Escaped(Utf16ToUtf8(text)), Escaped(Utf8ToUtf16(Utf16ToUtf8(text))));
  }
}

TEST(JsonWriter, WritesStructuresWithoutWhitespace) {
  std::string out;
  JsonWriter writer(out);
  writer.BeginObject();
  writer.Key("a<");
  writer.BeginArray();
  writer.Int(-5);
  writer.Bool(true);
  writer.Null();
  writer.BeginObject();
  writer.EndObject();
  writer.String(u"\u00e9");
  writer.EndArray();
  writer.Key("v");
  writer.ReserializedValue(R"( { "x" : 1.50 , "y" : "\u0041" } )");
  writer.Key("raw");
  writer.RawValue("[1]");
  writer.EndObject();
  EXPECT_EQ(out, R"({"a\u003C":[-5,true,null,{},"\u00E9"],"v":{"x":1.50,"y":"A"},"raw":[1]})");
}

TEST(JsonWriter, WritesIntegersInPlainDecimal) {
  std::string out;
  AppendJsonInt(out, 0);
  out += ' ';
  AppendJsonInt(out, INT64_MIN);
  out += ' ';
  AppendJsonInt(out, INT64_MAX);
  EXPECT_EQ(out, "0 -9223372036854775808 9223372036854775807");
}

// ------------------------------------------------------------------------------------------------
// Reader: simdjson's behaviour on each rule of §1.3 item 6, and RawJsonTree's verdict on the same
// input (the two must agree).

struct ReaderCase {
  const char* name;
  std::string json;
  bool valid;
};

// `depth` nested containers with `inner` (possibly nothing) inside the innermost one.
std::string Nested(int depth, std::string_view inner, bool objects = false) {
  std::string out;
  for (int i = 0; i < depth; ++i) {
    const bool innermost = i == depth - 1;
    out += !objects ? "[" : (innermost && inner.empty() ? "{" : R"({"k":)");
  }
  out += inner;
  out += std::string(static_cast<size_t>(depth), objects ? '}' : ']');
  return out;
}

std::vector<ReaderCase> ReaderCases() {
  const std::string long_string = "\"" + std::string(10000, 'x') + "\"";
  return {
      {"plain object", R"({"a":[1,2.5,-0,true,false,null,"s"]})", true},
      {"whitespace", " \t\r\n{ \"a\" : 1 }\n", true},
      {"scalar root", "5", true},
      {"trailing comma in array", "[1,2,]", false},
      {"trailing comma in object", R"({"a":1,})", false},
      {"block comment", "[1/*c*/]", false},
      {"line comment", "[1]//c", false},
      {"invalid UTF-8 byte", "[\"\xff\"]", false},
      {"overlong UTF-8", "[\"\xc0\xaf\"]", false},
      {"UTF-8 encoded surrogate", "[\"\xed\xa0\x80\"]", false},
      {"truncated UTF-8", "[\"\xe2\x82\"]", false},
      {"escaped lone high surrogate", R"("\ud800")", false},
      {"escaped lone high surrogate then text", R"("\ud800x")", false},
      {"escaped high surrogate then non-surrogate", R"("\ud800\u0041")", false},
      {"two escaped high surrogates", R"("\ud800\ud800")", false},
      {"escaped lone low surrogate", R"("\udc00")", false},
      {"escaped pair", R"("\ud83d\ude00")", true},
      {"invalid escape", R"("\x41")", false},
      {"short unicode escape", R"("\u41")", false},
      {"raw control character", "[\"a\x01\"]", false},
      {"raw tab in string", "[\"a\tb\"]", false},
      {"NaN", "[NaN]", false},
      {"Infinity", "[Infinity]", false},
      {"single quotes", "['a']", false},
      {"leading zero", "[01]", false},
      {"plus sign", "[+1]", false},
      {"bare fraction", "[.5]", false},
      {"dot without digits", "[1.]", false},
      {"exponent without digits", "[1e]", false},
      {"text after the value", "[1] [2]", false},
      {"two root scalars", "1 2", false},
      {"empty input", "", false},
      {"whitespace only", "  ", false},
      {"byte order mark", "\xef\xbb\xbf{}", false},
      {"unquoted key", "{a:1}", false},
      {"missing colon", R"({"a" 1})", false},
      {"unterminated string", R"(["abc)", false},
      {"unterminated array", "[1,2", false},
      {"64 nested arrays", Nested(64, ""), true},
      {"64 nested arrays around a scalar", Nested(64, "1"), true},
      {"65 nested arrays", Nested(65, ""), false},
      {"65 nested arrays around a scalar", Nested(65, "1"), false},
      {"64 nested objects", Nested(64, "", true), true},
      {"64 nested objects around a scalar", Nested(64, "1", true), true},
      {"65 nested objects", Nested(65, "", true), false},
      {"65 nested objects around a scalar", Nested(65, "1", true), false},
      {"64 levels in a large document", Nested(64, long_string), true},
      {"65 levels in a large document", Nested(65, long_string), false},
      {"duplicate keys", R"({"a":1,"a":2})", true},
  };
}

TEST(StrictJsonParser, MatchesTheReferenceRulesOnEachCase) {
  StrictJsonParser parser;
  for (const ReaderCase& c : ReaderCases()) {
    simdjson::dom::element root;
    const Status status = parser.Parse(c.json, root);
    EXPECT_EQ(status.ok(), c.valid) << c.name << ": " << status.message();
    if (!status.ok()) {
      EXPECT_EQ(status.message().rfind("Invalid JSON", 0), 0u) << c.name << ": " << status.message();
    }
  }
}

TEST(RawJsonTree, AgreesWithTheStrictParserOnEachCase) {
  for (const ReaderCase& c : ReaderCases()) {
    RawJsonTree tree;
    const Status status = tree.Parse(c.json);
    EXPECT_EQ(status.ok(), c.valid) << c.name << ": " << status.message();
    EXPECT_EQ(ValidateJson(c.json).ok(), c.valid) << c.name;
  }
}

TEST(StrictJsonParser, DecodesAnEscapedPairToUtf8) {
  simdjson::dom::element root;
  ASSERT_TRUE(StrictJsonParser::ForCurrentThread().Parse(R"("\ud83d\ude00\u00e9")", root).ok());
  EXPECT_EQ(root.get_string().value_unsafe(), "\xf0\x9f\x98\x80\xc3\xa9");
}

TEST(StrictJsonParser, DepthLimitSurvivesCapacityGrowth) {
  StrictJsonParser parser;
  simdjson::dom::element root;
  const std::string huge(200000, 'y');
  ASSERT_TRUE(parser.Parse("[\"" + huge + "\"]", root).ok());
  EXPECT_FALSE(parser.Parse(Nested(65, "1"), root).ok());
  EXPECT_TRUE(parser.Parse(Nested(64, "1"), root).ok());
}

TEST(StrictJsonParser, AcceptsNumbersSimdjsonCannotRepresent) {
  // System.Text.Json keeps any number token in a JsonElement; simdjson 3.0.1 refuses these two.
  // The payload is accepted, the numbers read as 0.0 (not an integer literal), and RawJsonTree has
  // their exact text.
  const std::string json = R"({"big":123456789012345678901234567890,"huge":1e400,"n":7})";
  simdjson::dom::element root;
  ASSERT_TRUE(StrictJsonParser::ForCurrentThread().Parse(json, root).ok());
  simdjson::dom::element big, n;
  ASSERT_TRUE(FindMemberIgnoreCase(root.get_object().value_unsafe(), "big", big));
  ASSERT_TRUE(FindMemberIgnoreCase(root.get_object().value_unsafe(), "n", n));
  EXPECT_TRUE(big.is_double());
  int32_t value = 0;
  EXPECT_FALSE(ReadInt32(big, "big", value).ok());
  EXPECT_TRUE(ReadInt32(n, "n", value).ok());
  EXPECT_EQ(value, 7);
  RawJsonTree tree;
  ASSERT_TRUE(tree.Parse(json).ok());
  EXPECT_EQ(tree.node(static_cast<uint32_t>(tree.FindMember(0, "big"))).raw, "123456789012345678901234567890");
  // Invalid text that also has a number problem still gets a precise message.
  EXPECT_FALSE(StrictJsonParser::ForCurrentThread().Parse("[1e400,]", root).ok());
  EXPECT_FALSE(StrictJsonParser::ForCurrentThread().Parse("[01]", root).ok());
}

TEST(StrictJsonParser, FindsMembersCaseInsensitivelyLastWins) {
  simdjson::dom::element root, value;
  ASSERT_TRUE(StrictJsonParser::ForCurrentThread().Parse(R"({"Count":1,"x":0,"COUNT":2})", root).ok());
  const simdjson::dom::object object = root.get_object().value_unsafe();
  ASSERT_TRUE(FindMemberIgnoreCase(object, "count", value));
  EXPECT_EQ(value.get_int64().value_unsafe(), 2);
  EXPECT_FALSE(FindMemberIgnoreCase(object, "counts", value));
  EXPECT_TRUE(NameEqualsIgnoreCase("Components", "cOMPONENTS"));
  EXPECT_FALSE(NameEqualsIgnoreCase("components", "component"));
}

TEST(StrictJsonParser, ReadsOnlyIntegerLiterals) {
  struct IntCase {
    const char* json;
    bool int32_ok;
    int64_t value;
    bool int64_ok;
  };
  const IntCase cases[] = {
      {"5", true, 5, true},
      {"-0", true, 0, true},
      {"2147483647", true, 2147483647, true},
      {"-2147483648", true, -2147483648LL, true},
      {"2147483648", false, 0, true},
      {"-2147483649", false, 0, true},
      {"9223372036854775807", false, 0, true},
      {"9223372036854775808", false, 0, false},
      {"5.0", false, 0, false},
      {"1e2", false, 0, false},
      {"-0.0", false, 0, false},
      {"\"5\"", false, 0, false},
      {"null", false, 0, false},
      {"true", false, 0, false},
      {"[5]", false, 0, false},
  };
  for (const IntCase& c : cases) {
    simdjson::dom::element root;
    ASSERT_TRUE(StrictJsonParser::ForCurrentThread().Parse(c.json, root).ok()) << c.json;
    int32_t narrow = 0;
    const Status narrow_status = ReadInt32(root, "count", narrow);
    EXPECT_EQ(narrow_status.ok(), c.int32_ok) << c.json << ": " << narrow_status.message();
    if (c.int32_ok) {
      EXPECT_EQ(narrow, c.value) << c.json;
    }
    if (!narrow_status.ok()) {
      EXPECT_NE(narrow_status.message().find("count"), std::string::npos);
    }
    int64_t wide = 0;
    EXPECT_EQ(ReadInt64(root, "timestamp", wide).ok(), c.int64_ok) << c.json;
  }
}

// ------------------------------------------------------------------------------------------------
// RawJsonTree

TEST(RawJsonTree, KeepsExactSourceSlices) {
  const std::string json = R"( { "a" : [ 1 , 2.50 ] , "b\u0021" : "\u0041\n" , "a" : {"x":null} } )";
  RawJsonTree tree;
  ASSERT_TRUE(tree.Parse(json).ok());
  const RawJsonNode& root = tree.root();
  EXPECT_EQ(root.kind, JsonKind::kObject);
  EXPECT_EQ(root.child_count, 3u);
  EXPECT_EQ(root.raw, R"({ "a" : [ 1 , 2.50 ] , "b\u0021" : "\u0041\n" , "a" : {"x":null} })");
  EXPECT_EQ(root.subtree_end, tree.size());
  const RawJsonNode& array = tree.node(1);
  EXPECT_EQ(array.kind, JsonKind::kArray);
  EXPECT_EQ(array.raw_key, R"("a")");
  EXPECT_EQ(array.raw, "[ 1 , 2.50 ]");
  EXPECT_EQ(array.child_count, 2u);
  EXPECT_EQ(tree.node(3).raw, "2.50");
  const uint32_t string_index = array.subtree_end;
  EXPECT_EQ(tree.node(string_index).raw, R"("\u0041\n")");
  EXPECT_EQ(UnescapeString(tree.node(string_index).raw), "A\n");
  // Last duplicate wins; escaped names match their unescaped form; names are case-sensitive.
  EXPECT_EQ(tree.node(static_cast<uint32_t>(tree.FindMember(0, "a"))).raw, R"({"x":null})");
  EXPECT_EQ(tree.FindMember(0, "b!"), static_cast<int64_t>(string_index));
  EXPECT_EQ(tree.FindMember(0, "A"), -1);
  EXPECT_EQ(tree.node(static_cast<uint32_t>(tree.FindMemberIgnoreCase(0, "A"))).raw, R"({"x":null})");
}

TEST(RawJsonTree, ComparesStringTokensAfterUnescaping) {
  EXPECT_TRUE(StringTokensEqual(R"("A")", R"("\u0041")"));
  EXPECT_TRUE(StringTokensEqual(R"("\/")", R"("/")"));
  EXPECT_TRUE(StringTokensEqual(R"("\ud83d\ude00")", "\"\xf0\x9f\x98\x80\""));
  EXPECT_FALSE(StringTokensEqual(R"("a")", R"("A")"));
}

TEST(RawJsonTree, MinifiesVerbatimAndReserializesLikeTheReference) {
  const std::string json =
      " { \"n\" : 1.0 , \"big\" : 12345678901234567890 , \"s\" : \"\\u0041 \\u00e9 \u00e9 <\" ,"
      " \"n\" : [ true , null ] } ";
  std::string minified;
  AppendMinifiedVerbatim(json, minified);
  EXPECT_EQ(minified, R"({"n":1.0,"big":12345678901234567890,"s":"\u0041 \u00e9 )"
                      "\u00e9"
                      R"( <","n":[true,null]})");
  std::string reserialized;
  ASSERT_TRUE(AppendReserialized(json, reserialized).ok());
  EXPECT_EQ(reserialized, R"({"n":1.0,"big":12345678901234567890,"s":"A \u00E9 \u00E9 \u003C","n":[true,null]})");
  std::string untouched = "x";
  EXPECT_FALSE(AppendReserialized("[1,]", untouched).ok());
  EXPECT_EQ(untouched, "x");
}

// ------------------------------------------------------------------------------------------------
// UTF-16 conversion

TEST(Utf16, ConvertsBothWays) {
  const std::string utf8 = "a\u00e9\u4e2d\U0001F600z";
  const std::u16string utf16 = Utf8ToUtf16(utf8);
  EXPECT_EQ(utf16, u"a\u00e9\u4e2d\U0001F600z");
  EXPECT_EQ(utf16.size(), 6u);
  EXPECT_EQ(Utf16LengthOfUtf8(utf8), 6u);
  EXPECT_EQ(Utf16ToUtf8(utf16), utf8);
  EXPECT_EQ(Utf16ToUtf8(u"\xD800x"), "\xef\xbf\xbdx");
  EXPECT_EQ(Utf8ToUtf16("a\xff\xc3"), u"a\xFFFD\xFFFD");
}

TEST(Utf16, LengthMatchesConversionOnArbitraryBytes) {
  TestRandom random(testing::PropertyBaseSeed(0x57A6'0002));
  for (int i = 0; i < 5000; ++i) {
    std::string bytes;
    const int64_t length = random.Between(0, 40);
    for (int64_t k = 0; k < length; ++k) {
      bytes.push_back(static_cast<char>(random.Chance(50) ? random.Between(0x20, 0x7e) : random.Between(0x80, 0xff)));
    }
    std::u16string out(bytes.size(), u'\0');
    const size_t written = Utf8ToUtf16(bytes, out.data());
    ASSERT_EQ(written, Utf16LengthOfUtf8(bytes));
    ASSERT_LE(written, bytes.size());
  }
}

}  // namespace
}  // namespace opstream::engines::json
