// The `redis` provider: the shared conformance suite against the real redis-server of the test
// run, plus what only Redis has — the reference's exact key layout (read back with TYPE, GET,
// XRANGE), data written the way the reference writes it, the connection string, and faults.
#include <gmock/gmock.h>

#include <cstdio>

#include "storage/document_store_conformance.hpp"
#include "storage/redis/redis_document_store.hpp"
#include "storage/redis_test_support.hpp"

namespace opstream::storage::testing {
namespace {

using redis::Reply;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<RedisDocumentStore> MakeRedisStore(const std::string& connection_string, std::string key_prefix,
                                                   RedisStoreSettings settings = {}) {
  redis::ConnectionOptions options;
  const Status parsed = redis::ParseConnectionString(connection_string, options);
  EXPECT_TRUE(parsed.ok()) << parsed.message();
  if (!parsed.ok()) return nullptr;
  settings.key_prefix = std::move(key_prefix);
  return std::make_unique<RedisDocumentStore>(std::move(options), std::move(settings));
}

const StoreFactory kRedis{"Redis",
                          [](const std::filesystem::path&) -> std::unique_ptr<DocumentStore> {
                            const std::string url = TestRedisUrl();
                            if (url.empty()) return nullptr;
                            return MakeRedisStore(url, UniqueKeyPrefix());
                          },
                          std::chrono::milliseconds(1), std::chrono::nanoseconds(1),
                          // History snapshots, comments and refs keep ISO-8601 text (100 ns ticks).
                          std::chrono::nanoseconds(100)};

OPSTREAM_INSTANTIATE_STORE_CONFORMANCE(Redis, kRedis);

class RedisDocumentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = TestRedisUrl();
    ASSERT_FALSE(url_.empty());
    prefix_ = UniqueKeyPrefix();
    raw_ = std::make_unique<SyncRedis>(url_);
    ASSERT_TRUE(raw_->Start().ok());
  }

  std::unique_ptr<RedisDocumentStore> OpenInitialized(RedisStoreSettings settings = {}, std::string_view extra = {}) {
    return InitializedOrFail(MakeRedisStore(url_ + std::string(extra), prefix_, std::move(settings)));
  }

  std::string Key(std::string_view suffix) const { return prefix_ + std::string(suffix); }

  std::string url_;
  std::string prefix_;
  std::unique_ptr<SyncRedis> raw_;
};

