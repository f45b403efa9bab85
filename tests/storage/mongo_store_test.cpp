// The `mongo` provider, tested against the Mongo-wire stand-in (mockupdb+mongomock), NOT a real
// MongoDB: Debian has no MongoDB server, so scripts/test-services.sh starts scripts/mongo-standin.py
// and exports OPSTREAM_TEST_MONGO_URL (without it these tests fail, they never skip). Every suite
// and instantiation here carries "MongoStandIn" in its name for that reason.
//
// Besides the shared conformance suite: the reference's exact documents (element names and BSON
// types, checked without a server), its index names, reading data shaped as the reference writes
// it, restart-and-reload, a batch refused half-way, a dead server, a malformed URI, reconnecting.
#include <gmock/gmock.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <thread>

#include "storage/document_store_conformance.hpp"
#include "storage/mongo/mongo_document_store.hpp"
#include "storage/store_test_support.hpp"

extern char** environ;

namespace opstream::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kStandInLabel = "Mongo-wire stand-in (mockupdb+mongomock), not a real MongoDB";

std::string TestMongoUrl() { return TestServiceUrl("OPSTREAM_TEST_MONGO_URL", std::string(kStandInLabel)); }

std::unique_ptr<MongoDocumentStore> MakeMongoStore(const std::string& url, const std::string& database) {
  std::unique_ptr<DocumentStore> store;
  const Status opened = OpenMongoStore(url, store, {.database_name = database, .workers = 3});
  EXPECT_TRUE(opened.ok()) << opened.message();
  return std::unique_ptr<MongoDocumentStore>(static_cast<MongoDocumentStore*>(store.release()));
}

const StoreFactory kMongoStandIn{"MongoStandIn",
                                 [](const std::filesystem::path&) -> std::unique_ptr<DocumentStore> {
                                   const std::string url = TestMongoUrl();
                                   if (url.empty()) return nullptr;
                                   return MakeMongoStore(url, UniqueTestName("opstream_test_"));
                                 },
                                 std::chrono::milliseconds(1), std::chrono::milliseconds(1),
                                 std::chrono::milliseconds(1)};

OPSTREAM_INSTANTIATE_STORE_CONFORMANCE(MongoStandIn_NotARealMongoDB, kMongoStandIn);

// ---- what the provider writes, without a server ----

TEST(MongoDocuments, OpDocumentHasTheReferencesElementsAndTypes) {
  StoredOp op;
  op.revision = 7;
  op.author_id = "peer-A";
  op.timestamp = Timestamp(std::chrono::milliseconds(1750779699123) + std::chrono::nanoseconds(999999));
  op.payload = std::string("{\"a\":1}\0x", 9);
  op.engine_type = "TextOp";
  EXPECT_EQ(
      mongo::OpDocumentJson("t:#:doc", op),
      R"({ "_id" : "t:#:doc:7", "DocumentId" : "t:#:doc", "Revision" : { "$numberLong" : "7" }, )"
      R"("AuthorId" : "peer-A", "Timestamp" : { "$date" : { "$numberLong" : "1750779699123" } }, )"
      R"("Payload" : { "$binary" : { "base64" : "eyJhIjoxfQB4", "subType" : "00" } }, "EngineType" : "TextOp" })");
}

TEST(MongoDocuments, SnapshotWriteSetsRevisionTimestampAndState) {
  const Snapshot snapshot{12, Timestamp(std::chrono::milliseconds(-1) + std::chrono::nanoseconds(1)), "{}"};
  // Before 1970 the millisecond is truncated towards the past, as a BSON date must be.
  EXPECT_EQ(mongo::SnapshotUpdateJson(snapshot),
            R"({ "$set" : { "Revision" : { "$numberLong" : "12" }, )"
            R"("Timestamp" : { "$date" : { "$numberLong" : "-1" } }, )"
            R"("State" : { "$binary" : { "base64" : "e30=", "subType" : "00" } } } })");
}

TEST(MongoDocuments, PrefixPatternMatchesThePrefixLiterally) {
  EXPECT_EQ(mongo::PrefixPattern(""), "^");
  EXPECT_EQ(mongo::PrefixPattern("a.b*c"), "^a\\.b\\*c");
  EXPECT_EQ(mongo::PrefixPattern("t1:#:(x)[y]$^\\|?+{}"), "^t1\\:\\#\\:\\(x\\)\\[y\\]\\$\\^\\\\\\|\\?\\+\\{\\}");
  EXPECT_EQ(mongo::PrefixPattern("\xC3\xA9-1"), "^\xC3\xA9\\-1");
}

