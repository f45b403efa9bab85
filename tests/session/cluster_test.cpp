// Several routers in one process, each with its own Redis backplane (a node each), sharing one
// store and the test run's Redis: joins, ops and presence through non-owner nodes, exactly-once
// in-order delivery across nodes (wire-protocol §2.10 R1–R3), ownership loss and owner death.
// The randomized test is seeded: OPSTREAM_PROP_SEED replays a failure.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "backplane/backplane_test_support.hpp"
#include "backplane/messages.hpp"
#include "session/validation.hpp"
#include "session_test_support.hpp"

namespace opstream::session::testing {
namespace {

using backplane::testing::Eventually;
using backplane::testing::IoThreads;

// A connection that keeps everything it was sent and tracks what it saw, for R1–R3.
class Client final : public Connection {
 public:
  Client() : Connection(NewUuid(), TransportKind::kWebSocket) {}
  void Send(Outbound message) override {
    std::lock_guard lock(mutex_);
    if (const auto* event = std::get_if<std::shared_ptr<const OpEvent>>(&message)) See((*event)->revision, false);
    if (const auto* ack = std::get_if<OpResponse>(&message); ack && ack->success) See(ack->new_revision, true);
    if (const auto* joined = std::get_if<JoinResponse>(&message)) last_seen_ = joined->revision;
    inbox_.push_back(std::move(message));
  }
  template <typename T>
  std::vector<T> All() {
    std::lock_guard lock(mutex_);
    return Only<T>(inbox_);
  }
  size_t Count() {
    std::lock_guard lock(mutex_);
    return inbox_.size();
  }
  int64_t last_seen() {
    std::lock_guard lock(mutex_);
    return last_seen_;
  }
  std::string violation() {
    std::lock_guard lock(mutex_);
    return violation_;
  }

 private:
  void See(int64_t revision, bool own) {
    // An acknowledgement may repeat the current revision (an absorbed op); nothing else may.
    if (own && revision == last_seen_) return;
    if (revision != last_seen_ + 1 && violation_.empty()) {
      violation_ = fmt::format("peer {} saw revision {} after {}", peer_id(), revision, last_seen_);
    }
    last_seen_ = revision;
  }
  std::mutex mutex_;
  std::vector<Outbound> inbox_;
  int64_t last_seen_ = 0;
  std::string violation_;
};

class ClusterTest : public ::testing::Test {
 protected:
  struct Node {
    std::unique_ptr<backplane::RedisBackplane> backplane;
    std::unique_ptr<DocumentRouter> router;
  };

  void SetUp() override {
    url_ = backplane::testing::TestRedisUrl();
    ASSERT_FALSE(url_.empty());
    doc_ = storage::testing::UniqueKeyPrefix() + "doc";
    options_.request_timeout = std::chrono::seconds(3);
  }
  void TearDown() override {
    for (auto& node : nodes_) node.backplane->Stop();
    io_.Stop();  // routers go only once nothing runs (DocumentRouter's contract)
  }

  DocumentRouter& AddNode(backplane::RedisBackplaneSettings settings = {}) {
    Node node;
    node.backplane = backplane::testing::StartBackplane(io_.io(), url_, std::move(settings));
    node.router = std::make_unique<DocumentRouter>(io_.io(), World::MakeEngines(), store_, *node.backplane, options_);
    nodes_.push_back(std::move(node));
    return *nodes_.back().router;
  }

  template <typename Call>
  bool Await(Call&& call) {
    auto promise = std::make_shared<std::promise<bool>>();
    auto future = promise->get_future();
    call([promise](bool ok) { promise->set_value(ok); });
    if (future.wait_for(std::chrono::seconds(15)) != std::future_status::ready) {
      ADD_FAILURE() << "no answer";
      return false;
    }
    return future.get();
  }
  bool Join(DocumentRouter& router, const std::shared_ptr<Client>& client, const std::string& doc) {
    return Await([&](auto done) { router.Join(client, std::string("j"), doc, "text", 1, done); });
  }
  bool Submit(DocumentRouter& router, const std::shared_ptr<Client>& client, const std::string& doc, std::string op,
              int64_t base) {
    return Await([&](auto done) { router.SubmitOp(client, std::string("o"), doc, std::move(op), base, done); });
  }

