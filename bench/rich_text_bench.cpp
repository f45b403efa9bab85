// Throughput of the rich-text engine (engines.md §5).
//
//   BM_RichTraceApply/<styled>   the automerge-paper trace (259,778 one-character edits, see
//                                shared/data/README.md) as RichTextOps through Engine::Apply;
//                                styled=1 gives the inserts attributes that change every 64 edits
//                                (thousands of runs), styled=0 leaves them plain (one run)
//   BM_RichTraceServerPath       per edit what the server does (§3.2): parse the client payload,
//                                apply, serialize the broadcast op
//   BM_RichTransform             Transform of realistic concurrent op pairs (typing, deleting,
//                                formatting a range, replacing) on a 100k-unit document
//   BM_RichApplyLocal/<units>    typing and formatting around a moving cursor in documents of
//                                10k/100k/1M units with a run every ~40 units: per-op cost must not
//                                grow with the document
//   BM_RichApplyRandom/<units>   edits at uniformly random positions (gap-buffer worst case,
//                                linear in the distance moved)
//   BM_RichSnapshotSerialize/<units>, BM_RichSnapshotLoad/<units>   {"content":[...]} of those
//                                documents (the ~1 MB one must serialize in under 10 ms)
//
// Every trace benchmark checks its final text against the trace's finalText.
#include <benchmark/benchmark.h>
#include <simdjson.h>
#include <zlib.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engines/json/utf16.hpp"
#include "engines/rich_text/rich_text_engine.hpp"

namespace {

using namespace opstream::engines;  // NOLINT: benchmark-local brevity

struct Patch {
  int64_t position;
  int64_t deleted;
  std::u16string inserted;
};

struct Trace {
  std::vector<Patch> patches;
  std::u16string final_text;
  std::string error;
};

// Same file format as bench/trace_bench.cpp (shared/data/README.md).
Trace ReadTrace() {
  Trace trace;
  const std::string path = std::string(OPSTREAM_SHARED_DIR) + "/data/automerge-paper.json.gz";
  std::string json;
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    trace.error = "cannot read " + path;
    return trace;
  }
  char buffer[1 << 16];
  int read;
  while ((read = gzread(file, buffer, sizeof buffer)) > 0) json.append(buffer, static_cast<size_t>(read));
  gzclose(file);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view final_text;
  simdjson::dom::array patches;
  if (read < 0 || parser.parse(json).get(root) || root["finalText"].get(final_text) || root["patches"].get(patches)) {
    trace.error = path + " is not a trace file";
    return trace;
  }
  trace.final_text = json::Utf8ToUtf16(final_text);
  for (simdjson::dom::element patch : patches) {
    int64_t position = 0, deleted = 0;
    std::string_view inserted;
    if (patch.at(0).get(position) || patch.at(1).get(deleted) || patch.at(2).get(inserted)) {
      trace.error = "malformed patch";
      return trace;
    }
    trace.patches.push_back({position, deleted, json::Utf8ToUtf16(inserted)});
  }
  return trace;
}

const Trace& GetTrace() {
  static const Trace trace = ReadTrace();
  return trace;
}

RichTextAttributes Attributes(const std::string& json) {
  RichTextAttributes out;
  if (!ParseRichTextAttributes(json, out).ok()) std::abort();
  return out;
}

