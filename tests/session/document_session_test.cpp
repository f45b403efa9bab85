// The session layer driven by in-process peers: join / op / awareness / disconnect semantics of
// wire-protocol §2 with the resolutions of the open points this server implements.
#include <gtest/gtest.h>

#include "session/validation.hpp"
#include "session_test_support.hpp"

namespace opstream::session::testing {
namespace {

TEST(DocumentSession, NewDocumentJoinsAtRevisionOneWithPersistedEmptySnapshot) {
  World world;
  auto a = std::make_shared<TestConnection>();
  ASSERT_TRUE(world.Join(a, "doc-1"));
  auto joins = Only<JoinResponse>(a->Take());
  ASSERT_EQ(joins.size(), 1u);
  EXPECT_EQ(joins[0].revision, 1);
  EXPECT_EQ(joins[0].snapshot, R"({"content":""})");
  EXPECT_EQ(*joins[0].correlation, "join");
  EXPECT_TRUE(joins[0].awareness.empty());

  storage::LoadedDocument loaded;
  world.store.Load("doc-1", [&](Status, storage::LoadedDocument d) { loaded = std::move(d); });
  ASSERT_TRUE(loaded.snapshot.has_value());
  EXPECT_EQ(loaded.snapshot->revision, 1);
  EXPECT_EQ(loaded.snapshot->state, R"({"content":""})");
}

TEST(DocumentSession, OpIsAcknowledgedToSenderAndBroadcastToOthersWithoutEcho) {
  World world;
  auto a = std::make_shared<TestConnection>(), b = std::make_shared<TestConnection>();
  world.Join(a, "doc");
  world.Join(b, "doc");
  a->Take();
  b->Take();
  world.Submit(a, "doc", R"({"Components":[{"type":"insert","Text":"Hello"}]})", 1, "c-1");
  world.Drain();

  auto to_a = a->Take();
  ASSERT_EQ(to_a.size(), 1u);
  auto ack = std::get<OpResponse>(to_a[0]);
  EXPECT_TRUE(ack.success);
  EXPECT_EQ(ack.new_revision, 2);
  EXPECT_EQ(*ack.correlation, "c-1");
  EXPECT_FALSE(ack.error.has_value());

  auto to_b = Only<std::shared_ptr<const OpEvent>>(b->Take());
  ASSERT_EQ(to_b.size(), 1u);
  EXPECT_EQ(to_b[0]->revision, 2);
  // Broadcast ops are re-serialized by the server: camelCase, discriminator first.
  EXPECT_EQ(to_b[0]->payload, R"({"components":[{"type":"insert","text":"Hello"}]})");

  storage::LoadedDocument loaded;
  world.store.Load("doc", [&](Status, storage::LoadedDocument d) { loaded = std::move(d); });
  ASSERT_EQ(loaded.ops.size(), 1u);
  EXPECT_EQ(loaded.ops[0].revision, 2);
  EXPECT_EQ(loaded.ops[0].author_id, a->peer_id());
  EXPECT_EQ(loaded.ops[0].engine_type, "TextOp");
}

TEST(DocumentSession, StaleOpsAreTransformedAndDuplicatesAbsorbed) {
  World world;
  auto a = std::make_shared<TestConnection>(), b = std::make_shared<TestConnection>(),
       c = std::make_shared<TestConnection>();
  for (auto& p : {a, b, c}) world.Join(p, "doc");
  world.Submit(a, "doc", InsertOp(0, "xy"), 1);
  world.Drain();
  world.Submit(a, "doc", InsertOp(1, "B"), 2);
  world.Submit(b, "doc", DeleteOp(1, 1), 2);
  world.Submit(c, "doc", DeleteOp(1, 1), 2);
  world.Drain();

  auto b_acks = Only<OpResponse>(b->Take());
  ASSERT_EQ(b_acks.size(), 1u);
  EXPECT_TRUE(b_acks[0].success);
  EXPECT_EQ(b_acks[0].new_revision, 4);
  auto c_messages = c->Take();
  auto c_acks = Only<OpResponse>(c_messages);
  ASSERT_EQ(c_acks.size(), 1u);
  EXPECT_TRUE(c_acks[0].success);
  EXPECT_EQ(c_acks[0].new_revision, 4);  // absorbed: revision unchanged
  // c saw rev 2, 3 (a's) and 4 (b's delete) as events; its own op produced no event anywhere.
  auto c_events = Only<std::shared_ptr<const OpEvent>>(c_messages);
  ASSERT_EQ(c_events.size(), 3u);
  EXPECT_EQ(c_events[2]->payload, R"({"components":[{"type":"retain","count":2},{"type":"delete","count":1}]})");

  auto d = std::make_shared<TestConnection>();
  world.Join(d, "doc");
  auto join = Only<JoinResponse>(d->Take()).at(0);
  EXPECT_EQ(join.revision, 4);
  EXPECT_EQ(join.snapshot, R"({"content":"xB"})");
}

TEST(DocumentSession, BaseRevisionAheadAndCompactedLogAreEngineRejections) {
  World world;
  auto a = std::make_shared<TestConnection>();
  world.Join(a, "doc");
  a->Take();
  world.Submit(a, "doc", InsertOp(0, "a"), 9);
  world.Submit(a, "doc", InsertOp(0, "a"), 1);
  world.Submit(a, "doc", InsertOp(0, "b"), 0);
  world.Drain();
  auto acks = Only<OpResponse>(a->Take());
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_FALSE(acks[0].success);
  EXPECT_EQ(acks[0].new_revision, 1);
  EXPECT_EQ(*acks[0].error, "Base revision 9 is ahead of current revision 1.");
  EXPECT_TRUE(acks[1].success);
  EXPECT_FALSE(acks[2].success);
  EXPECT_EQ(acks[2].new_revision, 2);
  EXPECT_EQ(*acks[2].error, "Cannot reconstruct transformation path: compacted log past baseRevision.");
}

TEST(DocumentSession, InvalidOpIsRejectedWithoutChangingState) {
  World world;
  auto a = std::make_shared<TestConnection>(), b = std::make_shared<TestConnection>();
  world.Join(a, "doc");
  world.Join(b, "doc");
  b->Take();
  for (const char* bad : {R"({"components":[{"type":"retain","count":-1}]})", R"({"components":null})", "null",
                          R"({"components":[{"type":"Insert","text":"x"}]})", "not json"}) {
    world.Submit(a, "doc", bad, 1);
  }
  world.Drain();
  auto acks = Only<OpResponse>(a->Take());
  ASSERT_EQ(acks.size(), 5u);
  EXPECT_EQ(*acks[2].error, "Deserialized op payload is null.");
  for (const auto& ack : acks) {
    EXPECT_FALSE(ack.success);
    EXPECT_EQ(ack.new_revision, 1);
    ASSERT_TRUE(ack.error.has_value());
    EXPECT_FALSE(ack.error->empty());
  }
  EXPECT_TRUE(b->Take().empty());
}

TEST(DocumentSession, RequestErrorsUseTheReferenceTexts) {
  World world;
  auto a = std::make_shared<TestConnection>();
  auto error_of = [&](auto request) {
    request();
    world.Drain();
    auto errors = Only<ErrorResponse>(a->Take());
    return errors.empty() ? std::string("<none>") : errors.back().message;
  };
  auto join = [&](std::string id, std::string type, int64_t proto) {
    return [&, id, type, proto] { world.router.Join(a, std::string("j"), id, type, proto, [](bool) {}); };
  };
  EXPECT_EQ(error_of(join("d", "text", 2)), "UnsupportedProtocol: Required proto=1");
  EXPECT_EQ(error_of(join(" ", "text", 1)), "InvalidMessage: Missing document id.");
  EXPECT_EQ(error_of(join(std::string(257, 'x'), "text", 1)), "InvalidMessage: Document id exceeds 256 characters.");
  EXPECT_EQ(error_of(join("a\x01", "text", 1)), "InvalidMessage: Document id contains control characters.");
  EXPECT_EQ(error_of(join("d", "", 1)), "InvalidMessage: Join requires a document type.");
  EXPECT_EQ(error_of(join("d", std::string(129, 't'), 1)), "InvalidMessage: Document type exceeds 128 characters.");
  EXPECT_EQ(error_of(join("d", "spreadsheet", 1)), "No session engine registered for document type: spreadsheet");
  EXPECT_EQ(error_of([&] { world.Submit(a, "d", "", 1); }), "InvalidMessage: Operation payload is empty.");
  EXPECT_EQ(error_of([&] { world.Submit(a, "d", std::string(1048577, ' '), 1); }),
            "InvalidMessage: Operation payload exceeds 1048576 bytes.");
  EXPECT_EQ(error_of([&] { world.Submit(a, "d", "{}", -1); }), "InvalidMessage: Base revision must be non-negative.");
  EXPECT_EQ(error_of([&] { world.Submit(a, "d", InsertOp(0, "x"), 1); }),
            "InvalidMessage: Document not joined on this connection.");
  // 256 UTF-16 units of a BMP character pass; one non-BMP character counts as two.
  std::string bmp;
  for (int i = 0; i < 256; ++i) bmp += "\xC3\xA9";
  EXPECT_EQ(error_of(join(bmp, "nope", 1)), "No session engine registered for document type: nope");
  std::string astral;
  for (int i = 0; i < 129; ++i) astral += "\xF0\x9F\x98\x80";
  EXPECT_EQ(error_of(join(astral, "text", 1)), "InvalidMessage: Document id exceeds 256 characters.");
}

TEST(DocumentSession, JoinTypeIsMatchedCaseInsensitivelyAndStoredTypeMismatchesRejected) {
  World world;
  auto a = std::make_shared<TestConnection>(), b = std::make_shared<TestConnection>();
  EXPECT_TRUE(world.Join(a, "doc", "TEXT"));
  EXPECT_TRUE(world.Join(b, "doc", "Text"));

  // A document whose stored ops were written by another engine is not reopened as text (OP-15).
  world.store.Append("json-doc", {{2, "p", UtcNow(), R"({"operations":[]})", "JsonOpBatch"}}, [](Status) {});
  auto c = std::make_shared<TestConnection>();
  EXPECT_FALSE(world.Join(c, "json-doc"));
  auto errors = Only<ErrorResponse>(c->Take());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "Document type mismatch: document 'json-doc' is 'JsonOpBatch', not 'text'.");
  EXPECT_EQ(world.router.OpenDocumentCount(), 1u);
}

TEST(DocumentSession, AwarenessIsBroadcastCoalescedAndExpires) {
  SessionOptions options;
  options.awareness_ttl = std::chrono::milliseconds(200);
  World world(options);
  auto a = std::make_shared<TestConnection>(), b = std::make_shared<TestConnection>();
  world.Join(a, "doc");
  world.Join(b, "doc");
  a->Take();
  b->Take();
  auto publish = [&](std::string_view json) {
    world.router.UpdateAwareness(a, std::nullopt, "doc", json, false, [](bool) {});
    world.Drain();
  };
  publish(R"({"name": "Alice", "cursor": 5})");
  auto events = Only<std::shared_ptr<const AwarenessEvent>>(b->Take());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->state.peer_id, a->peer_id());
  EXPECT_EQ(events[0]->state.data_json, R"({"name":"Alice","cursor":5})");
  EXPECT_TRUE(a->Take().empty());  // no echo, no response