  IoThreads io_;
  storage::MemoryDocumentStore store_;
  std::vector<Node> nodes_;
  SessionOptions options_;
  std::string url_;
  std::string doc_;
};

TEST_F(ClusterTest, ANonOwnerForwardsJoinsAndOpsAndDeliversTheOwnersOps) {
  auto& a = AddNode();
  auto& b = AddNode();
  auto on_a = std::make_shared<Client>();
  auto on_b = std::make_shared<Client>();
  ASSERT_TRUE(Join(a, on_a, doc_));
  ASSERT_TRUE(Submit(a, on_a, doc_, InsertOp(0, "hello"), 1));
  ASSERT_TRUE(Join(b, on_b, doc_));
  EXPECT_EQ(a.OpenDocumentCount(), 1u);
  EXPECT_EQ(b.OpenDocumentCount(), 0u);
  EXPECT_EQ(b.ForwardedDocumentCount(), 1u);
  const auto joined = on_b->All<JoinResponse>();
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0].revision, 2);
  EXPECT_NE(joined[0].snapshot.find("hello"), std::string::npos) << joined[0].snapshot;

  ASSERT_TRUE(Submit(b, on_b, doc_, InsertOp(5, " world"), 2));
  auto acks = on_b->All<OpResponse>();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].new_revision, 3);
  ASSERT_TRUE(Eventually([&] { return on_a->last_seen() == 3; }));
  ASSERT_TRUE(Submit(a, on_a, doc_, InsertOp(0, ">"), 3));
  ASSERT_TRUE(Eventually([&] { return on_b->last_seen() == 4; }));
  const auto events = on_b->All<std::shared_ptr<const OpEvent>>();
  ASSERT_EQ(events.size(), 1u);  // its own op is acknowledged, not echoed
  EXPECT_EQ(events[0]->payload, InsertOp(0, ">"));
  EXPECT_EQ(on_a->violation(), "");
  EXPECT_EQ(on_b->violation(), "");

  // An engine rejection comes back as the op answer, not as a request error.
  ASSERT_FALSE(Submit(b, on_b, doc_, InsertOp(0, "x"), 99));
  acks = on_b->All<OpResponse>();
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_FALSE(acks[1].success);
  EXPECT_EQ(acks[1].error.value_or(""), "Base revision 99 is ahead of current revision 4.");
}

TEST_F(ClusterTest, PresenceAndDeparturesCrossNodes) {
  auto& a = AddNode();
  auto& b = AddNode();
  auto on_a = std::make_shared<Client>();
  auto on_b = std::make_shared<Client>();
  auto other_b = std::make_shared<Client>();
  ASSERT_TRUE(Join(a, on_a, doc_));
  ASSERT_TRUE(Join(b, on_b, doc_));
  ASSERT_TRUE(Join(b, other_b, doc_));
  ASSERT_TRUE(
      Await([&](auto done) { b.UpdateAwareness(on_b, std::string("w"), doc_, R"({"cursor":3})", true, done); }));
  ASSERT_TRUE(Eventually([&] { return on_a->All<std::shared_ptr<const AwarenessEvent>>().size() == 1; }));
  ASSERT_TRUE(Eventually([&] { return other_b->All<std::shared_ptr<const AwarenessEvent>>().size() == 1; }));
  EXPECT_EQ(on_a->All<std::shared_ptr<const AwarenessEvent>>()[0]->state.data_json, R"({"cursor":3})");
  EXPECT_EQ(on_a->All<std::shared_ptr<const AwarenessEvent>>()[0]->state.peer_id, on_b->peer_id());
  EXPECT_TRUE(on_b->All<std::shared_ptr<const AwarenessEvent>>().empty());

  // A later join through either node sees the presence in its snapshot.
  auto late = std::make_shared<Client>();
  ASSERT_TRUE(Join(b, late, doc_));
  ASSERT_EQ(late->All<JoinResponse>()[0].awareness.size(), 1u);

  b.Disconnect(on_b);
  ASSERT_TRUE(Eventually([&] { return on_a->All<std::shared_ptr<const PeerLeftEvent>>().size() == 1; }));
  EXPECT_EQ(on_a->All<std::shared_ptr<const PeerLeftEvent>>()[0]->peer_id, on_b->peer_id());
  ASSERT_TRUE(Eventually([&] { return other_b->All<std::shared_ptr<const PeerLeftEvent>>().size() == 1; }));
  // The owner dropped the forwarded peer and its presence.
  ASSERT_TRUE(Eventually([&] {
    auto probe = std::make_shared<Client>();
    Join(a, probe, doc_);
    return probe->All<JoinResponse>()[0].awareness.empty();
  }));
}