TEST(MongoConfiguration, MalformedUriIsAClearErrorWithoutThePassword) {
  std::unique_ptr<DocumentStore> store;
  Status status = OpenMongoStore("http://localhost:27017", store);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("The MongoDB connection string is not valid"));
  EXPECT_EQ(store, nullptr);

  status = OpenMongoStore("mongodb://admin:s3cr3tPw@localhost:notaport/", store);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("MongoDB connection string"));
  EXPECT_THAT(status.message(), Not(HasSubstr("s3cr3tPw")));

  status = OpenMongoStore("mongodb://localhost/?connectTimeoutMS=abc&bogusOption=1", store);
  EXPECT_FALSE(status.ok()) << "libmongoc accepts unknown URI options with a warning; an invalid value is an error";
}

TEST(MongoConfiguration, DatabaseNameMustBeValid) {
  std::unique_ptr<DocumentStore> store;
  for (const std::string& bad : std::vector<std::string>{"", "a.b", "a b", "a/b", "a$b", std::string(64, 'x')}) {
    const Status status = OpenMongoStore("mongodb://localhost/", store, {.database_name = bad});
    EXPECT_FALSE(status.ok()) << "'" << bad << "'";
    EXPECT_THAT(status.message(), HasSubstr("not a valid MongoDB database name"));
  }
  EXPECT_TRUE(OpenMongoStore("mongodb://localhost/", store, {.database_name = "opstream"}).ok());
}

// ---- against the stand-in ----

class MongoStandInStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RecordProperty("backend", std::string(kStandInLabel));
    url_ = TestMongoUrl();
    ASSERT_FALSE(url_.empty());
    database_ = UniqueTestName("opstream_test_");
  }

  std::unique_ptr<MongoDocumentStore> OpenInitialized() { return InitializedOrFail(MakeMongoStore(url_, database_)); }

  std::vector<std::string> Dump(MongoDocumentStore& store, const std::string& collection) {
    std::vector<std::string> out;
    const Status status = store.DumpCollection(collection, out);
    EXPECT_TRUE(status.ok()) << status.message();
    return out;
  }

  static Timestamp StoredTime(Timestamp t) { return t - (t.time_since_epoch() % std::chrono::milliseconds(1)); }

  std::string url_;
  std::string database_;
};

TEST_F(MongoStandInStoreTest, ProviderAndTypeNames) {
  auto store = OpenInitialized();
  EXPECT_EQ(store->provider(), "mongo");
  EXPECT_EQ(store->type_name(), "MongoDocumentStore");
}

TEST_F(MongoStandInStoreTest, InitializeCreatesTheReferencesIndexesAndIsRepeatable) {
  auto store = OpenInitialized();
  ASSERT_TRUE(InitializeSync(*store).ok());  // createIndexes again is a no-op
  auto names = [&](const std::string& collection) {
    std::string reply;
    const Status status = store->RunCommand(R"({"listIndexes": ")" + collection + R"("})", reply);
    EXPECT_TRUE(status.ok()) << status.message();
    return reply;
  };
  EXPECT_THAT(names("ops"),
              HasSubstr(R"("key" : { "DocumentId" : { "$numberInt" : "1" }, "Revision" : { "$numberInt" : "1" } }, )"
                        R"("name" : "DocumentId_1_Revision_1")"));
  EXPECT_THAT(names("history_ops"), HasSubstr(R"("name" : "DocumentId_1_Revision_1")"));
  EXPECT_THAT(names("history_snapshots"),
              HasSubstr(R"("key" : { "DocumentId" : { "$numberInt" : "1" }, "Revision" : { "$numberInt" : "-1" } }, )"
                        R"("name" : "DocumentId_1_Revision_-1")"));
}

