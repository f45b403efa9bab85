// Data-driven tests over the shared rich-text vectors (engines.md §5, §15).
//
// OPSTREAM_SHARED_DIR/spec/engine-vectors.json is read at run time and every case of engine
// "rich-text" becomes its own test (suite RichTextVectors). Vectors are read with Boost.JSON,
// independently of the engine's own JSON code; op and snapshot inputs are minified and fed through
// the engine's parsers (§15).
//
// Expectations follow the runtime (identity) attribute equality of §5.4 — `expected`, not
// `expected_value_equality`. Where §14 makes the C++ server differ from the reference, the test
// asserts the required behaviour and records why:
//   * §5.12: negative counts are rejected (richtext-apply-011 records the reference ignoring them);
//   * D10: Compose keeps attribute removals of composed retains (richtext-compose-005);
//   * D6: Invert advances over every run a plain retain spans (richtext-invert-003).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>

#include "engines/rich_text/rich_text_engine.hpp"
#include "ot_test_support.hpp"
#include "vector_test_support.hpp"

namespace opstream::engines {
namespace {

namespace bj = boost::json;

std::string Minified(const bj::value& value) { return bj::serialize(value); }

std::string Str(const bj::object& object, std::string_view key) {
  const bj::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

// The cases whose required result differs from the reference's, with the result §14 asks for.
struct Deviation {
  const char* why;
  const char* expected_op;  // minified op JSON
};
const std::map<std::string, Deviation, std::less<>> kDeviations = {
    {"richtext-compose-005",
     {"D10: composing retain {bold:null} with a plain retain keeps the removal (the reference drops it)",
      R"({"components":[{"$type":"retain","count":2,"attributes":{"bold":null}}]})"}},
    {"richtext-invert-003",
     {"D6: a plain retain advances over every run it spans, so the inverse re-inserts \"d\"",
      R"({"components":[{"$type":"retain","count":3,"attributes":null},{"$type":"insert","text":"d","attributes":null}]})"}},
};

// True when a component of the op has a negative count (§5.12: rejected by the C++ server).
bool HasNegativeCount(const bj::value& op_json) {
  if (!op_json.is_object()) return false;
  for (const auto& member : op_json.as_object()) {
    if (!member.value().is_array()) continue;
    for (const bj::value& component : member.value().as_array()) {
      if (!component.is_object()) continue;
      for (const auto& field : component.as_object()) {
        std::string key(field.key());
        for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (key == "count" && field.value().is_int64() && field.value().as_int64() < 0) return true;
      }
    }
  }
  return false;
}

// A minified expectation is byte-comparable with our output when Boost.JSON and the .NET writer
// agree on it: plain printable ASCII without the characters .NET escapes.
bool ByteComparable(std::string_view json) {
  for (const char c : json) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F || c == '\\' || c == '&' || c == '\'' || c == '+' || c == '<' || c == '>' || c == '`') {
      return false;
    }
  }
  return true;
}

struct VectorCase {
  std::string id;
  std::string kind;
  bj::object data;
};

class RichTextVectorTest : public ::testing::Test {
 public:
  explicit RichTextVectorTest(VectorCase vector_case) : case_(std::move(vector_case)) {}

  void TestBody() override {
    SCOPED_TRACE("vector " + case_.id + ": " + Str(case_.data, "note"));
    if (case_.kind == "apply") return CheckApply();
    if (case_.kind == "transform") return CheckTransform();
    if (case_.kind == "compose") return CheckCompose();
    if (case_.kind == "invert") return CheckInvert();
    if (case_.kind == "isNoOp") return CheckIsNoOp();
    if (case_.kind == "converge") return CheckConverge();
    FAIL() << "vector kind '" << case_.kind << "' of engine 'rich-text' is not handled by this test";
  }

 private:
  const bj::value& Field(std::string_view key) {
    const bj::value* value = case_.data.if_contains(key);
    if (value == nullptr) {
      ADD_FAILURE() << "vector " << case_.id << " has no field '" << key << "'";
      static const bj::value kNull;
      return kNull;
    }
    return *value;
  }

