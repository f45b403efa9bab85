// Owner-side execution of the management commands (server.md §5.3) through the real session layer
// on the memory store: DeleteDocument, CompactDocument (pin guard, snapshot and connected-client
// clamps), PurgeHistory, the backplane request payloads (§4.5) and the `upToRevision` parsing.
#include "session/document_management.hpp"

#include <gtest/gtest.h>

#include "backplane/messages.hpp"
#include "session/validation.hpp"
#include "session_test_support.hpp"
#include "storage/history_store.hpp"
#include "storage/ref_store.hpp"

namespace opstream::session::testing {
namespace {

TEST(UpToRevisionParsing, FollowsDotNetLongTryParse) {
  EXPECT_EQ(ParseUpToRevision("42"), 42);
  EXPECT_EQ(ParseUpToRevision(" 7\t"), 7);
  EXPECT_EQ(ParseUpToRevision("+3"), 3);
  EXPECT_EQ(ParseUpToRevision("-5"), -5);
  EXPECT_EQ(ParseUpToRevision("007"), 7);
  EXPECT_EQ(ParseUpToRevision("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(ParseUpToRevision("-9223372036854775808"), INT64_MIN);
  for (const char* bad : {"", " ", "+", "-", "4.0", "1e3", "0x10", "abc", "12a", "1 2", "9223372036854775808",
                          "-9223372036854775809", "99999999999999999999"}) {
    EXPECT_EQ(ParseUpToRevision(bad), std::nullopt) << '"' << bad << '"';
  }
}

// A memory store whose Delete (and, when asked, Append) runs only when the test says so, to act
// while a deletion or an append is under way.
class SlowDeleteStore final : public storage::DocumentStore {
 public:
  std::string_view provider() const override { return inner_.provider(); }
  std::string_view type_name() const override { return inner_.type_name(); }
  void Initialize(Completion done) override { inner_.Initialize(std::move(done)); }
  void Load(std::string id, LoadCompletion done) override { inner_.Load(std::move(id), std::move(done)); }
  void Append(std::string id, std::vector<storage::StoredOp> ops, Completion done) override {
    if (!hold_appends) return inner_.Append(std::move(id), std::move(ops), std::move(done));
    held_append_ = [this, id = std::move(id), ops = std::move(ops), done = std::move(done)]() mutable {
      inner_.Append(std::move(id), std::move(ops), std::move(done));
    };
  }
  void WriteSnapshot(std::string id, storage::Snapshot snapshot, Completion done) override {
    inner_.WriteSnapshot(std::move(id), std::move(snapshot), std::move(done));
  }
  void Compact(std::string id, int64_t up_to, Completion done) override {
    inner_.Compact(std::move(id), up_to, std::move(done));
  }
  void Enumerate(std::string prefix, storage::DocumentQuery query, EnumerateCompletion done) override {
    inner_.Enumerate(std::move(prefix), query, std::move(done));
  }
  void GetInfo(std::string id, InfoCompletion done) override { inner_.GetInfo(std::move(id), std::move(done)); }
  void Delete(std::string id, Completion done) override {
    held_ = [this, id = std::move(id), done = std::move(done)]() mutable {
      inner_.Delete(std::move(id), std::move(done));
    };
  }
  void DeleteByTenantPrefix(std::string prefix, CountCompletion done) override {
    inner_.DeleteByTenantPrefix(std::move(prefix), std::move(done));
  }
  storage::HistoryStore* history_store() override { return inner_.history_store(); }
  storage::RefStore* ref_store() override { return inner_.ref_store(); }
  void CheckHealth(HealthCompletion done) override { inner_.CheckHealth(std::move(done)); }
  void Flush(std::chrono::milliseconds timeout) override { inner_.Flush(timeout); }

  bool holding() const { return static_cast<bool>(held_); }
  void Release() { std::exchange(held_, nullptr)(); }
  bool holding_append() const { return static_cast<bool>(held_append_); }
  void ReleaseAppend() { std::exchange(held_append_, nullptr)(); }

  bool hold_appends = false;

 private:
  storage::MemoryDocumentStore inner_;
  std::function<void()> held_;
  std::function<void()> held_append_;
};

class DocumentManagementTest : public ::testing::Test {
 protected:
  static SessionOptions Options() {
    SessionOptions options;
    options.snapshot_every_ops = 1000;  // snapshots only when a test (or the last leave) causes one
    return options;
  }
  DocumentManagement& management() { return world_.router.management(); }

  Status Run(const std::function<void(DocumentManagement::Done)>& command) {
    std::optional<Status> result;
    command([&](Status status) { result = std::move(status); });
    world_.Drain();
    EXPECT_TRUE(result.has_value()) << "the command did not finish";
    return result.value_or(Status::Error("no answer"));
  }
  backplane::Response Request(std::string type, std::string payload) {
    std::optional<backplane::Response> result;
    management().HandleRequest({"r1", "0123456789abcdef0123456789abcdef", std::move(type), std::move(payload)},
                               [&](backplane::Response response) { result = std::move(response); });
    world_.Drain();
    EXPECT_TRUE(result.has_value()) << "no response";
    return result.value_or(backplane::Response::Failure("no response"));
  }
  std::optional<storage::DocumentInfo> Info() {
    std::optional<storage::DocumentInfo> info;
    world_.store.GetInfo(doc_, [&](Status status, std::optional<storage::DocumentInfo> found) {
      EXPECT_TRUE(status.ok()) << status.message();
      info = std::move(found);
    });
    return info;
  }
  // Ops 2..last from one client, each based on the previous revision.
  void Edit(const std::shared_ptr<TestConnection>& client, int64_t last) {
    for (int64_t base = 1; base < last; ++base) world_.Submit(client, doc_, InsertOp(0, "x"), base);
    world_.Drain();
    const auto acks = Only<OpResponse>(client->Take());
    ASSERT_EQ(acks.size(), static_cast<size_t>(last - 1));
    EXPECT_EQ(acks.back().new_revision, last);
  }
  void PinVersion(int64_t revision) {
    auto* refs = world_.store.ref_store();
    ASSERT_NE(refs, nullptr);
    refs->CreateBranch({"name", "main", doc_, std::nullopt, 0, UtcNow(), false}, [](Status s) { ASSERT_TRUE(s.ok()); });
    refs->CreateVersion({"name", "main", "v1", revision, "tag/v1", UtcNow()}, [](Status s) { ASSERT_TRUE(s.ok()); });
  }

  World world_{Options()};
  const std::string doc_ = "managed";
};

TEST_F(DocumentManagementTest, DeleteEvictsTheSessionAndRemovesHotDataAndHistory) {
  auto client = std::make_shared<TestConnection>();
  ASSERT_TRUE(world_.Join(client, doc_));
  client->Take();
  Edit(client, 4);
  auto* history = world_.store.history_store();
  ASSERT_NE(history, nullptr);
  history->AppendHistoryOp(doc_, {2, "p", UtcNow(), InsertOp(0, "x"), "TextOp"}, [](Status s) { ASSERT_TRUE(s.ok()); });

  ASSERT_TRUE(Run([&](auto done) { management().DeleteDocument(doc_, done); }).ok());
  EXPECT_EQ(world_.router.OpenDocumentCount(), 0u);
  EXPECT_EQ(Info(), std::nullopt);
  history->StreamHistoryOps(doc_, 0, 100, [](Status s, std::vector<storage::StoredOp> ops) {
    ASSERT_TRUE(s.ok());
    EXPECT_TRUE(ops.empty());
  });

  // The client is not left on a dead session: its next op says it must rejoin (SV-18).
  world_.Submit(client, doc_, InsertOp(0, "y"), 4);
  world_.Drain();
  const auto errors = Only<ErrorResponse>(client->Take());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, kNotJoined);
  // A rejoin recreates an empty document at revision 1 (§5.3).
  ASSERT_TRUE(world_.Join(client, doc_));
  const auto joined = Only<JoinResponse>(client->Take());
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0].revision, 1);
  EXPECT_EQ(joined[0].snapshot, R"({"content":""})");
}

TEST_F(DocumentManagementTest, AJoinDuringTheDeletionWaitsAndFindsTheEmptyDocument) {
  SlowDeleteStore store;
  World world(Options(), &store);
  auto writer = std::make_shared<TestConnection>();
  ASSERT_TRUE(world.Join(writer, doc_));
  world.Submit(writer, doc_, InsertOp(0, "old"), 1);
  world.Drain();
  std::optional<Status> deleted;
  world.router.management().DeleteDocument(doc_, [&](Status status) { deleted = status; });
  world.Drain();
  ASSERT_TRUE(store.holding());

  auto late = std::make_shared<TestConnection>();
  bool joined = false;
  world.router.Join(late, std::string("j"), doc_, "text", 1, [&](bool ok) { joined = ok; });
  world.Drain();
  EXPECT_FALSE(joined) << "the join must not read the document being deleted";
  EXPECT_TRUE(late->Take().empty());

  store.Release();
  world.Drain();
  ASSERT_TRUE(deleted && deleted->ok());
  EXPECT_TRUE(joined);
  const auto answers = Only<JoinResponse>(late->Take());
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].revision, 1);
  EXPECT_EQ(answers[0].snapshot, R"({"content":""})");
}