  publish(R"({"cursor":5.0,"name":"Alice"})");  // structurally identical: refreshed silently (OP-20)
  EXPECT_TRUE(b->Take().empty());
  publish(R"({"name":"Alice","cursor":6})");
  EXPECT_EQ(Only<std::shared_ptr<const AwarenessEvent>>(b->Take()).size(), 1u);

  auto c = std::make_shared<TestConnection>();
  world.Join(c, "doc");
  EXPECT_EQ(Only<JoinResponse>(c->Take()).at(0).awareness.size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  auto d = std::make_shared<TestConnection>();
  world.Join(d, "doc");
  EXPECT_TRUE(Only<JoinResponse>(d->Take()).at(0).awareness.empty());

  // Oversized, not joined and invalid JSON: dropped; invalid JSON is answered (wire-protocol §4.5).
  auto stranger = std::make_shared<TestConnection>();
  world.router.UpdateAwareness(stranger, std::nullopt, "doc", "{}", false, [](bool) {});
  world.router.UpdateAwareness(a, std::nullopt, "doc", std::string(65537, ' '), false, [](bool) {});
  world.router.UpdateAwareness(a, std::nullopt, "doc", "{oops", false, [](bool) {});
  world.Drain();
  EXPECT_TRUE(b->Take().empty());
  EXPECT_TRUE(stranger->Take().empty());
  auto errors = Only<ErrorResponse>(a->Take());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_FALSE(errors[0].correlation.has_value());
  EXPECT_TRUE(errors[0].message.starts_with("InvalidMessage: ")) << errors[0].message;
}

TEST(DocumentSession, DisconnectRemovesPresenceAndNotifiesEveryJoinedDocument) {
  World world;
  auto a = std::make_shared<TestConnection>(), b = std::make_shared<TestConnection>();
  world.Join(a, "one");
  world.Join(a, "two");
  world.Join(b, "one");
  world.Join(b, "two");
  world.router.UpdateAwareness(a, std::nullopt, "one", R"({"x":1})", false, [](bool) {});
  world.Drain();
  b->Take();
  world.router.Disconnect(a);
  world.Drain();
  auto left = Only<std::shared_ptr<const PeerLeftEvent>>(b->Take());
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0]->peer_id, a->peer_id());
  EXPECT_NE(left[0]->document_id, left[1]->document_id);
  auto c = std::make_shared<TestConnection>();
  world.Join(c, "one");
  EXPECT_TRUE(Only<JoinResponse>(c->Take()).at(0).awareness.empty());
}

