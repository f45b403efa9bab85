// The Redis backplane against the real redis-server of the test run: fan-out (self included, in
// order), requests (answers, failures, timeouts, dead targets), the ownership lease (NX, renewal,
// compare-and-delete, loss), health and recovery after a lost subscriber connection.
#include <gmock/gmock.h>

#include <atomic>
#include <mutex>

#include "backplane/backplane_test_support.hpp"
#include "backplane/messages.hpp"

namespace opstream::backplane::testing {
namespace {

using ::testing::HasSubstr;

class RedisBackplaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = TestRedisUrl();
    ASSERT_FALSE(url_.empty());
    topic_ = storage::testing::UniqueKeyPrefix() + "doc";
  }

  // Collects the messages of one topic.
  struct Inbox {
    std::mutex mutex;
    std::vector<Message> messages;
    size_t size() {
      std::lock_guard lock(mutex);
      return messages.size();
    }
    Backplane::Handler handler() {
      return [this](const Message& message) {
        std::lock_guard lock(mutex);
        messages.push_back(message);
      };
    }
  };

  std::unique_ptr<Subscription> SubscribeAndWait(Backplane& backplane, const std::string& topic, Inbox& inbox) {
    std::promise<Status> subscribed;
    auto future = subscribed.get_future();
    auto subscription = backplane.Subscribe(topic, inbox.handler(),
                                            [&subscribed](Status status) { subscribed.set_value(std::move(status)); });
    if (WaitFor(future)) {
      EXPECT_TRUE(future.get().ok());
    }
    return subscription;
  }

  Response Call(Backplane& from, const std::string& target, std::string type, std::string payload,
                std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::promise<Response> promise;
    auto future = promise.get_future();
    from.SendRequest(target, std::move(type), std::move(payload), timeout,
                     [&promise](Response response) { promise.set_value(std::move(response)); });
    if (!WaitFor(future, timeout + std::chrono::seconds(5))) return {};
    return future.get();
  }

  std::string Owner(Backplane& backplane, const std::string& document) {
    std::promise<std::string> promise;
    auto future = promise.get_future();
    backplane.GetOrAcquireOwner(document, [&promise](Status status, std::string owner) {
      EXPECT_TRUE(status.ok()) << status.message();
      promise.set_value(std::move(owner));
    });
    if (!WaitFor(future)) return {};
    return future.get();
  }

  IoThreads io_;
  std::string url_;
  std::string topic_;
};

TEST_F(RedisBackplaneTest, NodeIdsAreFresh32HexGuids) {
  const std::string a = NewNodeId();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, NewNodeId());
}

TEST_F(RedisBackplaneTest, PublishReachesEveryNodeIncludingThePublisherInOrder) {
  auto a = StartBackplane(io_.io(), url_);
  auto b = StartBackplane(io_.io(), url_);
  Inbox on_a, on_b;
  auto sub_a = SubscribeAndWait(*a, topic_, on_a);
  auto sub_b = SubscribeAndWait(*b, topic_, on_b);

  constexpr int kCount = 500;
  for (int i = 0; i < kCount; ++i) a->Publish(topic_, {"", "op_applied", std::to_string(i), "peer"});
  ASSERT_TRUE(Eventually([&] { return on_a.size() == kCount && on_b.size() == kCount; }));
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(on_b.messages[i].payload, std::to_string(i));
    EXPECT_EQ(on_b.messages[i].sender_node_id, a->node_id());
    EXPECT_EQ(on_b.messages[i].sender_peer_id, "peer");
    EXPECT_EQ(on_a.messages[i].payload, std::to_string(i));
  }
}

TEST_F(RedisBackplaneTest, EnvelopesOnTheChannelAreTheReferenceShape) {
  auto a = StartBackplane(io_.io(), url_);
  storage::testing::SyncRedis raw(url_);
  ASSERT_TRUE(raw.Start().ok());
  Inbox inbox;
  auto sub = SubscribeAndWait(*a, topic_, inbox);
  // A message published by someone else (e.g. a reference node) in the reference's shape.
  raw.Ok(
      {"PUBLISH", DocumentChannel(topic_),
       R"({"SenderNodeId":"0123456789abcdef0123456789abcdef","Type":"peer_disconnected","Payload":"","SenderPeerId":"p9"})"});
  // Garbage is dropped without harm.
  raw.Ok({"PUBLISH", DocumentChannel(topic_), "not json"});
  ASSERT_TRUE(Eventually([&] { return inbox.size() == 1; }));
  EXPECT_EQ(inbox.messages[0].type, "peer_disconnected");
  EXPECT_EQ(inbox.messages[0].sender_peer_id, "p9");
  EXPECT_EQ(inbox.messages[0].payload, "");
}

