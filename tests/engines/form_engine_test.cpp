// Input rules and edge cases of the form engine (engines.md §8) beyond the shared vectors.
#include "engines/form/form_engine.hpp"

#include <gtest/gtest.h>

namespace opstream::engines {
namespace {

TEST(FormParse, RejectsWhatTheReferenceRejectsAndMissingPeers) {
  const auto engine = MakeFormEngine();
  for (const char* payload : {
           R"({"operations":[{"$type":"put","fieldName":"a","value":1,"timestamp":1,"peerId":"p"}]})",
           R"({"operations":[{"$type":"set","fieldName":null,"value":1,"timestamp":1,"peerId":"p"}]})",
           R"({"operations":[{"$type":"clr","timestamp":1,"peerId":"p"}]})",
           R"({"operations":[{"$type":"set","fieldName":"a","timestamp":1,"peerId":"p"}]})",
           R"({"operations":[{"type":"set","fieldName":"a","value":1,"timestamp":1,"peerId":"p"}]})",
           R"({"operations":[{"$type":"clr","fieldName":"a","timestamp":1}]})",
           R"({"operations":[{"$type":"clr","fieldName":"a","timestamp":1.5,"peerId":"p"}]})",
           R"({"operations":"x"})",
       }) {
    std::unique_ptr<Op> op;
    const Status status = engine->ParseOp(payload, op);
    EXPECT_FALSE(status.ok()) << payload;
    EXPECT_FALSE(status.message().empty());
    EXPECT_FALSE(op);
  }
}

TEST(FormApply, SetOfNullAndClearBothStoreNullAndRoundTrip) {
  const auto engine = MakeFormEngine();
  auto state = engine->CreateEmpty();
  std::unique_ptr<Op> op;
  ASSERT_TRUE(engine
                  ->ParseOp(R"({"operations":[{"fieldName":"a","$type":"set","value":null,"timestamp":1,"peerId":"p"},)"
                            R"({"$type":"clr","fieldName":"b","value":7,"Timestamp":2,"peerId":"p"},)"
                            R"({"$type":"set","fieldName":"c","value":[ 1.50 , "<" ],"timestamp":3,"peerId":"p"}]})",
                            op)
                  .ok());
  std::string stored;
  engine->SerializeOp(*op, stored);
  EXPECT_EQ(stored, R"({"operations":[{"$type":"set","fieldName":"a","value":null,"timestamp":1,"peerId":"p"},)"
                    R"({"$type":"clr","fieldName":"b","timestamp":2,"peerId":"p"},)"
                    R"({"$type":"set","fieldName":"c","value":[1.50,"\u003C"],"timestamp":3,"peerId":"p"}]})");
  ASSERT_TRUE(engine->Apply(*state, *op).ok());
  std::string snapshot;
  engine->SerializeState(*state, snapshot);
  EXPECT_EQ(snapshot,
            R"({"fields":{"a":{"value":null,"timestamp":1,"peerId":"p"},"b":{"value":null,"timestamp":2,"peerId":"p"},)"
            R"("c":{"value":[1.50,"\u003C"],"timestamp":3,"peerId":"p"}}})");
  std::unique_ptr<DocumentState> reloaded;
  ASSERT_TRUE(engine->LoadState(snapshot, reloaded).ok());
  std::string again;
  engine->SerializeState(*reloaded, again);
  EXPECT_EQ(again, snapshot);
  // Inverting a set over a null field gives a clear.
  auto inverse = engine->Invert(*op, *reloaded);
  ASSERT_TRUE(inverse);
  std::string inverse_json;
  engine->SerializeOp(*inverse, inverse_json);
  EXPECT_EQ(inverse_json.find(R"("$type":"set","fieldName":"a")"), std::string::npos) << inverse_json;
  EXPECT_EQ(engine->Compose(*op, *op), nullptr);
}

}  // namespace
}  // namespace opstream::engines