// A store whose appends complete only when the test releases them, and can be told to fail.
class GatedStore final : public storage::DocumentStore {
 public:
  std::string_view provider() const override { return "gated"; }
  std::string_view type_name() const override { return "GatedStore"; }
  void Initialize(Completion done) override { done(Status::Ok()); }
  void Load(std::string id, LoadCompletion done) override { inner.Load(std::move(id), std::move(done)); }
  void Append(std::string id, std::vector<storage::StoredOp> ops, Completion done) override {
    append_sizes.push_back(ops.size());
    pending.push_back([this, id = std::move(id), ops = std::move(ops), done = std::move(done)]() mutable {
      if (fail_next) {
        fail_next = false;
        return done(Status::Error("disk full"));
      }
      inner.Append(std::move(id), std::move(ops), std::move(done));
    });
  }
  void WriteSnapshot(std::string id, storage::Snapshot s, Completion done) override {
    inner.WriteSnapshot(std::move(id), std::move(s), std::move(done));
  }
  void Compact(std::string id, int64_t up_to, Completion done) override {
    compactions.push_back(up_to);
    inner.Compact(std::move(id), up_to, std::move(done));
  }
  void Enumerate(std::string prefix, storage::DocumentQuery query, EnumerateCompletion done) override {
    inner.Enumerate(std::move(prefix), query, std::move(done));
  }
  void GetInfo(std::string id, InfoCompletion done) override { inner.GetInfo(std::move(id), std::move(done)); }
  void Delete(std::string id, Completion done) override { inner.Delete(std::move(id), std::move(done)); }
  void DeleteByTenantPrefix(std::string prefix, CountCompletion done) override {
    inner.DeleteByTenantPrefix(std::move(prefix), std::move(done));
  }
  void CheckHealth(HealthCompletion done) override { done({}); }
  void Flush(std::chrono::milliseconds) override {}
  void ReleaseAll() {
    auto work = std::exchange(pending, {});
    for (auto& w : work) w();
  }

