#pragma once
// Loading engine-vectors.json for the table, tree and fractional-index vector tests. The file is
// read at run time with Boost.JSON (independent of the simdjson/RawJsonTree code under test) and
// each selected case becomes its own GoogleTest test, registered before main runs.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <string>

#include "engines/engine.hpp"
#include "vector_test_support.hpp"

namespace opstream::engines::vectors {

namespace bj = boost::json;

inline std::string Minified(const bj::value& value) { return bj::serialize(value); }

struct VectorCase {
  std::string id;
  std::string kind;
  bj::object data;

  const bj::value* Find(std::string_view key) const { return data.if_contains(key); }
  std::string Note() const {
    const bj::value* note = Find("note");
    return note != nullptr && note->is_string() ? std::string(note->as_string()) : std::string();
  }
};

class CountTest : public ::testing::Test {
 public:
  CountTest(size_t found, size_t minimum) : found_(found), minimum_(minimum) {}
  void TestBody() override {
    EXPECT_GE(found_, minimum_) << "fewer vectors than expected: the vector file or the filter changed";
  }

 private:
  size_t found_, minimum_;
};

// Registers one test per case of `engine` in `suite`, plus `<suite>.Coverage` checking that at
// least `minimum` cases were found. `make` builds the test object of a case.
inline bool RegisterEngineVectors(const char* suite, std::string_view engine, size_t minimum,
                                  std::function<::testing::Test*(VectorCase)> make) {
  std::string text;
  bj::value root;
  std::string problem;
  if (!testing::ReadVectorFile(text, root, problem)) {
    ::testing::RegisterTest(suite, "Load", nullptr, nullptr, __FILE__, __LINE__,
                            [problem]() -> ::testing::Test* { return new testing::FailingVectorTest(problem); });
    return false;
  }
  size_t found = 0;
  for (const bj::value& item : root.at("cases").as_array()) {
    if (!item.is_object()) continue;
    const bj::object& object = item.as_object();
    const bj::value* e = object.if_contains("engine");
    if (e == nullptr || !e->is_string() || e->as_string() != engine) continue;
    VectorCase c;
    if (const bj::value* id = object.if_contains("id"); id != nullptr && id->is_string()) c.id = id->as_string();
    if (const bj::value* kind = object.if_contains("kind"); kind != nullptr && kind->is_string()) {
      c.kind = kind->as_string();
    }
    c.data = object;
    ++found;
    ::testing::RegisterTest(suite, testing::VectorTestName(c.id).c_str(), nullptr, c.kind.c_str(), __FILE__, __LINE__,
                            [make, c]() { return make(c); });
  }
  ::testing::RegisterTest(suite, "Coverage", nullptr, nullptr, __FILE__, __LINE__,
                          [found, minimum]() -> ::testing::Test* { return new CountTest(found, minimum); });
  return true;
}

// Runs a CRDT vector (apply, apply-sequence, converge, invert, restamp) through the Engine
// interface only: inputs are minified and parsed like client payloads and snapshots (§15).
class CrdtVectorTest : public ::testing::Test {
 public:
  CrdtVectorTest(const Engine& engine, VectorCase c) : engine_(engine), case_(std::move(c)) {}

  void TestBody() override {
    SCOPED_TRACE(case_.id + ": " + case_.Note());
    if (case_.kind == "apply") return CheckApply();
    if (case_.kind == "apply-sequence") return CheckApplySequence();
    if (case_.kind == "converge") return CheckConverge();
    if (case_.kind == "invert") return CheckInvert();
    if (case_.kind == "restamp") return CheckRestamp();
    FAIL() << "vector kind '" << case_.kind << "' is not handled";
  }

 protected:
  const bj::value& Field(std::string_view key) {
    static const bj::value kNull;
    const bj::value* v = case_.Find(key);
    if (v == nullptr) {
      ADD_FAILURE() << "vector has no field " << key;
      return kNull;
    }
    return *v;
  }

  std::unique_ptr<DocumentState> Load(const bj::value& snapshot) {
    std::unique_ptr<DocumentState> state;
    const Status s = engine_.LoadState(Minified(snapshot), state);
    EXPECT_TRUE(s.ok()) << Minified(snapshot) << ": " << s.message();
    return state;
  }