TEST_F(MongoStandInStoreTest, StoresTheReferencesCollectionsAndElementNames) {
  auto store = OpenInitialized();
  StoredOp op = MakeOp(2, "{\"ops\":[\"abc\"]}");
  op.timestamp = Timestamp(std::chrono::milliseconds(1750779699123) + std::chrono::nanoseconds(456700));
  ASSERT_TRUE(AppendSync(*store, "tenant:#:doc-1", {op}).ok());
  ASSERT_TRUE(WriteSnapshotSync(*store, "tenant:#:doc-1", {2, op.timestamp, "{\"text\":\"abc\"}"}).ok());

  const auto ops = Dump(*store, "ops");
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_THAT(ops[0], HasSubstr(R"("_id" : "tenant:#:doc-1:2", "DocumentId" : "tenant:#:doc-1")"));
  EXPECT_THAT(ops[0], HasSubstr(R"("AuthorId" : "peer-2")"));
  EXPECT_THAT(ops[0], HasSubstr(R"("Timestamp" : { "$date" : { "$numberLong" : "1750779699123" } })"));
  EXPECT_THAT(ops[0],
              HasSubstr(R"("Payload" : { "$binary" : { "base64" : "eyJvcHMiOlsiYWJjIl19", "subType" : "00" } })"));
  EXPECT_THAT(ops[0], HasSubstr(R"("EngineType" : "TextOp")"));
  const auto snapshots = Dump(*store, "snapshots");
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_THAT(snapshots[0], HasSubstr(R"("_id" : "tenant:#:doc-1")"));
  EXPECT_THAT(snapshots[0],
              HasSubstr(R"("State" : { "$binary" : { "base64" : "eyJ0ZXh0IjoiYWJjIn0=", "subType" : "00" } })"));
  EXPECT_THAT(snapshots[0], Not(HasSubstr("DocumentId")));  // snapshots are keyed by _id only
}

TEST_F(MongoStandInStoreTest, ReadsDocumentsWrittenTheWayTheReferenceWritesThem) {
  auto store = OpenInitialized();
  // As the .NET driver inserts them (int32 would also be read, in case a tool rewrote them).
  std::string reply;
  ASSERT_TRUE(store
                  ->RunCommand(R"({"insert": "ops", "documents": [
      {"_id": "ref:5", "DocumentId": "ref", "Revision": {"$numberLong": "5"}, "AuthorId": "p1",
       "Timestamp": {"$date": {"$numberLong": "1700000000123"}}, "Payload": {"$binary": {"base64": "eyJ4IjoxfQ==", "subType": "00"}},
       "EngineType": "TextOp"},
      {"_id": "ref:6", "DocumentId": "ref", "Revision": 6, "AuthorId": "p2",
       "Timestamp": {"$date": {"$numberLong": "1700000000456"}}, "Payload": {"$binary": {"base64": "eyJ4IjoyfQ==", "subType": "00"}},
       "EngineType": "TextOp"}]})",
                               reply)
                  .ok())
      << reply;
  ASSERT_TRUE(store
                  ->RunCommand(R"({"insert": "snapshots", "documents": [{"_id": "ref", "Revision": {"$numberLong": "5"},
      "Timestamp": {"$date": {"$numberLong": "1700000000000"}}, "State": {"$binary": {"base64": "e30=", "subType": "00"}}}]})",
                               reply)
                  .ok());
  auto [status, loaded] = LoadSync(*store, "ref");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(loaded.snapshot.has_value());
  EXPECT_EQ(loaded.snapshot->revision, 5);
  EXPECT_EQ(loaded.snapshot->state, "{}");
  EXPECT_EQ(loaded.snapshot->timestamp, Timestamp(std::chrono::milliseconds(1700000000000)));
  ASSERT_THAT(Revisions(loaded.ops), ElementsAre(6));
  EXPECT_EQ(loaded.ops[0].payload, "{\"x\":2}");
  EXPECT_EQ(loaded.ops[0].author_id, "p2");
  EXPECT_EQ(loaded.ops[0].timestamp, Timestamp(std::chrono::milliseconds(1700000000456)));
}

TEST_F(MongoStandInStoreTest, BatchRefusedHalfWayLeavesNothingBehind) {
  auto store = OpenInitialized();
  ASSERT_TRUE(AppendSync(*store, "doc", MakeOps(5, 5)).ok());
  // 3 and 4 are inserted before 5 is refused; they must be gone again.
  const Status refused = AppendSync(*store, "doc", MakeOps(3, 6));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.message(), "Revision 5 of document 'doc' already exists.");
  EXPECT_THAT(Revisions(LoadSync(*store, "doc").second.ops), ElementsAre(5));
  EXPECT_EQ(Dump(*store, "ops").size(), 1u);
  // Nothing blocks a writer that retries the part before.
  ASSERT_TRUE(AppendSync(*store, "doc", MakeOps(3, 4)).ok());
  EXPECT_THAT(Revisions(LoadSync(*store, "doc").second.ops), ElementsAre(3, 4, 5));
}