TEST_F(DocumentManagementTest, TheDeletionWaitsForAnAppendInFlightSoThatNothingLandsAfterIt) {
  SlowDeleteStore store;
  World world(Options(), &store);
  auto writer = std::make_shared<TestConnection>();
  ASSERT_TRUE(world.Join(writer, doc_));
  writer->Take();
  store.hold_appends = true;
  world.Submit(writer, doc_, InsertOp(0, "late"), 1);
  world.Drain();
  ASSERT_TRUE(store.holding_append());

  std::optional<Status> deleted;
  world.router.management().DeleteDocument(doc_, [&](Status status) { deleted = status; });
  world.Drain();
  EXPECT_FALSE(store.holding()) << "the delete must wait for the append in flight";
  store.ReleaseAppend();
  world.Drain();
  ASSERT_TRUE(store.holding());
  store.Release();
  world.Drain();
  ASSERT_TRUE(deleted && deleted->ok());
  std::optional<storage::DocumentInfo> info{storage::DocumentInfo{}};
  store.GetInfo(doc_, [&](Status, std::optional<storage::DocumentInfo> found) { info = std::move(found); });
  EXPECT_EQ(info, std::nullopt) << "the op appended before the delete must be gone too";
  // The author got the answer of its durable op, and then lost its membership.
  const auto acks = Only<OpResponse>(writer->Take());
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(acks[0].success);
}

