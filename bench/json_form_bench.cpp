// Throughput of the `json` and `form` engines (engines.md §6, §8) on realistic op streams, and
// snapshot costs of a ~1 MB json document.
//
//   BM_JsonApplyStream/<registers>   a stream of 10,000 single-batch edits from 8 peers (mostly
//                                    sets of leaf paths, some deletes of subtrees, occasional
//                                    multi-op batches) applied to a document that already holds
//                                    <registers> registers (1x = 1,000, 10x, 100x). Time per op
//                                    must stay flat as the document grows (no scan per op).
//   BM_JsonServerPath/<registers>    the same stream as the server runs it: parse the client
//                                    payload, apply, serialize the stored/broadcast op.
//   BM_FormApplyStream/<fields>      form edits (set/clear of random fields), 1x/10x/100x fields.
//   BM_JsonSnapshotSerialize         serializing a ~1 MB json document (target < 10 ms)
//   BM_JsonSnapshotLoad              loading it back
//
// Every benchmark checks that its ops were accepted and reports an error otherwise.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "engines/form/form_engine.hpp"
#include "engines/json_crdt/json_crdt_engine.hpp"

namespace {

using namespace opstream::engines;

constexpr int kStreamLength = 10000;

std::string UserPath(int user, const char* field) { return "users." + std::to_string(user) + "." + field; }

// A document with `registers` registers shaped like a list of user records.
JsonDocument JsonDocumentWith(int registers) {
  JsonDocument document;
  JsonOpBatch batch;
  static const char* const kFields[] = {"name", "email", "age", "address.city", "address.zip"};
  for (int i = 0; i < registers; ++i) {
    const int user = i / 5;
    const char* field = kFields[i % 5];
    batch.operations.push_back(
        JsonCrdtOperation::Set(UserPath(user, field), "\"value " + std::to_string(i) + " with some text\"", 1, "seed"));
  }
  (void)ApplyJsonOpBatch(document, batch);
  return document;
}

std::vector<std::string> JsonStreamPayloads(int registers) {
  std::mt19937 rng(42);
  const int users = std::max(1, registers / 5);
  std::vector<std::string> payloads;
  payloads.reserve(kStreamLength);
  int64_t clock = 1000;
  for (int i = 0; i < kStreamLength; ++i) {
    const int user = static_cast<int>(rng() % static_cast<unsigned>(users));
    const std::string peer = "peer" + std::to_string(rng() % 8);
    const int kind = static_cast<int>(rng() % 100);
    std::string ops;
    auto add = [&](const std::string& op) { ops += (ops.empty() ? "" : ",") + op; };
    if (kind < 80) {
      add(R"({"$type":"set","path":")" + UserPath(user, "name") + R"(","value":"Name )" + std::to_string(i) +
          R"(","timestamp":)" + std::to_string(++clock) + R"(,"peerId":")" + peer + "\"}");
    } else if (kind < 90) {
      add(R"({"$type":"del","path":"users.)" + std::to_string(user) + R"(.address","timestamp":)" +
          std::to_string(++clock) + R"(,"peerId":")" + peer + "\"}");
    } else {
      for (const char* field : {"name", "email", "age"}) {
        add(R"({"$type":"set","path":")" + UserPath(user, field) + R"(","value":{"v":)" + std::to_string(i) +
            R"(,"tags":["a","b"]},"timestamp":)" + std::to_string(++clock) + R"(,"peerId":")" + peer + "\"}");
      }
    }
    payloads.push_back(R"({"operations":[)" + ops + "]}");
  }
  return payloads;
}

