// Replays the automerge-paper editing trace (259,778 single-character edits, final text 104,852
// characters; see shared/data/README.md) through the text engine.
//
//   BM_TraceApply            every edit as a pre-built TextOp through Engine::Apply (the state is
//                            a UTF-16 gap buffer edited in place)
//   BM_TraceApplyTyped       the same through ApplyTextOp, without the virtual call and type checks
//   BM_TraceServerPath       what the server does per edit (engines.md §3.2) through the Engine
//                            interface: parse the client's JSON payload, rebase it over the
//                            previous edit when its base revision is stale, apply, serialize
//   BM_TraceServerPathTyped  the same with reused TextOp objects (no allocations per edit)
//   BM_TraceGapBufferBaseline  a plain UTF-16 gap buffer replaying the same patches
//   BM_PayloadParseDom / BM_PayloadParseOndemand / BM_OpSerialize  the per-edit JSON work alone
//   BM_SnapshotSerialize / BM_SnapshotLoad  the final document as {"content":...}
//
// Every benchmark checks the final text against the trace's finalText.
#include <benchmark/benchmark.h>
#include <simdjson.h>
#include <zlib.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engines/json/utf16.hpp"
#include "engines/text/text_engine.hpp"

namespace {

using opstream::Status;
using opstream::engines::ApplyTextOp;
using opstream::engines::DocumentState;
using opstream::engines::Op;
using opstream::engines::ParseTextOp;
using opstream::engines::Priority;
using opstream::engines::SerializeTextOp;
using opstream::engines::TextDocument;
using opstream::engines::TextEngine;
using opstream::engines::TextOp;
using opstream::engines::TransformTextOp;

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

bool ReadGzip(const std::string& path, std::string& out) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return false;
  char buffer[1 << 16];
  int read;
  while ((read = gzread(file, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<size_t>(read));
  const bool ok = read == 0;
  gzclose(file);
  return ok;
}

Trace ReadTrace() {
  Trace trace;
  const std::string path = std::string(OPSTREAM_SHARED_DIR) + "/data/automerge-paper.json.gz";
  std::string json;
  if (!ReadGzip(path, json)) {
    trace.error = "cannot read " + path;
    return trace;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root)) {
    trace.error = path + " is not valid JSON";
    return trace;
  }
  std::string_view final_text;
  simdjson::dom::array patches;
  if (root["finalText"].get(final_text) || root["patches"].get(patches)) {
    trace.error = path + " lacks finalText or patches";
    return trace;
  }
  trace.final_text = opstream::engines::json::Utf8ToUtf16(final_text);
  for (simdjson::dom::element patch : patches) {
    int64_t position = 0, deleted = 0;
    std::string_view inserted;
    if (patch.at(0).get(position) || patch.at(1).get(deleted) || patch.at(2).get(inserted)) {
      trace.error = "malformed patch";
      return trace;
    }
    trace.patches.push_back({position, deleted, opstream::engines::json::Utf8ToUtf16(inserted)});
  }
  return trace;
}

const Trace& GetTrace() {
  static const Trace trace = ReadTrace();
  return trace;
}

// The op a client sends for one patch: retain to the position, then delete and/or insert.
TextOp PatchOp(const Patch& patch) {
  TextOp op;
  op.AppendRetain(patch.position);
  if (patch.deleted > 0) op.AppendDelete(patch.deleted);
  if (!patch.inserted.empty()) op.AppendInsert(patch.inserted);
  return op;
}

std::string Payload(const TextOp& op) {
  std::string out;
  SerializeTextOp(op, out);
  return out;
}

bool CheckFinal(benchmark::State& state, const TextDocument& document) {
  if (!document.Equals(GetTrace().final_text)) {
    state.SkipWithError("final text differs from the trace's finalText");
    return false;
  }
  return true;
}

// ------------------------------------------------------------------------------------------------

void BM_TraceApply(benchmark::State& state) {
  const Trace& trace = GetTrace();
  if (!trace.error.empty()) return state.SkipWithError(trace.error.c_str());
  std::vector<TextOp> ops;
  ops.reserve(trace.patches.size());
  for (const Patch& patch : trace.patches) ops.push_back(PatchOp(patch));
  const TextEngine engine;
  for (auto _ : state) {
    std::unique_ptr<DocumentState> document = engine.CreateEmpty();
    for (const TextOp& op : ops) {
      const Status status = engine.Apply(*document, op);
      if (!status.ok()) return state.SkipWithError(status.message().c_str());
    }
    benchmark::DoNotOptimize(document.get());
    state.PauseTiming();
    const bool ok = CheckFinal(state, *opstream::engines::AsTextDocument(*document));
    state.ResumeTiming();
    if (!ok) return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ops.size()));
}
BENCHMARK(BM_TraceApply)->Unit(benchmark::kMillisecond);