// The history, comment and ref keys of docs/storage/redis.md, read back from outside the store.
TEST_F(RedisDocumentStoreTest, HistoryCommentAndRefKeysAreTheDocumentedOnes) {
  auto store = OpenInitialized();
  auto wait = [](auto call) {
    auto promise = std::make_shared<std::promise<Status>>();
    auto future = promise->get_future();
    call([promise](Status status) { promise->set_value(std::move(status)); });
    return Wait(future);
  };
  HistoryStore& history = *store->history_store();
  ASSERT_TRUE(wait([&](auto done) { history.AppendHistoryOp("d1", MakeOp(3), done); }).ok());
  ASSERT_TRUE(wait([&](auto done) {
                history.WriteHistorySnapshot("d1", {3, SampleTime(), "{}"}, "tag/v1", done);
              }).ok());
  EXPECT_EQ(raw_->Ok({"TYPE", Key("doc:d1:history_ops")}).str, "stream");
  const Reply members = raw_->Ok({"ZRANGE", Key("doc:d1:history_snapshots"), "0", "-1", "WITHSCORES"});
  ASSERT_EQ(members.elements.size(), 2u);
  EXPECT_EQ(members.elements[0].str,
            R"({"revision":3,"timestamp":"2026-06-24T15:41:39.1234567+00:00","state":"e30=","name":"tag/v1"})");
  EXPECT_EQ(members.elements[1].str, "3");

  Comment root;
  root.id = "c0000000000000000000000000000001";
  root.document_id = "d1";
  root.author_peer_id = "p1";
  root.author_name = "Ann";
  root.body = "hi";
  root.anchor_json = R"({"kind":"text","data":{"startOffset":1}})";
  root.anchored_at_revision = 4;
  root.created_at = SampleTime();
  CommentStore& comments = *store->comment_store();
  ASSERT_TRUE(wait([&](auto done) { comments.AddComment(root, done); }).ok());
  EXPECT_EQ(raw_->Ok({"GET", Key("comments:id:" + root.id)}).str, "d1");
  EXPECT_EQ(raw_->Ok({"HGET", Key("comments:d1"), root.id}).str,
            R"({"id":"c0000000000000000000000000000001","documentId":"d1","parentCommentId":null,)"
            R"("authorPeerId":"p1","authorName":"Ann","body":"hi","anchor":{"kind":"text","data":{"startOffset":1}},)"
            R"("anchoredAtRevision":4,"createdAt":"2026-06-24T15:41:39.1234567+00:00","resolvedAt":null,)"
            R"("resolvedByPeerId":null,"isOrphaned":false})");
  EXPECT_EQ(raw_->Ok({"ZSCORE", Key("comments:d1:byrev"), root.id}).str, "4");

  RefStore& refs = *store->ref_store();
  DocumentBranch branch{"t:#:name", "main", "t:#:phys", std::nullopt, 0, SampleTime(), false};
  ASSERT_TRUE(wait([&](auto done) { refs.CreateBranch(branch, done); }).ok());
  EXPECT_EQ(raw_->Ok({"TYPE", Key("refs:branches:t:#:name")}).str, "hash");
  const Reply pins = raw_->Ok({"HKEYS", Key("refs:pins:t:#:phys")});
  ASSERT_EQ(pins.elements.size(), 1u);
  EXPECT_EQ(pins.elements[0].str, std::string("t:#:name\0main", 13));
}

TEST_F(RedisDocumentStoreTest, ProviderAndTypeNames) {
  auto store = OpenInitialized();
  EXPECT_EQ(store->provider(), "redis");
  EXPECT_EQ(store->type_name(), "RedisDocumentStore");
}

TEST_F(RedisDocumentStoreTest, KeysAndFormatsAreExactlyTheReferences) {
  auto store = OpenInitialized();
  const std::string id = "tenant:#:doc-1";
  StoredOp op = MakeOp(2, "{\"ops\":[\"abc\"]}");
  op.author_id = "peer-A";
  op.engine_type = "TextOp";
  op.timestamp = Timestamp(std::chrono::milliseconds(1750779699123) + std::chrono::nanoseconds(456700));
  ASSERT_TRUE(AppendSync(*store, id, {op, MakeOp(3)}).ok());
  ASSERT_TRUE(WriteSnapshotSync(*store, id, {3, SampleTime(), std::string("{\"text\":\"\xC3\xA9\"}")}).ok());

  // Exactly two keys, with the reference's names and types.
  const Reply keys = raw_->Ok({"KEYS", Key("*")});
  std::vector<std::string> names;
  for (const Reply& key : keys.elements) names.push_back(key.str);
  std::sort(names.begin(), names.end());
  EXPECT_THAT(names, ElementsAre(Key("doc:tenant:#:doc-1:ops"), Key("doc:tenant:#:doc-1:snapshot")));
  EXPECT_EQ(raw_->Ok({"TYPE", Key("doc:tenant:#:doc-1:ops")}).str, "stream");
  EXPECT_EQ(raw_->Ok({"TYPE", Key("doc:tenant:#:doc-1:snapshot")}).str, "string");
  EXPECT_EQ(raw_->Ok({"TTL", Key("doc:tenant:#:doc-1:ops")}).integer, -1);
  EXPECT_EQ(raw_->Ok({"TTL", Key("doc:tenant:#:doc-1:snapshot")}).integer, -1);

  // Snapshot: camelCase JSON, ISO timestamp as System.Text.Json writes it, state in base64.
  EXPECT_EQ(raw_->Ok({"GET", Key("doc:tenant:#:doc-1:snapshot")}).str,
            "{\"revision\":3,\"timestamp\":\"2026-06-24T15:41:39.1234567+00:00\",\"state\":\"eyJ0ZXh0Ijoiw6kifQ==\"}");

  // Ops: entry id {revision}-0, fields rev, auth, ts (epoch ms), payload, engine, in this order.
  const Reply entries = raw_->Ok({"XRANGE", Key("doc:tenant:#:doc-1:ops"), "-", "+"});
  ASSERT_EQ(entries.elements.size(), 2u);
  EXPECT_EQ(entries.elements[0].elements[0].str, "2-0");
  std::vector<std::string> fields;
  for (const Reply& field : entries.elements[0].elements[1].elements) fields.push_back(field.str);
  EXPECT_THAT(fields, ElementsAre("rev", "2", "auth", "peer-A", "ts", "1750779699123", "payload", "{\"ops\":[\"abc\"]}",
                                  "engine", "TextOp"));
  EXPECT_EQ(entries.elements[1].elements[0].str, "3-0");

  // Compaction is an exact XTRIM MINID: entry 2 goes, 3 stays, the snapshot is untouched.
  ASSERT_TRUE(CompactSync(*store, id, 2).ok());
  const Reply after = raw_->Ok({"XRANGE", Key("doc:tenant:#:doc-1:ops"), "-", "+"});
  ASSERT_EQ(after.elements.size(), 1u);
  EXPECT_EQ(after.elements[0].elements[0].str, "3-0");
  EXPECT_EQ(raw_->Ok({"EXISTS", Key("doc:tenant:#:doc-1:snapshot")}).integer, 1);
}