TEST_F(DocumentManagementTest, CompactionOfAnOpenSessionSnapshotsFirstAndKeepsWhatConnectedClientsNeed) {
  auto writer = std::make_shared<TestConnection>();
  auto idle = std::make_shared<TestConnection>();  // joined at revision 1, never catches up
  ASSERT_TRUE(world_.Join(writer, doc_));
  ASSERT_TRUE(world_.Join(idle, doc_));
  writer->Take();
  Edit(writer, 6);
  ASSERT_EQ(Info()->op_count, 5);

  // The stored snapshot is at revision 1: the session writes one at 6 first, but the idle client
  // may still base an op on revision 1, so every op stays.
  ASSERT_TRUE(Run([&](auto done) { management().CompactDocument(doc_, 6, done); }).ok());
  EXPECT_EQ(Info()->revision, 6);
  EXPECT_EQ(Info()->op_count, 5);

  world_.router.Disconnect(idle);
  world_.Drain();
  // The writer's last op was based on revision 5: ops up to 5 may go.
  ASSERT_TRUE(Run([&](auto done) { management().CompactDocument(doc_, 6, done); }).ok());
  EXPECT_EQ(Info()->op_count, 1);
  // The idle client could still rebase from the session's memory had it stayed; the writer can.
  world_.Submit(writer, doc_, InsertOp(0, "y"), 5);
  world_.Drain();
  const auto acks = Only<OpResponse>(writer->Take());
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(acks[0].success) << acks[0].error.value_or("");
  EXPECT_EQ(acks[0].new_revision, 7);
}

TEST_F(DocumentManagementTest, CompactionWithoutASessionStopsAtTheStoredSnapshotAndBelowVersionPins) {
  auto& store = world_.store;
  std::vector<storage::StoredOp> ops;
  for (int64_t revision = 2; revision <= 6; ++revision) {
    ops.push_back({revision, "p", UtcNow(), InsertOp(0, "x"), "TextOp"});
  }
  store.Append(doc_, ops, [](Status s) { ASSERT_TRUE(s.ok()) << s.message(); });
  store.WriteSnapshot(doc_, {5, UtcNow(), R"({"content":"xxxx"})"}, [](Status s) { ASSERT_TRUE(s.ok()); });

  ASSERT_TRUE(Run([&](auto done) { management().CompactDocument(doc_, 0, done); }).ok());
  EXPECT_EQ(Info()->op_count, 5);
  PinVersion(4);
  // Pinned at 4 < 6: up to 3 only.
  ASSERT_TRUE(Run([&](auto done) { management().CompactDocument(doc_, 6, done); }).ok());
  EXPECT_EQ(Info()->op_count, 3);
  EXPECT_EQ(world_.router.OpenDocumentCount(), 0u) << "compaction must not open the document";
}