TEST_F(RedisBackplaneTest, UnsubscribedTopicsAreNotDelivered) {
  auto a = StartBackplane(io_.io(), url_);
  auto b = StartBackplane(io_.io(), url_);
  Inbox inbox;
  auto sub = SubscribeAndWait(*b, topic_, inbox);
  sub.reset();
  Inbox other;
  auto marker = SubscribeAndWait(*b, topic_ + "-marker", other);
  a->Publish(topic_, {"", "op_applied", "x", ""});
  a->Publish(topic_ + "-marker", {"", "op_applied", "y", ""});
  ASSERT_TRUE(Eventually([&] { return other.size() == 1; }));
  EXPECT_EQ(inbox.size(), 0u);
}

TEST_F(RedisBackplaneTest, RequestsAreAnsweredByTheTargetsHandler) {
  auto a = StartBackplane(io_.io(), url_);
  auto b = StartBackplane(io_.io(), url_);
  b->SetRequestHandler([&](Request request, Backplane::ResponseCompletion respond) {
    EXPECT_EQ(request.sender_node_id, a->node_id());
    if (request.type == "Echo") return respond({{}, true, "echo:" + request.payload, std::nullopt});
    respond(Response::Failure("Unknown request type: " + request.type));
  });
  const Response ok = Call(*a, b->node_id(), "Echo", "hi");
  EXPECT_TRUE(ok.success);
  EXPECT_EQ(ok.payload, "echo:hi");
  const Response failed = Call(*a, b->node_id(), "Nope", "");
  EXPECT_FALSE(failed.success);
  EXPECT_EQ(failed.error_message.value_or(""), "Unknown request type: Nope");
}

TEST_F(RedisBackplaneTest, ARequestToANodeNobodyRunsFailsAtOnce) {
  auto a = StartBackplane(io_.io(), url_);
  const auto started = std::chrono::steady_clock::now();
  const Response response = Call(*a, NewNodeId(), "JoinDocument", "{}", std::chrono::seconds(30));
  EXPECT_FALSE(response.success);
  EXPECT_EQ(response.error_message.value_or(""), kRequestTimedOut);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST_F(RedisBackplaneTest, ARequestThatIsNeverAnsweredTimesOut) {
  auto a = StartBackplane(io_.io(), url_);
  auto b = StartBackplane(io_.io(), url_);
  std::vector<Backplane::ResponseCompletion> kept;  // never called
  std::mutex mutex;
  b->SetRequestHandler([&](Request, Backplane::ResponseCompletion respond) {
    std::lock_guard lock(mutex);
    kept.push_back(std::move(respond));
  });
  const auto started = std::chrono::steady_clock::now();
  const Response response = Call(*a, b->node_id(), "ApplyOp", "{}", std::chrono::milliseconds(300));
  EXPECT_FALSE(response.success);
  EXPECT_EQ(response.error_message.value_or(""), kRequestTimedOut);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(290));
}

TEST_F(RedisBackplaneTest, OwnershipIsAcquiredWithNxOnTheReferenceKey) {
  auto a = StartBackplane(io_.io(), url_);
  auto b = StartBackplane(io_.io(), url_);
  storage::testing::SyncRedis raw(url_);
  ASSERT_TRUE(raw.Start().ok());
  EXPECT_EQ(Owner(*a, topic_), a->node_id());
  EXPECT_EQ(Owner(*b, topic_), a->node_id());
  EXPECT_EQ(Owner(*a, topic_), a->node_id());
  EXPECT_EQ(raw.Ok({"GET", OwnerKey(topic_)}).str, a->node_id());
  const int64_t ttl = raw.Ok({"PTTL", OwnerKey(topic_)}).integer;
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 10000);

  // Only the holder's release deletes the key (compare-and-delete).
  b->ReleaseOwnership(topic_);
  a->ReleaseOwnership(topic_);
  ASSERT_TRUE(Eventually([&] { return raw.Ok({"EXISTS", OwnerKey(topic_)}).integer == 0; }));
  EXPECT_EQ(Owner(*b, topic_), b->node_id());
}