TEST_F(ClusterTest, RandomEditsThroughEveryNodeArriveExactlyOnceInRevisionOrder) {
  const char* env = std::getenv("OPSTREAM_PROP_SEED");
  const uint64_t seed = env ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "OPSTREAM_PROP_SEED=" << seed);
  std::mt19937_64 rng(seed);
  std::vector<DocumentRouter*> routers{&AddNode(), &AddNode(), &AddNode()};
  constexpr int kClients = 6;
  constexpr int kOpsEach = 25;
  std::vector<std::shared_ptr<Client>> clients;
  std::vector<DocumentRouter*> home;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_shared<Client>());
    home.push_back(routers[rng() % routers.size()]);
    ASSERT_TRUE(Join(*home.back(), clients.back(), doc_));
  }
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i, client_seed = rng()] {
      std::mt19937_64 local(client_seed);
      for (int n = 0; n < kOpsEach; ++n) {
        // Based on whatever the client has seen: often stale, so the owner transforms.
        const int64_t base = clients[i]->last_seen();
        const std::string text(1, static_cast<char>('a' + i));
        if (Submit(*home[i], clients[i], doc_, InsertOp(0, text), base)) ++accepted;
        if (local() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(local() % 500));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), kClients * kOpsEach);
  const int64_t final_revision = 1 + kClients * kOpsEach;
  for (auto& client : clients) {
    ASSERT_TRUE(Eventually([&] { return client->last_seen() == final_revision; }))
        << client->peer_id() << " at " << client->last_seen();
    EXPECT_EQ(client->violation(), "");
  }
  // Every node serves the same text.
  std::string expected;
  for (auto* router : routers) {
    auto probe = std::make_shared<Client>();
    ASSERT_TRUE(Join(*router, probe, doc_));
    const auto joined = probe->All<JoinResponse>()[0];
    EXPECT_EQ(joined.revision, final_revision);
    if (expected.empty()) expected = joined.snapshot;
    EXPECT_EQ(joined.snapshot, expected);
  }
}

TEST_F(ClusterTest, ALostLeaseClosesTheLocalSessionAtOnce) {
  backplane::RedisBackplaneSettings fast;
  fast.renew_interval = std::chrono::milliseconds(100);
  auto& a = AddNode(fast);
  auto on_a = std::make_shared<Client>();
  ASSERT_TRUE(Join(a, on_a, doc_));
  storage::testing::SyncRedis raw(url_);
  ASSERT_TRUE(raw.Start().ok());
  raw.Ok({"SET", backplane::OwnerKey(doc_), "0123456789abcdef0123456789abcdef", "PX", "10000"});
  ASSERT_TRUE(Eventually([&] { return a.OpenDocumentCount() == 0; }));
  EXPECT_FALSE(Submit(a, on_a, doc_, InsertOp(0, "x"), 1));
  const auto errors = on_a->All<ErrorResponse>();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, kNotJoined);
}

