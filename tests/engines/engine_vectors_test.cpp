// Data-driven tests over the shared engine vectors (engines.md §15).
//
// The vector file is read at run time from OPSTREAM_SHARED_DIR/spec/engine-vectors.json and every
// case of an implemented engine (text, awareness) becomes its own test, registered before main runs.
// Vectors are read with Boost.JSON, independently of the simdjson-based code under test. Op and
// snapshot inputs are minified (Boost.JSON serialization) and fed through the engine's parsers, as
// §15 recommends. A vector that cannot be read, or a case of an unknown kind, fails its test.
//
// Where the C++ server deliberately differs from the reference expectation, the test asserts the
// required behaviour and says why (§14 D3/D4/D8, wire-protocol OP-14).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <functional>
#include <set>

#include "engines/awareness_data.hpp"
#include "engines/text/text_engine.hpp"
#include "ot_test_support.hpp"

namespace opstream::engines {
namespace {

namespace bj = boost::json;
using testing::MiniOtServer;

const std::set<std::string, std::less<>> kImplementedEngines = {"text", "awareness"};

// Independent of engines/json/utf16.hpp so that the expectations do not share code with the engine.
std::u16string ExpectedUtf16(std::string_view utf8) {
  std::u16string out;
  for (size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    uint32_t code_point;
    size_t length;
    if (c < 0x80) {
      code_point = c, length = 1;
    } else if (c < 0xE0) {
      code_point = c & 0x1F, length = 2;
    } else if (c < 0xF0) {
      code_point = c & 0x0F, length = 3;
    } else {
      code_point = c & 0x07, length = 4;
    }
    for (size_t k = 1; k < length && i + k < utf8.size(); ++k) {
      code_point = (code_point << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    }
    i += length;
    if (code_point >= 0x10000) {
      out.push_back(static_cast<char16_t>(0xD800 + ((code_point - 0x10000) >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + ((code_point - 0x10000) & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(code_point));
    }
  }
  return out;
}

std::string Minified(const bj::value& value) { return bj::serialize(value); }

std::string Str(const bj::object& object, std::string_view key) {
  const bj::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

// The fields every case has; `data` is the whole case object.
struct VectorCase {
  std::string id;
  std::string engine;
  std::string kind;
  bj::object data;
};

class EngineVectorTest : public ::testing::Test {
 public:
  explicit EngineVectorTest(VectorCase vector_case) : case_(std::move(vector_case)) {}

 protected:
  const VectorCase case_;
};

// ------------------------------------------------------------------------------------------------
// Text engine helpers

class TextVectorTest : public EngineVectorTest {
 public:
  using EngineVectorTest::EngineVectorTest;

  void TestBody() override {
    SCOPED_TRACE("vector " + case_.id + ": " + Str(case_.data, "note"));
    if (case_.kind == "apply") return CheckApply();
    if (case_.kind == "transform") return CheckTransform();
    if (case_.kind == "compose") return CheckCompose();
    if (case_.kind == "invert") return CheckInvert();
    if (case_.kind == "converge") return CheckConverge();
    if (case_.kind == "pipeline") return CheckPipeline();
    FAIL() << "vector kind '" << case_.kind << "' of engine 'text' is not handled by this test";
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

  // Checks a snapshot against an expected {"content": ...}: the text a client would see after a
  // reload (lone surrogates become U+FFFD in the snapshot, §1.1) and, if given, the exact bytes.
  void ExpectSnapshot(const DocumentState& state, const bj::value& expected, const bj::value* expected_json) {
    const std::string snapshot = Snapshot(state);
    if (expected_json != nullptr) {
      EXPECT_EQ(snapshot, std::string(expected_json->as_string())) << "snapshot bytes";
    }
    std::unique_ptr<DocumentState> reloaded;
    ASSERT_TRUE(engine_.LoadState(snapshot, reloaded).ok()) << snapshot;
    const auto* document = AsTextDocument(*reloaded);
    ASSERT_NE(document, nullptr);
    ASSERT_TRUE(expected.is_object() && expected.as_object().contains("content")) << Minified(expected);
    EXPECT_EQ(document->Text(), ExpectedUtf16(expected.as_object().at("content").as_string()))
        << "snapshot " << snapshot << " vs expected " << Minified(expected);
  }

  // Compares an op with an expected op: structurally (Boost.JSON equality of the parsed output),
  // and byte for byte against the normalized form of the expectation.
  void ExpectOp(const Op& actual, const bj::value& expected, const bj::value* expected_json) {
    const std::string actual_json = OpJson(actual);
    bj::error_code error;
    const bj::value parsed = bj::parse(actual_json, error);
    ASSERT_FALSE(error) << "our op output is not JSON: " << actual_json;
    EXPECT_EQ(parsed, expected) << "ours: " << actual_json << "\nexpected: " << Minified(expected);
    if (expected_json != nullptr) {
      EXPECT_EQ(actual_json, std::string(expected_json->as_string()));
    }
  }

  // The "components" array of an op input (names bind case-insensitively, the last one wins).
  static const bj::array& ComponentsOf(const bj::value& op_json) {
    static const bj::array kEmpty;
    const bj::array* found = &kEmpty;
    for (const auto& member : op_json.as_object()) {
      std::string key(member.key());
      for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (key == "components" && member.value().is_array()) found = &member.value().as_array();
    }
    return *found;
  }

  // §14 requires rejecting some ops the reference accepts: negative counts (D3) and inserts
  // without text (D4).
  static bool RejectedByDeviation(const bj::value& op_json, std::string& why) {
    if (!op_json.is_object()) return false;
    for (const auto& member : op_json.as_object()) {
      if (!member.value().is_array()) continue;
      for (const bj::value& component : member.value().as_array()) {
        if (!component.is_object()) continue;
        const bj::object& c = component.as_object();
        for (const auto& field : c) {
          std::string key(field.key());
          for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          if (key == "count" && field.value().is_int64() && field.value().as_int64() < 0) {
            why = "§14 D3: negative counts are rejected (the reference throws or duplicates text)";
            return true;
          }
        }
        const bj::value* type = c.if_contains("type");
        if (type != nullptr && type->is_string() && type->as_string() == "insert") {
          bool has_text = false;
          for (const auto& field : c) {
            std::string key(field.key());
            for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (key == "text") has_text = field.value().is_string();
          }
          if (!has_text) {
            why = "§14 D4: inserts without text are rejected";
            return true;
          }
        }
      }
    }
    return false;
  }

  void CheckApply() {
    std::unique_ptr<DocumentState> state = LoadDoc(Field("doc"));
    ASSERT_NE(state, nullptr);
    const std::string before = Snapshot(*state);
    const bj::value& op_json = Field("op");
    const bj::object& expected = Field("expected").as_object();
    const bool reference_rejects = expected.contains("rejected") && expected.at("rejected").as_bool();

    std::string deviation;
    const bool must_reject = reference_rejects || RejectedByDeviation(op_json, deviation);
    if (must_reject && !case_.data.contains("expected_if_lenient")) {
      if (!deviation.empty()) {
        // e.g. text-apply-009: the vector records the reference's "abbc"; the C++ server rejects.
        RecordProperty("deviation", deviation);
      }
      std::unique_ptr<Op> op;
      Status status = engine_.ParseOp(Minified(op_json), op);
      if (status.ok()) status = engine_.Apply(*state, *op);
      EXPECT_FALSE(status.ok()) << "the op must be rejected" << (deviation.empty() ? "" : " (" + deviation + ")");
      EXPECT_FALSE(status.message().empty()) << "a rejection needs a message";
      EXPECT_EQ(Snapshot(*state), before) << "a rejected op must leave the document unchanged";
      return;
    }

    const bj::value* expected_state = &Field("expected");
    const bj::value* expected_json = case_.data.if_contains("expected_json");
    if (case_.data.contains("expected_if_lenient")) {
      // D8: the reference rejects a discriminator that is not first; the C++ reader accepts it.
      ASSERT_TRUE(reference_rejects) << "expected_if_lenient only makes sense for a reference rejection";
      expected_state = &Field("expected_if_lenient");
      expected_json = case_.data.if_contains("expected_if_lenient_json");
    }
    std::unique_ptr<Op> op = ParseOk(op_json);
    ASSERT_NE(op, nullptr);
    const Status status = engine_.Apply(*state, *op);
    ASSERT_TRUE(status.ok()) << status.message();
    ExpectSnapshot(*state, *expected_state, expected_json);

    // The op as stored/broadcast (normalized, not compacted, §3.2 step 5) parses back to itself.
    std::unique_ptr<Op> reparsed;
    ASSERT_TRUE(engine_.ParseOp(OpJson(*op), reparsed).ok()) << OpJson(*op);
    EXPECT_EQ(OpJson(*reparsed), OpJson(*op));
    EXPECT_EQ(AsTextOp(*op)->size(), ComponentsOf(op_json).size()) << "stored ops keep every component (no compaction)";
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
    if (expected.is_null()) {
      EXPECT_EQ(result, nullptr);
      return;
    }
    ASSERT_NE(result, nullptr);
    ExpectOp(*result, expected, case_.data.if_contains("expected_json"));
    if (const bj::value* noop = case_.data.if_contains("expected_is_noop")) {
      EXPECT_EQ(engine_.IsNoOp(*result), noop->as_bool());
    }
  }

  void CheckCompose() {
    std::unique_ptr<Op> a = ParseOk(Field("a"));
    std::unique_ptr<Op> b = ParseOk(Field("b"));
    ASSERT_TRUE(a && b);
    std::unique_ptr<Op> result = engine_.Compose(*a, *b);
    const bj::value& expected = Field("expected");
    if (expected.is_null()) {
      EXPECT_EQ(result, nullptr) << "compose must return null, got " << OpJson(*result);
      return;
    }
    ASSERT_NE(result, nullptr);
    ExpectOp(*result, expected, case_.data.if_contains("expected_json"));
  }

  void CheckInvert() {
    std::unique_ptr<DocumentState> pre = LoadDoc(Field("doc"));
    std::unique_ptr<Op> op = ParseOk(Field("op"));
    ASSERT_TRUE(pre && op);
    std::unique_ptr<Op> inverse = engine_.Invert(*op, *pre);
    ASSERT_NE(inverse, nullptr);
    ExpectOp(*inverse, Field("expected"), case_.data.if_contains("expected_json"));

    // Applying the op and then its inverse restores the pre-state, or gives the recorded result.
    std::unique_ptr<DocumentState> state;
    if (const bj::value* target = case_.data.if_contains("apply_inverse_to")) {
      state = LoadDoc(*target);
    } else {
      state = LoadDoc(Field("doc"));
      ASSERT_TRUE(engine_.Apply(*state, *op).ok());
    }
    ASSERT_TRUE(engine_.Apply(*state, *inverse).ok());
    if (const bj::value* after = case_.data.if_contains("expected_after_apply_inverse")) {
      ExpectSnapshot(*state, *after, nullptr);
    } else {
      ExpectSnapshot(*state, Field("doc"), nullptr);
    }
  }

  void CheckConverge() {
    std::unique_ptr<Op> a = ParseOk(Field("a"));
    std::unique_ptr<Op> b = ParseOk(Field("b"));
    ASSERT_TRUE(a && b);
    std::unique_ptr<Op> b_after_a = engine_.Transform(*b, *a, Priority::kExistingWins);
    std::unique_ptr<Op> a_after_b = engine_.Transform(*a, *b, Priority::kIncomingWins);
    ASSERT_TRUE(b_after_a && a_after_b);
    ExpectOp(*b_after_a, Field("expected_b_transformed"), nullptr);
    ExpectOp(*a_after_b, Field("expected_a_transformed"), nullptr);

    std::unique_ptr<DocumentState> server = LoadDoc(Field("doc"));
    ASSERT_TRUE(engine_.Apply(*server, *a).ok());
    ASSERT_TRUE(engine_.Apply(*server, *b_after_a).ok());
    ExpectSnapshot(*server, Field("expected"), case_.data.if_contains("expected_json"));

    std::unique_ptr<DocumentState> other = LoadDoc(Field("doc"));
    ASSERT_TRUE(engine_.Apply(*other, *b).ok());
    ASSERT_TRUE(engine_.Apply(*other, *a_after_b).ok());
    ExpectSnapshot(*other, Field("expected"), case_.data.if_contains("expected_json"));
  }

  void CheckPipeline() {
    const int64_t initial_revision = Field("initialRevision").as_int64();
    MiniOtServer server(engine_, LoadDoc(Field("doc")), initial_revision);
    const bj::array& submissions = Field("submissions").as_array();
    const bj::object& expected = Field("expected").as_object();
    const bj::array& results = expected.at("results").as_array();
    ASSERT_EQ(submissions.size(), results.size());

    // The reference applies an op whose baseRevision is above the current revision as if it were
    // current. The C++ server rejects it instead (wire-protocol.md OP-14, so that the client
    // resynchronises), with the message "Base revision {b} is ahead of current revision {c}.".
    // Such a submission is checked against that rule; the ops the reference would have applied
    // are then applied to a copy of the final state to check the vector's final snapshot too.
    std::vector<std::string> skipped_payloads;
    for (size_t i = 0; i < submissions.size(); ++i) {
      SCOPED_TRACE("submission " + std::to_string(i));
      const bj::object& submission = submissions[i].as_object();
      const bj::object& want = results[i].as_object();
      const std::string payload = Minified(submission.at("op"));
      const int64_t base = submission.at("baseRevision").as_int64();
      const int64_t current = server.revision();
      const MiniOtServer::Result got = server.Submit(payload, base);

      if (base > current) {
        EXPECT_FALSE(got.success);
        EXPECT_EQ(got.new_revision, current);
        EXPECT_EQ(got.error, "Base revision " + std::to_string(base) + " is ahead of current revision " +
                                 std::to_string(current) + ".");
        EXPECT_TRUE(got.stored_payload.empty());
        if (want.at("success").as_bool()) skipped_payloads.push_back(payload);
        continue;
      }
      ASSERT_TRUE(skipped_payloads.empty())
          << "a submission after an OP-14 rejection: the vector's later expectations assume the reference "
             "accepted it, so this test cannot check them";
      EXPECT_EQ(got.success, want.at("success").as_bool()) << got.error;
      EXPECT_EQ(got.new_revision, want.at("newRevision").as_int64());
      const bool absorbed = want.contains("absorbed") && want.at("absorbed").as_bool();
      EXPECT_EQ(got.absorbed, absorbed);
      if (const bj::value* stored = want.if_contains("storedAndBroadcast")) {
        std::unique_ptr<Op> stored_op = ParseOk(bj::parse(got.stored_payload));
        ASSERT_NE(stored_op, nullptr);
        ExpectOp(*stored_op, *stored, nullptr);
      } else {
        EXPECT_TRUE(got.stored_payload.empty()) << "nothing is stored or broadcast: " << got.stored_payload;
      }
    }

    // What the reference would have: the skipped ops applied untransformed (baseRevision treated as
    // current), each adding a revision.
    const std::string final_snapshot = Snapshot(server.state());
    std::unique_ptr<DocumentState> reference_final;
    ASSERT_TRUE(engine_.LoadState(final_snapshot, reference_final).ok());
    for (const std::string& payload : skipped_payloads) {
      std::unique_ptr<Op> op;
      ASSERT_TRUE(engine_.ParseOp(payload, op).ok());
      ASSERT_TRUE(engine_.Apply(*reference_final, *op).ok());
    }
    ExpectSnapshot(*reference_final, expected.at("finalSnapshot"), nullptr);
    EXPECT_EQ(server.revision() + static_cast<int64_t>(skipped_payloads.size()),
              expected.at("finalRevision").as_int64());
  }

  TextEngine engine_;
};

// ------------------------------------------------------------------------------------------------
// Awareness

class AwarenessVectorTest : public EngineVectorTest {
 public:
  using EngineVectorTest::EngineVectorTest;

  void TestBody() override {
    SCOPED_TRACE("vector " + case_.id + ": " + Str(case_.data, "note"));
    if (case_.kind == "isNoOp") {
      // Peers are given only when they differ; otherwise both updates come from the same peer.
      const std::string existing_peer = case_.data.contains("existing_peer") ? Str(case_.data, "existing_peer") : "p";
      const std::string incoming_peer = case_.data.contains("incoming_peer") ? Str(case_.data, "incoming_peer") : "p";
      ASSERT_TRUE(case_.data.contains("existing_data_json") && case_.data.contains("incoming_data_json"));
      const std::string existing = Str(case_.data, "existing_data_json");
      const std::string incoming = Str(case_.data, "incoming_data_json");
      std::string minified;
      ASSERT_TRUE(MinifyJson(existing, minified).ok()) << existing;
      ASSERT_TRUE(MinifyJson(incoming, minified).ok()) << incoming;
      EXPECT_EQ(IsAwarenessUpdateNoOp(existing_peer, existing, incoming_peer, incoming),
                case_.data.at("expected").as_bool());
      // Equality is symmetric for these inputs.
      EXPECT_EQ(AwarenessDataEquals(existing, incoming), AwarenessDataEquals(incoming, existing));
      return;
    }
    if (case_.kind == "isExpired") {
      const auto ttl = std::chrono::seconds(case_.data.at("ttl_seconds").as_int64());
      const bj::array& ages = case_.data.at("age_seconds").as_array();
      const bj::array& expected = case_.data.at("expected").as_array();
      ASSERT_EQ(ages.size(), expected.size());
      const auto now = std::chrono::system_clock::now();
      for (size_t i = 0; i < ages.size(); ++i) {
        const auto last_updated = now - std::chrono::seconds(ages[i].as_int64());
        EXPECT_EQ(IsAwarenessExpired(last_updated, now, ttl), expected[i].as_bool()) << "age " << ages[i];
      }
      return;
    }
    FAIL() << "vector kind '" << case_.kind << "' of engine 'awareness' is not handled by this test";
  }
};

// ------------------------------------------------------------------------------------------------
// Registration

std::string TestName(std::string id) {
  for (char& c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return id;
}

class LoadFailure : public ::testing::Test {
 public:
  explicit LoadFailure(std::string message) : message_(std::move(message)) {}
  void TestBody() override { FAIL() << message_; }

 private:
  std::string message_;
};

class VectorCoverage : public ::testing::Test {
 public:
  explicit VectorCoverage(size_t registered) : registered_(registered) {}
  void TestBody() override {
    // The text and awareness vectors of §15 number 44; fewer means the file or the filter changed.
    EXPECT_GE(registered_, 44u) << "only " << registered_ << " vectors of implemented engines were found";
  }

 private:
  size_t registered_;
};

void RegisterLoadFailure(const std::string& message) {
  static int failures = 0;
  const std::string name = "Load" + (failures++ == 0 ? std::string() : "_" + std::to_string(failures));
  ::testing::RegisterTest("EngineVectors", name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                          [message]() -> ::testing::Test* { return new LoadFailure(message); });
}

bool RegisterVectorTests() {
  const std::string path = testing::SharedPath("spec/engine-vectors.json");
  std::string text;
  if (!testing::ReadWholeFile(path, text)) {
    RegisterLoadFailure("cannot read " + path);
    return false;
  }
  bj::error_code error;
  bj::value root = bj::parse(text, error);
  if (error || !root.is_object() || !root.as_object().contains("cases") || !root.at("cases").is_array()) {
    RegisterLoadFailure(path + " is not a vector file: " + error.message());
    return false;
  }
  size_t registered = 0;
  for (const bj::value& item : root.at("cases").as_array()) {
    if (!item.is_object()) {
      RegisterLoadFailure("a case is not an object: " + Minified(item));
      continue;
    }
    VectorCase c{Str(item.as_object(), "id"), Str(item.as_object(), "engine"), Str(item.as_object(), "kind"),
                 item.as_object()};
    if (c.id.empty() || c.engine.empty() || c.kind.empty()) {
      RegisterLoadFailure("a case lacks id/engine/kind: " + Minified(item).substr(0, 200));
      continue;
    }
    if (!kImplementedEngines.contains(c.engine)) continue;
    ++registered;
    if (c.engine == "text") {
      ::testing::RegisterTest("TextEngineVectors", TestName(c.id).c_str(), nullptr, c.kind.c_str(), __FILE__, __LINE__,
                              [c]() -> EngineVectorTest* { return new TextVectorTest(c); });
    } else {
      ::testing::RegisterTest("AwarenessVectors", TestName(c.id).c_str(), nullptr, c.kind.c_str(), __FILE__, __LINE__,
                              [c]() -> EngineVectorTest* { return new AwarenessVectorTest(c); });
    }
  }
  ::testing::RegisterTest("EngineVectors", "Coverage", nullptr, nullptr, __FILE__, __LINE__,
                          [registered]() -> ::testing::Test* { return new VectorCoverage(registered); });
  return true;
}

[[maybe_unused]] const bool kVectorTestsRegistered = RegisterVectorTests();

}  // namespace
}  // namespace opstream::engines
