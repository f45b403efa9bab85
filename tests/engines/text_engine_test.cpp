// Unit tests of the text engine: op parsing (accepted and rejected shapes, §1.3, §4.2, §14),
// serialization, in-place Apply against the reference algorithm of §4.3, and the Engine interface.
#include "engines/text/text_engine.hpp"

#include <gtest/gtest.h>

#include "engines/json/utf16.hpp"
#include "ot_test_support.hpp"

namespace opstream::engines {
namespace {

using testing::TestRandom;

std::string Serialized(const TextOp& op) {
  std::string out;
  SerializeTextOp(op, out);
  return out;
}

std::string Snapshot(const TextDocument& document) {
  std::string out;
  SerializeTextDocument(document, out);
  return out;
}

// The reference Apply of §4.3, literally (new string, cursor may run past the end).
std::u16string ReferenceApply(const std::u16string& doc, const TextOp& op) {
  std::u16string out;
  int64_t i = 0;
  const auto n = static_cast<int64_t>(doc.size());
  for (size_t c = 0; c < op.size(); ++c) {
    const TextComponentView component = op[c];
    switch (component.kind) {
      case TextComponentKind::kRetain:
        if (i < n) {
          const int64_t take = std::min(component.count, n - i);
          out.append(doc, static_cast<size_t>(i), static_cast<size_t>(take));
        }
        i += component.count;
        break;
      case TextComponentKind::kInsert:
        out.append(component.text);
        break;
      case TextComponentKind::kDelete:
        i += component.count;
        break;
    }
  }
  if (i < n) out.append(doc, static_cast<size_t>(i));
  return out;
}

// ------------------------------------------------------------------------------------------------
// Parsing

TEST(TextOpParsing, AcceptsTheDocumentedShapes) {
  struct AcceptCase {
    const char* payload;
    const char* normalized;
  };
  const AcceptCase cases[] = {
      {R"({"components":[]})", R"({"components":[]})"},
      {R"({"components":[{"type":"retain","count":5},{"type":"insert","text":"Hi"},{"type":"delete","count":2}]})",
       R"({"components":[{"type":"retain","count":5},{"type":"insert","text":"Hi"},{"type":"delete","count":2}]})"},
      // Names bind case-insensitively (reference integration tests send PascalCase).
      {R"({"Components":[{"type":"insert","Text":"Hi"},{"type":"retain","COUNT":1}]})",
       R"({"components":[{"type":"insert","text":"Hi"},{"type":"retain","count":1}]})"},
      // D8: the discriminator may come after other properties.
      {R"({"components":[{"count":1,"type":"retain"}]})", R"({"components":[{"type":"retain","count":1}]})"},
      // Absent count: the default 0 (zero-length components are harmless and kept).
      {R"({"components":[{"type":"delete"}]})", R"({"components":[{"type":"delete","count":0}]})"},
      {R"({"components":[{"type":"retain","count":-0}]})", R"({"components":[{"type":"retain","count":0}]})"},
      // Unknown properties are ignored, including the other variants' fields.
      {R"({"v":{"deep":[1,{}]},"components":[{"type":"retain","count":1,"text":5},{"type":"insert","text":"","count":"x"}]})",
       R"({"components":[{"type":"retain","count":1},{"type":"insert","text":""}]})"},
      // The last duplicate wins (each occurrence must still bind).
      {R"({"components":[{"type":"retain","count":1,"count":3}],"components":[{"type":"delete","count":2}]})",
       R"({"components":[{"type":"delete","count":2}]})"},
      {R"({"components":[{"type":"insert","text":null,"text":"b"}]})",
       R"({"components":[{"type":"insert","text":"b"}]})"},
      {R"({"components":[{"type":"retain","count":2147483647}]})",
       R"({"components":[{"type":"retain","count":2147483647}]})"},
      // Escapes are decoded; the output is re-escaped with the .NET table.
      {R"({"components":[{"type":"insert","text":"\u0041\u00e9\ud83d\ude00\/<"}]})",
       R"({"components":[{"type":"insert","text":"A\u00E9\uD83D\uDE00/\u003C"}]})"},
      // Escaped property names bind like their unescaped form.
      {R"({"\u0063omponents":[{"\u0074ype":"retain","count":1}]})", R"({"components":[{"type":"retain","count":1}]})"},
  };
  for (const AcceptCase& c : cases) {
    TextOp op;
    const Status status = ParseTextOp(c.payload, op);
    ASSERT_TRUE(status.ok()) << c.payload << ": " << status.message();
    EXPECT_EQ(Serialized(op), c.normalized) << c.payload;
  }
}

TEST(TextOpParsing, RejectsMalformedOpsWithClearMessages) {
  struct RejectCase {
    const char* payload;
    const char* message_part;
  };
  const RejectCase cases[] = {
      {"", "Invalid JSON"},
      {"{", "Invalid JSON"},
      {R"({"components":[],})", "Invalid JSON"},
      {R"({"components":[]/*x*/})", "Invalid JSON"},
      {R"({"components":[{"type":"insert","text":"\ud800"}]})", "Invalid JSON"},
      {"[]", "must be a JSON object"},
      {"null", "must be a JSON object"},
      {"5", "must be a JSON object"},
      {"{}", "\"components\" is missing"},
      {R"({"component":[]})", "\"components\" is missing"},
      {R"({"components":null})", "must not be null"},
      {R"({"components":[],"components":null})", "must not be null"},
      {R"({"components":{}})", "must be an array"},
      {R"({"components":"x"})", "must be an array"},
      {R"({"components":[null]})", "components[0] is null"},
      {R"({"components":[{"type":"retain","count":1},null]})", "components[1] is null"},
      {R"({"components":[5]})", "must be an object"},
      {R"({"components":[{}]})", "no \"type\" discriminator"},
      {R"({"components":[{"Type":"retain","count":1}]})", "no \"type\" discriminator"},
      {R"({"components":[{"TYPE":"insert","text":"x"}]})", "no \"type\" discriminator"},
      {R"({"components":[{"type":"Retain","count":1}]})", "unknown type \"Retain\""},
      {R"({"components":[{"type":"Insert","text":"x"}]})", "unknown type \"Insert\""},
      {R"({"components":[{"type":"move","count":1}]})", "unknown type"},
      {R"({"components":[{"type":5,"count":1}]})", ".type must be a string"},
      {R"({"components":[{"type":null}]})", ".type must be a string"},
      {R"({"components":[{"type":"retain","type":"retain","count":1}]})", "more than one \"type\""},
      {R"({"components":[{"type":"retain","count":5.0}]})", "integer literal"},
      {R"({"components":[{"type":"retain","count":1e2}]})", "integer literal"},
      {R"({"components":[{"type":"retain","count":"5"}]})", "must be an integer"},
      {R"({"components":[{"type":"retain","count":null}]})", "must be an integer"},
      {R"({"components":[{"type":"delete","count":true}]})", "must be an integer"},
      {R"({"components":[{"type":"retain","count":2147483648}]})", "out of range"},
      {R"({"components":[{"type":"retain","count":-2147483649}]})", "out of range"},
      {R"({"components":[{"type":"retain","count":18446744073709551615}]})", "out of range"},
      {R"({"components":[{"type":"retain","count":123456789012345678901234567890}]})", "integer"},
      {R"({"components":[{"type":"retain","count":"x","count":1}]})", "must be an integer"},
      // D3: negative counts.
      {R"({"components":[{"type":"retain","count":-1}]})", "components[0].count must not be negative (got -1)"},
      {R"({"components":[{"type":"retain","count":2},{"type":"delete","count":-1}]})",
       "components[1].count must not be negative"},
      // D4: inserts without text.
      {R"({"components":[{"type":"insert"}]})", "components[0] is an insert without text"},
      {R"({"components":[{"type":"insert","text":null}]})", "insert without text"},
      {R"({"components":[{"type":"insert","text":"a","text":null}]})", "insert without text"},
      {R"({"components":[{"type":"insert","text":5}]})", ".text must be a string"},
      {R"({"components":[{"type":"insert","text":["a"]}]})", ".text must be a string"},
  };
  for (const RejectCase& c : cases) {
    TextOp op;
    op.AppendRetain(99);
    const Status status = ParseTextOp(c.payload, op);
    ASSERT_FALSE(status.ok()) << c.payload;
    EXPECT_NE(status.message().find(c.message_part), std::string::npos)
        << c.payload << "\n  message: " << status.message() << "\n  expected to contain: " << c.message_part;
    EXPECT_EQ(status.message().rfind("Invalid TextOp: ", 0), 0u) << status.message();
    EXPECT_TRUE(op.empty()) << "a rejected parse leaves no partial op";
  }
}

TEST(TextOpParsing, ParsesLargePayloads) {
  std::string text(300000, 'a');
  text[1000] = '"';
  std::string payload = R"({"components":[{"type":"insert","text":")";
  for (char c : text) {
    if (c == '"')
      payload += "\\\"";
    else
      payload += c;
  }
  payload += R"("}]})";
  TextOp op;
  ASSERT_TRUE(ParseTextOp(payload, op).ok());
  ASSERT_EQ(op.size(), 1u);
  EXPECT_EQ(op[0].text.size(), text.size());
  EXPECT_EQ(op[0].text[1000], u'"');
}

