// Table engine validation (engines.md §7.7, §14 D4) and the shared CRDT conventions (§1.2, §1.5).
#include "engines/table/table_engine.hpp"

#include <gtest/gtest.h>

namespace opstream::engines {
namespace {

Status Parse(std::string_view json) {
  TableOp op;
  return ParseTableOp(json, op);
}

TEST(TableEngineValidation, RejectsMalformedOpsWithAClearMessage) {
  struct Case {
    const char* payload;
    const char* message_part;
  };
  const Case cases[] = {
      {R"({"operations":[{"$type":"drop_row","rowId":"R","timestamp":1,"peerId":"p"}]})", "unknown \"$type\""},
      {R"({"operations":[{"type":"ins_row","rowId":"R","position":"m","timestamp":1,"peerId":"p"}]})", "$type"},
      {R"({"operations":[{"$type":"rm_row","timestamp":1,"peerId":"p"}]})", "rowId is required"},
      {R"({"operations":[{"$type":"rm_row","rowId":null,"timestamp":1,"peerId":"p"}]})", "rowId must not be null"},
      {R"({"operations":[{"$type":"clr_cell","rowId":"R","timestamp":1,"peerId":"p"}]})", "columnId is required"},
      {R"({"operations":[{"$type":"set_cell","rowId":"R","columnId":"C","timestamp":1,"peerId":"p"}]})",
       "value is required"},
      {R"({"operations":[{"$type":"ins_col","columnId":"C","position":"m","timestamp":1,"peerId":"p"}]})",
       "definition is required"},
      {R"({"operations":[{"$type":"upd_col_def","columnId":"C","timestamp":1,"peerId":"p"}]})",
       "definition is required"},
      {R"({"operations":[{"$type":"ins_row","rowId":"R","timestamp":1,"peerId":"p"}]})", "position is required"},
      {R"({"operations":[{"$type":"mv_col","columnId":"C","newPosition":null,"timestamp":1,"peerId":"p"}]})",
       "newPosition must not be null"},
      {R"({"operations":[{"$type":"rm_row","rowId":"R","timestamp":1}]})", "peerId is required"},
      {R"({"operations":[{"$type":"rm_row","rowId":"R","timestamp":1.5,"peerId":"p"}]})", "timestamp"},
      {R"({"operations":[{"$type":"rm_row","rowId":"R","timestamp":"1","peerId":"p"}]})", "timestamp"},
      {R"({"operations":[{"$type":"rm_row","rowId":"R","timestamp":9223372036854775808,"peerId":"p"}]})", "timestamp"},
      {R"({"operations":[null]})", "must be an object"},
      {R"({"operations":null})", "must be an array"},
      {R"({})", "operations\" is required"},
      {R"({"operations":[],})", "Invalid TableOpBatch"},
      {R"([1])", "JSON object"},
  };
  for (const auto& c : cases) {
    const Status s = Parse(c.payload);
    EXPECT_FALSE(s.ok()) << c.payload;
    EXPECT_NE(s.message().find(c.message_part), std::string::npos) << c.payload << " -> " << s.message();
  }
}

TEST(TableEngineValidation, AcceptsCaseInsensitiveNamesAndDiscriminatorAnywhere) {
  TableOp op;
  ASSERT_TRUE(ParseTableOp(R"({"Operations":[{"RowId":"R","$type":"ins_row","POSITION":"m","Timestamp":-3,)"
                           R"("PeerId":"p","extra":1}]})",
                           op)
                  .ok());
  std::string out;
  SerializeTableOp(op, out);
  EXPECT_EQ(out, R"({"operations":[{"$type":"ins_row","rowId":"R","position":"m","timestamp":-3,"peerId":"p"}]})");
}

TEST(TableEngineValidation, EscapedAndDuplicateNamesBindLikeTheReference) {
  TableOp op;
  // An escaped name (the unescaping lookup) and duplicates in any case (the last one wins).
  ASSERT_TRUE(ParseTableOp(R"({"operations":[{"$type":"rm_row","row\u0049d":"R","timestamp":1,"peerId":"p"},)"
                           R"({"$type":"rm_row","rowId":"A","ROWID":"B","timestamp":2,"peerId":"x","PEERID":"q"}]})",
                           op)
                  .ok());
  ASSERT_EQ(op.operations.size(), 2u);
  EXPECT_EQ(op.operations[0].row_id, "R");
  EXPECT_EQ(op.operations[1].row_id, "B");
  EXPECT_EQ(op.operations[1].peer_id, "q");
}

TEST(TableEngineValidation, RejectedOpLeavesTheDocumentUntouchedThroughTheEngine) {
  TableEngine engine;
  auto state = engine.CreateEmpty();
  std::unique_ptr<Op> op;
  ASSERT_TRUE(engine
                  .ParseOp(R"({"operations":[{"$type":"ins_row","rowId":"R","position":"m","timestamp":1,)"
                           R"("peerId":"p"}]})",
                           op)
                  .ok());
  ASSERT_TRUE(engine.Apply(*state, *op).ok());
  std::string before;
  engine.SerializeState(*state, before);
  std::unique_ptr<Op> bad;
  // The first op is fine, the second is not: nothing of the batch may apply.
  EXPECT_FALSE(engine
                   .ParseOp(R"({"operations":[{"$type":"mv_row","rowId":"R","newPosition":"z","timestamp":9,)"
                            R"("peerId":"p"},{"$type":"set_cell","rowId":"R","timestamp":9,"peerId":"p"}]})",
                            bad)
                   .ok());
  EXPECT_EQ(bad, nullptr);
  std::string after;
  engine.SerializeState(*state, after);
  EXPECT_EQ(before, after);
}

TEST(TableEngine, EmptyDocumentMatchesTheReferenceBytes) {
  TableEngine engine;
  std::string out;
  engine.SerializeState(*engine.CreateEmpty(), out);
  EXPECT_EQ(out, R"({"rows":{},"columns":{},"cells":{}})");
  EXPECT_EQ(engine.Compose(TableOp(), TableOp()), nullptr);
  EXPECT_TRUE(engine.IsNoOp(TableOp()));
}

TEST(TableEngine, SnapshotEscapingAndOpaqueValues) {
  TableDocument doc;
  TableOp op;
  ASSERT_TRUE(ParseTableOp(R"({"operations":[{"$type":"set_cell","rowId":"r<1>","columnId":"é","value":)"
                           R"({"a" : [1.0, "\u0041&"], "n": 12345678901234567890},"timestamp":1,"peerId":"p"}]})",
                           op)
                  .ok());
  ApplyTableOp(doc, op);
  std::string out;
  SerializeTableDocument(doc, out);
  EXPECT_EQ(out, R"({"rows":{},"columns":{},"cells":{"r\u003C1\u003E":{"\u00E9":{"value":{"a":[1.0,"A\u0026"],)"
                 R"("n":12345678901234567890},"timestamp":1,"peerId":"p"}}}})");
}

TEST(TableEngine, InvalidSnapshotsAreRejectedWithTheirLocation) {
  TableDocument doc;
  const Status cell = LoadTableDocument(R"({"rows":{},"columns":{},"cells":{"R":{"C":{"timestamp":1.5}}}})", doc);
  EXPECT_FALSE(cell.ok());
  EXPECT_NE(cell.message().find(R"(cells["R"]["C"].timestamp)"), std::string::npos) << cell.message();
  const Status row = LoadTableDocument(R"({"rows":{"R":[]}})", doc);
  EXPECT_FALSE(row.ok());
  EXPECT_NE(row.message().find(R"(rows["R"] must be an object)"), std::string::npos) << row.message();
  EXPECT_FALSE(LoadTableDocument(R"({"rows":{},"columns":7})", doc).ok());
  EXPECT_FALSE(LoadTableDocument(R"({"rows":{}})"
                                 "\n//",
                                 doc)
                   .ok());
  EXPECT_TRUE(doc.rows.empty());
}

TEST(CrdtConventions, OrdinalCompareFollowsUtf16CodeUnits) {
  using crdt::OrdinalCompare;
  EXPECT_LT(OrdinalCompare("a", "b"), 0);
  EXPECT_LT(OrdinalCompare("", "a"), 0);
  EXPECT_LT(OrdinalCompare("ab", "abc"), 0);
  EXPECT_EQ(OrdinalCompare("abc", "abc"), 0);
  EXPECT_LT(OrdinalCompare("Z", "a"), 0);
  // U+1F600 (surrogates D83D DE00) sorts before U+E000 and U+FFFD in UTF-16, after them in UTF-8.
  EXPECT_LT(OrdinalCompare("\xF0\x9F\x98\x80", "\xEE\x80\x80"), 0);
  EXPECT_LT(OrdinalCompare("\xF0\x9F\x98\x80", "\xEF\xBF\xBD"), 0);
  // ... but after U+D7FF and every ASCII / two-byte character.
  EXPECT_GT(OrdinalCompare("\xF0\x9F\x98\x80", "\xED\x9F\xBF"), 0);
  EXPECT_GT(OrdinalCompare("\xF0\x9F\x98\x80", "\xC3\xA9"), 0);
  EXPECT_TRUE(crdt::LwwWins(2, "a", 1, "z"));
  EXPECT_TRUE(crdt::LwwWins(1, "b", 1, "a"));
  EXPECT_FALSE(crdt::LwwWins(1, "a", 1, "a"));
}

TEST(CrdtConventions, SlotMapReusesTheMostRecentlyFreedSlot) {
  crdt::SlotMap<int> map;
  for (const char* k : {"a", "b", "c", "d"}) map.Set(k, 1);
  map.Remove("b");
  map.Remove("c");
  map.Set("e", 2);  // takes c's slot
  map.Set("f", 3);  // takes b's slot
  map.Set("g", 4);  // appended
  map.Set("a", 5);  // updated in place
  std::string order;
  map.ForEach([&](std::string_view k, int) { order.append(k); });
  EXPECT_EQ(order, "afedg");
  map.Remove("f");
  map.Compact();
  EXPECT_FALSE(map.has_free_slots());
  map.Set("h", 6);  // after compaction new keys go last
  order.clear();
  map.ForEach([&](std::string_view k, int) { order.append(k); });
  EXPECT_EQ(order, "aedgh");
  ASSERT_NE(map.Find("a"), nullptr);
  EXPECT_EQ(*map.Find("a"), 5);
  EXPECT_EQ(map.Find("f"), nullptr);
}

}  // namespace
}  // namespace opstream::engines