TEST_F(MongoStandInStoreTest, RestartedStoreReloadsEverything) {
  {
    auto store = OpenInitialized();
    ASSERT_TRUE(AppendSync(*store, "a", MakeOps(1, 40)).ok());
    ASSERT_TRUE(WriteSnapshotSync(*store, "a", {30, SampleTime(), "{\"s\":30}"}).ok());
    ASSERT_TRUE(CompactSync(*store, "a", 30).ok());
    ASSERT_TRUE(AppendSync(*store, "b", MakeOps(1, 3)).ok());
  }
  auto store = OpenInitialized();
  auto [status, loaded] = LoadSync(*store, "a");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(loaded.snapshot.has_value());
  EXPECT_EQ(loaded.snapshot->revision, 30);
  EXPECT_EQ(loaded.ops.size(), 10u);
  EXPECT_EQ(loaded.ops.front().revision, 31);
  EXPECT_THAT(Revisions(LoadSync(*store, "b").second.ops), ElementsAre(1, 2, 3));
}

TEST_F(MongoStandInStoreTest, CommentsUseTheReferenceLibrarysLayout) {
  auto store = OpenInitialized();
  Comment reply;
  reply.id = "c0000000000000000000000000000002";
  reply.document_id = "d1";
  reply.parent_comment_id = "c0000000000000000000000000000001";
  reply.author_peer_id = "p1";
  reply.author_name = "Ann";
  reply.body = "hi";
  reply.created_at = Timestamp(std::chrono::milliseconds(1750779699123) + std::chrono::nanoseconds(999));
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  store->AddComment(reply, [promise](Status status) { promise->set_value(std::move(status)); });
  ASSERT_TRUE(Wait(future).ok());
  const auto docs = Dump(*store, "comments");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(
      docs[0],
      R"({ "_id" : "c0000000000000000000000000000002", "DocumentId" : "d1", )"
      R"("ParentCommentId" : "c0000000000000000000000000000001", "AuthorPeerId" : "p1", "AuthorName" : "Ann", )"
      R"("Body" : "hi", "AnchorJson" : null, "AnchoredAtRevision" : { "$numberLong" : "0" }, )"
      R"("CreatedAt" : [ { "$numberLong" : "638863764991230000" }, { "$numberInt" : "0" } ], "ResolvedAt" : null, )"
      R"("ResolvedByPeerId" : null, "IsOrphaned" : false })");
}

// A crash between the two halves of UpdateAnchors leaves its intent document behind; the next
// read of that document's comments applies it first, so the half state is never seen.
TEST_F(MongoStandInStoreTest, AnchorUpdateInterruptedByACrashIsCompletedBeforeCommentsAreRead) {
  auto store = OpenInitialized();
  for (const char* id : {"c0000000000000000000000000000001", "c0000000000000000000000000000002"}) {
    Comment root;
    root.id = id;
    root.document_id = "d1";
    root.author_peer_id = "p1";
    root.anchor_json = R"({"kind":"text","data":{"start":0}})";
    root.created_at = SampleTime();
    ASSERT_TRUE(CallSync<Status>([&](auto done) { store->AddComment(root, done); }).ok());
  }
  std::string reply;
  ASSERT_TRUE(store
                  ->RunCommand(R"({"insert": "pending_anchor_updates", "documents": [{"DocumentId": "d1",
                     "Revision": {"$numberLong": "9"}, "Updates": [
                     {"CommentId": "c0000000000000000000000000000001", "AnchorJson": "{\"kind\":\"text\"}",
                      "Orphaned": false},
                     {"CommentId": "c0000000000000000000000000000002", "AnchorJson": null, "Orphaned": true}]}]})",
                               reply)
                  .ok())
      << reply;
  auto [status, comments] =
      CallSync<std::pair<Status, std::vector<Comment>>>([&](auto done) { store->LoadComments("d1", done); });
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_EQ(comments.size(), 2u);
  EXPECT_EQ(comments[0].anchored_at_revision, 9);
  EXPECT_EQ(comments[0].anchor_json, std::optional<std::string>(R"({"kind":"text"})"));
  EXPECT_FALSE(comments[0].is_orphaned);
  EXPECT_EQ(comments[1].anchored_at_revision, 9);
  EXPECT_EQ(comments[1].anchor_json, std::nullopt);
  EXPECT_TRUE(comments[1].is_orphaned);
  EXPECT_TRUE(Dump(*store, "pending_anchor_updates").empty());

  // A completed UpdateAnchors leaves no intent behind.
  const Status updated = CallSync<Status>([&](auto done) {
    store->UpdateAnchors("d1", 10, {{"c0000000000000000000000000000001", std::nullopt, AnchorOutcome::kMoved}}, done);
  });
  ASSERT_TRUE(updated.ok()) << updated.message();
  EXPECT_TRUE(Dump(*store, "pending_anchor_updates").empty());
}

