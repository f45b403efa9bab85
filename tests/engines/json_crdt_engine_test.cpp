// Unit tests of the JSON CRDT engine's building blocks and input rules (engines.md §1.2, §1.3,
// §1.5, §6, §13) beyond the shared vectors.
#include "engines/json_crdt/json_crdt_engine.hpp"

#include <gtest/gtest.h>

#include "engines/json/ordinal.hpp"
#include "engines/json/raw_fields.hpp"
#include "engines/json/slot_map.hpp"
#include "engines/json_crdt/json_path_anchor.hpp"

namespace opstream::engines {
namespace {

std::string SerializeDoc(const JsonDocument& document) {
  std::string out;
  SerializeJsonDocument(document, out);
  return out;
}

JsonDocument LoadDoc(std::string_view snapshot) {
  JsonDocument document;
  const Status status = LoadJsonDocument(snapshot, document);
  EXPECT_TRUE(status.ok()) << status.message();
  return document;
}

JsonOpBatch ParseBatch(std::string_view payload) {
  JsonOpBatch batch;
  const Status status = ParseJsonOpBatch(payload, batch);
  EXPECT_TRUE(status.ok()) << payload << ": " << status.message();
  return batch;
}

std::string Rejection(std::string_view payload) {
  JsonOpBatch batch;
  const Status status = ParseJsonOpBatch(payload, batch);
  EXPECT_FALSE(status.ok()) << "accepted: " << payload;
  EXPECT_TRUE(batch.operations.empty());
  return status.message();
}

TEST(OrdinalCompare, FollowsUtf16CodeUnitsNotUtf8Bytes) {
  // U+E000 is one unit 0xE000; U+1F600 starts with 0xD83D, so it sorts first in UTF-16.
  EXPECT_GT(json::CompareOrdinalUtf16("\xEE\x80\x80", "\xF0\x9F\x98\x80"), 0);
  EXPECT_LT(json::CompareOrdinalUtf16("\xF0\x9F\x98\x80", "\xEE\x80\x80"), 0);
  // Below the surrogate block byte order and UTF-16 order agree.
  EXPECT_LT(json::CompareOrdinalUtf16("\xED\x9F\xBF", "\xF0\x9F\x98\x80"), 0);
  EXPECT_LT(json::CompareOrdinalUtf16("a", "ab"), 0);
  EXPECT_EQ(json::CompareOrdinalUtf16("peer", "peer"), 0);
  EXPECT_LT(json::CompareOrdinalUtf16("Z", "a"), 0);
  EXPECT_LT(json::CompareNullableOrdinalUtf16(std::optional<std::string>(), std::optional<std::string>("")), 0);
  EXPECT_EQ(json::CompareNullableOrdinalUtf16(std::optional<std::string>(), std::optional<std::string>()), 0);
}

TEST(SlotMap, ReusesTheMostRecentlyFreedSlotAndCopiesCompactly) {
  json::SlotMap<int> map;
  map.InsertOrAssign("a", 1);
  map.InsertOrAssign("b", 2);
  map.InsertOrAssign("c", 3);
  EXPECT_TRUE(map.Erase("a"));
  EXPECT_TRUE(map.Erase("c"));
  map.InsertOrAssign("x", 4);  // takes c's slot (freed last)
  map.InsertOrAssign("y", 5);  // then a's
  map.InsertOrAssign("b", 6);  // in place
  std::string order;
  map.ForEach([&](std::string_view key, int value) { order += std::string(key) + std::to_string(value) + " "; });
  EXPECT_EQ(order, "y5 b6 x4 ");
  const json::SlotMap<int> copy = map;
  EXPECT_FALSE(copy.has_free_slots());
  EXPECT_EQ(copy.slot_count(), 3u);
  std::vector<uint32_t> slots;
  map.SlotsWithPrefix("", slots);
  EXPECT_EQ(slots, (std::vector<uint32_t>{0, 1, 2}));
}

TEST(JsonCrdtParse, RejectsMalformedOpsWithAClearMessage) {
  EXPECT_NE(Rejection(R"({"operations":[{"$type":"set","path":"a","value":1,"timestamp":1}]})").find("peerId"),
            std::string::npos);
  EXPECT_NE(
      Rejection(R"({"operations":[{"$type":"set","path":null,"value":1,"timestamp":1,"peerId":"p"}]})").find("path"),
      std::string::npos);
  EXPECT_NE(Rejection(R"({"operations":[{"$type":"del","timestamp":1,"peerId":"p"}]})").find("path"),
            std::string::npos);
  EXPECT_NE(Rejection(R"({"operations":[{"$type":"set","path":5,"value":1,"timestamp":1,"peerId":"p"}]})")
                .find("must be a string"),
            std::string::npos);
  for (const char* timestamp : {"5.0", "1e2", "\"5\"", "null", "9223372036854775808", "true"}) {
    const std::string payload =
        std::string(R"({"operations":[{"$type":"del","path":"a","peerId":"p","timestamp":)") + timestamp + "}]}";
    EXPECT_NE(Rejection(payload).find("timestamp"), std::string::npos) << timestamp;
  }
  EXPECT_NE(Rejection(R"({"operations":[{"$type":1,"path":"a","timestamp":1,"peerId":"p"}]})").find("$type"),
            std::string::npos);
  EXPECT_NE(
      Rejection(R"({"operations":[{"$type":"del","$type":"del","path":"a","timestamp":1,"peerId":"p"}]})").find("more"),
      std::string::npos);
  EXPECT_NE(
      Rejection(R"({"operations":[{"$type":"SET","path":"a","value":1,"timestamp":1,"peerId":"p"}]})").find("unknown"),
      std::string::npos);
  EXPECT_NE(Rejection(R"({"operations":null})").find("operations"), std::string::npos);
  EXPECT_NE(Rejection(R"({})").find("operations"), std::string::npos);
  EXPECT_NE(Rejection(R"({"operations":[null]})").find("null"), std::string::npos);
  Rejection(R"([])");
  Rejection(R"({"operations":[],})");
  Rejection(R"({"operations":[{"$type":"set","path":"\ud800","value":1,"timestamp":1,"peerId":"p"}]})");
  Rejection("{\"operations\":[{\"$type\":\"set\",\"path\":\"\xff\",\"value\":1,\"timestamp\":1,\"peerId\":\"p\"}]}");
}

TEST(JsonCrdtParse, BindsLikeTheReferenceAndNormalizesOnOutput) {
  // Discriminator not first (D8), PascalCase names, last duplicate wins, unknown properties and a
  // delete's value dropped, opaque values minified and re-escaped.
  const JsonOpBatch batch = ParseBatch(
      R"({"Operations":[{"Path":"x","$type":"set","VALUE":{ "a" : "\u0041é" },"Timestamp":7,"PeerId":"p","path":"b.c","extra":1},)"
      R"({"$type":"del","path":"d","value":5,"timestamp":-3,"peerId":"q"}]})");
  ASSERT_EQ(batch.operations.size(), 2u);
  EXPECT_EQ(batch.operations[0].path, "b.c");
  std::string out;
  SerializeJsonOpBatch(batch, out);
  EXPECT_EQ(out, R"({"operations":[{"$type":"set","path":"b.c","value":{"a":"A\u00E9"},"timestamp":7,"peerId":"p"},)"
                 R"({"$type":"del","path":"d","timestamp":-3,"peerId":"q"}]})");
}

TEST(JsonCrdtApply, RawTextTieBreakSeesFormattingAndUtf16Order) {
  // Same (ts, peer) across batches: the op's raw text ' {' ... loses to the snapshot's '{"a":1}'
  // because ' ' < '"'... the op text starts with '{ ' and the register's with '{"'.
  JsonDocument document = LoadDoc(R"({"registers":{"k":{"value":{"a":1},"timestamp":1,"peerId":"p"}}})");
  ASSERT_TRUE(ApplyJsonOpBatch(document, ParseBatch(R"({"operations":[{"$type":"set","path":"k","value":{ "a":2},)"
                                                    R"("timestamp":1,"peerId":"p"}]})"))
                  .ok());
  EXPECT_EQ(SerializeDoc(document),
            R"({"registers":{"k":{"value":{"a":1},"timestamp":1,"peerId":"p","isDeleted":false}}})");
  // U+1F600 sorts below U+E000 in UTF-16 although its UTF-8 bytes are larger.
  JsonDocument second;
  ASSERT_TRUE(ApplyJsonOpBatch(second, ParseBatch("{\"operations\":[{\"$type\":\"set\",\"path\":\"k\",\"value\":"
                                                  "\"\xEE\x80\x80\",\"timestamp\":1,\"peerId\":\"p\"}]}"))
                  .ok());
  ASSERT_TRUE(ApplyJsonOpBatch(second, ParseBatch("{\"operations\":[{\"$type\":\"set\",\"path\":\"k\",\"value\":"
                                                  "\"\xF0\x9F\x98\x80\",\"timestamp\":1,\"peerId\":\"p\"}]}"))
                  .ok());
  EXPECT_EQ(SerializeDoc(second),
            R"({"registers":{"k":{"value":"\uE000","timestamp":1,"peerId":"p","isDeleted":false}}})");
}

// A reference corner kept on purpose (§6.5): `set a` tombstones an existing `a.b` with the
// batch's own stamp, and `a.b` is not in the batch, so the later `a.b.c` of the same batch meets a
// same-stamp ancestor outside the batch and falls to the raw-text rule ("x" < null). Without an
// existing `a.b` the child is written. Concurrent batches can therefore converge differently.
TEST(JsonCrdtApply, SameStampBatchOverHierarchyIsOrderDependent) {
  const JsonOpBatch parent_and_grandchild =
      ParseBatch(R"({"operations":[{"$type":"set","path":"a","value":1,"timestamp":5,"peerId":"p1"},)"
                 R"({"$type":"set","path":"a.b.c","value":"x","timestamp":5,"peerId":"p1"}]})");
  const JsonOpBatch older_middle =
      ParseBatch(R"({"operations":[{"$type":"set","path":"a.b","value":2,"timestamp":3,"peerId":"p3"}]})");
  JsonDocument first;
  ASSERT_TRUE(ApplyJsonOpBatch(first, older_middle).ok());
  ASSERT_TRUE(ApplyJsonOpBatch(first, parent_and_grandchild).ok());
  JsonDocument second;
  ASSERT_TRUE(ApplyJsonOpBatch(second, parent_and_grandchild).ok());
  ASSERT_TRUE(ApplyJsonOpBatch(second, older_middle).ok());
  EXPECT_EQ(first.registers.Find("a.b.c"), nullptr);
  ASSERT_NE(second.registers.Find("a.b.c"), nullptr);
  EXPECT_FALSE(second.registers.Find("a.b.c")->deleted);
}

TEST(JsonCrdtApply, LoadsSnapshotsWithNullPeersAndDefaults) {
  JsonDocument document = LoadDoc(R"({"Registers":{"a":{"value":1,"timestamp":1,"peerId":null}}})");
  // Any peer beats a null peer at the same timestamp.
  ASSERT_TRUE(
      ApplyJsonOpBatch(document, ParseBatch(R"({"operations":[{"$type":"del","path":"a","timestamp":1,"peerId":""}]})"))
          .ok());
  EXPECT_EQ(SerializeDoc(document), R"({"registers":{"a":{"value":null,"timestamp":1,"peerId":"","isDeleted":true}}})");
  JsonDocument ignored;
  EXPECT_FALSE(LoadJsonDocument(R"({"registers":{"a":{"timestamp":1.5}}})", ignored).ok());
  EXPECT_FALSE(LoadJsonDocument(R"({"registers":[]})", ignored).ok());
  EXPECT_FALSE(LoadJsonDocument(R"({"registers":{"a":null}})", ignored).ok());
  EXPECT_TRUE(LoadJsonDocument(R"({})", ignored).ok());
}

TEST(JsonCrdtEngine, ForeignStatesAndOpsAreRefusedWithoutChanges) {
  const auto engine = MakeJsonCrdtEngine();
  auto state = engine->CreateEmpty();
  std::string empty;
  engine->SerializeState(*state, empty);
  EXPECT_EQ(empty, R"({"registers":{}})");
  class OtherOp final : public Op {};
  EXPECT_FALSE(engine->Apply(*state, OtherOp()).ok());
  EXPECT_TRUE(engine->IsNoOp(OtherOp()));
  EXPECT_EQ(engine->Compose(OtherOp(), OtherOp()), nullptr);
  std::unique_ptr<Op> op;
  ASSERT_TRUE(engine->ParseOp(R"({"operations":[]})", op).ok());
  EXPECT_TRUE(engine->IsNoOp(*op));
  auto same = engine->Transform(*op, *op, Priority::kExistingWins);
  ASSERT_TRUE(same);
  auto restamped = engine->RestampToWin(*op, *state);
  ASSERT_TRUE(restamped);
  EXPECT_TRUE(engine->IsNoOp(*restamped));
}

TEST(JsonCrdtEngine, RestampUsesTheWallClockWhenItIsLater) {
  JsonDocument document = LoadDoc(R"({"registers":{"a":{"value":1,"timestamp":5,"peerId":"p"}}})");
  const JsonOpBatch batch = ParseBatch(R"({"operations":[{"$type":"del","path":"a","timestamp":3,"peerId":"p"}]})");
  EXPECT_EQ(RestampJsonOpBatch(batch, document, 1000).operations[0].timestamp, 1001);
  EXPECT_EQ(RestampJsonOpBatch(batch, document, 0).operations[0].timestamp, 6);
}

TEST(JsonPathAnchor, OrphanedByADeleteOfThePathOrAContainer) {
  const JsonOpBatch batch =
      ParseBatch(R"({"operations":[{"$type":"del","path":"user.items","timestamp":1,"peerId":"p"},)"
                 R"({"$type":"set","path":"title","value":1,"timestamp":1,"peerId":"p"}]})");
  EXPECT_TRUE(JsonBatchOrphansAnchor(batch, "user.items"));
  EXPECT_TRUE(JsonBatchOrphansAnchor(batch, "user.items.0"));
  EXPECT_TRUE(JsonBatchOrphansAnchor(batch, "user.items[3].name"));
  EXPECT_FALSE(JsonBatchOrphansAnchor(batch, "user.itemsX"));
  EXPECT_FALSE(JsonBatchOrphansAnchor(batch, "user"));
  EXPECT_FALSE(JsonBatchOrphansAnchor(batch, "title"));  // a set never orphans
  EXPECT_EQ(ReadJsonAnchorPath(R"({"Path":"a.b"})"), std::optional<std::string>("a.b"));
  EXPECT_EQ(ReadJsonAnchorPath(R"({"path":1})"), std::nullopt);
  EXPECT_EQ(ReadJsonAnchorPath("not json"), std::nullopt);
}

TEST(RawFields, Int64LiteralsOnly) {
  int64_t value = 0;
  EXPECT_TRUE(json::ParseInt64Literal("-9223372036854775808", value));
  EXPECT_EQ(value, INT64_MIN);
  EXPECT_TRUE(json::ParseInt64Literal("9223372036854775807", value));
  EXPECT_EQ(value, INT64_MAX);
  EXPECT_FALSE(json::ParseInt64Literal("9223372036854775808", value));
  EXPECT_FALSE(json::ParseInt64Literal("-9223372036854775809", value));
  EXPECT_FALSE(json::ParseInt64Literal("1.0", value));
  EXPECT_FALSE(json::ParseInt64Literal("-", value));
}

}  // namespace
}  // namespace opstream::engines
