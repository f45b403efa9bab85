// Undo/redo over the Engine interface (engines.md §12): the shared `undo-redo` vectors (text
// engine) read at run time, one test each, plus the stack rules and a CRDT (json) undo that must
// win through RestampToWin.
#include "engines/undo_redo/undo_redo.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engines/json_crdt/json_crdt_engine.hpp"
#include "engines/text/text_engine.hpp"
#include "ot_test_support.hpp"

namespace opstream::engines {
namespace {

namespace bj = boost::json;

std::string Serialized(const Engine& engine, const Op& op) {
  std::string out;
  engine.SerializeOp(op, out);
  return out;
}

std::unique_ptr<Op> Parsed(const Engine& engine, std::string_view json) {
  std::unique_ptr<Op> op;
  const Status status = engine.ParseOp(json, op);
  EXPECT_TRUE(status.ok()) << json << ": " << status.message();
  return op;
}

class UndoVectorTest : public ::testing::Test {
 public:
  explicit UndoVectorTest(bj::object data) : data_(std::move(data)) {}
  void TestBody() override {
    SCOPED_TRACE(bj::serialize(data_.at("note")));
    const auto engine = MakeTextEngine();
    std::unique_ptr<DocumentState> state;
    ASSERT_TRUE(engine->LoadState(bj::serialize(data_.at("doc")), state).ok());
    UndoRedoHistory history(*engine);
    int64_t revision = 1;
    for (const bj::value& item : data_.at("recorded").as_array()) {
      auto op = Parsed(*engine, bj::serialize(item.at("op")));
      ASSERT_TRUE(op);
      auto copy = Parsed(*engine, bj::serialize(item.at("op")));
      history.Record(std::string(item.at("peer").as_string()), std::move(copy), *state, ++revision);
      ASSERT_TRUE(engine->Apply(*state, *op).ok());
    }
    auto prepared = history.PrepareUndo(std::string(data_.at("peer").as_string()), *state);
    const bj::value& expected = data_.at("expected");
    if (expected.is_null()) {
      EXPECT_FALSE(prepared) << "expected nothing to undo, got " << Serialized(*engine, *prepared->op);
      return;
    }
    ASSERT_TRUE(prepared);
    EXPECT_EQ(bj::parse(Serialized(*engine, *prepared->op)), expected.at("op"));
    EXPECT_EQ(prepared->sequence, expected.at("consumedSequence").as_int64());
    ASSERT_TRUE(engine->Apply(*state, *prepared->op).ok());
    std::string snapshot;
    engine->SerializeState(*state, snapshot);
    EXPECT_EQ(bj::parse(snapshot).at("content"), data_.at("expected_content_after"));
  }