std::vector<RichTextAttributes> Styles() {
  return {nullptr, Attributes(R"({"bold":true})"), Attributes(R"({"italic":true,"color":"#336699"})"),
          Attributes(R"({"link":{"href":"https://example.com/"}})"), Attributes(R"({"header":2})")};
}

std::vector<RichTextOp> TraceOps(bool styled) {
  const std::vector<RichTextAttributes> styles = Styles();
  std::vector<RichTextOp> ops;
  ops.reserve(GetTrace().patches.size());
  size_t i = 0;
  for (const Patch& patch : GetTrace().patches) {
    RichTextOp op;
    op.AppendRetain(patch.position);
    if (patch.deleted > 0) op.AppendDelete(patch.deleted);
    if (!patch.inserted.empty()) op.AppendInsert(patch.inserted, styled ? styles[(i / 64) % styles.size()] : nullptr);
    ops.push_back(std::move(op));
    ++i;
  }
  return ops;
}

void BM_RichTraceApply(benchmark::State& state) {
  const Trace& trace = GetTrace();
  if (!trace.error.empty()) return state.SkipWithError(trace.error.c_str());
  const std::vector<RichTextOp> ops = TraceOps(state.range(0) != 0);
  const RichTextEngine engine;
  size_t runs = 0;
  for (auto _ : state) {
    std::unique_ptr<DocumentState> document = engine.CreateEmpty();
    for (const RichTextOp& op : ops) {
      if (const opstream::Status status = engine.Apply(*document, op); !status.ok()) {
        return state.SkipWithError(status.message().c_str());
      }
    }
    const auto* rich = AsRichTextDocument(*document);
    if (rich->Text() != trace.final_text) return state.SkipWithError("final text differs from finalText");
    runs = rich->run_count();
  }
  state.counters["runs"] = static_cast<double>(runs);
  state.counters["ns/edit"] = benchmark::Counter(
      static_cast<double>(ops.size()), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RichTraceApply)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_RichTraceServerPath(benchmark::State& state) {
  const Trace& trace = GetTrace();
  if (!trace.error.empty()) return state.SkipWithError(trace.error.c_str());
  std::vector<std::string> payloads;
  for (const RichTextOp& op : TraceOps(true)) {
    payloads.emplace_back();
    SerializeRichTextOp(op, payloads.back());
  }
  const RichTextEngine engine;
  std::string stored;
  for (auto _ : state) {
    std::unique_ptr<DocumentState> document = engine.CreateEmpty();
    for (const std::string& payload : payloads) {
      std::unique_ptr<Op> op;
      if (!engine.ParseOp(payload, op).ok() || !engine.Apply(*document, *op).ok()) {
        return state.SkipWithError("parse or apply failed");
      }
      stored.clear();
      engine.SerializeOp(*op, stored);
      benchmark::DoNotOptimize(stored.data());
    }
    if (AsRichTextDocument(*document)->Text() != trace.final_text) return state.SkipWithError("final text differs");
  }
  state.counters["ns/edit"] =
      benchmark::Counter(static_cast<double>(payloads.size()),
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RichTraceServerPath)->Unit(benchmark::kMillisecond);

// A document of `units` characters with a run boundary every ~40 units.
RichTextDocument MakeDocument(int64_t units, const std::vector<RichTextAttributes>& styles) {
  RichTextDocument document;
  std::mt19937_64 random(units);
  const std::u16string words = u"lorem ipsum dolor sit amet, consectetur adipiscing elit; \u00E9t\u00E9 ";
  std::u16string text;
  int64_t made = 0;
  size_t style = 0;
  while (made < units) {
    const int64_t length = std::min<int64_t>(units - made, 20 + static_cast<int64_t>(random() % 40));
    text.clear();
    for (int64_t i = 0; i < length; ++i) text.push_back(words[static_cast<size_t>(made + i) % words.size()]);
    style = (style + 1 + random() % (styles.size() - 1)) % styles.size();
    document.AppendRun(text, styles[style]);
    made += length;
  }
  return document;
}

// Typing, deleting and formatting near a cursor that drifts through the document.
std::vector<RichTextOp> LocalOps(int64_t units, const std::vector<RichTextAttributes>& styles, size_t count) {
  std::vector<RichTextOp> ops;
  std::mt19937_64 random(42);
  int64_t cursor = units / 2;
  int64_t length = units;
  for (size_t i = 0; i < count; ++i) {
    cursor = std::clamp<int64_t>(cursor + static_cast<int64_t>(random() % 200) - 100, 0, length - 10);
    RichTextOp op;
    op.AppendRetain(cursor);
    const auto kind = random() % 10;
    if (kind < 6) {
      op.AppendInsert(u"x", styles[random() % styles.size()]);
      ++length;
    } else if (kind < 8) {
      op.AppendDelete(1);
      --length;
    } else {
      op.AppendRetain(8, styles[1 + random() % (styles.size() - 1)]);
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

std::vector<RichTextOp> RandomOps(int64_t units, const std::vector<RichTextAttributes>& styles, size_t count) {
  std::vector<RichTextOp> ops;
  std::mt19937_64 random(7);
  for (size_t i = 0; i < count; ++i) {
    RichTextOp op;
    op.AppendRetain(static_cast<int64_t>(random() % static_cast<uint64_t>(units - 10)));
    if (i % 2 == 0) {
      op.AppendInsert(u"y", styles[random() % styles.size()]);
    } else {
      op.AppendDelete(1);
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

template <bool kLocal>
void ApplyScaling(benchmark::State& state) {
  const int64_t units = state.range(0);
  const std::vector<RichTextAttributes> styles = Styles();
  const RichTextDocument original = MakeDocument(units, styles);
  std::string snapshot;
  SerializeRichTextDocument(original, snapshot);
  const std::vector<RichTextOp> ops = kLocal ? LocalOps(units, styles, 2000) : RandomOps(units, styles, 2000);
  RichTextDocument document;
  RichTextOp start;
  start.AppendRetain(kLocal ? units / 2 : 0);
  for (auto _ : state) {
    // Untimed: loading, freeing the previous copy, and the first move to the editing area.
    state.PauseTiming();
    if (!LoadRichTextDocument(snapshot, document).ok()) return state.SkipWithError("load failed");
    if (!ApplyRichTextOp(document, start).ok()) return state.SkipWithError("apply failed");
    state.ResumeTiming();
    for (const RichTextOp& op : ops) {
      if (!ApplyRichTextOp(document, op).ok()) return state.SkipWithError("apply failed");
    }
    benchmark::DoNotOptimize(&document);
  }
  state.counters["runs"] = static_cast<double>(original.run_count());
  state.counters["ns/op"] = benchmark::Counter(
      static_cast<double>(ops.size()), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
void BM_RichApplyLocal(benchmark::State& state) { ApplyScaling<true>(state); }
void BM_RichApplyRandom(benchmark::State& state) { ApplyScaling<false>(state); }
BENCHMARK(BM_RichApplyLocal)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RichApplyRandom)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

void BM_RichTransform(benchmark::State& state) {
  const std::vector<RichTextAttributes> styles = Styles();
  const int64_t units = 100'000;
  std::mt19937_64 random(3);
  // Pairs of concurrent ops as clients send them: a retain to the edit, then the edit (with an
  // occasional trailing retain to the end, as Quill deltas from some adapters have).
  const auto make = [&](int kind) {
    RichTextOp op;
    const auto position = static_cast<int64_t>(random() % (units - 100));
    op.AppendRetain(position);
    switch (kind) {
      case 0:
        op.AppendInsert(u"typed", styles[random() % styles.size()]);
        break;
      case 1:
        op.AppendDelete(1 + static_cast<int64_t>(random() % 5));
        break;
      case 2:
        op.AppendRetain(1 + static_cast<int64_t>(random() % 60), styles[1 + random() % (styles.size() - 1)]);
        break;
      default:
        op.AppendDelete(3);
        op.AppendInsert(u"new", nullptr);
    }
    if (random() % 4 == 0) op.AppendRetain(units - position);
    return op;
  };
  std::vector<std::pair<RichTextOp, RichTextOp>> pairs;
  for (int i = 0; i < 4096; ++i) pairs.emplace_back(make(i % 4), make((i / 4) % 4));
  RichTextOp out;
  size_t i = 0;
  for (auto _ : state) {
    const auto& [a, b] = pairs[i++ % pairs.size()];
    benchmark::DoNotOptimize(TransformRichTextOp(a, b, Priority::kExistingWins, out));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_RichTransform);

void BM_RichSnapshotSerialize(benchmark::State& state) {
  const RichTextDocument document = MakeDocument(state.range(0), Styles());
  std::string snapshot;
  for (auto _ : state) {
    snapshot.clear();
    SerializeRichTextDocument(document, snapshot);
    benchmark::DoNotOptimize(snapshot.data());
  }
  state.counters["bytes"] = static_cast<double>(snapshot.size());
  state.counters["runs"] = static_cast<double>(document.run_count());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * snapshot.size()));
}
BENCHMARK(BM_RichSnapshotSerialize)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

void BM_RichSnapshotLoad(benchmark::State& state) {
  const RichTextDocument original = MakeDocument(state.range(0), Styles());
  std::string snapshot;
  SerializeRichTextDocument(original, snapshot);
  for (auto _ : state) {
    RichTextDocument document;
    if (!LoadRichTextDocument(snapshot, document).ok()) return state.SkipWithError("load failed");
    benchmark::DoNotOptimize(&document);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * snapshot.size()));
}
BENCHMARK(BM_RichSnapshotLoad)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