TEST_F(RedisDocumentStoreTest, ReadsWhatTheReferenceWrote) {
  // Written by hand as StackExchange.Redis and System.Text.Json would: `Z`-less offset with fewer
  // digits, fields of a stream entry in the reference's order.
  raw_->Ok({"SET", Key("doc:ref:snapshot"),
            "{\"revision\":5,\"timestamp\":\"2025-06-02T09:15:04.512+00:00\",\"state\":\"eyJ0ZXh0IjoiaGkifQ==\"}"});
  for (int revision = 4; revision <= 7; ++revision) {
    raw_->Ok({"XADD", Key("doc:ref:ops"), std::to_string(revision) + "-0", "rev", std::to_string(revision), "auth",
              "peer", "ts", "1748855704512", "payload", "{\"r\":" + std::to_string(revision) + "}", "engine",
              "TextOp"});
  }
  auto store = OpenInitialized();
  auto [status, loaded] = LoadSync(*store, "ref");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(loaded.snapshot.has_value());
  EXPECT_EQ(loaded.snapshot->revision, 5);
  EXPECT_EQ(loaded.snapshot->state, "{\"text\":\"hi\"}");
  EXPECT_EQ(FormatIsoTimestamp(loaded.snapshot->timestamp), "2025-06-02T09:15:04.512+00:00");
  ASSERT_THAT(Revisions(loaded.ops), ElementsAre(6, 7));
  EXPECT_EQ(loaded.ops[0].payload, "{\"r\":6}");
  EXPECT_EQ(loaded.ops[0].author_id, "peer");
  EXPECT_EQ(loaded.ops[0].engine_type, "TextOp");
  EXPECT_EQ(FormatIsoTimestamp(loaded.ops[0].timestamp), "2025-06-02T09:15:04.512+00:00");
  // And the reference's duplicate protection holds against ops it wrote: 7 exists, 5 was trimmed.
  EXPECT_EQ(AppendSync(*store, "ref", {MakeOp(7)}).message(), "Revision 7 of document 'ref' already exists.");
  raw_->Ok({"XTRIM", Key("doc:ref:ops"), "MINID", "7-0"});
  EXPECT_EQ(AppendSync(*store, "ref", {MakeOp(6)}).message(), "Revision 6 of document 'ref' already exists.");
  EXPECT_TRUE(AppendSync(*store, "ref", {MakeOp(8)}).ok());
}