  storage::MemoryDocumentStore inner;
  std::vector<std::function<void()>> pending;
  std::vector<size_t> append_sizes;
  std::vector<int64_t> compactions;
  bool fail_next = false;
};

TEST(DocumentSession, OpsArrivingDuringAnAppendAreGroupCommittedAndAckedOnlyWhenDurable) {
  GatedStore store;
  World world({}, &store);
  auto a = std::make_shared<TestConnection>(), b = std::make_shared<TestConnection>();
  world.Join(a, "doc");
  world.Join(b, "doc");
  a->Take();
  b->Take();
  world.Submit(a, "doc", InsertOp(0, "1"), 1);
  world.Drain();
  for (int i = 0; i < 5; ++i) world.Submit(b, "doc", InsertOp(0, "b"), 1);
  world.Drain();
  EXPECT_TRUE(a->Take().empty());  // nothing acknowledged before the store accepted it
  EXPECT_TRUE(b->Take().empty());

  auto late = std::make_shared<TestConnection>();
  world.router.Join(late, std::string("j"), "doc", "text", 1, [](bool) {});
  world.Drain();
  EXPECT_TRUE(late->Take().empty());  // a join waits for durable state

  store.ReleaseAll();
  world.Drain();
  store.ReleaseAll();
  world.Drain();
  EXPECT_EQ(store.append_sizes, (std::vector<size_t>{1, 5}));
  EXPECT_EQ(Only<OpResponse>(b->Take()).size(), 5u);
  auto join = Only<JoinResponse>(late->Take());
  ASSERT_EQ(join.size(), 1u);
  EXPECT_EQ(join[0].revision, 7);
}