TEST_F(DocumentManagementTest, CompactionNeverGoesPastTheStoredSnapshot) {
  auto& store = world_.store;
  std::vector<storage::StoredOp> ops;
  for (int64_t revision = 2; revision <= 6; ++revision) {
    ops.push_back({revision, "p", UtcNow(), InsertOp(0, "x"), "TextOp"});
  }
  store.Append(doc_, ops, [](Status s) { ASSERT_TRUE(s.ok()); });
  store.WriteSnapshot(doc_, {4, UtcNow(), R"({"content":"xxx"})"}, [](Status s) { ASSERT_TRUE(s.ok()); });
  ASSERT_TRUE(Run([&](auto done) { management().CompactDocument(doc_, 100, done); }).ok());
  EXPECT_EQ(Info()->op_count, 2);  // 5 and 6 are not in the snapshot (SV-15)
  // The document still opens with every op.
  auto client = std::make_shared<TestConnection>();
  ASSERT_TRUE(world_.Join(client, doc_));
  const auto joined = Only<JoinResponse>(client->Take());
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0].revision, 6);
  EXPECT_EQ(joined[0].snapshot, R"({"content":"xxxxx"})");
}

TEST_F(DocumentManagementTest, PurgeHistoryRemovesOldHistoryButKeepsPinnedVersions) {
  auto* history = world_.store.history_store();
  for (int64_t revision = 1; revision <= 6; ++revision) {
    history->AppendHistoryOp(doc_, {revision, "p", UtcNow(), InsertOp(0, "x"), "TextOp"},
                             [](Status s) { ASSERT_TRUE(s.ok()); });
  }
  history->WriteHistorySnapshot(doc_, {2, UtcNow(), "\"x\""}, std::nullopt, [](Status s) { ASSERT_TRUE(s.ok()); });
  history->WriteHistorySnapshot(doc_, {4, UtcNow(), "\"xxx\""}, "tag/v1", [](Status s) { ASSERT_TRUE(s.ok()); });
  auto count_ops = [&] {
    size_t count = 0;
    history->StreamHistoryOps(doc_, 0, 100, [&](Status s, std::vector<storage::StoredOp> ops) {
      ASSERT_TRUE(s.ok());
      count = ops.size();
    });
    return count;
  };
  ASSERT_TRUE(Run([&](auto done) { management().PurgeHistory(doc_, 2, done); }).ok());
  EXPECT_EQ(count_ops(), 4u);
  PinVersion(4);
  ASSERT_TRUE(Run([&](auto done) { management().PurgeHistory(doc_, 5, done); }).ok());
  EXPECT_EQ(count_ops(), 3u);  // 4, 5, 6: the pinned revision stays (SV-16)
  history->GetMilestones(doc_, [](Status s, std::vector<storage::HistoryMilestone> milestones) {
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(milestones.size(), 1u);
    EXPECT_EQ(milestones[0].revision, 4);
  });
}

TEST_F(DocumentManagementTest, BackplaneRequestsParseTheirPayloadAndAnswer) {
  auto client = std::make_shared<TestConnection>();
  ASSERT_TRUE(world_.Join(client, doc_));
  client->Take();
  Edit(client, 3);
  world_.router.Disconnect(client);
  world_.Drain();

  for (const auto* payload : {R"({"globalDocumentId":"managed","args":null})", R"({"globalDocumentId":"managed"})",
                              R"({"globalDocumentId":"managed","args":{"upToRevision":2}})",
                              R"({"globalDocumentId":"managed","args":{"upToRevision":"two"}})",
                              R"({"globalDocumentId":"managed","args":{}})"}) {
    const auto response = Request("CompactDocument", payload);
    EXPECT_FALSE(response.success) << payload;
    EXPECT_EQ(response.error_message.value_or(""), kInvalidUpToRevision) << payload;
  }
  auto response = Request("PurgeHistory", R"({"globalDocumentId":"managed","args":{"upToRevision":"x"}})");
  EXPECT_EQ(response.error_message.value_or(""), kInvalidUpToRevision);

  response = Request("CompactDocument", R"({"GLOBALDOCUMENTID":"managed","Args":{"UpToRevision":" 2 "}})");
  EXPECT_TRUE(response.success) << response.error_message.value_or("");
  EXPECT_EQ(response.payload, "");
  EXPECT_EQ(response.error_message, std::nullopt);
  EXPECT_EQ(Info()->op_count, 1);

  response = Request("DeleteDocument", R"({"args":null})");
  EXPECT_FALSE(response.success);
  EXPECT_EQ(response.error_message.value_or(""), "Malformed DeleteDocument request: 'globalDocumentId' is missing");
  response = Request("DeleteDocument", "[1]");
  EXPECT_FALSE(response.success);
  EXPECT_NE(response.error_message.value_or("").find("Malformed DeleteDocument request"), std::string::npos);
  EXPECT_TRUE(Info().has_value());

  response = Request("DeleteDocument", backplane::EncodeManagementRequest({doc_, std::nullopt}));
  EXPECT_TRUE(response.success) << response.error_message.value_or("");
  EXPECT_EQ(response.payload, "");
  EXPECT_EQ(Info(), std::nullopt);
}

}  // namespace
}  // namespace opstream::session::testing