void BM_TraceApplyTyped(benchmark::State& state) {
  const Trace& trace = GetTrace();
  if (!trace.error.empty()) return state.SkipWithError(trace.error.c_str());
  std::vector<TextOp> ops;
  ops.reserve(trace.patches.size());
  for (const Patch& patch : trace.patches) ops.push_back(PatchOp(patch));
  for (auto _ : state) {
    TextDocument document;
    for (const TextOp& op : ops) {
      if (!ApplyTextOp(document, op).ok()) return state.SkipWithError("apply failed");
    }
    benchmark::DoNotOptimize(&document);
    state.PauseTiming();
    const bool ok = CheckFinal(state, document);
    state.ResumeTiming();
    if (!ok) return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ops.size()));
}
BENCHMARK(BM_TraceApplyTyped)->Unit(benchmark::kMillisecond);

// ------------------------------------------------------------------------------------------------
// Server path. Each edit arrives one revision late whenever that is expressible: the client sends
// the edit as it would have looked before the previous edit (its "pre-image"), and the server
// rebases it over the previous edit with ExistingWins, which must give the trace's edit back. An
// edit that touches the character the previous edit inserted has no pre-image and is sent with an
// up-to-date base (no rebase), as a client that had seen that edit would do.

struct ServerEdit {
  std::string payload;
  bool stale;  // rebase over the previous edit
};

// Position of the single-character `patch` before `previous` happened, or -1 if none gives it back.
int64_t PreImagePosition(const Patch& previous, const Patch& patch) {
  const int64_t p1 = previous.position, p2 = patch.position;
  if (previous.deleted == 0) {  // previous inserted one character at p1
    if (p2 < p1) return p2;
    if (p2 == p1) return -1;  // before/at the new character: ExistingWins would put it after
    return p2 - 1;
  }
  return p2 < p1 ? p2 : p2 + 1;  // previous deleted the character at p1
}

TextOp WithoutTrailingRetain(const TextOp& op) {
  TextOp out;
  size_t end = op.size();
  if (end > 0 && op[end - 1].kind == opstream::engines::TextComponentKind::kRetain) --end;
  for (size_t i = 0; i < end; ++i) {
    if (op[i].kind == opstream::engines::TextComponentKind::kInsert) {
      out.PushInsert(op[i].text);
    } else if (op[i].kind == opstream::engines::TextComponentKind::kRetain) {
      out.PushRetain(op[i].count);
    } else {
      out.PushDelete(op[i].count);
    }
  }
  return out;
}