// A pending anchor update this store could not have written (no Updates array) cannot be applied;
// it is dropped instead of blocking the document's comments for ever.
TEST_F(MongoStandInStoreTest, UnreadablePendingAnchorUpdateIsDroppedAndDoesNotBlockTheComments) {
  auto store = OpenInitialized();
  std::string reply;
  ASSERT_TRUE(
      store->RunCommand(R"({"insert": "pending_anchor_updates", "documents": [{"DocumentId": "d1"}]})", reply).ok())
      << reply;
  auto [status, comments] =
      CallSync<std::pair<Status, std::vector<Comment>>>([&](auto done) { store->LoadComments("d1", done); });
  EXPECT_TRUE(status.ok()) << status.message();
  EXPECT_TRUE(comments.empty());
  EXPECT_TRUE(Dump(*store, "pending_anchor_updates").empty());
}

// WriteHistorySnapshot is one upsert: the document has the reference's elements, and a second
// write at the same revision is refused without touching the first.
TEST_F(MongoStandInStoreTest, HistorySnapshotWriteIsOneUpsertThatRefusesASecondAtTheSameRevision) {
  auto store = OpenInitialized();
  const Snapshot first{4, Timestamp(std::chrono::milliseconds(1750779699123)), "{\"s\":4}"};
  ASSERT_TRUE(CallSync<Status>([&](auto done) { store->WriteHistorySnapshot("d1", first, "tag/v1", done); }).ok());
  const Status second = CallSync<Status>([&](auto done) {
    store->WriteHistorySnapshot("d1", {4, SampleTime(), "{\"s\":\"other\"}"}, std::nullopt, done);
  });
  EXPECT_EQ(second.message(), "A history snapshot at revision 4 of document 'd1' already exists.");
  const auto docs = Dump(*store, "history_snapshots");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_THAT(docs[0], HasSubstr(R"("_id" : { "$oid" : )"));
  EXPECT_THAT(docs[0], HasSubstr(R"("DocumentId" : "d1")"));
  // (The stand-in does not keep int64 apart from int32.)
  const std::string revision = R"re("Revision" : \{ "\$number(Int|Long)" : "4" \})re";
  EXPECT_THAT(docs[0], ::testing::ContainsRegex(revision));
  EXPECT_THAT(docs[0], HasSubstr(R"("Timestamp" : { "$date" : { "$numberLong" : "1750779699123" } })"));
  EXPECT_THAT(docs[0], HasSubstr(R"("Name" : "tag/v1")"));
  EXPECT_THAT(docs[0], HasSubstr(R"("State" : { "$binary" : { "base64" : "eyJzIjo0fQ==", "subType" : "00" } })"));
}

TEST_F(MongoStandInStoreTest, HealthyWhenTheServerAnswers) {
  auto store = OpenInitialized();
  const HealthReport report = CheckHealthSync(*store);
  EXPECT_EQ(report.status, HealthStatus::kHealthy) << report.description;
}

