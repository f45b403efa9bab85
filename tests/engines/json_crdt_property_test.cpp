// Randomized laws of the LWW CRDT engines (engines.md §6, §8), checked with RapidCheck (shrinking
// prints a minimal counterexample):
//
// * commutativity: two concurrent batches applied in either order give the same visible state
//   (non-deleted registers and their values; §6.5 notes that the key order, and which tombstones
//   exist, may differ between orders);
// * idempotence: delivering the same batch twice changes nothing (exact snapshot bytes);
// * invert: applying a batch and then its inverse restores the visible state;
// * compose: applying Compose(a, b) agrees with applying a then b (json; visible state).
//
// Seeded and replayable: the seed is OPSTREAM_PROP_SEED (or a fixed default) and the case count
// OPSTREAM_PROP_CASES (default 2000 per property); a failure prints the seed. RC_PARAMS, when set,
// hands the whole configuration to RapidCheck instead.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <map>
#include <set>
#include <sstream>

#include "engines/form/form_engine.hpp"
#include "engines/json_crdt/json_crdt_engine.hpp"
#include "ot_test_support.hpp"

namespace opstream::engines {

// RapidCheck prints counterexamples through showValue (found by argument-dependent lookup).
void showValue(const JsonOpBatch& batch, std::ostream& os) {
  std::string out;
  SerializeJsonOpBatch(batch, out);
  os << out;
}
void showValue(const FormOpBatch& batch, std::ostream& os) {
  std::string out;
  SerializeFormOpBatch(batch, out);
  os << out;
}

namespace {

using testing::PropertyBaseSeed;
using testing::PropertyCaseCount;

template <typename Property>
void CheckProperty(const char* id, uint64_t default_seed, Property property) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  if (std::getenv("RC_PARAMS") == nullptr) {
    params.seed = PropertyBaseSeed(default_seed);
    params.maxSuccess = static_cast<int>(PropertyCaseCount(2000));
  }
  rc::detail::TestMetadata metadata;
  metadata.id = id;
  metadata.description = id;
  const rc::detail::TestResult result = rc::detail::checkTestable(property, metadata, params);
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream message;
    rc::detail::printResultMessage(result, message);
    FAIL() << message.str() << "\nseed " << params.seed << " (replay: OPSTREAM_PROP_SEED=" << params.seed
           << " OPSTREAM_PROP_CASES=" << params.maxSuccess << ")";
  }
}

// ---- JSON engine ----

// A small alphabet of nested paths, timestamps and peers so that ties, ancestors and descendants
// meet often. Values are raw texts as a client could send them (including non-minified ones).
rc::Gen<JsonCrdtOperation> GenJsonOp(std::vector<std::string> peers) {
  return rc::gen::apply(
      [](bool is_set, std::string path, std::string value, int64_t timestamp, std::string peer) {
        return is_set ? JsonCrdtOperation::Set(std::move(path), std::move(value), timestamp, std::move(peer))
                      : JsonCrdtOperation::Delete(std::move(path), timestamp, std::move(peer));
      },
      rc::gen::weightedElement<bool>({{7, true}, {3, false}}),
      rc::gen::elementOf(std::vector<std::string>{"a", "a.b", "a.b.c", "a.c", "b", "b.x", "c", "a[0]"}),
      rc::gen::elementOf(std::vector<std::string>{"1", "2", "\"x\"", "\"y\"", "true", "false", "null", "{\"k\":1}",
                                                  "{ \"k\":1}", "[1]"}),
      rc::gen::inRange<int64_t>(1, 8), rc::gen::elementOf(std::move(peers)));
}

const std::vector<std::string> kAllPeers = {"p1", "p2", "p3", "p4"};

rc::Gen<JsonOpBatch> GenJsonBatch(std::vector<std::string> peers = kAllPeers) {
  return rc::gen::map(rc::gen::container<std::vector<JsonCrdtOperation>>(GenJsonOp(std::move(peers))), [](auto ops) {
    if (ops.size() > 5) ops.resize(5);
    JsonOpBatch batch;
    batch.operations = std::move(ops);
    return batch;
  });
}