std::vector<ServerEdit> BuildServerEdits(const Trace& trace, std::string& error) {
  std::vector<ServerEdit> edits;
  edits.reserve(trace.patches.size());
  for (size_t i = 0; i < trace.patches.size(); ++i) {
    const Patch& patch = trace.patches[i];
    const TextOp direct = PatchOp(patch);
    const int64_t position = i > 0 ? PreImagePosition(trace.patches[i - 1], patch) : -1;
    if (position >= 0) {
      Patch moved = patch;
      moved.position = position;
      const TextOp pre_image = PatchOp(moved);
      TextOp rebased, expected;
      TransformTextOp(pre_image, PatchOp(trace.patches[i - 1]), Priority::kExistingWins, rebased);
      // The rebase output is compacted and may end with a retain (an existing insert after the
      // edit becomes one, §4.5); text after the last component is kept anyway.
      expected.PushRetain(patch.position);
      expected.PushDelete(patch.deleted);
      expected.PushInsert(patch.inserted);
      if (!(WithoutTrailingRetain(rebased) == expected)) {
        error = "pre-image of edit " + std::to_string(i) + " does not rebase to the edit";
        return {};
      }
      edits.push_back({Payload(pre_image), true});
    } else {
      edits.push_back({Payload(direct), false});
    }
  }
  return edits;
}

void BM_TraceServerPath(benchmark::State& state) {
  const Trace& trace = GetTrace();
  if (!trace.error.empty()) return state.SkipWithError(trace.error.c_str());
  std::string error;
  const std::vector<ServerEdit> edits = BuildServerEdits(trace, error);
  if (!error.empty()) return state.SkipWithError(error.c_str());
  const TextEngine engine;
  std::string broadcast;
  size_t stale = 0;
  for (auto _ : state) {
    std::unique_ptr<DocumentState> document = engine.CreateEmpty();
    std::unique_ptr<Op> previous;  // the op log's last entry
    stale = 0;
    for (const ServerEdit& edit : edits) {
      std::unique_ptr<Op> op;
      Status status = engine.ParseOp(edit.payload, op);
      if (!status.ok()) return state.SkipWithError(status.message().c_str());
      if (edit.stale) {
        op = engine.Transform(*op, *previous, Priority::kExistingWins);
        if (op == nullptr || engine.IsNoOp(*op)) return state.SkipWithError("edit absorbed");
        ++stale;
      }
      status = engine.Apply(*document, *op);
      if (!status.ok()) return state.SkipWithError(status.message().c_str());
      broadcast.clear();
      engine.SerializeOp(*op, broadcast);
      benchmark::DoNotOptimize(broadcast.data());
      previous = std::move(op);
    }
    state.PauseTiming();
    const bool ok = CheckFinal(state, *opstream::engines::AsTextDocument(*document));
    state.ResumeTiming();
    if (!ok) return;
  }
  state.counters["rebased_edits"] = static_cast<double>(stale);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * edits.size()));
}
BENCHMARK(BM_TraceServerPath)->Unit(benchmark::kMillisecond);

void BM_TraceServerPathTyped(benchmark::State& state) {
  const Trace& trace = GetTrace();
  if (!trace.error.empty()) return state.SkipWithError(trace.error.c_str());
  std::string error;
  const std::vector<ServerEdit> edits = BuildServerEdits(trace, error);
  if (!error.empty()) return state.SkipWithError(error.c_str());
  std::string broadcast;
  for (auto _ : state) {
    TextDocument document;
    TextOp parsed, rebased, previous;
    for (const ServerEdit& edit : edits) {
      if (!ParseTextOp(edit.payload, parsed).ok()) return state.SkipWithError("parse failed");
      TextOp* op = &parsed;
      if (edit.stale) {
        TransformTextOp(parsed, previous, Priority::kExistingWins, rebased);
        op = &rebased;
      }
      if (!ApplyTextOp(document, *op).ok()) return state.SkipWithError("apply failed");
      broadcast.clear();
      SerializeTextOp(*op, broadcast);
      benchmark::DoNotOptimize(broadcast.data());
      std::swap(previous, *op);
    }
    state.PauseTiming();
    const bool ok = CheckFinal(state, document);
    state.ResumeTiming();
    if (!ok) return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * edits.size()));
}
BENCHMARK(BM_TraceServerPathTyped)->Unit(benchmark::kMillisecond);

// ------------------------------------------------------------------------------------------------
// Baseline: the simplest UTF-16 gap buffer, no op objects.