// ------------------------------------------------------------------------------------------------
// Ops and documents

TEST(TextOp, BuildersKeepOrCompactComponents) {
  TextOp op;
  EXPECT_FALSE(op.AppendRetain(-1));
  EXPECT_FALSE(op.AppendDelete(-5));
  EXPECT_TRUE(op.empty());
  op.AppendRetain(0);
  op.AppendRetain(2);
  op.AppendInsert(u"");
  EXPECT_EQ(Serialized(op),
            R"({"components":[{"type":"retain","count":0},{"type":"retain","count":2},{"type":"insert","text":""}]})");

  TextOp compact;
  compact.PushRetain(0);
  compact.PushRetain(2);
  compact.PushInsert(u"");
  compact.PushRetain(3);
  compact.PushInsert(u"ab");
  compact.PushInsert(u"c");
  compact.PushDelete(0);
  compact.PushDelete(1);
  compact.PushDelete(1);
  EXPECT_EQ(
      Serialized(compact),
      R"({"components":[{"type":"retain","count":5},{"type":"insert","text":"abc"},{"type":"delete","count":2}]})");

  EXPECT_EQ(Serialized(TextOp::InsertAt(3, u"x")),
            R"({"components":[{"type":"retain","count":3},{"type":"insert","text":"x"}]})");
  EXPECT_EQ(Serialized(TextOp::DeleteAt(0, 2)),
            R"({"components":[{"type":"retain","count":0},{"type":"delete","count":2}]})");
}