rc::Gen<std::vector<JsonOpBatch>> GenJsonHistory() {
  return rc::gen::map(rc::gen::container<std::vector<JsonOpBatch>>(GenJsonBatch()), [](auto batches) {
    if (batches.size() > 8) batches.resize(8);
    return batches;
  });
}

JsonDocument JsonStateFrom(const std::vector<JsonOpBatch>& history) {
  JsonDocument document;
  for (const auto& batch : history) RC_ASSERT(ApplyJsonOpBatch(document, batch).ok());
  return document;
}

std::map<std::string, std::string> Visible(const JsonDocument& document) {
  std::map<std::string, std::string> out;
  document.registers.ForEach([&](std::string_view path, const JsonRegister& reg) {
    if (!reg.deleted) out.emplace(path, reg.value);
  });
  return out;
}

std::string Bytes(const JsonDocument& document) {
  std::string out;
  SerializeJsonDocument(document, out);
  return out;
}

std::string Bytes(const JsonOpBatch& batch) {
  std::string out;
  SerializeJsonOpBatch(batch, out);
  return out;
}

JsonDocument Applied(JsonDocument document, const JsonOpBatch& batch) {
  RC_ASSERT(ApplyJsonOpBatch(document, batch).ok());
  return document;
}

// Concurrent batches come from different peers, as in a session, and every op carries its own
// stamp. Shared stamps break commutativity in two reference corners, reproduced on purpose:
// two batches with the same (timestamp, peer) on one path and equal raw texts (a set of null and a
// delete: the first applied stays, §6.3 rule 4), and one batch writing an ancestor and a deeper
// descendant with one stamp, whose outcome depends on whether the intermediate register already
// exists (JsonCrdtApply.SameStampBatchOverHierarchyIsOrderDependent).
TEST(JsonCrdtProperties, ConcurrentBatchesCommute) {
  CheckProperty("JsonCrdtProperties/ConcurrentBatchesCommute", 0x150A'0001, [] {
    const auto history = *GenJsonHistory();
    JsonOpBatch a = *GenJsonBatch({"p1", "p2"});
    JsonOpBatch b = *GenJsonBatch({"p3", "p4"});
    // Distinct stamps inside each batch and none shared with the history (see the file comment).
    for (JsonOpBatch* batch : {&a, &b}) {
      for (size_t i = 0; i < batch->operations.size(); ++i) {
        batch->operations[i].timestamp = 100 + batch->operations[i].timestamp * 8 + static_cast<int64_t>(i);
      }
    }
    const JsonDocument start = JsonStateFrom(history);
    const JsonDocument ab = Applied(Applied(start, a), b);
    const JsonDocument ba = Applied(Applied(start, b), a);
    RC_ASSERT(Visible(ab) == Visible(ba));
  });
}

TEST(JsonCrdtProperties, RedeliveryIsIdempotent) {
  CheckProperty("JsonCrdtProperties/RedeliveryIsIdempotent", 0x150A'0002, [] {
    const auto history = *GenJsonHistory();
    const JsonOpBatch a = *GenJsonBatch();
    const JsonDocument once = Applied(JsonStateFrom(history), a);
    RC_ASSERT(Bytes(Applied(once, a)) == Bytes(once));
  });
}