TEST_F(RedisDocumentStoreTest, SnapshotWithFieldsInAnotherOrderLoadsWithoutSkippingOps) {
  // The load script finds the revision with a pattern; an unusual field order still loads right.
  raw_->Ok({"SET", Key("doc:odd:snapshot"), "{\"state\":\"\",\"timestamp\":\"2025-06-02T09:15:04Z\",\"revision\":3}"});
  for (int revision = 2; revision <= 4; ++revision) {
    raw_->Ok({"XADD", Key("doc:odd:ops"), std::to_string(revision) + "-0", "rev", std::to_string(revision), "auth", "p",
              "ts", "0", "payload", "{}", "engine", "TextOp"});
  }
  auto store = OpenInitialized();
  auto [status, loaded] = LoadSync(*store, "odd");
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(loaded.snapshot->revision, 3);
  EXPECT_THAT(Revisions(loaded.ops), ElementsAre(4));
}

TEST_F(RedisDocumentStoreTest, UnreadableDataIsAClearErrorNotACrash) {
  auto store = OpenInitialized();
  raw_->Ok({"SET", Key("doc:bad-json:snapshot"), "{\"Revision\":3}"});  // PascalCase: not what the reference reads
  EXPECT_THAT(LoadSync(*store, "bad-json").first.message(),
              HasSubstr("the snapshot of document 'bad-json' is unreadable (no integer 'revision')"));
  raw_->Ok(
      {"SET", Key("doc:bad-b64:snapshot"), "{\"revision\":1,\"timestamp\":\"2025-06-02T09:15:04Z\",\"state\":\"!!\"}"});
  EXPECT_THAT(LoadSync(*store, "bad-b64").first.message(), HasSubstr("'state' is not base64"));
  raw_->Ok({"XADD", Key("doc:bad-ts:ops"), "2-0", "rev", "2", "ts", "yesterday"});
  EXPECT_THAT(LoadSync(*store, "bad-ts").first.message(), HasSubstr("ts 'yesterday'"));
  raw_->Ok({"SET", Key("doc:wrong-type:ops"), "not a stream"});
  const Status wrong_type = AppendSync(*store, "wrong-type", {MakeOp(2)});
  EXPECT_THAT(wrong_type.message(), HasSubstr("Redis append failed"));
  EXPECT_THAT(wrong_type.message(), HasSubstr("WRONGTYPE"));
  EXPECT_THAT(LoadSync(*store, "wrong-type").first.message(), HasSubstr("WRONGTYPE"));
  // The store goes on working.
  EXPECT_TRUE(AppendSync(*store, "fine", {MakeOp(2)}).ok());
}

TEST_F(RedisDocumentStoreTest, RevisionZeroIsRefusedClearly) {
  auto store = OpenInitialized();
  EXPECT_THAT(AppendSync(*store, "doc", {MakeOp(0)}).message(), HasSubstr("cannot store revision 0"));
  EXPECT_EQ(raw_->Ok({"EXISTS", Key("doc:doc:ops")}).integer, 0);
}

TEST_F(RedisDocumentStoreTest, AppendsOfABusyDocumentShareWrites) {
  auto store = OpenInitialized();
  const redis::ClientCounters before = store->counters();
  constexpr int kAppends = 2000;
  std::atomic<int> ok{0};
  for (int i = 0; i < kAppends; ++i) {
    store->Append("busy", {MakeOp(2 + i)}, [&ok](Status status) { ok += status.ok(); });
  }
  store->Flush(std::chrono::seconds(20));
  EXPECT_EQ(ok.load(), kAppends);
  const redis::ClientCounters after = store->counters();
  EXPECT_EQ(after.commands_sent - before.commands_sent, static_cast<uint64_t>(kAppends));
  EXPECT_LT((after.writes - before.writes) * 4, static_cast<uint64_t>(kAppends));
  EXPECT_EQ(raw_->Ok({"XLEN", Key("doc:busy:ops")}).integer, kAppends);
}