// Revisions a connection received, in arrival order: its own answers as negative numbers.
std::vector<int64_t> ReceivedRevisions(const std::vector<Outbound>& messages) {
  std::vector<int64_t> revisions;
  for (const auto& m : messages) {
    if (const auto* event = std::get_if<std::shared_ptr<const OpEvent>>(&m)) revisions.push_back((*event)->revision);
    if (const auto* answer = std::get_if<OpResponse>(&m)) revisions.push_back(-answer->new_revision);
  }
  return revisions;
}

TEST(DocumentSession, EveryReceiverGetsABatchInRevisionOrderWithItsOwnAnswersInPlace) {
  GatedStore store;
  World world({}, &store);
  auto a = std::make_shared<TestConnection>(), b = std::make_shared<TestConnection>(),
       c = std::make_shared<TestConnection>();
  for (const auto& connection : {a, b, c}) world.Join(connection, "doc");
  a->Take();
  b->Take();
  c->Take();
  world.Submit(c, "doc", InsertOp(0, "0"), 1);  // revision 2, its append held by the store
  world.Drain();
  // One batch: revisions 3, 4, 5 by a, b, a, then a rejected op of b, then revision 6 by c.
  world.Submit(a, "doc", InsertOp(0, "a"), 1);
  world.Submit(b, "doc", InsertOp(0, "b"), 1);
  world.Submit(a, "doc", InsertOp(0, "A"), 1);
  world.Submit(b, "doc", "not an op", 1);  // rejected, and answered in its place
  world.Submit(c, "doc", InsertOp(0, "c"), 1);
  world.Drain();
  store.ReleaseAll();
  world.Drain();
  store.ReleaseAll();
  world.Drain();
  ASSERT_EQ(store.append_sizes, (std::vector<size_t>{1, 4}));
  EXPECT_EQ(ReceivedRevisions(a->Take()), (std::vector<int64_t>{2, -3, 4, -5, 6}));
  EXPECT_EQ(ReceivedRevisions(b->Take()), (std::vector<int64_t>{2, 3, -4, 5, -5, 6}));
  EXPECT_EQ(ReceivedRevisions(c->Take()), (std::vector<int64_t>{-2, 3, 4, 5, -6}));
}