TEST(TextOp, ManyComponentsAndCopies) {
  TextOp op;
  std::u16string all;
  for (int i = 0; i < 100; ++i) {
    const std::u16string text(static_cast<size_t>(i % 7 + 1), static_cast<char16_t>(u'a' + i % 26));
    op.AppendInsert(text);
    op.AppendRetain(i);
    all += text;
  }
  TextOp copy = op;
  TextOp moved = std::move(copy);
  EXPECT_EQ(moved, op);
  ASSERT_EQ(moved.size(), 200u);
  std::u16string joined;
  for (size_t i = 0; i < moved.size(); i += 2) joined += moved[i].text;
  EXPECT_EQ(joined, all);
  TextOp small = TextOp::InsertAt(1, u"x");
  TextOp small_moved = std::move(small);
  EXPECT_EQ(small_moved, TextOp::InsertAt(1, u"x"));
  small = small_moved;  // reuse after move
  EXPECT_EQ(small, small_moved);
}

TEST(TextDocument, SnapshotsAndLoading) {
  TextDocument document(u"a\"<\u00e9\U0001F600");
  EXPECT_EQ(Snapshot(document), R"({"content":"a\u0022\u003C\u00E9\uD83D\uDE00"})");
  struct LoadCase {
    const char* snapshot;
    bool ok;
    std::u16string text;
  };
  const LoadCase cases[] = {
      {R"({"content":"x"})", true, u"x"},
      {R"({"Content":"y","other":[1]})", true, u"y"},
      {R"({})", true, u""},  // absent content: the reference's default
      {R"({"content":"\ud83d\ude00"})", true, u"\U0001F600"},
      {R"({"content":null})", false, u""},
      {R"({"content":5})", false, u""},
      {R"([])", false, u""},
      {R"({"content":"x",})", false, u""},
      {R"({"content":"a","CONTENT":"b"})", true, u"b"},
      {R"({"content":5,"content":"b"})", false, u""},
  };
  for (const LoadCase& c : cases) {
    TextDocument loaded(u"previous");
    const Status status = LoadTextDocument(c.snapshot, loaded);
    EXPECT_EQ(status.ok(), c.ok) << c.snapshot << ": " << status.message();
    if (c.ok) {
      EXPECT_EQ(loaded.Text(), c.text) << c.snapshot;
    }
  }
}

TEST(TextDocument, SurrogatePairAcrossTheGapIsWrittenAsAPair) {
  TextDocument document(u"\U0001F600");
  ASSERT_TRUE(ApplyTextOp(document, TextOp::InsertAt(1, u"x")).ok());
  ASSERT_TRUE(ApplyTextOp(document, TextOp::DeleteAt(1, 1)).ok());
  // The gap now sits between the two halves of the pair.
  ASSERT_EQ(document.buffer().before().size(), 1u);
  EXPECT_EQ(Snapshot(document), R"({"content":"\uD83D\uDE00"})");
}