// The inverse of §6.7 restores every path the batch changed and never shows a value the
// pre-state did not have. It is not an exact undo: inverting a set of a path that did not exist is
// a delete at ts+1, which also hides older children that had beaten the set (the reference's
// behaviour; see docs/engines/json-and-form.md).
TEST(JsonCrdtProperties, InverseRestoresWhatTheBatchChanged) {
  CheckProperty("JsonCrdtProperties/InverseRestoresWhatTheBatchChanged", 0x150A'0003, [] {
    const auto history = *GenJsonHistory();
    const JsonOpBatch a = *GenJsonBatch();
    const JsonDocument start = JsonStateFrom(history);
    const JsonDocument changed = Applied(start, a);
    const JsonOpBatch inverse = InvertJsonOpBatch(a, start);
    const auto before = Visible(start);
    const auto during = Visible(changed);
    const auto after = Visible(Applied(changed, inverse));
    for (const auto& [path, value] : after) {
      auto it = before.find(path);
      RC_ASSERT(it != before.end());
      RC_ASSERT(it->second == value);
    }
    std::set<std::string> inverse_paths;
    for (const auto& op : inverse.operations) inverse_paths.insert(op.path);
    for (const auto& [path, value] : before) {
      auto it = during.find(path);
      if (it != during.end() && it->second == value) continue;  // untouched by the batch
      // A restoring set is stopped by a register between it and the inverse's own ancestor write
      // when the inverse tombstones that register with the same stamp (§6.5 only lets same-batch
      // ancestors through); the reference inverse has the same gap.
      bool blocked = false;
      for (size_t dot = path.rfind('.'); dot != std::string::npos && dot > 0; dot = path.rfind('.', dot - 1)) {
        const std::string ancestor = path.substr(0, dot);
        if (changed.registers.Contains(ancestor) && !inverse_paths.count(ancestor)) blocked = true;
      }
      if (!blocked) RC_ASSERT(after.count(path) == 1u);
    }
    for (const auto& [path, value] : during) {
      if (!before.count(path)) RC_ASSERT(after.count(path) == 0u);
    }
  });
}

TEST(JsonCrdtProperties, RestampedBatchWinsEverywhere) {
  CheckProperty("JsonCrdtProperties/RestampedBatchWinsEverywhere", 0x150A'0004, [] {
    const auto history = *GenJsonHistory();
    const JsonOpBatch a = *GenJsonBatch();
    const JsonDocument start = JsonStateFrom(history);
    const int64_t now = *rc::gen::inRange<int64_t>(0, 12);
    const JsonOpBatch restamped = RestampJsonOpBatch(a, start, now);
    RC_ASSERT(restamped.operations.size() == a.operations.size());
    int64_t latest = now;
    start.registers.ForEach(
        [&](std::string_view, const JsonRegister& reg) { latest = std::max(latest, reg.timestamp); });
    for (const auto& op : a.operations) latest = std::max(latest, op.timestamp);
    for (const auto& op : restamped.operations) RC_ASSERT(op.timestamp == latest + 1);
    // A single restamped op (an undo step) always takes effect. (In a larger batch an op can still
    // be stopped by a same-stamp tombstone the batch puts on an intermediate ancestor, §6.5.)
    if (a.operations.size() != 1) return;
    const JsonCrdtOperation& op = restamped.operations[0];
    const JsonDocument after = Applied(start, restamped);
    const JsonRegister* reg = after.registers.Find(op.path);
    RC_ASSERT(reg != nullptr);
    RC_ASSERT(reg->deleted == (op.kind == JsonOpKind::kDelete));
    if (op.kind == JsonOpKind::kSet) RC_ASSERT(reg->value == op.value);
  });
}

TEST(JsonCrdtProperties, SerializedOpsAndSnapshotsRoundTrip) {
  CheckProperty("JsonCrdtProperties/SerializedOpsAndSnapshotsRoundTrip", 0x150A'0005, [] {
    const auto history = *GenJsonHistory();
    const JsonDocument document = JsonStateFrom(history);
    JsonDocument reloaded;
    RC_ASSERT(LoadJsonDocument(Bytes(document), reloaded).ok());
    RC_ASSERT(Bytes(reloaded) == Bytes(document));
    for (const auto& batch : history) {
      JsonOpBatch reread;
      RC_ASSERT(ParseJsonOpBatch(Bytes(batch), reread).ok());
      RC_ASSERT(Bytes(reread) == Bytes(batch));
    }
  });
}

// ---- Form engine ----

