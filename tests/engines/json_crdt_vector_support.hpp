#pragma once
// Shared harness for the LWW CRDT engines' vectors (engines.md §15): json and form.
//
// The vector file is read at run time from OPSTREAM_SHARED_DIR. Expectations are read with
// Boost.JSON, independently of the engine's own reader. Inputs (ops and snapshots) are fed to the
// engine as the vector file's own text, minified with every token kept verbatim: Boost.JSON would
// rewrite number tokens (1.0 -> 1E0), and the JSON engine keeps and compares raw value text (§6.3).
//
// Exact bytes are compared where a vector gives them (`expected_json`, `expected_ab_json`,
// `expected_ba_json`); everything else is compared as parsed JSON values (objects as maps).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engines/engine.hpp"
#include "engines/json/raw_json.hpp"
#include "ot_test_support.hpp"
#include "vector_test_support.hpp"

namespace opstream::engines::testing {

namespace bj = boost::json;

struct CrdtVectorCase {
  std::string id;
  std::string kind;
  bj::object data;
  // Top-level fields of the case as minified source text.
  std::map<std::string, std::string> raw;
};

inline std::string VerbatimMinified(std::string_view json_text) {
  std::string out;
  json::AppendMinifiedVerbatim(json_text, out);
  return out;
}

// Elements of a JSON array given as text, each as minified source text.
inline std::vector<std::string> RawArrayElements(const std::string& array_text) {
  std::vector<std::string> out;
  json::RawJsonTree tree;
  if (!tree.Parse(array_text).ok() || tree.root().kind != json::JsonKind::kArray) return out;
  for (uint32_t c = 1; c < tree.root().subtree_end; c = tree.node(c).subtree_end) {
    out.push_back(VerbatimMinified(tree.node(c).raw));
  }
  return out;
}

class CrdtVectorTest : public ::testing::Test {
 public:
  CrdtVectorTest(const Engine& engine, CrdtVectorCase vector_case) : engine_(engine), case_(std::move(vector_case)) {}

  void TestBody() override {
    const bj::value* note = case_.data.if_contains("note");
    SCOPED_TRACE("vector " + case_.id + ": " + (note && note->is_string() ? std::string(note->as_string()) : ""));
    if (case_.kind == "apply") return CheckApply();
    if (case_.kind == "apply-sequence") return CheckApplySequence();
    if (case_.kind == "compose") return CheckCompose();
    if (case_.kind == "invert") return CheckInvert();
    if (case_.kind == "converge") return CheckConverge();
    if (case_.kind == "restamp") return CheckRestamp();
    FAIL() << "vector kind '" << case_.kind << "' is not handled by this test";
  }

 protected:
  const std::string& Raw(const std::string& key) {
    auto it = case_.raw.find(key);
    if (it == case_.raw.end()) {
      ADD_FAILURE() << "vector " << case_.id << " has no field '" << key << "'";
      static const std::string kEmpty = "null";
      return kEmpty;
    }
    return it->second;
  }
  const bj::value& Field(const std::string& key) {
    const bj::value* value = case_.data.if_contains(key);
    if (value == nullptr) {
      ADD_FAILURE() << "vector " << case_.id << " has no field '" << key << "'";
      static const bj::value kNull;
      return kNull;
    }
    return *value;
  }

  std::unique_ptr<DocumentState> Load(const std::string& snapshot) {
    std::unique_ptr<DocumentState> state;
    const Status status = engine_.LoadState(snapshot, state);
    EXPECT_TRUE(status.ok()) << "snapshot " << snapshot << ": " << status.message();
    if (!state) state = engine_.CreateEmpty();
    return state;
  }
  std::unique_ptr<Op> Parse(const std::string& payload) {
    std::unique_ptr<Op> op;
    const Status status = engine_.ParseOp(payload, op);
    EXPECT_TRUE(status.ok()) << "op " << payload << ": " << status.message();
    return op;
  }
  std::string Serialize(const DocumentState& state) {
    std::string out;
    engine_.SerializeState(state, out);
    return out;
  }
  std::string Serialize(const Op& op) {
    std::string out;
    engine_.SerializeOp(op, out);
    return out;
  }
  // Parsed-value comparison (objects compare as maps, arrays in order).
  static void ExpectSameJson(const std::string& actual, const bj::value& expected, const std::string& what) {
    bj::error_code error;
    const bj::value parsed = bj::parse(actual, error);
    ASSERT_FALSE(error) << what << " is not JSON: " << actual;
    EXPECT_EQ(parsed, expected) << what << "\n  actual:   " << actual << "\n  expected: " << bj::serialize(expected);
  }
  void ApplyOk(DocumentState& state, const std::string& payload) {
    auto op = Parse(payload);
    ASSERT_TRUE(op);
    const Status status = engine_.Apply(state, *op);
    ASSERT_TRUE(status.ok()) << "apply " << payload << ": " << status.message();
  }