  std::unique_ptr<Op> Parse(const bj::value& op) {
    std::unique_ptr<Op> out;
    const Status s = engine_.ParseOp(Minified(op), out);
    EXPECT_TRUE(s.ok()) << Minified(op) << ": " << s.message();
    return out;
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

  // Structural equality with the expected value, exact bytes when given, and a reload of our bytes
  // that serializes identically (snapshots round-trip).
  void ExpectSnapshot(const DocumentState& state, const bj::value& expected, const bj::value* expected_json) {
    const std::string ours = Snapshot(state);
    bj::error_code error;
    const bj::value parsed = bj::parse(ours, error);
    ASSERT_FALSE(error) << "our snapshot is not JSON: " << ours;
    EXPECT_EQ(parsed, expected) << "ours:     " << ours << "\nexpected: " << Minified(expected);
    if (expected_json != nullptr) {
      EXPECT_EQ(ours, std::string(expected_json->as_string()));
    }
    std::unique_ptr<DocumentState> reloaded;
    ASSERT_TRUE(engine_.LoadState(ours, reloaded).ok()) << ours;
    EXPECT_EQ(Snapshot(*reloaded), ours) << "snapshot does not round-trip";
  }

  void ExpectOp(const Op& op, const bj::value& expected) {
    const std::string ours = OpJson(op);
    bj::error_code error;
    const bj::value parsed = bj::parse(ours, error);
    ASSERT_FALSE(error) << "our op is not JSON: " << ours;
    EXPECT_EQ(parsed, expected) << "ours:     " << ours << "\nexpected: " << Minified(expected);
    // Op bytes: discriminator first, fields in the §7.2/§9.2 order — the normalized form of the
    // expectation written by Boost.JSON keeps the vector's member order and only ASCII here.
    EXPECT_EQ(ours, Minified(expected));
  }

  void CheckApply() {
    auto state = Load(Field("doc"));
    ASSERT_NE(state, nullptr);
    const bj::value& expected = Field("expected");
    if (expected.is_object() && expected.as_object().contains("rejected")) {
      const std::string before = Snapshot(*state);
      std::unique_ptr<Op> op;
      const Status parsed = engine_.ParseOp(Minified(Field("op")), op);
      if (parsed.ok()) {
        const Status applied = engine_.Apply(*state, *op);
        EXPECT_FALSE(applied.ok()) << "the op must be rejected";
      } else {
        EXPECT_FALSE(parsed.message().empty());
      }
      EXPECT_EQ(Snapshot(*state), before) << "a rejected op changed the state";
      return;
    }
    auto op = Parse(Field("op"));
    ASSERT_NE(op, nullptr);
    const Status applied = engine_.Apply(*state, *op);
    ASSERT_TRUE(applied.ok()) << applied.message();
    ExpectSnapshot(*state, expected, case_.Find("expected_json"));
    // The stored/broadcast op is the normalized input (§3.2 step 5).
    ExpectOp(*op, Field("op"));
  }

  void CheckApplySequence() {
    auto state = Load(Field("doc"));
    ASSERT_NE(state, nullptr);
    for (const bj::value& op_json : Field("ops").as_array()) {
      auto op = Parse(op_json);
      ASSERT_NE(op, nullptr);
      ASSERT_TRUE(engine_.Apply(*state, *op).ok());
      // A reload between ops must not change anything (rehydration after a snapshot).
      std::unique_ptr<DocumentState> reloaded;
      ASSERT_TRUE(engine_.LoadState(Snapshot(*state), reloaded).ok());
      state = std::move(reloaded);
    }
    ExpectSnapshot(*state, Field("expected"), case_.Find("expected_json"));
  }

  void CheckConverge() {
    auto ab = Load(Field("doc"));
    auto ba = Load(Field("doc"));
    auto a = Parse(Field("a"));
    auto b = Parse(Field("b"));
    ASSERT_TRUE(ab && ba && a && b);
    ASSERT_TRUE(engine_.Apply(*ab, *a).ok());
    ASSERT_TRUE(engine_.Apply(*ab, *b).ok());
    ASSERT_TRUE(engine_.Apply(*ba, *b).ok());
    ASSERT_TRUE(engine_.Apply(*ba, *a).ok());
    ExpectSnapshot(*ab, Field("expected_ab"), case_.Find("expected_ab_json"));
    const bj::value* ba_json = case_.Find("expected_ba_json");
    if (ba_json == nullptr) ba_json = case_.Find("expected_ab_json");
    ExpectSnapshot(*ba, Field("expected_ab"), ba_json);
    // CRDT ops pass the server's rebase unchanged (§7.4, §9.5).
    auto transformed = engine_.Transform(*b, *a, Priority::kExistingWins);
    ASSERT_NE(transformed, nullptr);
    EXPECT_EQ(OpJson(*transformed), OpJson(*b));
  }

  void CheckInvert() {
    auto pre = Load(Field("doc"));
    auto op = Parse(Field("op"));
    ASSERT_TRUE(pre && op);
    auto inverse = engine_.Invert(*op, *pre);
    ASSERT_NE(inverse, nullptr);
    ExpectOp(*inverse, Field("expected"));
    if (const bj::value* after = case_.Find("expected_after_apply_inverse")) {
      ASSERT_TRUE(engine_.Apply(*pre, *op).ok());
      ASSERT_TRUE(engine_.Apply(*pre, *inverse).ok());
      ExpectSnapshot(*pre, *after, nullptr);
    }
  }

  void CheckRestamp() {
    auto state = Load(Field("doc"));
    auto op = Parse(Field("op"));
    ASSERT_TRUE(state && op);
    auto restamped = engine_.RestampToWin(*op, *state);
    ASSERT_NE(restamped, nullptr);
    ExpectOp(*restamped, Field("expected"));
  }

  const Engine& engine_;
  VectorCase case_;
};

}  // namespace opstream::engines::vectors