  std::unique_ptr<DocumentState> LoadDoc(const bj::value& snapshot) {
    std::unique_ptr<DocumentState> state;
    const Status status = engine_.LoadState(Minified(snapshot), state);
    EXPECT_TRUE(status.ok()) << "snapshot " << Minified(snapshot) << ": " << status.message();
    return state;
  }

  std::unique_ptr<Op> ParseOk(const bj::value& op_json) {
    std::unique_ptr<Op> op;
    const Status status = engine_.ParseOp(Minified(op_json), op);
    EXPECT_TRUE(status.ok()) << "op " << Minified(op_json) << ": " << status.message();
    return op;
  }

  std::string Snapshot(const DocumentState& state) {
    std::string out;
    engine_.SerializeState(state, out);
    return out;
  }

  std::string OpJson(const Op& op) {
    std::string out;
    engine_.SerializeOp(op, out);
    return out;
  }

  // Structural comparison through Boost.JSON, plus exact bytes when given (or derivable).
  void ExpectJson(const std::string& actual, const bj::value& expected, const bj::value* expected_json,
                  const char* what) {
    bj::error_code error;
    const bj::value parsed = bj::parse(actual, error);
    ASSERT_FALSE(error) << "our " << what << " is not JSON: " << actual;
    EXPECT_EQ(parsed, expected) << what << "\nours:     " << actual << "\nexpected: " << Minified(expected);
    if (expected_json != nullptr) {
      EXPECT_EQ(actual, std::string(expected_json->as_string())) << what << " bytes";
    } else if (const std::string minified = Minified(expected); ByteComparable(minified)) {
      EXPECT_EQ(actual, minified) << what << " bytes (property order, attribute order, nothing omitted)";
    }
  }

  void ExpectSnapshot(const DocumentState& state, const bj::value& expected, const bj::value* expected_json) {
    const std::string snapshot = Snapshot(state);
    ExpectJson(snapshot, expected, expected_json, "snapshot");
    // The snapshot loads back to the same bytes.
    std::unique_ptr<DocumentState> reloaded;
    ASSERT_TRUE(engine_.LoadState(snapshot, reloaded).ok()) << snapshot;
    EXPECT_EQ(Snapshot(*reloaded), snapshot);
  }

  void ExpectOp(const Op& actual, const bj::value& expected) { ExpectJson(OpJson(actual), expected, nullptr, "op"); }

  void CheckApply() {
    std::unique_ptr<DocumentState> state = LoadDoc(Field("doc"));
    ASSERT_NE(state, nullptr);
    const std::string before = Snapshot(*state);
    const bj::value& op_json = Field("op");
    const bj::object& expected = Field("expected").as_object();
    const bool reference_rejects = expected.contains("rejected") && expected.at("rejected").as_bool();
    const bool negative = HasNegativeCount(op_json);
    if (reference_rejects || negative) {
      if (negative) RecordProperty("deviation", "§5.12: negative counts are rejected");
      std::unique_ptr<Op> op;
      Status status = engine_.ParseOp(Minified(op_json), op);
      if (status.ok()) status = engine_.Apply(*state, *op);
      EXPECT_FALSE(status.ok()) << "the op must be rejected";
      EXPECT_FALSE(status.message().empty()) << "a rejection needs a message";
      EXPECT_EQ(Snapshot(*state), before) << "a rejected op must leave the document unchanged";
      return;
    }
    std::unique_ptr<Op> op = ParseOk(op_json);
    ASSERT_NE(op, nullptr);
    const Status status = engine_.Apply(*state, *op);
    ASSERT_TRUE(status.ok()) << status.message();
    ExpectSnapshot(*state, Field("expected"), case_.data.if_contains("expected_json"));
    if (const bj::value* value_equality = case_.data.if_contains("expected_value_equality")) {
      // §5.4/D5: identity equality is normative; the value-equality form must differ here.
      EXPECT_NE(bj::parse(Snapshot(*state)), *value_equality) << "identity equality (D5) is not in effect";
    }

    // The stored/broadcast op is normalized but not compacted (§3.2 step 5) and parses back.
    const std::string stored = OpJson(*op);
    std::unique_ptr<Op> reparsed;
    ASSERT_TRUE(engine_.ParseOp(stored, reparsed).ok()) << stored;
    EXPECT_EQ(OpJson(*reparsed), stored);
    EXPECT_EQ(AsRichTextOp(*op)->size(), op_json.as_object().at("components").as_array().size());
  }