  void CheckApply() {
    auto state = Load(Raw("doc"));
    const std::string before = Serialize(*state);
    const bj::value& expected = Field("expected");
    if (expected.is_object() && expected.as_object().contains("rejected")) {
      // Whatever stage the reference fails at (deserialize, apply, serialize), the C++ engine
      // rejects at parse time (§6.9, §8.6) with a readable message, and the state is untouched.
      std::unique_ptr<Op> op;
      const Status status = engine_.ParseOp(Raw("op"), op);
      if (status.ok()) {
        ASSERT_TRUE(op);
        const Status applied = engine_.Apply(*state, *op);
        EXPECT_FALSE(applied.ok()) << "op was accepted: " << Raw("op");
      } else {
        EXPECT_FALSE(status.message().empty());
        EXPECT_FALSE(op) << "a rejected op must not be returned";
      }
      EXPECT_EQ(Serialize(*state), before) << "state changed by a rejected op";
      return;
    }
    ApplyOk(*state, Raw("op"));
    CheckResult(*state);
    // Stored and broadcast ops are the input re-serialized; they must read back to the same op.
    auto op = Parse(Raw("op"));
    ASSERT_TRUE(op);
    const std::string stored = Serialize(*op);
    auto reread = Parse(stored);
    ASSERT_TRUE(reread);
    EXPECT_EQ(Serialize(*reread), stored);
  }

  void CheckApplySequence() {
    auto state = Load(Raw("doc"));
    for (const std::string& payload : RawArrayElements(Raw("ops"))) ApplyOk(*state, payload);
    CheckResult(*state);
  }

  void CheckResult(const DocumentState& state) {
    const std::string actual = Serialize(state);
    if (case_.data.contains("expected_json")) {
      EXPECT_EQ(actual, std::string(Field("expected_json").as_string()));
    }
    ExpectSameJson(actual, Field("expected"), "state");
    // A snapshot must load back to the same bytes.
    auto reloaded = Load(actual);
    EXPECT_EQ(Serialize(*reloaded), actual);
  }

  void CheckCompose() {
    auto a = Parse(Raw("a"));
    auto b = Parse(Raw("b"));
    ASSERT_TRUE(a && b);
    auto composed = engine_.Compose(*a, *b);
    const bj::value& expected = Field("expected");
    if (expected.is_null()) {
      EXPECT_FALSE(composed) << "expected no composition, got " << Serialize(*composed);
      return;
    }
    ASSERT_TRUE(composed) << "Compose returned null";
    ExpectSameJson(Serialize(*composed), expected, "composed op");
  }

  void CheckInvert() {
    auto pre = Load(Raw("doc"));
    auto op = Parse(Raw("op"));
    ASSERT_TRUE(op);
    auto inverse = engine_.Invert(*op, *pre);
    ASSERT_TRUE(inverse) << "Invert returned null";
    ExpectSameJson(Serialize(*inverse), Field("expected"), "inverse");
    if (!case_.data.contains("expected_after_apply_inverse")) return;
    std::unique_ptr<DocumentState> state;
    if (case_.data.contains("apply_inverse_to")) {
      state = Load(Raw("apply_inverse_to"));
    } else {
      state = Load(Raw("doc"));
      ASSERT_TRUE(engine_.Apply(*state, *op).ok());
    }
    ASSERT_TRUE(engine_.Apply(*state, *inverse).ok());
    ExpectSameJson(Serialize(*state), Field("expected_after_apply_inverse"), "state after the inverse");
  }

