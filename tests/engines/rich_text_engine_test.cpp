// Unit tests of the rich-text engine's reading rules (engines.md §1.3, §5.3, §5.12, §14), its output
// bytes (§1.4, §5.2), attribute identity (§5.4), snapshot loading, the Engine boundary and the
// comment-anchor rebasing of §13.
#include "engines/rich_text/rich_text_engine.hpp"

#include <gtest/gtest.h>

#include "engines/rich_text/text_anchor.hpp"
#include "engines/text/text_engine.hpp"

namespace opstream::engines {
namespace {

std::string Normalized(std::string_view payload) {
  RichTextOp op;
  const Status status = ParseRichTextOp(payload, op);
  EXPECT_TRUE(status.ok()) << payload << ": " << status.message();
  std::string out;
  SerializeRichTextOp(op, out);
  return out;
}

std::string Rejection(std::string_view payload) {
  RichTextOp op;
  const Status status = ParseRichTextOp(payload, op);
  EXPECT_FALSE(status.ok()) << payload << " must be rejected";
  EXPECT_TRUE(op.empty()) << "a rejected op leaves the output empty";
  return status.message();
}

std::string Snapshot(const RichTextDocument& document) {
  std::string out;
  SerializeRichTextDocument(document, out);
  return out;
}

RichTextDocument Load(std::string_view snapshot) {
  RichTextDocument document;
  const Status status = LoadRichTextDocument(snapshot, document);
  EXPECT_TRUE(status.ok()) << snapshot << ": " << status.message();
  return document;
}

RichTextOp Parse(std::string_view payload) {
  RichTextOp op;
  EXPECT_TRUE(ParseRichTextOp(payload, op).ok()) << payload;
  return op;
}

TEST(RichTextParse, NormalizesNamesOrderAndValues) {
  // Case-insensitive names, discriminator anywhere (D8), unknown properties dropped, attribute keys
  // sorted ordinally, values re-emitted minified with numbers verbatim and .NET escaping.
  EXPECT_EQ(Normalized(R"({"COMPONENTS":[{"Text":"a&b","x":1,"$type":"insert",)"
                       R"("attributes":{"z": [1.50, "\u00e9"],"M":null,"a":{"k":"<"}}}]})"),
            R"({"components":[{"$type":"insert","text":"a\u0026b","attributes":)"
            R"({"M":null,"a":{"k":"\u003C"},"z":[1.50,"\u00E9"]}}]})");
  EXPECT_EQ(Normalized(R"({"components":[{"$type":"retain","count":3},{"$type":"delete","count":2,"attributes":7}]})"),
            R"({"components":[{"$type":"retain","count":3,"attributes":null},{"$type":"delete","count":2}]})");
  // The last duplicate wins, for properties and for attribute keys.
  EXPECT_EQ(Normalized(R"({"components":[],"components":[{"$type":"retain","count":1,"count":2,)"
                       R"("attributes":{"b":1,"b":2}}]})"),
            R"({"components":[{"$type":"retain","count":2,"attributes":{"b":2}}]})");
  // Ordinal over UTF-16 units (§1.2): the emoji (0xD83D...) sorts before U+FF21, unlike code-point order.
  EXPECT_EQ(Normalized(R"({"components":[{"$type":"retain","count":1,"attributes":{"\uFF21":1,"\uD83D\uDE00":2}}]})"),
            R"({"components":[{"$type":"retain","count":1,"attributes":{"\uD83D\uDE00":2,"\uFF21":1}}]})");
}

TEST(RichTextParse, RejectsMalformedOpsWithClearMessages) {
  const auto expect = [](std::string_view payload, std::string_view hint) {
    const std::string message = Rejection(payload);
    EXPECT_NE(message.find("Invalid RichTextOp"), std::string::npos) << message;
    EXPECT_NE(message.find(hint), std::string::npos) << payload << " -> " << message;
  };
  expect(R"({"components":[{"$type":"delete","count":-1}]})", "must not be negative");
  expect(R"({"components":[{"$type":"retain","count":-5,"attributes":{"b":true}}]})", "must not be negative");
  expect(R"({"components":[{"$type":"insert"}]})", "insert without text");
  expect(R"({"components":[{"$type":"insert","text":null}]})", "insert without text");
  expect(R"({"components":[{"$type":"insert","text":5}]})", "text must be a string");
  expect(R"({"components":[{"$type":"retain","count":1.0}]})", "32-bit integer literal, not 1.0");
  expect(R"({"components":[{"$type":"retain","count":1e2}]})", "32-bit integer literal");
  expect(R"({"components":[{"$type":"retain","count":"5"}]})", "32-bit integer literal, not a string");
  expect(R"({"components":[{"$type":"retain","count":2147483648}]})", "32-bit integer literal");
  expect(R"({"components":[{"$type":"retain","count":1,"attributes":[]}]})", "attributes must be an object or null");
  expect(R"({"components":[{"$type":"Retain","count":1}]})", R"(unknown type "Retain")");
  expect(R"({"components":[{"type":"retain","count":1}]})", R"(no "$type" discriminator)");
  expect(R"({"components":[{"$type":"retain","$type":"delete","count":1}]})", R"(more than one "$type")");
  expect(R"({"components":[{"$type":1,"count":1}]})", "$type must be a string");
  expect(R"({"components":[7]})", "must be an object, not a number");
  expect(R"({"components":[null]})", "components[0] is null");
  expect(R"({"components":{}})", "must be an array");
  expect(R"({"components":null})", "must not be null");
  expect(R"({})", R"("components" is missing)");
  expect(R"([])", "must be a JSON object");
  expect(R"({"components":[],})", "Invalid");
  expect(R"({"components":[{"$type":"insert","text":"\ud800"}]})", "Invalid");  // escaped lone surrogate
  // A later "components" that does not bind rejects the op even after a valid one.
  expect(R"({"components":[],"Components":5})", "must be an array");
  // Boundaries that are accepted.
  EXPECT_EQ(Normalized(R"({"components":[{"$type":"retain","count":2147483647},{"$type":"delete","count":0}]})"),
            R"({"components":[{"$type":"retain","count":2147483647,"attributes":null},{"$type":"delete","count":0}]})");
  EXPECT_EQ(Normalized(R"({"components":[{"$type":"insert","text":"","attributes":{}}]})"),
            R"({"components":[{"$type":"insert","text":"","attributes":{}}]})");
}

TEST(RichTextEngineBoundary, RejectedOpsLeaveTheDocumentUntouched) {
  const RichTextEngine engine;
  std::unique_ptr<DocumentState> state;
  ASSERT_TRUE(engine.LoadState(R"({"content":[{"text":"abc","attributes":{"b":true}}]})", state).ok());
  std::unique_ptr<Op> op;
  const Status status =
      engine.ParseOp(R"({"components":[{"$type":"retain","count":1},{"$type":"delete","count":-2}]})", op);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(op, nullptr);
  std::string snapshot;
  engine.SerializeState(*state, snapshot);
  EXPECT_EQ(snapshot, R"({"content":[{"text":"abc","attributes":{"b":true}}]})");
  // Foreign states and ops are refused, not cast.
  const TextEngine text;
  std::unique_ptr<Op> text_op;
  ASSERT_TRUE(text.ParseOp(R"({"components":[{"type":"insert","text":"x"}]})", text_op).ok());
  EXPECT_FALSE(engine.Apply(*state, *text_op).ok());
  EXPECT_FALSE(engine.Apply(*text.CreateEmpty(), *text_op).ok());
  EXPECT_EQ(engine.Transform(*text_op, *text_op, Priority::kExistingWins), nullptr);
  EXPECT_TRUE(engine.IsNoOp(*text_op));
  EXPECT_EQ(engine.document_type(), "rich-text");
  EXPECT_EQ(engine.op_type_name(), "RichTextOp");
  std::string empty;
  engine.SerializeState(*engine.CreateEmpty(), empty);
  EXPECT_EQ(empty, R"({"content":[]})");
}

TEST(RichTextIdentity, ValuesFromOneOccurrenceMergeOthersDoNot) {
  // Two separate `true`s in one snapshot: distinct identities, the runs stay apart (§5.4).
  RichTextDocument document =
      Load(R"({"content":[{"text":"ab","attributes":{"b":true}},{"text":"cd","attributes":{"b":true}}]})");
  EXPECT_EQ(document.run_count(), 2u);
  // Formatting "bc" with one value: "b" and "c" still carry different `b` identities.
  ASSERT_TRUE(ApplyRichTextOp(document, Parse(R"({"components":[{"$type":"retain","count":1},)"
                                              R"({"$type":"retain","count":2,"attributes":{"i":1}}]})"))
                  .ok());
  EXPECT_EQ(Snapshot(document),
            R"({"content":[{"text":"a","attributes":{"b":true}},)"
            R"({"text":"b","attributes":{"b":true,"i":1}},{"text":"c","attributes":{"b":true,"i":1}},)"
            R"({"text":"d","attributes":{"b":true}}]})");
  // Removing `b` from both leaves only the shared `i` value, and they merge.
  ASSERT_TRUE(ApplyRichTextOp(document, Parse(R"({"components":[{"$type":"retain","count":1},)"
                                              R"({"$type":"retain","count":2,"attributes":{"b":null}}]})"))
                  .ok());
  EXPECT_EQ(Snapshot(document), R"({"content":[{"text":"a","attributes":{"b":true}},)"
                                R"({"text":"bc","attributes":{"i":1}},{"text":"d","attributes":{"b":true}}]})");
  // An insert splits the run; its two halves keep the same instances.
  ASSERT_TRUE(ApplyRichTextOp(document, Parse(R"({"components":[{"$type":"retain","count":2},)"
                                              R"({"$type":"insert","text":"X"}]})"))
                  .ok());
  EXPECT_EQ(Snapshot(document), R"({"content":[{"text":"a","attributes":{"b":true}},)"
                                R"({"text":"b","attributes":{"i":1}},{"text":"X","attributes":null},)"
                                R"({"text":"c","attributes":{"i":1}},{"text":"d","attributes":{"b":true}}]})");
  // ... and deleting the insert joins them again.
  ASSERT_TRUE(ApplyRichTextOp(document, Parse(R"({"components":[{"$type":"retain","count":2},)"
                                              R"({"$type":"delete","count":1}]})"))
                  .ok());
  EXPECT_EQ(Snapshot(document), R"({"content":[{"text":"a","attributes":{"b":true}},)"
                                R"({"text":"bc","attributes":{"i":1}},{"text":"d","attributes":{"b":true}}]})");
}

TEST(RichTextSnapshot, LoadingNormalizesForeignSnapshots) {
  // Empty runs dropped, null values and empty maps removed, equal neighbours merged; property
  // names case-insensitive, unknown properties ignored, text escapes decoded.
  EXPECT_EQ(
      Snapshot(Load(R"({"Content":[{"text":"a","attributes":null},{"text":"","attributes":{"b":true}},)"
                    R"({"TEXT":"b","attributes":{}},{"text":"c","attributes":{"b":null},"x":1},)"
                    R"({"text":"\u00e9\ud83d\ude00","attributes":{"z":1,"a":2}}]})")),
      R"({"content":[{"text":"abc","attributes":null},{"text":"\u00E9\uD83D\uDE00","attributes":{"a":2,"z":1}}]})");
  EXPECT_EQ(Snapshot(Load(R"({})")), R"({"content":[]})");
  EXPECT_EQ(Snapshot(Load(R"({"content":null})")), R"({"content":[]})");
  RichTextDocument untouched = Load(R"({"content":[{"text":"keep","attributes":null}]})");
  EXPECT_FALSE(LoadRichTextDocument(R"({"content":"abc"})", untouched).ok());
  EXPECT_FALSE(LoadRichTextDocument(R"({"content":[1]})", untouched).ok());
  EXPECT_FALSE(LoadRichTextDocument(R"({"content":[{"text":"a","attributes":5}]})", untouched).ok());
  EXPECT_FALSE(LoadRichTextDocument(R"({"content":[)", untouched).ok());
  EXPECT_EQ(Snapshot(untouched), R"({"content":[{"text":"keep","attributes":null}]})");
}

TEST(RichTextApply, EditsAcrossTheEditingPositionInBothDirections) {
  RichTextDocument document = Load(R"({"content":[{"text":"0123456789","attributes":null}]})");
  for (const char* op :
       {R"({"components":[{"$type":"retain","count":8},{"$type":"insert","text":"A","attributes":{"u":1}}]})",
        R"({"components":[{"$type":"retain","count":2},{"$type":"delete","count":3}]})",
        R"({"components":[{"$type":"retain","count":20,"attributes":{"s":2}},{"$type":"insert","text":"Z"}]})",
        R"({"components":[{"$type":"delete","count":1},{"$type":"retain","count":1,"attributes":{"s":null}}]})"}) {
    ASSERT_TRUE(ApplyRichTextOp(document, Parse(op)).ok()) << op;
  }
  EXPECT_EQ(Snapshot(document), R"({"content":[{"text":"1","attributes":null},{"text":"567","attributes":{"s":2}},)"
                                R"({"text":"A","attributes":{"s":2,"u":1}},{"text":"89","attributes":{"s":2}},)"
                                R"({"text":"Z","attributes":null}]})");
}

// ------------------------------------------------------------------------------------------------
// Comment anchors (§13)

TextAnchor Anchor(int64_t start, int64_t end, AnchorBias bias_start = AnchorBias::kRight,
                  AnchorBias bias_end = AnchorBias::kRight) {
  return {start, end, bias_start, bias_end};
}

AnchorRebase Rebase(TextAnchor& anchor, std::string_view op) { return RebaseTextAnchor(anchor, Parse(op)); }

TEST(TextAnchors, InsertsShiftOffsetsAtOrAfterTheCursorUnlessBiasedLeft) {
  TextAnchor anchor = Anchor(2, 5);
  EXPECT_EQ(Rebase(anchor, R"({"components":[{"$type":"insert","text":"xy"}]})"), AnchorRebase::kMoved);
  EXPECT_EQ(anchor, Anchor(4, 7));
  anchor = Anchor(2, 5);
  EXPECT_EQ(Rebase(anchor, R"({"components":[{"$type":"retain","count":5},{"$type":"insert","text":"x"}]})"),
            AnchorRebase::kMoved);
  EXPECT_EQ(anchor, Anchor(2, 6));  // end at the cursor, bias right: moves
  anchor = Anchor(2, 5, AnchorBias::kLeft, AnchorBias::kLeft);
  EXPECT_EQ(Rebase(anchor, R"({"components":[{"$type":"retain","count":5},{"$type":"insert","text":"x"}]})"),
            AnchorRebase::kUnchanged);
  EXPECT_EQ(anchor, Anchor(2, 5, AnchorBias::kLeft, AnchorBias::kLeft));
  anchor = Anchor(2, 5, AnchorBias::kLeft);
  EXPECT_EQ(Rebase(anchor, R"({"components":[{"$type":"retain","count":2},{"$type":"insert","text":"x"}]})"),
            AnchorRebase::kMoved);
  EXPECT_EQ(anchor, Anchor(2, 6, AnchorBias::kLeft));
  anchor = Anchor(2, 5);
  EXPECT_EQ(Rebase(anchor, R"({"components":[{"$type":"retain","count":9,"attributes":{"b":true}}]})"),
            AnchorRebase::kUnchanged);
}

TEST(TextAnchors, DeletesCollapseShiftOrOrphan) {
  TextAnchor anchor = Anchor(4, 8);
  EXPECT_EQ(Rebase(anchor, R"({"components":[{"$type":"retain","count":2},{"$type":"delete","count":4}]})"),
            AnchorRebase::kMoved);
  EXPECT_EQ(anchor, Anchor(2, 4));  // start inside collapses to the cursor, end shifts left
  anchor = Anchor(4, 8);
  EXPECT_EQ(Rebase(anchor, R"({"components":[{"$type":"retain","count":3},{"$type":"delete","count":6}]})"),
            AnchorRebase::kOrphaned);
  EXPECT_EQ(anchor, Anchor(4, 8));  // an orphaned anchor keeps its data
  anchor = Anchor(4, 4);            // an empty range is never orphaned
  EXPECT_EQ(Rebase(anchor, R"({"components":[{"$type":"delete","count":9}]})"), AnchorRebase::kMoved);
  EXPECT_EQ(anchor, Anchor(0, 0));
  // The reference compares a delete with the original offsets even after an earlier insert moved
  // the range (§13, known imprecision): "xx" then deleting [2,6) of the new document "covers" the
  // original [2,6) although it removes other characters.
  anchor = Anchor(2, 6);
  EXPECT_EQ(Rebase(anchor, R"({"components":[{"$type":"insert","text":"xx"},{"$type":"delete","count":4}]})"),
            AnchorRebase::kOrphaned);
}

TEST(TextAnchors, TextOpsShareTheRebaser) {
  TextOp op;
  op.AppendRetain(1);
  op.AppendDelete(1);
  op.AppendInsert(u"abc");
  TextAnchor anchor = Anchor(3, 4);
  EXPECT_EQ(RebaseTextAnchor(anchor, op), AnchorRebase::kMoved);
  EXPECT_EQ(anchor, Anchor(5, 6));
}

TEST(TextAnchors, DataRoundTripsInTheSpecifiedShape) {
  TextAnchor anchor;
  ASSERT_TRUE(ParseTextAnchor(R"({"StartOffset":3,"endOffset":9,"biasStart":"LEFT","extra":[1]})", anchor).ok());
  EXPECT_EQ(anchor, Anchor(3, 9, AnchorBias::kLeft, AnchorBias::kRight));
  std::string out;
  SerializeTextAnchor(anchor, out);
  EXPECT_EQ(out, R"({"startOffset":3,"endOffset":9,"biasStart":"left","biasEnd":"right"})");
  EXPECT_FALSE(ParseTextAnchor(R"({"startOffset":1.5})", anchor).ok());
  EXPECT_FALSE(ParseTextAnchor(R"({"biasEnd":"middle"})", anchor).ok());
  EXPECT_FALSE(ParseTextAnchor(R"([1])", anchor).ok());
  EXPECT_EQ(anchor, Anchor(3, 9, AnchorBias::kLeft, AnchorBias::kRight)) << "failures leave the anchor unchanged";
}

}  // namespace
}  // namespace opstream::engines