  Priority ParsePriority() {
    const std::string priority = Str(case_.data, "priority");
    EXPECT_TRUE(priority == "incomingWins" || priority == "existingWins") << priority;
    return priority == "incomingWins" ? Priority::kIncomingWins : Priority::kExistingWins;
  }

  void CheckTransform() {
    std::unique_ptr<Op> a = ParseOk(Field("a"));
    std::unique_ptr<Op> b = ParseOk(Field("b"));
    ASSERT_TRUE(a && b);
    std::unique_ptr<Op> result = engine_.Transform(*a, *b, ParsePriority());
    const bj::value& expected = Field("expected");
    if (const bj::value* noop = case_.data.if_contains("expected_is_noop")) {
      // The server absorbs a null or no-op result (§3.2 step 3).
      EXPECT_EQ(result == nullptr || engine_.IsNoOp(*result), noop->as_bool());
    }
    if (expected.is_null()) {
      EXPECT_EQ(result, nullptr) << "Transform must return null, got " << OpJson(*result);
      return;
    }
    ASSERT_NE(result, nullptr);
    ExpectOp(*result, expected);
    if (const bj::value* noop = case_.data.if_contains("expected_is_noop")) {
      EXPECT_EQ(engine_.IsNoOp(*result), noop->as_bool());
    }
    if (const bj::value* value_equality = case_.data.if_contains("expected_value_equality")) {
      EXPECT_NE(bj::parse(OpJson(*result)), *value_equality) << "identity equality (D5) is not in effect";
    }
  }

  void CheckCompose() {
    std::unique_ptr<Op> a = ParseOk(Field("a"));
    std::unique_ptr<Op> b = ParseOk(Field("b"));
    ASSERT_TRUE(a && b);
    std::unique_ptr<Op> result = engine_.Compose(*a, *b);
    bj::value expected = Field("expected");
    if (auto deviation = kDeviations.find(case_.id); deviation != kDeviations.end()) {
      RecordProperty("deviation", deviation->second.why);
      ASSERT_NE(result, nullptr);
      EXPECT_NE(bj::parse(OpJson(*result)), expected) << "the reference result must not be reproduced";
      expected = bj::parse(deviation->second.expected_op);
    }
    if (expected.is_null()) {
      EXPECT_EQ(result, nullptr) << "Compose must return null, got " << OpJson(*result);
      return;
    }
    ASSERT_NE(result, nullptr);
    ExpectOp(*result, expected);
  }

  void CheckInvert() {
    std::unique_ptr<DocumentState> pre = LoadDoc(Field("doc"));
    std::unique_ptr<Op> op = ParseOk(Field("op"));
    ASSERT_TRUE(pre && op);
    std::unique_ptr<Op> inverse = engine_.Invert(*op, *pre);
    ASSERT_NE(inverse, nullptr);
    const auto deviation = kDeviations.find(case_.id);
    if (deviation != kDeviations.end()) {
      RecordProperty("deviation", deviation->second.why);
      EXPECT_NE(bj::parse(OpJson(*inverse)), Field("expected")) << "the reference result must not be reproduced";
      ExpectOp(*inverse, bj::parse(deviation->second.expected_op));
    } else {
      ExpectOp(*inverse, Field("expected"));
    }

    std::unique_ptr<DocumentState> state = LoadDoc(Field("doc"));
    ASSERT_TRUE(engine_.Apply(*state, *op).ok());
    ASSERT_TRUE(engine_.Apply(*state, *inverse).ok());
    const bj::value* after = case_.data.if_contains("expected_after_apply_inverse");
    if (after != nullptr && deviation == kDeviations.end()) {
      ExpectSnapshot(*state, *after, nullptr);
    } else {
      // With D6 the inverse restores the pre-state.
      ExpectSnapshot(*state, Field("doc"), nullptr);
    }
  }