  void CheckConverge() {
    auto ab = Load(Raw("doc"));
    ApplyOk(*ab, Raw("a"));
    ApplyOk(*ab, Raw("b"));
    auto ba = Load(Raw("doc"));
    ApplyOk(*ba, Raw("b"));
    ApplyOk(*ba, Raw("a"));
    const std::string ab_json = Serialize(*ab);
    const std::string ba_json = Serialize(*ba);
    EXPECT_EQ(ab_json, std::string(Field("expected_ab_json").as_string()));
    ExpectSameJson(ab_json, Field("expected_ab"), "a then b");
    // The key order may differ between the two orders (§6.5); the maps must not.
    ExpectSameJson(ba_json, Field("expected_ab"), "b then a");
    if (case_.data.contains("expected_ba_json")) {
      EXPECT_EQ(ba_json, std::string(Field("expected_ba_json").as_string()));
    }
  }

  void CheckRestamp() {
    auto state = Load(Raw("doc"));
    auto op = Parse(Raw("op"));
    ASSERT_TRUE(op);
    auto restamped = engine_.RestampToWin(*op, *state);
    ASSERT_TRUE(restamped) << "RestampToWin returned null";
    ExpectSameJson(Serialize(*restamped), Field("expected"), "restamped op");
    // The restamped op wins: applying it writes its values.
    ASSERT_TRUE(engine_.Apply(*state, *restamped).ok());
  }

  const Engine& engine_;
  CrdtVectorCase case_;
};

class CrdtVectorCount : public ::testing::Test {
 public:
  CrdtVectorCount(size_t found, size_t minimum) : found_(found), minimum_(minimum) {}
  void TestBody() override {
    EXPECT_GE(found_, minimum_) << "only " << found_ << " vectors found; the file or the filter changed";
  }

 private:
  size_t found_, minimum_;
};

// Registers one test per case of `engine_name` in suite `suite`, plus `<suite>.Count`, which
// fails when fewer than `minimum` cases were found.
inline bool RegisterCrdtVectorTests(const char* suite, const std::string& engine_name,
                                    std::shared_ptr<const Engine> engine, size_t minimum) {
  auto fail = [&](const std::string& message) {
    ::testing::RegisterTest(suite, "Load", nullptr, nullptr, __FILE__, __LINE__,
                            [message]() -> ::testing::Test* { return new FailingVectorTest(message); });
    return false;
  };
  const std::string path = SharedPath("spec/engine-vectors.json");
  std::string text;
  bj::value root;
  std::string problem;
  if (!ReadVectorFile(text, root, problem)) return fail(problem);
  json::RawJsonTree tree;
  if (!tree.Parse(text).ok()) return fail(path + " is not a vector file");
  const int64_t cases_index = tree.FindMember(0, "cases");
  if (cases_index < 0) return fail(path + " has no cases");
  const bj::array& cases = root.at("cases").as_array();
  size_t found = 0;
  size_t i = 0;
  const json::RawJsonNode& cases_node = tree.node(static_cast<uint32_t>(cases_index));
  for (uint32_t node = static_cast<uint32_t>(cases_index) + 1; node < cases_node.subtree_end && i < cases.size();
       node = tree.node(node).subtree_end, ++i) {
    if (!cases[i].is_object()) continue;
    const bj::object& object = cases[i].as_object();
    const bj::value* engine_value = object.if_contains("engine");
    if (engine_value == nullptr || !engine_value->is_string() || engine_value->as_string() != engine_name) continue;
    CrdtVectorCase c;
    c.id = object.contains("id") && object.at("id").is_string() ? std::string(object.at("id").as_string()) : "";
    c.kind = object.contains("kind") && object.at("kind").is_string() ? std::string(object.at("kind").as_string()) : "";
    c.data = object;
    const json::RawJsonNode& case_node = tree.node(node);
    for (uint32_t member = node + 1; member < case_node.subtree_end; member = tree.node(member).subtree_end) {
      c.raw[json::UnescapeString(tree.node(member).raw_key)] = VerbatimMinified(tree.node(member).raw);
    }
    ++found;
    ::testing::RegisterTest(suite, VectorTestName(c.id).c_str(), nullptr, c.kind.c_str(), __FILE__, __LINE__,
                            [engine, c]() -> ::testing::Test* { return new CrdtVectorTest(*engine, c); });
  }
  ::testing::RegisterTest(suite, "Count", nullptr, nullptr, __FILE__, __LINE__,
                          [found, minimum]() -> ::testing::Test* { return new CrdtVectorCount(found, minimum); });
  return true;
}

}  // namespace opstream::engines::testing