TEST(TextDocument, LoneSurrogateBecomesReplacementInSnapshots) {
  TextDocument document(u"\U0001F600");
  ASSERT_TRUE(ApplyTextOp(document, TextOp::DeleteAt(1, 1)).ok());
  EXPECT_EQ(document.Text(), u"\xD83D");  // kept in memory (§1.1, D11)
  EXPECT_EQ(Snapshot(document), R"({"content":"\uFFFD"})");
}

// ------------------------------------------------------------------------------------------------
// Apply

TEST(TextApply, FollowsTheReferenceAlgorithm) {
  struct ApplyCase {
    std::u16string doc;
    const char* op;
    std::u16string expected;
  };
  const ApplyCase cases[] = {
      {u"Hello", R"({"components":[{"type":"retain","count":5},{"type":"insert","text":" World"}]})", u"Hello World"},
      {u"Hello", R"({"components":[{"type":"delete","count":10},{"type":"retain","count":5}]})", u""},
      {u"abc", R"({"components":[{"type":"retain","count":10},{"type":"insert","text":"x"}]})", u"abcx"},
      {u"abc", R"({"components":[{"type":"delete","count":10},{"type":"insert","text":"x"}]})", u"x"},
      {u"abc",
       R"({"components":[{"type":"retain","count":1},{"type":"delete","count":1},{"type":"delete","count":1}]})", u"a"},
      {u"abc", R"({"components":[{"type":"insert","text":"x"},{"type":"insert","text":"y"}]})", u"xyabc"},
      {u"abc", R"({"components":[]})", u"abc"},
      {u"", R"({"components":[{"type":"delete","count":3},{"type":"retain","count":3},{"type":"insert","text":"z"}]})",
       u"z"},
      {u"abcdef",
       R"({"components":[{"type":"retain","count":1},{"type":"delete","count":2},{"type":"insert","text":"XY"},{"type":"retain","count":1},{"type":"delete","count":1},{"type":"insert","text":"Z"}]})",
       u"aXYdZf"},
  };
  for (const ApplyCase& c : cases) {
    TextOp op;
    ASSERT_TRUE(ParseTextOp(c.op, op).ok()) << c.op;
    TextDocument document(c.doc);
    ASSERT_TRUE(ApplyTextOp(document, op).ok());
    EXPECT_EQ(document.Text(), c.expected) << c.op;
    EXPECT_EQ(ReferenceApply(c.doc, op), c.expected) << c.op;
  }
}