class PlainGapBuffer {
 public:
  void Replace(size_t position, size_t deleted, std::u16string_view inserted) {
    if (gap_end_ - gap_begin_ < inserted.size()) Grow(inserted.size());
    if (position < gap_begin_) {
      const size_t count = gap_begin_ - position;
      std::memmove(&data_[gap_end_ - count], &data_[position], count * sizeof(char16_t));
      gap_begin_ -= count;
      gap_end_ -= count;
    } else if (position > gap_begin_) {
      const size_t count = position - gap_begin_;
      std::memmove(&data_[gap_begin_], &data_[gap_end_], count * sizeof(char16_t));
      gap_begin_ += count;
      gap_end_ += count;
    }
    gap_end_ += deleted;
    std::memcpy(&data_[gap_begin_], inserted.data(), inserted.size() * sizeof(char16_t));
    gap_begin_ += inserted.size();
  }
  std::u16string Text() const {
    std::u16string text(data_.begin(), data_.begin() + static_cast<ptrdiff_t>(gap_begin_));
    text.append(data_.begin() + static_cast<ptrdiff_t>(gap_end_), data_.end());
    return text;
  }

 private:
  void Grow(size_t needed) {
    const size_t tail = data_.size() - gap_end_;
    const size_t size = std::max(data_.size() * 2, data_.size() + needed + 256);
    std::vector<char16_t> grown(size);
    std::copy(data_.begin(), data_.begin() + static_cast<ptrdiff_t>(gap_begin_), grown.begin());
    std::copy(data_.end() - static_cast<ptrdiff_t>(tail), data_.end(), grown.end() - static_cast<ptrdiff_t>(tail));
    gap_end_ = size - tail;
    data_ = std::move(grown);
  }
  std::vector<char16_t> data_;
  size_t gap_begin_ = 0;
  size_t gap_end_ = 0;
};

void BM_TraceGapBufferBaseline(benchmark::State& state) {
  const Trace& trace = GetTrace();
  if (!trace.error.empty()) return state.SkipWithError(trace.error.c_str());
  for (auto _ : state) {
    PlainGapBuffer buffer;
    for (const Patch& patch : trace.patches) {
      buffer.Replace(static_cast<size_t>(patch.position), static_cast<size_t>(patch.deleted), patch.inserted);
    }
    benchmark::DoNotOptimize(&buffer);
    state.PauseTiming();
    const bool ok = buffer.Text() == trace.final_text;
    state.ResumeTiming();
    if (!ok) return state.SkipWithError("final text differs from the trace's finalText");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * trace.patches.size()));
}
BENCHMARK(BM_TraceGapBufferBaseline)->Unit(benchmark::kMillisecond);

// ------------------------------------------------------------------------------------------------
// Reader choice: ParseTextOp (simdjson DOM, thread-local parser, full validation) against a bare
// simdjson On-Demand walk that extracts the same fields. On-Demand only validates what it visits
// (unknown properties are skipped without full checks), so it cannot enforce §1.3 item 6 alone;
// this measures what the DOM's guarantees cost.

std::vector<std::string> ClientPayloads(const Trace& trace) {
  std::vector<std::string> payloads;
  payloads.reserve(trace.patches.size());
  for (const Patch& patch : trace.patches) payloads.push_back(Payload(PatchOp(patch)));
  return payloads;
}

void BM_PayloadParseDom(benchmark::State& state) {
  const Trace& trace = GetTrace();
  if (!trace.error.empty()) return state.SkipWithError(trace.error.c_str());
  const std::vector<std::string> payloads = ClientPayloads(trace);
  TextOp op;
  for (auto _ : state) {
    for (const std::string& payload : payloads) {
      if (!ParseTextOp(payload, op).ok()) return state.SkipWithError("parse failed");
      benchmark::DoNotOptimize(&op);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * payloads.size()));
}
BENCHMARK(BM_PayloadParseDom)->Unit(benchmark::kMillisecond);