// A stand-in process of the test's own, so that stopping it cannot disturb parallel tests.
class PrivateStandIn {
 public:
  explicit PrivateStandIn(int port = FreePort()) : port_(port) {
    const std::string script = std::string(OPSTREAM_SOURCE_DIR) + "/scripts/mongo-standin.py";
    const std::string ready = dir_.File("ready");
    const std::string port_text = std::to_string(port_);
    const char* argv[] = {"/usr/bin/python3", script.c_str(), port_text.c_str(),
                          "--ready-file",     ready.c_str(),  nullptr};
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, const_cast<char**>(argv), environ) != 0) pid_ = 0;
    for (int i = 0; i < 300 && pid_ > 0 && !started_; ++i) {
      std::ifstream file(ready);
      std::string text;
      started_ = static_cast<bool>(file >> text);
      if (!started_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~PrivateStandIn() { Stop(); }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  bool started() const { return started_; }
  int port() const { return port_; }
  std::string url() const {
    return "mongodb://localhost:" + std::to_string(port_) +
           "/?retryWrites=false&serverSelectionTimeoutMS=800&connectTimeoutMS=500&heartbeatFrequencyMS=500";
  }

 private:
  TempDir dir_;
  int port_;
  pid_t pid_ = 0;
  bool started_ = false;
};

TEST(MongoStandInFaults, DeadServerGivesClearErrorsAndUnhealthy) {
  const int port = FreePort();
  std::unique_ptr<DocumentStore> store;
  ASSERT_TRUE(OpenMongoStore(
                  "mongodb://127.0.0.1:" + std::to_string(port) + "/?serverSelectionTimeoutMS=300&connectTimeoutMS=200",
                  store, {.health_timeout = std::chrono::milliseconds(3000)})
                  .ok());
  const Status initialized = InitializeSync(*store);
  ASSERT_FALSE(initialized.ok());
  EXPECT_THAT(initialized.message(), HasSubstr("MongoDB index creation failed"));
  EXPECT_THAT(initialized.message(), HasSubstr("No suitable servers found"));
  const Status appended = AppendSync(*store, "doc", MakeOps(1, 1));
  ASSERT_FALSE(appended.ok());
  EXPECT_THAT(appended.message(), HasSubstr("The ops were not acknowledged"));
  auto [load_status, loaded] = LoadSync(*store, "doc");
  EXPECT_FALSE(load_status.ok());
  const HealthReport report = CheckHealthSync(*store);
  EXPECT_EQ(report.status, HealthStatus::kUnhealthy);
  EXPECT_THAT(report.description, HasSubstr("MongoDB health probe failed"));
}

TEST(MongoStandInFaults, ProbeAnswersWithinItsTimeoutWhenTheServerHangs) {
  // A socket that accepts but never answers: the probe must still be answered by the watchdog.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  {
    std::unique_ptr<DocumentStore> store;
    ASSERT_TRUE(OpenMongoStore("mongodb://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) +
                                   "/?serverSelectionTimeoutMS=3000&connectTimeoutMS=3000",
                               store, {.health_timeout = std::chrono::milliseconds(300)})
                    .ok());
    const auto started = std::chrono::steady_clock::now();
    const HealthReport report = CheckHealthSync(*store);
    EXPECT_EQ(report.status, HealthStatus::kUnhealthy);
    EXPECT_THAT(report.description, HasSubstr("MongoDB did not answer within 300 ms"));
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(2500));
  }
  ::close(fd);
}

TEST(MongoStandInFaults, ReconnectsAfterTheServerComesBack) {
  auto server = std::make_unique<PrivateStandIn>();
  ASSERT_TRUE(server->started());
  const int port = server->port();
  const std::string url = server->url();
  std::unique_ptr<DocumentStore> store;
  ASSERT_TRUE(OpenMongoStore(url, store, {.workers = 2}).ok());
  ASSERT_TRUE(InitializeSync(*store).ok());
  ASSERT_TRUE(AppendSync(*store, "doc", MakeOps(1, 2)).ok());

  server->Stop();
  const Status failed = AppendSync(*store, "doc", MakeOps(3, 3));
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.message(), HasSubstr("MongoDB append failed"));

  // The stand-in keeps its data in memory, so the new one starts empty; what matters is that the
  // same store object works again without being reopened.
  server = std::make_unique<PrivateStandIn>(port);
  ASSERT_TRUE(server->started());
  Status again = Status::Error("not tried");
  for (int i = 0; i < 50 && !again.ok(); ++i) {
    again = AppendSync(*store, "doc2", MakeOps(1, 1));
    if (!again.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_THAT(Revisions(LoadSync(*store, "doc2").second.ops), ElementsAre(1));
  EXPECT_EQ(CheckHealthSync(*store).status, HealthStatus::kHealthy);
}

}  // namespace
}  // namespace opstream::storage::testing