TEST(DocumentSession, FailedAppendRejectsTheBatchAndRestoresDurableState) {
  GatedStore store;
  World world({}, &store);
  auto a = std::make_shared<TestConnection>(), b = std::make_shared<TestConnection>();
  world.Join(a, "doc");
  world.Join(b, "doc");
  world.Submit(a, "doc", InsertOp(0, "kept"), 1);
  world.Drain();
  store.ReleaseAll();
  world.Drain();
  a->Take();
  b->Take();

  store.fail_next = true;
  world.Submit(a, "doc", InsertOp(0, "lost"), 2);
  world.Drain();
  store.ReleaseAll();
  world.Drain();
  auto acks = Only<OpResponse>(a->Take());
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_FALSE(acks[0].success);
  EXPECT_EQ(acks[0].new_revision, 2);
  EXPECT_NE(acks[0].error->find("disk full"), std::string::npos);
  EXPECT_TRUE(b->Take().empty());  // never broadcast

  world.Submit(a, "doc", InsertOp(4, "!"), 2);
  world.Drain();
  store.ReleaseAll();
  world.Drain();
  acks = Only<OpResponse>(a->Take());
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(acks[0].success);
  EXPECT_EQ(acks[0].new_revision, 3);
  auto c = std::make_shared<TestConnection>();
  world.Join(c, "doc");
  EXPECT_EQ(Only<JoinResponse>(c->Take()).at(0).snapshot, R"({"content":"kept!"})");
}

TEST(DocumentSession, SnapshotsNeverCompactOpsAConnectedPeerMayStillRebaseOn) {
  GatedStore store;
  SessionOptions options;
  options.snapshot_every_ops = 10;
  options.op_log_tail = 0;
  World world(options, &store);
  auto writer = std::make_shared<TestConnection>(), lagging = std::make_shared<TestConnection>();
  world.Join(writer, "doc");
  world.Join(lagging, "doc");  // joined at revision 1 and never catches up
  for (int i = 0; i < 30; ++i) {
    world.Submit(writer, "doc", InsertOp(0, "w"), 1 + i);
    world.Drain();
    store.ReleaseAll();
    world.Drain();
  }
  ASSERT_FALSE(store.compactions.empty());
  for (auto up_to : store.compactions) EXPECT_LE(up_to, 1);
  world.Submit(lagging, "doc", InsertOp(0, "L"), 1);
  world.Drain();
  store.ReleaseAll();
  world.Drain();
  auto acks = Only<OpResponse>(lagging->Take());
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(acks[0].success) << acks[0].error.value_or("");
  EXPECT_EQ(acks[0].new_revision, 32);
}

TEST(DocumentSession, IdleDocumentIsSnapshottedClosedAndReopenedFromTheStore) {
  SessionOptions options;
  options.idle_close_delay = std::chrono::milliseconds(20);
  World world(options);
  auto a = std::make_shared<TestConnection>();
  world.Join(a, "doc");
  world.Submit(a, "doc", InsertOp(0, "persisted"), 1);
  world.Drain();
  world.router.Disconnect(a);
  world.Drain();
  EXPECT_EQ(world.router.OpenDocumentCount(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  world.Drain();
  EXPECT_EQ(world.router.OpenDocumentCount(), 0u);
  storage::LoadedDocument loaded;
  world.store.Load("doc", [&](Status, storage::LoadedDocument d) { loaded = std::move(d); });
  ASSERT_TRUE(loaded.snapshot.has_value());
  EXPECT_EQ(loaded.snapshot->revision, 2);

  auto b = std::make_shared<TestConnection>();
  world.Join(b, "doc");
  auto join = Only<JoinResponse>(b->Take()).at(0);
  EXPECT_EQ(join.revision, 2);
  EXPECT_EQ(join.snapshot, R"({"content":"persisted"})");
}

}  // namespace
}  // namespace opstream::session::testing