TEST_F(ClusterTest, WhenTheOwnerDiesAnotherNodeTakesOverWithEveryAcknowledgedOp) {
  auto& a = AddNode();
  auto& b = AddNode();
  auto on_a = std::make_shared<Client>();
  auto on_b = std::make_shared<Client>();
  ASSERT_TRUE(Join(a, on_a, doc_));
  ASSERT_TRUE(Join(b, on_b, doc_));
  ASSERT_TRUE(Submit(b, on_b, doc_, InsertOp(0, "kept"), 1));
  ASSERT_TRUE(Submit(a, on_a, doc_, InsertOp(0, "also "), 2));

  nodes_[0].backplane->Stop();  // the owner vanishes from Redis without releasing its lease
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(Submit(b, on_b, doc_, InsertOp(0, "lost"), 3));
  EXPECT_EQ(on_b->All<ErrorResponse>().back().message, backplane::kRequestTimedOut);
  // The client rejoins through its node, which now owns the document.
  ASSERT_TRUE(Eventually([&] {
    auto rejoin = std::make_shared<Client>();
    return Join(b, rejoin, doc_) && b.OpenDocumentCount() == 1;
  }));
  const auto failover = std::chrono::steady_clock::now() - started;
  EXPECT_LT(failover, std::chrono::seconds(5));
  auto after = std::make_shared<Client>();
  ASSERT_TRUE(Join(b, after, doc_));
  const auto joined = after->All<JoinResponse>()[0];
  EXPECT_EQ(joined.revision, 3);
  EXPECT_NE(joined.snapshot.find("also kept"), std::string::npos) << joined.snapshot;
}

// ---- management and comment requests, management channel (server.md §4.4, §4.5, §5.3) ----

backplane::Response SendRequest(backplane::Backplane& from, const std::string& to, std::string type,
                                std::string payload) {
  auto promise = std::make_shared<std::promise<backplane::Response>>();
  auto future = promise->get_future();
  from.SendRequest(to, std::move(type), std::move(payload), std::chrono::seconds(5),
                   [promise](backplane::Response response) { promise->set_value(std::move(response)); });
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "no response";
    return backplane::Response::Failure("no response");
  }
  return future.get();
}

TEST_F(ClusterTest, ADeleteRequestRunsOnTheOwnerAndEveryNodeEvicts) {
  auto& a = AddNode();
  auto& b = AddNode();
  auto on_a = std::make_shared<Client>();
  auto on_b = std::make_shared<Client>();
  ASSERT_TRUE(Join(a, on_a, doc_));
  ASSERT_TRUE(Join(b, on_b, doc_));
  ASSERT_TRUE(Submit(b, on_b, doc_, InsertOp(0, "gone"), 1));
  storage::testing::SyncRedis raw(url_);
  ASSERT_TRUE(raw.Start().ok());
  ASSERT_EQ(raw.Ok({"GET", backplane::OwnerKey(doc_)}).str, nodes_[0].backplane->node_id());

  const auto response = SendRequest(*nodes_[1].backplane, nodes_[0].backplane->node_id(), "DeleteDocument",
                                    backplane::EncodeManagementRequest({doc_, std::nullopt}));
  ASSERT_TRUE(response.success) << response.error_message.value_or("");
  EXPECT_EQ(response.payload, "");
  // The owner evicted and released its lease; the forwarding node dropped its forwarding.
  EXPECT_EQ(a.OpenDocumentCount(), 0u);
  EXPECT_TRUE(Eventually([&] { return raw.Ok({"GET", backplane::OwnerKey(doc_)}).is_nil(); }));
  ASSERT_TRUE(Eventually([&] { return b.ForwardedDocumentCount() == 0; }));
  std::optional<storage::DocumentInfo> info{storage::DocumentInfo{}};
  store_.GetInfo(doc_, [&](Status, std::optional<storage::DocumentInfo> found) { info = std::move(found); });
  EXPECT_EQ(info, std::nullopt);
  // Neither client keeps a dead membership: both are told to rejoin.
  EXPECT_FALSE(Submit(a, on_a, doc_, InsertOp(0, "x"), 2));
  EXPECT_FALSE(Submit(b, on_b, doc_, InsertOp(0, "x"), 2));
  EXPECT_EQ(on_a->All<ErrorResponse>().back().message, kNotJoined);
  EXPECT_EQ(on_b->All<ErrorResponse>().back().message, kNotJoined);
  auto again = std::make_shared<Client>();
  ASSERT_TRUE(Join(b, again, doc_));
  EXPECT_EQ(again->All<JoinResponse>()[0].revision, 1);
}