// Opening a document with a long op tail (no snapshot yet): one script call, one reply.
TEST_F(RedisDocumentStoreTest, LoadOfTenThousandOpsIsOneQuickCall) {
  auto store = OpenInitialized();
  constexpr int64_t kOps = 10000;
  for (int64_t first = 2; first < 2 + kOps; first += 1000) {
    std::vector<StoredOp> batch;
    for (int64_t revision = first; revision < first + 1000; ++revision) {
      batch.push_back(MakeOp(revision, "{\"components\":[{\"type\":\"retain\",\"count\":" + std::to_string(revision) +
                                           "},{\"type\":\"insert\",\"text\":\"x\"}]}"));
    }
    ASSERT_TRUE(AppendSync(*store, "long", std::move(batch)).ok());
  }
  const uint64_t commands_before = store->counters().commands_sent;
  const auto started = std::chrono::steady_clock::now();
  auto [status, loaded] = LoadSync(*store, "long");
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_EQ(loaded.ops.size(), static_cast<size_t>(kOps));
  EXPECT_EQ(loaded.ops.back().revision, 1 + kOps);
  EXPECT_EQ(store->counters().commands_sent - commands_before, 1u);
  RecordProperty("load_10000_ops_us", static_cast<int>(elapsed.count()));
  std::printf("Load of %lld ops: %lld us\n", static_cast<long long>(kOps), static_cast<long long>(elapsed.count()));
  EXPECT_LT(elapsed, std::chrono::seconds(2));  // generous: the machine is shared; typical figures in the docs
}

TEST_F(RedisDocumentStoreTest, DataSurvivesANewStore) {
  {
    auto store = OpenInitialized();
    ASSERT_TRUE(AppendSync(*store, "doc", MakeOps(2, 40)).ok());
    ASSERT_TRUE(WriteSnapshotSync(*store, "doc", {30, SampleTime(), "{\"s\":30}"}).ok());
  }
  auto store = OpenInitialized();
  auto [status, loaded] = LoadSync(*store, "doc");
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(loaded.snapshot->state, "{\"s\":30}");
  EXPECT_EQ(loaded.ops.size(), 10u);
  EXPECT_EQ(loaded.ops.front().revision, 31);
}

TEST_F(RedisDocumentStoreTest, DestructionFinishesCallsInFlight) {
  std::atomic<int> done{0};
  {
    auto store = OpenInitialized();
    for (int i = 0; i < 200; ++i) store->Append("doc", {MakeOp(2 + i)}, [&done](Status s) { done += s.ok(); });
  }
  EXPECT_EQ(done.load(), 200);
  EXPECT_EQ(raw_->Ok({"XLEN", Key("doc:doc:ops")}).integer, 200);
}

TEST_F(RedisDocumentStoreTest, UnreachableRedisFailsInitializeByDefault) {
  auto store = MakeRedisStore("127.0.0.1:1,connectRetry=1,password=hunter2", prefix_);
  const Status initialized = InitializeSync(*store);
  ASSERT_FALSE(initialized.ok());
  EXPECT_THAT(initialized.message(), HasSubstr("Redis storage could not connect (127.0.0.1:1,password=*****)"));
  EXPECT_THAT(initialized.message(), Not(HasSubstr("hunter2")));
  const HealthReport health = CheckHealthSync(*store);
  EXPECT_EQ(health.status, HealthStatus::kUnhealthy);
  EXPECT_THAT(health.description, HasSubstr("not connected"));
  EXPECT_THAT(AppendSync(*store, "doc", {MakeOp(2)}).message(),
              HasSubstr("Redis append failed: No connection is available to service this operation: EVAL"));
  EXPECT_THAT(LoadSync(*store, "doc").first.message(), HasSubstr("No connection is available"));
}

TEST_F(RedisDocumentStoreTest, AbortConnectFalseStartsWithoutRedis) {
  auto store = MakeRedisStore("127.0.0.1:1,connectRetry=1,abortConnect=false", prefix_);
  EXPECT_TRUE(InitializeSync(*store).ok());
  EXPECT_EQ(CheckHealthSync(*store).status, HealthStatus::kUnhealthy);
  EXPECT_FALSE(AppendSync(*store, "doc", {MakeOp(2)}).ok());
}