TEST(TextApply, InPlaceEditsMatchTheReferenceOnRandomOps) {
  // Long documents, ops anywhere (including past the end), applied in sequence to one document so
  // the gap moves back and forth and the buffer grows.
  TestRandom random(testing::PropertyBaseSeed(0x7E57'1001));
  std::u16string reference = u"The quick brown fox";
  TextDocument document(reference);
  for (int i = 0; i < 4000; ++i) {
    TextOp op;
    const int64_t length = static_cast<int64_t>(reference.size());
    const int64_t components = random.Between(1, 5);
    for (int64_t k = 0; k < components; ++k) {
      switch (random.Between(0, 2)) {
        case 0:
          op.AppendRetain(random.Between(0, length / 2 + 3));
          break;
        case 1:
          op.AppendDelete(random.Between(0, 6));
          break;
        default:
          op.AppendInsert(std::u16string(static_cast<size_t>(random.Between(0, random.Chance(5) ? 600 : 5)),
                                         static_cast<char16_t>(u'a' + random.Between(0, 25))));
      }
    }
    reference = ReferenceApply(reference, op);
    ASSERT_TRUE(ApplyTextOp(document, op).ok());
    ASSERT_TRUE(document.Equals(reference)) << "step " << i << " op " << Serialized(op);
  }
}

class NotATextOp final : public Op {};
class NotATextDocument final : public DocumentState {};

TEST(TextEngineInterface, NamesAndEmptyDocument) {
  const std::shared_ptr<const Engine> engine = MakeTextEngine();
  EXPECT_EQ(engine->document_type(), "text");
  EXPECT_EQ(engine->op_type_name(), "TextOp");
  std::string snapshot;
  engine->SerializeState(*engine->CreateEmpty(), snapshot);
  EXPECT_EQ(snapshot, R"({"content":""})");
}

TEST(TextEngineInterface, ForeignTypesAreRefusedWithoutCrashing) {
  const TextEngine engine;
  TextDocument document(u"abc");
  const TextOp op = TextOp::InsertAt(0, u"x");
  NotATextOp foreign_op;
  NotATextDocument foreign_document;
  EXPECT_FALSE(engine.Apply(document, foreign_op).ok());
  EXPECT_FALSE(engine.Apply(foreign_document, op).ok());
  EXPECT_EQ(document.Text(), u"abc");
  EXPECT_EQ(engine.Transform(op, foreign_op, Priority::kExistingWins), nullptr);
  EXPECT_EQ(engine.Compose(foreign_op, op), nullptr);
  EXPECT_EQ(engine.Invert(op, foreign_document), nullptr);
  EXPECT_TRUE(engine.IsNoOp(foreign_op));
  std::string out;
  engine.SerializeOp(foreign_op, out);
  engine.SerializeState(foreign_document, out);
  EXPECT_EQ(out, "");
}

TEST(TextEngineInterface, RejectedParseLeavesOutputUntouched) {
  const TextEngine engine;
  std::unique_ptr<Op> out = std::make_unique<TextOp>(TextOp::InsertAt(0, u"kept"));
  EXPECT_FALSE(engine.ParseOp(R"({"components":[{"type":"retain","count":-1}]})", out).ok());
  ASSERT_NE(AsTextOp(*out), nullptr);
  EXPECT_EQ(*AsTextOp(*out), TextOp::InsertAt(0, u"kept"));
  std::unique_ptr<DocumentState> state = std::make_unique<TextDocument>(u"kept");
  EXPECT_FALSE(engine.LoadState("{", state).ok());
  EXPECT_EQ(AsTextDocument(*state)->Text(), u"kept");
}

TEST(TextEngineInterface, NoOpRule) {
  EXPECT_TRUE(IsTextNoOp(TextOp()));
  TextOp retains;
  retains.AppendRetain(0);
  retains.AppendRetain(4);
  EXPECT_TRUE(IsTextNoOp(retains));
  TextOp empty_insert;
  empty_insert.AppendInsert(u"");
  EXPECT_FALSE(IsTextNoOp(empty_insert));  // §4.8: only retains make a no-op
  TextOp empty_delete;
  empty_delete.AppendDelete(0);
  EXPECT_FALSE(IsTextNoOp(empty_delete));
}

TEST(TextEngineInterface, TransformNeverReturnsNull) {
  const TextEngine engine;
  const TextOp empty;
  TextOp insert;
  insert.AppendInsert(u"ab");
  std::unique_ptr<Op> result = engine.Transform(empty, insert, Priority::kExistingWins);
  ASSERT_NE(result, nullptr);
  EXPECT_EQ(Serialized(*AsTextOp(*result)), R"({"components":[{"type":"retain","count":2}]})");
  // An existing retain stops the walk once incoming is exhausted, even before an insert (§4.5).
  result = engine.Transform(empty, TextOp::InsertAt(0, u"ab"), Priority::kExistingWins);
  ASSERT_NE(result, nullptr);
  EXPECT_EQ(Serialized(*AsTextOp(*result)), R"({"components":[]})");
  result = engine.Transform(empty, empty, Priority::kExistingWins);
  ASSERT_NE(result, nullptr);
  EXPECT_TRUE(engine.IsNoOp(*result));
}

TEST(TextEngineInterface, TypedFunctionsAcceptTheirOutputAsInput) {
  TextOp op = TextOp::InsertAt(1, u"x");
  const TextOp other = TextOp::InsertAt(0, u"ab");
  TransformTextOp(op, other, Priority::kExistingWins, op);
  EXPECT_EQ(Serialized(op), R"({"components":[{"type":"retain","count":3},{"type":"insert","text":"x"}]})");
  TextOp composed = TextOp::InsertAt(0, u"a");
  EXPECT_TRUE(ComposeTextOps(composed, TextOp::InsertAt(1, u"b"), composed));
  EXPECT_EQ(Serialized(composed), R"({"components":[{"type":"insert","text":"ab"}]})");
  TextOp inverted = TextOp::DeleteAt(1, 1);
  InvertTextOp(inverted, TextDocument(u"xyz"), inverted);
  EXPECT_EQ(Serialized(inverted), R"({"components":[{"type":"retain","count":1},{"type":"insert","text":"y"}]})");
}

TEST(TextEngineInterface, InvertOfADeleteAcrossTheGap) {
  TextDocument document(u"0123456789");
  ASSERT_TRUE(ApplyTextOp(document, TextOp::InsertAt(5, u"-")).ok());  // gap now after "01234-"
  TextOp op;
  op.AppendRetain(3);
  op.AppendDelete(6);
  TextOp inverse;
  InvertTextOp(op, document, inverse);
  EXPECT_EQ(Serialized(inverse), R"({"components":[{"type":"retain","count":3},{"type":"insert","text":"34-567"}]})");
}

}  // namespace
}  // namespace opstream::engines
