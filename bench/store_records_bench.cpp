// The management and record calls of the stores (server.md §3.1): listing documents by tenant
// prefix, document info, and a document's comments, for the memory and SQLite providers (the
// PostgreSQL ones need a server; see docs/storage/interfaces.md).
//   build-bench/store_records_bench --benchmark_filter=...
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "storage/comment_store.hpp"
#include "storage/memory_store.hpp"
#include "storage/sqlite/sqlite_document_store.hpp"

namespace {

using namespace opstream;
using namespace opstream::storage;

template <typename Result, typename Start>
Result Call(Start&& start) {
  std::promise<Result> promise;
  auto future = promise.get_future();
  start([&promise](auto&&... args) { promise.set_value(Result{std::forward<decltype(args)>(args)...}); });
  return future.get();
}

// 100 tenants, `documents` documents spread over them, each with a snapshot and 5 ops after it.
std::unique_ptr<DocumentStore> MakeStore(bool sqlite, int64_t documents) {
  std::unique_ptr<DocumentStore> store;
  if (sqlite) {
    if (!OpenSqliteStore("Mode=Memory", store).ok()) return nullptr;
  } else {
    store = std::make_unique<MemoryDocumentStore>();
  }
  if (!Call<Status>([&](auto done) { store->Initialize(done); }).ok()) return nullptr;
  const Timestamp now = UtcNow();
  for (int64_t d = 0; d < documents; ++d) {
    const std::string id = "t" + std::to_string(d % 100) + ":#:doc-" + std::to_string(d);
    store->WriteSnapshot(id, Snapshot{10, now, "{\"text\":\"hello\"}"}, [](Status) {});
    std::vector<StoredOp> ops;
    for (int64_t r = 11; r <= 15; ++r) ops.push_back(StoredOp{r, "peer", now, "{\"ops\":[1]}", "TextOp"});
    store->Append(id, std::move(ops), [](Status) {});
  }
  store->Flush(std::chrono::minutes(1));
  return store;
}

void Enumerate(benchmark::State& state, bool sqlite, std::string prefix) {
  auto store = MakeStore(sqlite, state.range(0));
  if (!store) return state.SkipWithError("store setup failed");
  size_t listed = 0;
  for (auto _ : state) {
    auto [status, documents] = Call<std::pair<Status, std::vector<DocumentInfo>>>(
        [&](auto done) { store->Enumerate(prefix, DocumentQuery{}, done); });
    if (!status.ok()) return state.SkipWithError(status.message().c_str());
    listed = documents.size();
    benchmark::DoNotOptimize(documents);
  }
  state.counters["listed"] = static_cast<double>(listed);
}

void BM_EnumerateAllMemory(benchmark::State& state) { Enumerate(state, false, ""); }
void BM_EnumerateAllSqlite(benchmark::State& state) { Enumerate(state, true, ""); }
void BM_EnumerateTenantMemory(benchmark::State& state) { Enumerate(state, false, "t42:#:"); }
void BM_EnumerateTenantSqlite(benchmark::State& state) { Enumerate(state, true, "t42:#:"); }
BENCHMARK(BM_EnumerateAllMemory)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EnumerateAllSqlite)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EnumerateTenantMemory)->Arg(10000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EnumerateTenantSqlite)->Arg(10000)->Unit(benchmark::kMicrosecond);

void GetInfo(benchmark::State& state, bool sqlite) {
  auto store = MakeStore(sqlite, state.range(0));
  if (!store) return state.SkipWithError("store setup failed");
  int64_t d = 0;
  for (auto _ : state) {
    const std::string id = "t" + std::to_string(d % 100) + ":#:doc-" + std::to_string(d);
    d = (d + 1) % state.range(0);
    auto [status, info] =
        Call<std::pair<Status, std::optional<DocumentInfo>>>([&](auto done) { store->GetInfo(id, done); });
    if (!status.ok() || !info) return state.SkipWithError("GetInfo failed");
    benchmark::DoNotOptimize(info);
  }
}

void BM_GetInfoMemory(benchmark::State& state) { GetInfo(state, false); }
void BM_GetInfoSqlite(benchmark::State& state) { GetInfo(state, true); }
BENCHMARK(BM_GetInfoMemory)->Arg(10000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GetInfoSqlite)->Arg(10000)->Unit(benchmark::kMicrosecond);

// A document with `range(0)` comments (a root every 4th, replies to it otherwise) among 100 documents.
void LoadComments(benchmark::State& state, bool sqlite) {
  auto store = MakeStore(sqlite, 0);
  if (!store) return state.SkipWithError("store setup failed");
  CommentStore& comments = *store->comment_store();
  const Timestamp now = UtcNow();
  for (int doc = 0; doc < 100; ++doc) {
    std::string root;
    for (int64_t i = 0; i < state.range(0); ++i) {
      Comment c;
      c.id = "c" + std::to_string(doc) + "-" + std::to_string(i);
      c.document_id = "doc-" + std::to_string(doc);
      c.author_peer_id = "peer";
      c.body = "a comment body of ordinary length";
      c.created_at = now + std::chrono::microseconds(i);
      if (i % 4 == 0) {
        c.anchor_json = R"({"kind":"text","data":{"startOffset":1,"endOffset":4}})";
        root = c.id;
      } else {
        c.parent_comment_id = root;
      }
      comments.AddComment(std::move(c), [](Status) {});
    }
  }
  store->Flush(std::chrono::minutes(1));
  for (auto _ : state) {
    auto [status, loaded] =
        Call<std::pair<Status, std::vector<Comment>>>([&](auto done) { comments.LoadComments("doc-42", done); });
    if (!status.ok() || loaded.size() != static_cast<size_t>(state.range(0))) {
      return state.SkipWithError("LoadComments failed");
    }
    benchmark::DoNotOptimize(loaded);
  }
}

void BM_LoadCommentsMemory(benchmark::State& state) { LoadComments(state, false); }
void BM_LoadCommentsSqlite(benchmark::State& state) { LoadComments(state, true); }
BENCHMARK(BM_LoadCommentsMemory)->Arg(200)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LoadCommentsSqlite)->Arg(200)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // the SQLite stores log their migrations per benchmark
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