TEST_F(ClusterTest, ManagementChannelMessagesOfOtherNodesEvictSessionsAndReleaseTheirLeases) {
  auto& a = AddNode();
  auto& b = AddNode();
  const std::string other = doc_ + "-other";
  auto owner_client = std::make_shared<Client>();
  auto forwarded = std::make_shared<Client>();
  auto other_client = std::make_shared<Client>();
  ASSERT_TRUE(Join(a, owner_client, doc_));
  ASSERT_TRUE(Join(b, forwarded, doc_));
  ASSERT_TRUE(Join(a, other_client, other));
  storage::testing::SyncRedis raw(url_);
  ASSERT_TRUE(raw.Start().ok());
  const std::string foreign = "0123456789abcdef0123456789abcdef";
  auto publish = [&](const std::string& type, const std::string& argument) {
    raw.Ok({"PUBLISH", backplane::DocumentChannel(backplane::kManagementTopic),
            backplane::EncodeMessage({foreign, type, backplane::EncodeJsonString(argument), {}})});
  };
  publish("document_deleted", "not-" + doc_);  // another document: nothing happens
  publish("document_deleted", doc_);
  ASSERT_TRUE(Eventually([&] { return a.OpenDocumentCount() == 1 && b.ForwardedDocumentCount() == 0; }));
  ASSERT_TRUE(Eventually([&] { return raw.Ok({"GET", backplane::OwnerKey(doc_)}).is_nil(); }));
  EXPECT_EQ(raw.Ok({"GET", backplane::OwnerKey(other)}).str, nodes_[0].backplane->node_id());
  EXPECT_FALSE(Submit(b, forwarded, doc_, InsertOp(0, "x"), 1));
  EXPECT_EQ(forwarded->All<ErrorResponse>().back().message, kNotJoined);

  // A tenant prefix evicts every matching document ("" would be all of them).
  publish("evict_tenant", storage::testing::UniqueKeyPrefix());  // matches nothing of this test
  publish("evict_tenant", doc_.substr(0, doc_.size() - 3));
  ASSERT_TRUE(Eventually([&] { return a.OpenDocumentCount() == 0; }));
  ASSERT_TRUE(Eventually([&] { return raw.Ok({"GET", backplane::OwnerKey(other)}).is_nil(); }));
  EXPECT_FALSE(Submit(a, other_client, other, InsertOp(0, "x"), 1));
}

TEST_F(ClusterTest, EveryRequestTypeIsAnsweredIncludingCommentsAndUnknownTypes) {
  AddNode();
  AddNode();
  const auto& owner = nodes_[0].backplane->node_id();
  for (const char* type : {"CreateComment", "EditComment", "ResolveComment", "DeleteComment"}) {
    const auto response = SendRequest(*nodes_[1].backplane, owner, type, R"({"kind":0,"globalDocumentId":"d"})");
    EXPECT_FALSE(response.success) << type;
    EXPECT_EQ(response.error_message.value_or(""), "Comments are not available on this node.") << type;
  }
  auto response = SendRequest(*nodes_[1].backplane, owner, "Frobnicate", "");
  EXPECT_EQ(response.error_message.value_or(""), "Unknown request type: Frobnicate");
  response = SendRequest(*nodes_[1].backplane, owner, "CompactDocument",
                         backplane::EncodeManagementRequest({doc_, std::string("1.5")}));
  EXPECT_FALSE(response.success);
  EXPECT_EQ(response.error_message.value_or(""), "Missing or invalid argument 'upToRevision'.");
  response = SendRequest(*nodes_[1].backplane, owner, "PurgeHistory",
                         backplane::EncodeManagementRequest({doc_, std::string("3")}));
  EXPECT_TRUE(response.success) << response.error_message.value_or("");
}
}  // namespace
}  // namespace opstream::session::testing
