// The management and comment calls of the server-backed stores without a SQL schema: Redis (a real
// redis-server) and MongoDB (the Mongo-wire stand-in, mockupdb+mongomock — NOT a real MongoDB, so
// its figures measure the Python stand-in, not the provider's cost on mongod). Same workloads as
// store_records_bench.cpp: documents spread over 100 tenants, each with a snapshot and 5 ops.
//   OPSTREAM_TEST_REDIS_URL=127.0.0.1:6379 OPSTREAM_TEST_MONGO_URL=mongodb://localhost:27017/
//   build-bench/remote_records_bench   (both variables set as above)
// A benchmark whose server variable is unset reports an error instead of a figure.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>

#include "storage/comment_store.hpp"
#include "storage/mongo/mongo_document_store.hpp"
#include "storage/redis/redis_document_store.hpp"

namespace {

using namespace opstream;
using namespace opstream::storage;

enum class Provider { kRedis, kMongo };

template <typename Result, typename Start>
Result Call(Start&& start) {
  std::promise<Result> promise;
  auto future = promise.get_future();
  start([&promise](auto&&... args) { promise.set_value(Result{std::forward<decltype(args)>(args)...}); });
  return future.get();
}

// A store on its own key prefix / database, so runs never see each other's data.
std::unique_ptr<DocumentStore> OpenStore(Provider provider, std::string& error) {
  static int run = 0;
  const std::string scratch = "bench_" + std::to_string(getpid()) + "_" + std::to_string(++run);
  std::unique_ptr<DocumentStore> store;
  if (provider == Provider::kRedis) {
    const char* url = std::getenv("OPSTREAM_TEST_REDIS_URL");
    if (!url) return error = "OPSTREAM_TEST_REDIS_URL is not set", nullptr;
    redis::ConnectionOptions options;
    if (Status s = redis::ParseConnectionString(url, options); !s.ok()) return error = s.message(), nullptr;
    store = std::make_unique<RedisDocumentStore>(std::move(options), RedisStoreSettings{.key_prefix = scratch + ":"});
  } else {
    const char* url = std::getenv("OPSTREAM_TEST_MONGO_URL");
    if (!url) return error = "OPSTREAM_TEST_MONGO_URL is not set", nullptr;
    if (Status s = OpenMongoStore(url, store, {.database_name = scratch}); !s.ok()) return error = s.message(), nullptr;
  }
  if (Status s = Call<Status>([&](auto done) { store->Initialize(done); }); !s.ok())
    return error = s.message(), nullptr;
  return store;
}

std::unique_ptr<DocumentStore> MakeStore(Provider provider, int64_t documents, std::string& error) {
  auto store = OpenStore(provider, error);
  if (!store) return nullptr;
  const Timestamp now = UtcNow();
  for (int64_t d = 0; d < documents; ++d) {
    const std::string id = "t" + std::to_string(d % 100) + ":#:doc-" + std::to_string(d);
    store->WriteSnapshot(id, Snapshot{10, now, "{\"text\":\"hello\"}"}, [](Status) {});
    std::vector<StoredOp> ops;
    for (int64_t r = 11; r <= 15; ++r) ops.push_back(StoredOp{r, "peer", now, "{\"ops\":[1]}", "TextOp"});
    store->Append(id, std::move(ops), [](Status) {});
  }
  store->Flush(std::chrono::minutes(5));
  return store;
}

void Enumerate(benchmark::State& state, Provider provider, std::string prefix) {
  std::string error;
  auto store = MakeStore(provider, state.range(0), error);
  if (!store) return state.SkipWithError(error.c_str());
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

void BM_EnumerateAllRedis(benchmark::State& state) { Enumerate(state, Provider::kRedis, ""); }
void BM_EnumerateTenantRedis(benchmark::State& state) { Enumerate(state, Provider::kRedis, "t42:#:"); }
void BM_EnumerateAllMongoStandIn(benchmark::State& state) { Enumerate(state, Provider::kMongo, ""); }
void BM_EnumerateTenantMongoStandIn(benchmark::State& state) { Enumerate(state, Provider::kMongo, "t42:#:"); }
BENCHMARK(BM_EnumerateAllRedis)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EnumerateTenantRedis)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EnumerateAllMongoStandIn)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EnumerateTenantMongoStandIn)->Arg(1000)->Unit(benchmark::kMillisecond);

void GetInfo(benchmark::State& state, Provider provider) {
  std::string error;
  auto store = MakeStore(provider, state.range(0), error);
  if (!store) return state.SkipWithError(error.c_str());
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

void BM_GetInfoRedis(benchmark::State& state) { GetInfo(state, Provider::kRedis); }
void BM_GetInfoMongoStandIn(benchmark::State& state) { GetInfo(state, Provider::kMongo); }
BENCHMARK(BM_GetInfoRedis)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GetInfoMongoStandIn)->Arg(1000)->Unit(benchmark::kMicrosecond);

// A document with `range(0)` comments (a root every 4th, replies to it otherwise).
void LoadComments(benchmark::State& state, Provider provider) {
  std::string error;
  auto store = OpenStore(provider, error);
  if (!store) return state.SkipWithError(error.c_str());
  CommentStore& comments = *store->comment_store();
  const Timestamp now = UtcNow();
  std::string root;
  for (int64_t i = 0; i < state.range(0); ++i) {
    Comment c;
    c.id = "c42-" + std::to_string(i) + "-" + std::to_string(getpid());
    c.document_id = "doc-42";
    c.author_peer_id = "peer";
    c.body = "a comment body of ordinary length";
    c.created_at = now + std::chrono::milliseconds(i);
    if (i % 4 == 0) {
      c.anchor_json = R"({"kind":"text","data":{"startOffset":1,"endOffset":4}})";
      root = c.id;
    } else {
      c.parent_comment_id = root;
    }
    comments.AddComment(std::move(c), [](Status) {});
  }
  store->Flush(std::chrono::minutes(5));
  for (auto _ : state) {
    auto [status, loaded] =
        Call<std::pair<Status, std::vector<Comment>>>([&](auto done) { comments.LoadComments("doc-42", done); });
    if (!status.ok() || loaded.size() != static_cast<size_t>(state.range(0))) {
      return state.SkipWithError("LoadComments failed");
    }
    benchmark::DoNotOptimize(loaded);
  }
}

void BM_LoadCommentsRedis(benchmark::State& state) { LoadComments(state, Provider::kRedis); }
void BM_LoadCommentsMongoStandIn(benchmark::State& state) { LoadComments(state, Provider::kMongo); }
BENCHMARK(BM_LoadCommentsRedis)->Arg(200)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LoadCommentsMongoStandIn)->Arg(200)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