TEST_F(RedisBackplaneTest, TheLeaseIsRenewedWhileHeld) {
  RedisBackplaneSettings settings;
  settings.lease = std::chrono::milliseconds(600);
  settings.renew_interval = std::chrono::milliseconds(150);
  auto a = StartBackplane(io_.io(), url_, settings);
  auto b = StartBackplane(io_.io(), url_, settings);
  EXPECT_EQ(Owner(*a, topic_), a->node_id());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // well past the lease
  EXPECT_EQ(Owner(*b, topic_), a->node_id());

  a->ReleaseOwnership(topic_);  // no longer renewed nor held
  storage::testing::SyncRedis raw(url_);
  ASSERT_TRUE(raw.Start().ok());
  ASSERT_TRUE(Eventually([&] { return raw.Ok({"EXISTS", OwnerKey(topic_)}).integer == 0; }));
}

TEST_F(RedisBackplaneTest, ALeaseTakenByAnotherNodeIsReportedLost) {
  RedisBackplaneSettings settings;
  settings.renew_interval = std::chrono::milliseconds(100);
  auto a = StartBackplane(io_.io(), url_, settings);
  std::promise<std::string> lost;
  auto future = lost.get_future();
  a->SetOwnershipLostHandler([&lost](const std::string& document) { lost.set_value(document); });
  EXPECT_EQ(Owner(*a, topic_), a->node_id());
  storage::testing::SyncRedis raw(url_);
  ASSERT_TRUE(raw.Start().ok());
  raw.Ok({"SET", OwnerKey(topic_), "someone-else", "PX", "10000"});
  ASSERT_TRUE(WaitFor(future));
  EXPECT_EQ(future.get(), topic_);
  EXPECT_EQ(raw.Ok({"GET", OwnerKey(topic_)}).str, "someone-else");  // not overwritten
}

TEST_F(RedisBackplaneTest, HealthFollowsTheConnection) {
  storage::testing::PrivateRedisServer server;
  ASSERT_TRUE(server.started());
  auto a = StartBackplane(io_.io(), server.endpoint() + ",abortConnect=false,connectTimeout=500,syncTimeout=500");
  auto health = [&] {
    std::promise<storage::HealthReport> promise;
    auto future = promise.get_future();
    a->CheckHealth([&promise](storage::HealthReport report) { promise.set_value(std::move(report)); });
    WaitFor(future);
    return future.get();
  };
  EXPECT_EQ(health().status, storage::HealthStatus::kHealthy);
  server.Freeze();
  EXPECT_EQ(health().status, storage::HealthStatus::kUnhealthy);
  server.Resume();
  EXPECT_TRUE(Eventually([&] { return health().status == storage::HealthStatus::kHealthy; }));
}

TEST_F(RedisBackplaneTest, SubscriptionsComeBackAfterTheConnectionIsLost) {
  auto a = StartBackplane(io_.io(), url_ + ",name=" + topic_ + "-a");
  auto b = StartBackplane(io_.io(), url_);
  Inbox inbox;
  auto sub = SubscribeAndWait(*a, topic_, inbox);
  storage::testing::SyncRedis raw(url_);
  ASSERT_TRUE(raw.Start().ok());
  ASSERT_GE(raw.KillClientsNamed(topic_ + "-a"), 1);
  // Published until one arrives: the resubscription happens in the background.
  ASSERT_TRUE(Eventually([&] {
    b->Publish(topic_, {"", "op_applied", "again", ""});
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return inbox.size() > 0;
  }));
  // Requests to the reconnected node work too.
  a->SetRequestHandler([](Request, Backplane::ResponseCompletion respond) { respond({{}, true, "ok", {}}); });
  ASSERT_TRUE(Eventually([&] { return Call(*b, a->node_id(), "Ping", "").success; }));
}

}  // namespace
}  // namespace opstream::backplane::testing