void BM_JsonApplyStream(benchmark::State& state) {
  const int registers = static_cast<int>(state.range(0));
  const JsonDocument base = JsonDocumentWith(registers);
  std::vector<JsonOpBatch> batches(kStreamLength);
  const auto payloads = JsonStreamPayloads(registers);
  for (size_t i = 0; i < payloads.size(); ++i) {
    if (!ParseJsonOpBatch(payloads[i], batches[i]).ok()) return state.SkipWithError("payload rejected");
  }
  for (auto _ : state) {
    state.PauseTiming();
    JsonDocument document = base;
    state.ResumeTiming();
    for (const auto& batch : batches) {
      if (!ApplyJsonOpBatch(document, batch).ok()) return state.SkipWithError("apply failed");
    }
    benchmark::DoNotOptimize(document);
  }
  state.SetItemsProcessed(state.iterations() * kStreamLength);
}
BENCHMARK(BM_JsonApplyStream)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_JsonServerPath(benchmark::State& state) {
  const int registers = static_cast<int>(state.range(0));
  const JsonDocument base = JsonDocumentWith(registers);
  const auto payloads = JsonStreamPayloads(registers);
  const auto engine = MakeJsonCrdtEngine();
  std::string stored;
  for (auto _ : state) {
    state.PauseTiming();
    JsonDocument document = base;
    state.ResumeTiming();
    for (const auto& payload : payloads) {
      std::unique_ptr<Op> op;
      if (!engine->ParseOp(payload, op).ok()) return state.SkipWithError("payload rejected");
      if (!engine->Apply(document, *op).ok()) return state.SkipWithError("apply failed");
      stored.clear();
      engine->SerializeOp(*op, stored);
    }
    benchmark::DoNotOptimize(document);
  }
  state.SetItemsProcessed(state.iterations() * kStreamLength);
}
BENCHMARK(BM_JsonServerPath)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_FormApplyStream(benchmark::State& state) {
  const int fields = static_cast<int>(state.range(0));
  FormDocument base;
  FormOpBatch seed;
  for (int i = 0; i < fields; ++i) {
    seed.operations.push_back({FormOpKind::kSet, "field" + std::to_string(i), "\"initial\"", 1, "seed"});
  }
  (void)ApplyFormOpBatch(base, seed);
  std::mt19937 rng(7);
  std::vector<FormOpBatch> batches(kStreamLength);
  int64_t clock = 10;
  for (auto& batch : batches) {
    const bool clear = rng() % 10 == 0;
    batch.operations.push_back({clear ? FormOpKind::kClear : FormOpKind::kSet,
                                "field" + std::to_string(rng() % static_cast<unsigned>(fields)),
                                clear ? std::nullopt : std::optional<std::string>("\"typed text\""), ++clock,
                                "peer" + std::to_string(rng() % 8)});
  }
  for (auto _ : state) {
    state.PauseTiming();
    FormDocument document = base;
    state.ResumeTiming();
    for (const auto& batch : batches) {
      if (!ApplyFormOpBatch(document, batch).ok()) return state.SkipWithError("apply failed");
    }
    benchmark::DoNotOptimize(document);
  }
  state.SetItemsProcessed(state.iterations() * kStreamLength);
}
BENCHMARK(BM_FormApplyStream)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

// ~1 MB: 5,600 registers with nested object values and non-ASCII text (escaped on output).
const JsonDocument& MegabyteDocument() {
  static const JsonDocument document = [] {
    JsonDocument d;
    JsonOpBatch batch;
    for (int i = 0; i < 5600; ++i) {
      batch.operations.push_back(
          JsonCrdtOperation::Set("doc.items." + std::to_string(i),
                                 R"({"title":"Item )" + std::to_string(i) +
                                     R"( — café","qty":12,"price":19.99,"tags":["red","large"],"done":false})",
                                 1700000000000 + i, "peer" + std::to_string(i % 8)));
    }
    (void)ApplyJsonOpBatch(d, batch);
    return d;
  }();
  return document;
}

void BM_JsonSnapshotSerialize(benchmark::State& state) {
  const JsonDocument& document = MegabyteDocument();
  std::string out;
  for (auto _ : state) {
    out.clear();
    SerializeJsonDocument(document, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(out.size()));
  state.counters["snapshot_bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_JsonSnapshotSerialize)->Unit(benchmark::kMillisecond);

void BM_JsonSnapshotLoad(benchmark::State& state) {
  std::string snapshot;
  SerializeJsonDocument(MegabyteDocument(), snapshot);
  for (auto _ : state) {
    JsonDocument document;
    if (!LoadJsonDocument(snapshot, document).ok()) return state.SkipWithError("load failed");
    benchmark::DoNotOptimize(document);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(snapshot.size()));
}
BENCHMARK(BM_JsonSnapshotLoad)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