TEST_F(RedisDocumentStoreTest, HealthIsHealthyWithATiming) {
  auto store = OpenInitialized();
  const HealthReport report = CheckHealthSync(*store);
  EXPECT_EQ(report.status, HealthStatus::kHealthy);
  EXPECT_THAT(report.description, HasSubstr("PING"));
}

TEST_F(RedisDocumentStoreTest, HealthTurnsUnhealthyWhenRedisStopsAnswering) {
  PrivateRedisServer server;
  ASSERT_TRUE(server.started());
  RedisStoreSettings settings;
  settings.health_timeout = std::chrono::milliseconds(200);
  auto store = MakeRedisStore(server.endpoint(), prefix_, settings);
  ASSERT_TRUE(InitializeSync(*store).ok());
  EXPECT_EQ(CheckHealthSync(*store).status, HealthStatus::kHealthy);
  server.Freeze();  // the connection stays open, nothing answers
  const auto started = std::chrono::steady_clock::now();
  const HealthReport report = CheckHealthSync(*store);
  EXPECT_EQ(report.status, HealthStatus::kUnhealthy);
  EXPECT_THAT(report.description, HasSubstr("did not answer PING within 200 ms"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(800));
  server.Resume();
  EXPECT_EQ(CheckHealthSync(*store).status, HealthStatus::kHealthy);
}

TEST_F(RedisDocumentStoreTest, KilledConnectionRecoversAndNothingAcknowledgedIsLost) {
  const std::string name = "store-" + std::to_string(::getpid());
  auto store = OpenInitialized({}, ",name=" + name);
  ASSERT_TRUE(AppendSync(*store, "doc", MakeOps(2, 10)).ok());
  EXPECT_EQ(raw_->KillClientsNamed(name), 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int64_t next = 11;
  while (std::chrono::steady_clock::now() < deadline && next < 20) {
    if (AppendSync(*store, "doc", {MakeOp(next)}).ok()) ++next;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(next, 20);
  auto [status, loaded] = LoadSync(*store, "doc");
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(loaded.ops.size(), 18u);
  EXPECT_EQ(CheckHealthSync(*store).status, HealthStatus::kHealthy);
}

// Appends whose replies are lost when the connection dies are checked against the stream after
// the reconnect, so every outcome reported is the true one: acknowledged <=> stored.
TEST_F(RedisDocumentStoreTest, AppendsCutOffByALostConnectionReportTheirTrueOutcome) {
  const std::string name = "cutoff-" + std::to_string(::getpid());
  auto store = OpenInitialized({}, ",name=" + name);
  constexpr int kDocuments = 4000;
  std::vector<int> outcome(kDocuments, 0);  // 1 acknowledged, 2 failed; written on the store's thread
  std::atomic<int> completed{0};
  std::thread writer([&] {
    for (int i = 0; i < kDocuments; ++i) {
      store->Append("d" + std::to_string(i), {MakeOp(2)}, [&outcome, &completed, i](Status status) {
        outcome[i] = status.ok() ? 1 : 2;
        ++completed;
      });
      if (i % 200 == 199) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  // Cut the connection mid-stream: after a quarter of the appends were answered.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (completed.load() < kDocuments / 4 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  const int killed = raw_->KillClientsNamed(name);
  writer.join();
  store->Flush(std::chrono::seconds(20));
  ASSERT_EQ(completed.load(), kDocuments);
  EXPECT_EQ(killed, 1);
  int acknowledged = 0;
  int wrong = 0;
  for (int i = 0; i < kDocuments; ++i) {
    const int64_t stored = raw_->Ok({"XLEN", Key("doc:d" + std::to_string(i) + ":ops")}).integer;
    acknowledged += outcome[i] == 1;
    if ((outcome[i] == 1) != (stored == 1)) ++wrong;
  }
  EXPECT_EQ(wrong, 0) << "acknowledged " << acknowledged << " of " << kDocuments;
  EXPECT_GT(acknowledged, 0);
}

// Deterministic variant: the appends are on the wire but held by a write pause when their
// connection dies, so Redis never runs them; the store must find that out and say "not stored".
TEST_F(RedisDocumentStoreTest, AppendsLostBeforeRedisRanThemAreReportedAsNotStored) {
  // A server of its own: the write pause must not stall (or be lifted by) parallel tests.
  PrivateRedisServer server;
  ASSERT_TRUE(server.started());
  SyncRedis admin(server.endpoint());
  ASSERT_TRUE(admin.Start().ok());
  const std::string name = "paused-" + std::to_string(::getpid());
  auto store = MakeRedisStore(server.endpoint() + ",name=" + name, prefix_);
  ASSERT_TRUE(InitializeSync(*store).ok());
  ASSERT_TRUE(AppendSync(*store, "held", {MakeOp(2)}).ok());
  admin.Ok({"CLIENT", "PAUSE", "400", "WRITE"});
  std::promise<Status> result;
  store->Append("held", {MakeOp(3)}, [&result](Status status) { result.set_value(std::move(status)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(admin.KillClientsNamed(name), 1);
  auto future = result.get_future();
  const Status status = Wait(future);
  EXPECT_THAT(status.message(), HasSubstr("Redis connection lost"));
  EXPECT_THAT(status.message(), HasSubstr("it was not stored, and may be retried"));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(admin.Ok({"XLEN", Key("doc:held:ops")}).integer, 1);
  // And the retry succeeds.
  EXPECT_TRUE(AppendSync(*store, "held", {MakeOp(3)}).ok());
}

// The other outcome: Redis ran the append but its reply was lost (the store gave up waiting and
// closed the connection while the server slept, and the server read the command before the
// close). The store must find the op in the stream and report success, not failure.
TEST_F(RedisDocumentStoreTest, AppendsRunByRedisWhoseReplyWasLostAreReportedAsStored) {
  PrivateRedisServer server("--enable-debug-command yes");
  ASSERT_TRUE(server.started());
  SyncRedis admin(server.endpoint());
  ASSERT_TRUE(admin.Start().ok());
  auto store = MakeRedisStore(server.endpoint() + ",syncTimeout=1000", prefix_);
  ASSERT_TRUE(InitializeSync(*store).ok());
  ASSERT_TRUE(AppendSync(*store, "slept", {MakeOp(2)}).ok());

  admin.client().Execute({"DEBUG", "SLEEP", "1.3"}, [](Status, Reply) {});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the server is asleep now
  const auto started = std::chrono::steady_clock::now();
  std::promise<Status> result;
  store->Append("slept", {MakeOp(3)}, [&result](Status status) { result.set_value(std::move(status)); });
  auto future = result.get_future();
  const Status status = Wait(future);
  EXPECT_TRUE(status.ok()) << status.message();
  EXPECT_GT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1000)) << "the reply was not lost";
  EXPECT_EQ(admin.Ok({"XLEN", Key("doc:slept:ops")}).integer, 2);
  EXPECT_TRUE(AppendSync(*store, "slept", {MakeOp(4)}).ok());
}

TEST_F(RedisDocumentStoreTest, OpenValidatesTheConnectionString) {
  std::unique_ptr<DocumentStore> store;
  EXPECT_THAT(OpenRedisStore("", store).message(), HasSubstr("no endpoint"));
  EXPECT_THAT(OpenRedisStore("localhost:6379,ssl=true", store).message(), HasSubstr("ssl=true is not supported"));
  EXPECT_THAT(OpenRedisStore("localhost:6379,keyPrefix=x", store).message(), HasSubstr("unknown option 'keyPrefix'"));
  EXPECT_EQ(store, nullptr);
  ASSERT_TRUE(OpenRedisStore("localhost", store).ok());
  EXPECT_EQ(store->provider(), "redis");
}

}  // namespace
}  // namespace opstream::storage::testing