// Every op gets its own (timestamp, peer) pair: identical pairs never overwrite (§8.3), so two
// replicas receiving them in different orders would keep different values (form-apply-004).
rc::Gen<std::vector<FormOpBatch>> GenFormBatches(int count) {
  return rc::gen::exec([count] {
    std::vector<FormOpBatch> batches(static_cast<size_t>(count));
    int64_t clock = 0;
    for (auto& batch : batches) {
      const int ops = *rc::gen::inRange(0, 5);
      for (int i = 0; i < ops; ++i) {
        FormOperation op;
        op.kind = *rc::gen::weightedElement<FormOpKind>({{7, FormOpKind::kSet}, {3, FormOpKind::kClear}});
        op.field = *rc::gen::elementOf(std::vector<std::string>{"name", "email", "age", "x"});
        if (op.kind == FormOpKind::kSet) {
          const std::string value = *rc::gen::elementOf(std::vector<std::string>{"1", "\"a\"", "null", "[ 2 ]"});
          if (value != "null") op.value = value;
        }
        clock += *rc::gen::inRange(0, 3);
        op.timestamp = clock;
        op.peer = "p" + std::to_string(i) + "-" + std::to_string(&batch - batches.data());
        batch.operations.push_back(std::move(op));
      }
    }
    return batches;
  });
}

FormDocument FormApplied(FormDocument document, const FormOpBatch& batch) {
  RC_ASSERT(ApplyFormOpBatch(document, batch).ok());
  return document;
}

// Field -> value text; a cleared field and an absent one look the same to a form.
std::map<std::string, std::string> Visible(const FormDocument& document) {
  std::map<std::string, std::string> out;
  document.fields.ForEach([&](std::string_view field, const FormRegister& reg) {
    if (reg.value) out.emplace(field, *reg.value);
  });
  return out;
}

std::string Bytes(const FormDocument& document) {
  std::string out;
  SerializeFormDocument(document, out);
  return out;
}

TEST(FormProperties, ConcurrentBatchesCommuteAndRedeliveryIsIdempotent) {
  CheckProperty("FormProperties/ConcurrentBatchesCommuteAndRedeliveryIsIdempotent", 0x150A'0011, [] {
    const int history_length = *rc::gen::inRange(0, 5);
    const auto batches = *GenFormBatches(history_length + 2);
    FormDocument start;
    for (int i = 0; i < history_length; ++i) start = FormApplied(std::move(start), batches[static_cast<size_t>(i)]);
    const FormOpBatch& a = batches[static_cast<size_t>(history_length)];
    const FormOpBatch& b = batches[static_cast<size_t>(history_length) + 1];
    const FormDocument ab = FormApplied(FormApplied(start, a), b);
    const FormDocument ba = FormApplied(FormApplied(start, b), a);
    // Same registers (values, timestamps, peers); only the key order may differ.
    std::map<std::string, std::string> ab_full, ba_full;
    ab.fields.ForEach([&](std::string_view f, const FormRegister& r) {
      ab_full.emplace(f, r.value.value_or("null") + "@" + std::to_string(r.timestamp) + r.peer.value_or(""));
    });
    ba.fields.ForEach([&](std::string_view f, const FormRegister& r) {
      ba_full.emplace(f, r.value.value_or("null") + "@" + std::to_string(r.timestamp) + r.peer.value_or(""));
    });
    RC_ASSERT(ab_full == ba_full);
    RC_ASSERT(Bytes(FormApplied(ab, b)) == Bytes(ab));
  });
}

TEST(FormProperties, InverseRestoresTheVisibleState) {
  CheckProperty("FormProperties/InverseRestoresTheVisibleState", 0x150A'0012, [] {
    const int history_length = *rc::gen::inRange(0, 5);
    const auto batches = *GenFormBatches(history_length + 1);
    FormDocument start;
    for (int i = 0; i < history_length; ++i) start = FormApplied(std::move(start), batches[static_cast<size_t>(i)]);
    const FormOpBatch& a = batches.back();
    // The wall clock is far above the generated timestamps, as for a real undo.
    const FormOpBatch inverse = InvertFormOpBatch(a, start, 1'700'000'000'000);
    RC_ASSERT(Visible(FormApplied(FormApplied(start, a), inverse)) == Visible(start));
  });
}

}  // namespace
}  // namespace opstream::engines