 private:
  bj::object data_;
};

[[maybe_unused]] const bool kRegistered = [] {
  std::string text;
  const std::string path = testing::SharedPath("spec/engine-vectors.json");
  size_t found = 0;
  if (testing::ReadWholeFile(path, text)) {
    bj::error_code error;
    const bj::value root = bj::parse(text, error);
    if (!error && root.is_object() && root.as_object().contains("cases")) {
      for (const bj::value& item : root.at("cases").as_array()) {
        if (!item.is_object() || item.as_object().if_contains("engine") == nullptr ||
            item.at("engine") != "undo-redo") {
          continue;
        }
        ++found;
        std::string id(item.at("id").as_string());
        for (char& c : id) {
          if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        }
        const bj::object data = item.as_object();
        ::testing::RegisterTest("UndoRedoVectors", id.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                                [data]() -> ::testing::Test* { return new UndoVectorTest(data); });
      }
    }
  }
  ::testing::RegisterTest("UndoRedoVectors", "Count", nullptr, nullptr, __FILE__, __LINE__,
                          [found, path]() -> ::testing::Test* {
                            struct Count : ::testing::Test {
                              Count(size_t n, std::string p) : n_(n), p_(std::move(p)) {}
                              void TestBody() override { EXPECT_GE(n_, 3u) << "undo-redo vectors in " << p_; }
                              size_t n_;
                              std::string p_;
                            };
                            return new Count(found, path);
                          });
  return true;
}();

TEST(UndoRedo, UndoThenRedoAndStackMoves) {
  const auto engine = MakeTextEngine();
  std::unique_ptr<DocumentState> state = engine->CreateEmpty();
  UndoRedoHistory history(*engine);
  for (const char* json : {R"({"components":[{"type":"insert","text":"ab"}]})",
                           R"({"components":[{"type":"retain","count":2},{"type":"insert","text":"cd"}]})"}) {
    auto op = Parsed(*engine, json);
    history.Record("P", Parsed(*engine, json), *state, 0);
    ASSERT_TRUE(engine->Apply(*state, *op).ok());
  }
  EXPECT_EQ(history.UndoStack("P"), (std::vector<int64_t>{1, 2}));
  auto undo = history.PrepareUndo("P", *state);
  ASSERT_TRUE(undo);
  EXPECT_EQ(undo->sequence, 2);
  ASSERT_TRUE(engine->Apply(*state, *undo->op).ok());
  history.NotifyUndoApplied("P", undo->sequence);
  EXPECT_EQ(history.UndoStack("P"), (std::vector<int64_t>{1}));
  EXPECT_EQ(history.RedoStack("P"), (std::vector<int64_t>{2}));
  std::string text;
  engine->SerializeState(*state, text);
  EXPECT_EQ(text, R"({"content":"ab"})");
  EXPECT_FALSE(history.PrepareUndo("Q", *state));
  // Redo transforms the original op over the ops recorded after it (none here).
  auto redo = history.PrepareRedo("P", *state);
  ASSERT_TRUE(redo);
  ASSERT_TRUE(engine->Apply(*state, *redo->op).ok());
  history.NotifyRedoApplied("P", redo->sequence);
  text.clear();
  engine->SerializeState(*state, text);
  EXPECT_EQ(text, R"({"content":"abcd"})");
  EXPECT_EQ(history.UndoStack("P"), (std::vector<int64_t>{1, 2}));
  // A new op clears the redo stack.
  history.NotifyUndoApplied("P", 1);
  history.Record("P", Parsed(*engine, R"({"components":[{"type":"insert","text":"z"}]})"), *state, 0);
  EXPECT_TRUE(history.RedoStack("P").empty());
}

TEST(UndoRedo, HistoryDepthDropsTheOldestEntries) {
  const auto engine = MakeTextEngine();
  std::unique_ptr<DocumentState> state = engine->CreateEmpty();
  UndoRedoHistory history(*engine, UndoRedoOptions{2, true});
  for (int i = 0; i < 3; ++i) {
    const std::string json = R"({"components":[{"type":"insert","text":"x"}]})";
    auto op = Parsed(*engine, json);
    history.Record("P", Parsed(*engine, json), *state, 0);
    ASSERT_TRUE(engine->Apply(*state, *op).ok());
  }
  EXPECT_EQ(history.history_size(), 2u);
  for (int expected : {3, 2}) {
    auto undo = history.PrepareUndo("P", *state);
    ASSERT_TRUE(undo);
    EXPECT_EQ(undo->sequence, expected);
    ASSERT_TRUE(engine->Apply(*state, *undo->op).ok());
    history.NotifyUndoApplied("P", undo->sequence);
  }
  // Sequence 1 is still on the stack but no longer in the history: skipped.
  EXPECT_EQ(history.UndoStack("P"), (std::vector<int64_t>{1}));
  EXPECT_FALSE(history.PrepareUndo("P", *state));
}

TEST(UndoRedo, CrdtUndoIsRestampedToWin) {
  const auto engine = MakeJsonCrdtEngine();
  std::unique_ptr<DocumentState> state;
  ASSERT_TRUE(
      engine
          ->LoadState(R"({"registers":{"title":{"value":"old","timestamp":5,"peerId":"a","isDeleted":false}}})", state)
          .ok());
  UndoRedoHistory history(*engine);
  const std::string json =
      R"({"operations":[{"$type":"set","path":"title","value":"new","timestamp":10,"peerId":"a"}]})";
  history.Record("a", Parsed(*engine, json), *state, 2);
  ASSERT_TRUE(engine->Apply(*state, *Parsed(*engine, json)).ok());
  // Another peer writes far in the future; the undo must still win.
  const std::string other =
      R"({"operations":[{"$type":"set","path":"body","value":1,"timestamp":9000000000000000,"peerId":"b"}]})";
  history.Record("b", Parsed(*engine, other), *state, 3);
  ASSERT_TRUE(engine->Apply(*state, *Parsed(*engine, other)).ok());
  auto undo = history.PrepareUndo("a", *state);
  ASSERT_TRUE(undo);
  EXPECT_EQ(
      Serialized(*engine, *undo->op),
      R"({"operations":[{"$type":"set","path":"title","value":"old","timestamp":9000000000000001,"peerId":"a"}]})");
  ASSERT_TRUE(engine->Apply(*state, *undo->op).ok());
  std::string snapshot;
  engine->SerializeState(*state, snapshot);
  EXPECT_NE(snapshot.find(R"("title":{"value":"old")"), std::string::npos) << snapshot;
}

}  // namespace
}  // namespace opstream::engines