  void CheckIsNoOp() {
    std::unique_ptr<Op> op = ParseOk(Field("op"));
    ASSERT_NE(op, nullptr);
    EXPECT_EQ(engine_.IsNoOp(*op), Field("expected").as_bool());
  }

  void CheckConverge() {
    std::unique_ptr<Op> a = ParseOk(Field("a"));
    std::unique_ptr<Op> b = ParseOk(Field("b"));
    ASSERT_TRUE(a && b);
    std::unique_ptr<Op> b_after_a = engine_.Transform(*b, *a, Priority::kExistingWins);
    std::unique_ptr<Op> a_after_b = engine_.Transform(*a, *b, Priority::kIncomingWins);
    ASSERT_TRUE(b_after_a && a_after_b);
    ExpectOp(*b_after_a, Field("expected_b_transformed"));
    ExpectOp(*a_after_b, Field("expected_a_transformed"));

    std::unique_ptr<DocumentState> server = LoadDoc(Field("doc"));
    ASSERT_TRUE(engine_.Apply(*server, *a).ok());
    ASSERT_TRUE(engine_.Apply(*server, *b_after_a).ok());
    ExpectSnapshot(*server, Field("expected"), case_.data.if_contains("expected_json"));

    std::unique_ptr<DocumentState> other = LoadDoc(Field("doc"));
    ASSERT_TRUE(engine_.Apply(*other, *b).ok());
    ASSERT_TRUE(engine_.Apply(*other, *a_after_b).ok());
    ExpectSnapshot(*other, Field("expected"), case_.data.if_contains("expected_json"));
  }

  const VectorCase case_;
  RichTextEngine engine_;
};

// ------------------------------------------------------------------------------------------------
// Registration

class Coverage : public ::testing::Test {
 public:
  Coverage(size_t registered, std::map<std::string, size_t> kinds)
      : registered_(registered), kinds_(std::move(kinds)) {}
  void TestBody() override {
    // engines.md §15 lists 36 rich-text vectors; fewer means the file or the filter changed.
    EXPECT_GE(registered_, 36u);
    for (const char* kind : {"apply", "transform", "compose", "invert", "isNoOp", "converge"}) {
      EXPECT_GT(kinds_[kind], 0u) << "no rich-text vector of kind " << kind;
    }
  }

 private:
  size_t registered_;
  std::map<std::string, size_t> kinds_;
};

void RegisterFailure(const std::string& name, const std::string& message) {
  ::testing::RegisterTest("RichTextVectors", name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                          [message]() -> ::testing::Test* { return new testing::FailingVectorTest(message); });
}

bool RegisterRichTextVectorTests() {
  std::string text;
  bj::value root;
  std::string problem;
  if (!testing::ReadVectorFile(text, root, problem)) {
    RegisterFailure("Load", problem);
    return false;
  }
  size_t registered = 0;
  std::map<std::string, size_t> kinds;
  for (const bj::value& item : root.at("cases").as_array()) {
    if (!item.is_object() || Str(item.as_object(), "engine") != "rich-text") continue;
    VectorCase c{Str(item.as_object(), "id"), Str(item.as_object(), "kind"), item.as_object()};
    if (c.id.empty() || c.kind.empty()) {
      RegisterFailure("Malformed_" + std::to_string(registered), "a case lacks id/kind: " + Minified(item));
      continue;
    }
    ++registered;
    ++kinds[c.kind];
    ::testing::RegisterTest("RichTextVectors", testing::VectorTestName(c.id).c_str(), nullptr, c.kind.c_str(), __FILE__,
                            __LINE__, [c]() -> ::testing::Test* { return new RichTextVectorTest(c); });
  }
  ::testing::RegisterTest("RichTextVectors", "Coverage", nullptr, nullptr, __FILE__, __LINE__,
                          [registered, kinds]() -> ::testing::Test* { return new Coverage(registered, kinds); });
  return true;
}

[[maybe_unused]] const bool kRichTextVectorTestsRegistered = RegisterRichTextVectorTests();

}  // namespace
}  // namespace opstream::engines
