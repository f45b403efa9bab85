// Table and tree engine benchmarks (engines.md §7, §9). Figures and commands are in
// docs/engines/table-and-tree.md.
//
// * BM_Table10kRows100kOps / BM_Tree10kNodes100kOps: the headline scenario — a document of 10,000
//   rows (nodes) receives 100,000 random ops through the Engine interface (parse the client
//   payload, apply, serialize the broadcast op), one op per batch as clients send them.
// * BM_TableOpsAtScale / BM_TreeOpsAtScale: 10,000 random ops on documents of 1x/10x/100x
//   1,000 rows (nodes); the time per op must not grow with the document (nothing is quadratic).
// * BM_TreeLateMoveAtScale: the Kleppmann worst case, one move whose timestamp sorts before the
//   last `late` moves of the log; its cost grows with `late`, not with the log length.
// * BM_*SnapshotSerialize / Load: a ~1 MB snapshot (target: serialize in < 10 ms).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "engines/table/table_engine.hpp"
#include "engines/tree/tree_engine.hpp"

namespace opstream::engines {
namespace {

std::string Id(char prefix, uint64_t n) { return prefix + std::to_string(n); }

// ---- table ----

TableDocument BuildTable(size_t rows, size_t columns, size_t cells, std::mt19937_64& rng) {
  TableDocument doc;
  TableOp op;
  for (size_t c = 0; c < columns; ++c) {
    op.operations.push_back({TableOpKind::kInsertColumn, "", Id('C', c), "m" + std::to_string(c),
                             R"({"name":"Column","type":"text"})", 1, "seed"});
  }
  for (size_t r = 0; r < rows; ++r) {
    op.operations.push_back({TableOpKind::kInsertRow, Id('R', r), "", "a" + std::to_string(r), "null", 1, "seed"});
  }
  for (size_t i = 0; i < cells; ++i) {
    op.operations.push_back({TableOpKind::kSetCell, Id('R', rng() % rows), Id('C', rng() % columns), "",
                             "\"cell value " + std::to_string(i) + "\"", 2, "seed"});
  }
  ApplyTableOp(doc, op);
  return doc;
}

// Client payloads of random single-op batches over `rows` rows and 20 columns.
std::vector<std::string> TablePayloads(size_t count, size_t rows, std::mt19937_64& rng) {
  std::vector<std::string> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    TableOp op;
    TableOpItem item;
    const uint64_t r = rng() % 100;
    item.kind = r < 60   ? TableOpKind::kSetCell
                : r < 70 ? TableOpKind::kClearCell
                : r < 80 ? TableOpKind::kMoveRow
                : r < 85 ? TableOpKind::kInsertRow
                : r < 90 ? TableOpKind::kRemoveRow
                : r < 93 ? TableOpKind::kRestoreRow
                : r < 97 ? TableOpKind::kUpdateColumnDefinition
                         : TableOpKind::kMoveColumn;
    item.row_id = Id('R', rng() % (rows + rows / 10 + 1));  // some new rows
    item.column_id = Id('C', rng() % 20);
    item.position = "p" + std::to_string(rng() % 100000);
    item.value = item.kind == TableOpKind::kUpdateColumnDefinition ? R"({"name":"Renamed","width":120})"
                                                                   : "\"v" + std::to_string(rng() % 1000) + "\"";
    item.timestamp = 1'700'000'000'000 + static_cast<int64_t>(i) + static_cast<int64_t>(rng() % 50);
    item.peer_id = "peer-" + std::to_string(rng() % 8);
    op.operations.push_back(std::move(item));
    std::string payload;
    SerializeTableOp(op, payload);
    out.push_back(std::move(payload));
  }
  return out;
}

// Parse, apply and re-serialize every payload through the Engine interface, as the server does.
template <typename EngineT>
void ServerPath(const EngineT& engine, DocumentState& doc, const std::vector<std::string>& payloads,
                benchmark::State& state) {
  std::string broadcast;
  for (const auto& payload : payloads) {
    std::unique_ptr<Op> op;
    if (!engine.ParseOp(payload, op).ok() || !engine.Apply(doc, *op).ok()) {
      state.SkipWithError("op rejected");
      return;
    }
    broadcast.clear();
    engine.SerializeOp(*op, broadcast);
    benchmark::DoNotOptimize(broadcast.data());
  }
}

void BM_Table10kRows100kOps(benchmark::State& state) {
  std::mt19937_64 rng(1);
  const TableEngine engine;
  const auto payloads = TablePayloads(100'000, 10'000, rng);
  for (auto _ : state) {
    state.PauseTiming();
    TableDocument doc = BuildTable(10'000, 20, 20'000, rng);
    state.ResumeTiming();
    ServerPath(engine, doc, payloads, state);
  }
  state.counters["ns_per_op"] =
      benchmark::Counter(static_cast<double>(payloads.size()),
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Table10kRows100kOps)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_TableOpsAtScale(benchmark::State& state) {
  const auto rows = static_cast<size_t>(state.range(0)) * 1000;
  std::mt19937_64 rng(2);
  const TableEngine engine;
  TableDocument doc = BuildTable(rows, 20, rows * 2, rng);
  const auto payloads = TablePayloads(10'000, rows, rng);
  for (auto _ : state) ServerPath(engine, doc, payloads, state);
  state.counters["rows"] = static_cast<double>(rows);
  state.counters["ns_per_op"] =
      benchmark::Counter(static_cast<double>(payloads.size()),
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TableOpsAtScale)->Arg(1)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond);

// About 1 MB: 3,000 rows, 10 columns, 4,000 cells.
void BM_TableSnapshotSerialize(benchmark::State& state) {
  std::mt19937_64 rng(3);
  const TableDocument doc = BuildTable(3'000, 10, 4'000, rng);
  std::string out;
  for (auto _ : state) {
    out.clear();
    SerializeTableDocument(doc, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_TableSnapshotSerialize)->Unit(benchmark::kMillisecond);

void BM_TableSnapshotLoad(benchmark::State& state) {
  std::mt19937_64 rng(3);
  std::string snapshot;
  SerializeTableDocument(BuildTable(3'000, 10, 4'000, rng), snapshot);
  for (auto _ : state) {
    TableDocument doc;
    if (!LoadTableDocument(snapshot, doc).ok()) state.SkipWithError("load failed");
    benchmark::DoNotOptimize(&doc);
  }
  state.counters["bytes"] = static_cast<double>(snapshot.size());
}
BENCHMARK(BM_TableSnapshotLoad)->Unit(benchmark::kMillisecond);

// ---- tree ----

// `nodes` nodes, each created under the root or an earlier node (a random recursive tree).
TreeDocument BuildTree(size_t nodes, std::mt19937_64& rng) {
  TreeDocument doc;
  TreeOp op;
  op.operations.reserve(nodes);
  for (size_t n = 0; n < nodes; ++n) {
    const std::string parent = n == 0 || rng() % 10 == 0 ? std::string(kTreeRootId) : Id('N', rng() % n);
    op.operations.push_back({Id('N', n), parent, "m", R"({"title":"Node"})", static_cast<int64_t>(n + 1), "seed"});
  }
  ApplyTreeOp(doc, op);
  return doc;
}

// Random moves: 70% reorder/reparent under a random node, 15% payload updates in place, 10% to
// the root, 5% to the trash. Timestamps follow the op index with up to 20 ms of clock skew between
// the 8 peers, so about half of the moves arrive behind a concurrent one and undo/redo a few
// log entries.
std::vector<std::string> TreePayloads(size_t count, size_t nodes, int64_t base_ts, std::mt19937_64& rng) {
  std::vector<std::string> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    TreeOp op;
    TreeMove m;
    m.node_id = Id('N', rng() % nodes);
    const uint64_t r = rng() % 100;
    m.new_parent_id = r < 70   ? Id('N', rng() % nodes)
                      : r < 85 ? m.node_id  // self-parent: a recorded cycle skip
                      : r < 95 ? std::string(kTreeRootId)
                               : std::string(kTreeTrashId);
    m.new_position = "p" + std::to_string(rng() % 100000);
    m.new_payload = R"({"title":"Moved"})";
    m.timestamp = base_ts + static_cast<int64_t>(i) + static_cast<int64_t>(rng() % 20);
    m.peer_id = "peer-" + std::to_string(rng() % 8);
    op.operations.push_back(std::move(m));
    std::string payload;
    SerializeTreeOp(op, payload);
    out.push_back(std::move(payload));
  }
  return out;
}

void BM_Tree10kNodes100kOps(benchmark::State& state) {
  std::mt19937_64 rng(4);
  const TreeEngine engine;
  const auto payloads = TreePayloads(100'000, 10'000, 1'000'000, rng);
  for (auto _ : state) {
    state.PauseTiming();
    TreeDocument doc = BuildTree(10'000, rng);
    state.ResumeTiming();
    ServerPath(engine, doc, payloads, state);
  }
  state.counters["ns_per_op"] =
      benchmark::Counter(static_cast<double>(payloads.size()),
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Tree10kNodes100kOps)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_TreeOpsAtScale(benchmark::State& state) {
  const auto nodes = static_cast<size_t>(state.range(0)) * 1000;
  std::mt19937_64 rng(5);
  const TreeEngine engine;
  const TreeDocument base = BuildTree(nodes, rng);
  int64_t ts = 10'000'000;
  for (auto _ : state) {
    state.PauseTiming();
    TreeDocument doc = base;
    const auto payloads = TreePayloads(10'000, nodes, ts, rng);
    ts += 20'000;
    state.ResumeTiming();
    ServerPath(engine, doc, payloads, state);
  }
  state.counters["nodes"] = static_cast<double>(nodes);
  state.counters["ns_per_op"] =
      benchmark::Counter(10'000.0, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TreeOpsAtScale)->Arg(1)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond);

// One late move sorting before the last `late` log entries, on a 10,000-node tree whose log holds
// 10,000 + 100,000 entries: the cost follows `late`, not the log length.
void BM_TreeLateMove(benchmark::State& state) {
  const auto late = static_cast<size_t>(state.range(0));
  std::mt19937_64 rng(6);
  TreeDocument doc = BuildTree(10'000, rng);
  TreeOp moves;
  // Reorders under shallow parents (the root or the first 100 nodes), so that the tree keeps a
  // realistic depth and the timing isolates the undo/redo suffix (BM_TreeMoveDepth covers depth).
  for (size_t i = 0; i < 100'000; ++i) {
    moves.operations.push_back(
        {Id('N', 100 + rng() % 9'900), Id('N', rng() % 100), "m", "null", static_cast<int64_t>(1'000'000 + i), "peer"});
  }
  ApplyTreeOp(doc, moves);
  const int64_t last_ts = 1'000'000 + 100'000 - 1;
  // Increasing zero-padded peers: each late move sorts after the earlier late moves of the same
  // timestamp, so exactly `late` entries follow it every time.
  const auto fmt_peer = [](uint64_t n) {
    std::string digits = std::to_string(n);
    return "peer~" + std::string(12 - digits.size(), '0') + digits;
  };
  uint64_t k = 0;
  for (auto _ : state) {
    TreeOp op;
    // A key between the entries at (last - late) and the next one, so exactly `late` entries follow.
    op.operations.push_back({Id('N', 100 + rng() % 9'900), Id('N', rng() % 100), "m", "null",
                             last_ts - static_cast<int64_t>(late), fmt_peer(k++)});
    ApplyTreeOp(doc, op);
  }
  state.counters["log"] = static_cast<double>(doc.move_log.size());
}
BENCHMARK(BM_TreeLateMove)->Arg(0)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// The cycle check walks from the new parent up to the root (§9.3), so a move costs O(depth) on
// top of the log work: a move under the deepest node of a chain of `depth` nodes.
void BM_TreeMoveDepth(benchmark::State& state) {
  const auto depth = static_cast<size_t>(state.range(0));
  TreeDocument doc;
  TreeOp chain;
  for (size_t n = 0; n < depth; ++n) {
    chain.operations.push_back({Id('N', n), n == 0 ? std::string(kTreeRootId) : Id('N', n - 1), "m", "null",
                                static_cast<int64_t>(n + 1), "seed"});
  }
  chain.operations.push_back({"leaf", std::string(kTreeRootId), "m", "null", static_cast<int64_t>(depth + 1), "seed"});
  ApplyTreeOp(doc, chain);
  int64_t ts = static_cast<int64_t>(depth) + 2;
  for (auto _ : state) {
    TreeOp op;
    op.operations.push_back({"leaf", Id('N', depth - 1), "m", "null", ts++, "peer"});
    ApplyTreeOp(doc, op);
  }
}
BENCHMARK(BM_TreeMoveDepth)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// About 1 MB: 2,500 nodes and 2,500 more moves in the log.
TreeDocument MegabyteTree() {
  std::mt19937_64 rng(7);
  TreeDocument doc = BuildTree(2'500, rng);
  TreeOp moves;
  for (size_t i = 0; i < 2'500; ++i) {
    moves.operations.push_back({Id('N', rng() % 2'500), Id('N', rng() % 2'500), "p" + std::to_string(i),
                                R"({"title":"Moved node","tags":["a","b"]})", static_cast<int64_t>(100'000 + i),
                                "peer-" + std::to_string(i % 8)});
  }
  ApplyTreeOp(doc, moves);
  return doc;
}

void BM_TreeSnapshotSerialize(benchmark::State& state) {
  const TreeDocument doc = MegabyteTree();
  std::string out;
  for (auto _ : state) {
    out.clear();
    SerializeTreeDocument(doc, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_TreeSnapshotSerialize)->Unit(benchmark::kMillisecond);

void BM_TreeSnapshotLoad(benchmark::State& state) {
  std::string snapshot;
  SerializeTreeDocument(MegabyteTree(), snapshot);
  for (auto _ : state) {
    TreeDocument doc;
    if (!LoadTreeDocument(snapshot, doc).ok()) state.SkipWithError("load failed");
    benchmark::DoNotOptimize(&doc);
  }
  state.counters["bytes"] = static_cast<double>(snapshot.size());
}
BENCHMARK(BM_TreeSnapshotLoad)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace opstream::engines

BENCHMARK_MAIN();
