// Fuzz target for one document engine (OPSTREAM_FUZZ_ENGINE names it): op payloads come from
// clients and snapshots from storage, so both parsers see arbitrary bytes.
//
// Input: the first byte selects the mode (its value modulo 3), the rest is
//   0: an op payload: ParseOp, then re-serialization, Apply to an empty document, transforms;
//   1: a snapshot: LoadState and its serialize/reload fixed point;
//   2: "snapshot \0 op": the op is applied to the loaded document (the server's pipeline).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engines/engine.hpp"
#include "engines/form/form_engine.hpp"
#include "engines/json_crdt/json_crdt_engine.hpp"
#include "engines/rich_text/rich_text_engine.hpp"
#include "engines/table/table_engine.hpp"
#include "engines/text/text_engine.hpp"
#include "engines/tree/tree_engine.hpp"
#include "fuzz_check.hpp"

namespace {

using opstream::engines::DocumentState;
using opstream::engines::Engine;
using opstream::engines::Op;
using opstream::engines::Priority;
using opstream::fuzz::Check;

std::shared_ptr<const Engine> MakeEngine(std::string_view name) {
  namespace e = opstream::engines;
  if (name == "text") return e::MakeTextEngine();
  if (name == "rich-text") return e::MakeRichTextEngine();
  if (name == "json") return e::MakeJsonCrdtEngine();
  if (name == "form") return e::MakeFormEngine();
  if (name == "table") return e::MakeTableEngine();
  if (name == "tree") return e::MakeTreeEngine();
  return nullptr;
}

const Engine& TheEngine() {
  static const auto engine = MakeEngine(OPSTREAM_FUZZ_ENGINE);
  if (!engine) opstream::fuzz::Fail("unknown engine " OPSTREAM_FUZZ_ENGINE);
  return *engine;
}

std::string StateJson(const Engine& engine, const DocumentState& state) {
  std::string out;
  engine.SerializeState(state, out);
  return out;
}

std::string OpJson(const Engine& engine, const Op& op) {
  std::string out;
  engine.SerializeOp(op, out);
  return out;
}

// A serialized op must parse again and serialize to the same bytes (the stored and broadcast form
// is re-read by every client and by the server after a restart).
void CheckOpRoundTrip(const Engine& engine, const Op& op) {
  const auto first = OpJson(engine, op);
  std::unique_ptr<Op> reparsed;
  const auto status = engine.ParseOp(first, reparsed);
  Check(status.ok() && reparsed != nullptr, "serialized op does not parse", first + " -> " + status.message());
  const auto second = OpJson(engine, *reparsed);
  Check(first == second, "op serialization is not a fixed point", first + " != " + second);
  Check(engine.IsNoOp(op) == engine.IsNoOp(*reparsed), "IsNoOp changes after a round trip", first);
}

// Likewise for snapshots; returns the serialized state.
std::string CheckStateRoundTrip(const Engine& engine, const DocumentState& state) {
  const auto first = StateJson(engine, state);
  std::unique_ptr<DocumentState> reloaded;
  const auto status = engine.LoadState(first, reloaded);
  Check(status.ok() && reloaded != nullptr, "serialized snapshot does not load", first + " -> " + status.message());
  const auto second = StateJson(engine, *reloaded);
  Check(first == second, "snapshot serialization is not a fixed point", first + " != " + second);
  return first;
}

std::unique_ptr<DocumentState> Copy(const Engine& engine, const DocumentState& state) {
  std::unique_ptr<DocumentState> copy;
  Check(engine.LoadState(StateJson(engine, state), copy).ok(), "snapshot copy failed");
  return copy;
}

// Applies `op` to `state` as the server does and checks the documented contract: a failure leaves
// the state exactly as it was; a success yields a state that serializes and reloads.
void ApplyAndCheck(const Engine& engine, DocumentState& state, const Op& op) {
  const auto before = StateJson(engine, state);
  const auto pre_state = Copy(engine, state);
  const auto status = engine.Apply(state, op);
  if (!status.ok()) {
    Check(!status.message().empty(), "Apply failed without a message");
    Check(StateJson(engine, state) == before, "failed Apply changed the state", OpJson(engine, op));
    return;
  }
  CheckStateRoundTrip(engine, state);
  // Undo and merge paths: they must not crash on any accepted op.
  if (auto inverse = engine.Invert(op, *pre_state)) {
    CheckOpRoundTrip(engine, *inverse);
    (void)engine.Apply(*Copy(engine, state), *inverse);
  }
  if (auto restamped = engine.RestampToWin(op, state)) CheckOpRoundTrip(engine, *restamped);
}

// Rebasing an op over itself (two clients sending the same op) and composing it with itself.
void ExerciseOpAlgebra(const Engine& engine, const Op& op) {
  for (const auto priority : {Priority::kExistingWins, Priority::kIncomingWins}) {
    if (auto transformed = engine.Transform(op, op, priority)) CheckOpRoundTrip(engine, *transformed);
  }
  if (auto composed = engine.Compose(op, op)) CheckOpRoundTrip(engine, *composed);
}

void FuzzOp(const Engine& engine, std::string_view payload) {
  std::unique_ptr<Op> op;
  const auto status = engine.ParseOp(payload, op);
  if (!status.ok()) {
    Check(!status.message().empty(), "ParseOp failed without a message");
    return;
  }
  Check(op != nullptr, "ParseOp succeeded without an op");
  CheckOpRoundTrip(engine, *op);
  ExerciseOpAlgebra(engine, *op);
  auto state = engine.CreateEmpty();
  CheckStateRoundTrip(engine, *state);
  ApplyAndCheck(engine, *state, *op);
}

std::unique_ptr<DocumentState> FuzzState(const Engine& engine, std::string_view snapshot) {
  std::unique_ptr<DocumentState> state;
  const auto status = engine.LoadState(snapshot, state);
  if (!status.ok()) {
    Check(!status.message().empty(), "LoadState failed without a message");
    return nullptr;
  }
  Check(state != nullptr, "LoadState succeeded without a state");
  CheckStateRoundTrip(engine, *state);
  return state;
}

void FuzzApply(const Engine& engine, std::string_view input) {
  const auto split = input.find('\0');
  if (split == std::string_view::npos) return;
  auto state = FuzzState(engine, input.substr(0, split));
  std::unique_ptr<Op> op;
  if (!engine.ParseOp(input.substr(split + 1), op).ok()) return;
  CheckOpRoundTrip(engine, *op);
  if (!state) state = engine.CreateEmpty();
  ApplyAndCheck(engine, *state, *op);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& engine = TheEngine();
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      FuzzOp(engine, rest);
      break;
    case 1:
      FuzzState(engine, rest);
      break;
    default:
      FuzzApply(engine, rest);
      break;
  }
  return 0;
}