void BM_PayloadParseOndemand(benchmark::State& state) {
  namespace od = simdjson::ondemand;
  const Trace& trace = GetTrace();
  if (!trace.error.empty()) return state.SkipWithError(trace.error.c_str());
  const std::vector<std::string> payloads = ClientPayloads(trace);
  od::parser parser;
  std::string padded;
  TextOp op;
  for (auto _ : state) {
    for (const std::string& payload : payloads) {
      // On-Demand needs SIMDJSON_PADDING readable bytes after the input; the DOM copies for us.
      padded.assign(payload);
      padded.reserve(payload.size() + simdjson::SIMDJSON_PADDING);
      od::document document;
      od::object root;
      if (parser.iterate(padded.data(), padded.size(), padded.capacity()).get(document) ||
          document.get_object().get(root)) {
        return state.SkipWithError("parse failed");
      }
      op.Clear();
      for (auto field : root) {
        std::string_view key;
        od::array components;
        if (field.unescaped_key().get(key) || key != "components" || field.value().get_array().get(components)) {
          continue;
        }
        for (auto element : components) {
          od::object component;
          if (element.get_object().get(component)) return state.SkipWithError("component");
          std::string_view type, text;
          int64_t count = 0;
          for (auto member : component) {
            std::string_view name;
            if (member.unescaped_key().get(name)) return state.SkipWithError("key");
            if (name == "type") {
              if (member.value().get_string().get(type)) return state.SkipWithError("type");
            } else if (name == "count") {
              if (member.value().get_int64().get(count)) return state.SkipWithError("count");
            } else if (name == "text") {
              if (member.value().get_string().get(text)) return state.SkipWithError("text");
            }
          }
          if (type == "insert") {
            op.AppendInsertUtf8(text);
          } else if (type == "retain") {
            op.AppendRetain(count);
          } else {
            op.AppendDelete(count);
          }
        }
      }
      benchmark::DoNotOptimize(&op);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * payloads.size()));
}
BENCHMARK(BM_PayloadParseOndemand)->Unit(benchmark::kMillisecond);

void BM_OpSerialize(benchmark::State& state) {
  const Trace& trace = GetTrace();
  if (!trace.error.empty()) return state.SkipWithError(trace.error.c_str());
  std::vector<TextOp> ops;
  for (const Patch& patch : trace.patches) ops.push_back(PatchOp(patch));
  std::string out;
  for (auto _ : state) {
    for (const TextOp& op : ops) {
      out.clear();
      SerializeTextOp(op, out);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ops.size()));
}
BENCHMARK(BM_OpSerialize)->Unit(benchmark::kMillisecond);

// ------------------------------------------------------------------------------------------------

void BM_SnapshotSerialize(benchmark::State& state) {
  const Trace& trace = GetTrace();
  if (!trace.error.empty()) return state.SkipWithError(trace.error.c_str());
  const TextDocument document(trace.final_text);
  std::string snapshot;
  for (auto _ : state) {
    snapshot.clear();
    opstream::engines::SerializeTextDocument(document, snapshot);
    benchmark::DoNotOptimize(snapshot.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * snapshot.size()));
}
BENCHMARK(BM_SnapshotSerialize)->Unit(benchmark::kMicrosecond);

void BM_SnapshotLoad(benchmark::State& state) {
  const Trace& trace = GetTrace();
  if (!trace.error.empty()) return state.SkipWithError(trace.error.c_str());
  std::string snapshot;
  opstream::engines::SerializeTextDocument(TextDocument(trace.final_text), snapshot);
  TextDocument document;
  for (auto _ : state) {
    if (!opstream::engines::LoadTextDocument(snapshot, document).ok()) return state.SkipWithError("load failed");
    benchmark::DoNotOptimize(&document);
  }
  if (!document.Equals(trace.final_text)) return state.SkipWithError("snapshot round trip changed the text");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * snapshot.size()));
}
BENCHMARK(BM_SnapshotLoad)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