namespace opstream::storage::testing {
namespace {

std::vector<DocumentInfo> EnumerateSync(DocumentStore& store, std::string prefix, DocumentQuery query = {}) {
  auto promise = std::make_shared<std::promise<std::pair<Status, std::vector<DocumentInfo>>>>();
  auto future = promise->get_future();
  store.Enumerate(std::move(prefix), query, [promise](Status status, std::vector<DocumentInfo> out) {
    promise->set_value({std::move(status), std::move(out)});
  });
  auto [status, out] = Wait(future);
  EXPECT_TRUE(status.ok()) << status.message();
  return out;
}

std::optional<DocumentInfo> GetInfoSync(DocumentStore& store, std::string id) {
  auto promise = std::make_shared<std::promise<std::pair<Status, std::optional<DocumentInfo>>>>();
  auto future = promise->get_future();
  store.GetInfo(std::move(id), [promise](Status status, std::optional<DocumentInfo> out) {
    promise->set_value({std::move(status), std::move(out)});
  });
  auto [status, out] = Wait(future);
  EXPECT_TRUE(status.ok()) << status.message();
  return out;
}

int64_t DeletePrefixSync(DocumentStore& store, std::string prefix) {
  auto promise = std::make_shared<std::promise<std::pair<Status, int64_t>>>();
  auto future = promise->get_future();
  store.DeleteByTenantPrefix(std::move(prefix), [promise](Status status, int64_t count) {
    promise->set_value({std::move(status), count});
  });
  auto [status, count] = Wait(future);
  EXPECT_TRUE(status.ok()) << status.message();
  return count;
}

Status DeleteSync(DocumentStore& store, std::string id) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  store.Delete(std::move(id), [promise](Status status) { promise->set_value(std::move(status)); });
  return Wait(future);
}

std::vector<std::string> Ids(const std::vector<DocumentInfo>& infos) {
  std::vector<std::string> ids;
  for (const auto& info : infos) ids.push_back(info.document_id);
  return ids;
}

TEST_F(MongoStandInStoreTest, EnumerateGetInfoAndDeletesFollowSection31) {
  auto store = OpenInitialized();
  ASSERT_TRUE(AppendSync(*store, "t1:#:b", MakeOps(1, 3)).ok());
  ASSERT_TRUE(WriteSnapshotSync(*store, "t1:#:a", {9, SampleTime(100), "{}"}).ok());  // snapshot only
  ASSERT_TRUE(AppendSync(*store, "t1:#:c", MakeOps(4, 5)).ok());
  ASSERT_TRUE(WriteSnapshotSync(*store, "t1:#:c", {4, SampleTime(-50), "{}"}).ok());
  ASSERT_TRUE(AppendSync(*store, "t1.x", MakeOps(1, 1)).ok());  // '.' is a regex metacharacter
  ASSERT_TRUE(AppendSync(*store, "t2:#:z", MakeOps(1, 1)).ok());

  EXPECT_THAT(Ids(EnumerateSync(*store, "t1:#:")), ElementsAre("t1:#:a", "t1:#:b", "t1:#:c"));
  EXPECT_THAT(Ids(EnumerateSync(*store, "")), ElementsAre("t1.x", "t1:#:a", "t1:#:b", "t1:#:c", "t2:#:z"));
  EXPECT_THAT(Ids(EnumerateSync(*store, "t1", {1, 2})), ElementsAre("t1:#:a", "t1:#:b"));
  EXPECT_THAT(Ids(EnumerateSync(*store, "t1", {0, 0})), ElementsAre("t1.x", "t1:#:a", "t1:#:b", "t1:#:c"));

  const auto a = GetInfoSync(*store, "t1:#:a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->revision, 9);
  EXPECT_EQ(a->op_count, 0);
  EXPECT_EQ(a->last_modified, StoredTime(SampleTime(100)));
  const auto c = GetInfoSync(*store, "t1:#:c");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->revision, 5);
  EXPECT_EQ(c->op_count, 2);
  EXPECT_EQ(c->last_modified, StoredTime(MakeOp(5).timestamp));
  EXPECT_FALSE(GetInfoSync(*store, "t1:#:none").has_value());

  ASSERT_TRUE(DeleteSync(*store, "t1:#:c").ok());
  EXPECT_FALSE(GetInfoSync(*store, "t1:#:c").has_value());
  EXPECT_EQ(DeletePrefixSync(*store, "t1:#:"), 2);
  EXPECT_THAT(Ids(EnumerateSync(*store, "")), ElementsAre("t1.x", "t2:#:z"));
  EXPECT_EQ(DeletePrefixSync(*store, ""), 2);
  EXPECT_TRUE(EnumerateSync(*store, "").empty());
}

}  // namespace
}  // namespace opstream::storage::testing
