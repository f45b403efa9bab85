// The RESP client against the real redis-server of the test run: reply types, binary safety,
// pipelining and in-order matching, handshake, errors, timeouts and reconnection.
#include <gmock/gmock.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <mutex>

#include "storage/redis_test_support.hpp"

namespace opstream::storage::testing {
namespace {

using redis::Reply;
using ::testing::HasSubstr;
using ::testing::Not;

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = TestRedisUrl();
    ASSERT_FALSE(url_.empty());
    prefix_ = UniqueKeyPrefix();
  }
  std::string Key(std::string_view name) const { return prefix_ + std::string(name); }

  std::string url_;
  std::string prefix_;
};

TEST(RedisEncodeTest, CommandsAreRespArraysOfBulkStrings) {
  std::string out;
  redis::EncodeCommand({"SET", "k", std::string("a\0\r\nb", 5)}, out);
  EXPECT_EQ(out, std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0\r\nb\r\n", 31));
}

TEST_F(RedisClientTest, EveryReplyTypeArrives) {
  SyncRedis redis(url_);
  ASSERT_TRUE(redis.Start().ok());

  const Reply status = redis.Ok({"SET", Key("s"), "value"});
  EXPECT_EQ(status.type, Reply::Type::kStatus);
  EXPECT_EQ(status.str, "OK");

  const Reply bulk = redis.Ok({"GET", Key("s")});
  EXPECT_EQ(bulk.type, Reply::Type::kString);
  EXPECT_EQ(bulk.str, "value");

  EXPECT_TRUE(redis.Ok({"GET", Key("missing")}).is_nil());

  const Reply integer = redis.Ok({"INCRBY", Key("n"), "-42"});
  EXPECT_EQ(integer.type, Reply::Type::kInteger);
  EXPECT_EQ(integer.integer, -42);

  redis.Ok({"RPUSH", Key("l"), "a", "", "c"});
  const Reply array = redis.Ok({"LRANGE", Key("l"), "0", "-1"});
  ASSERT_EQ(array.type, Reply::Type::kArray);
  ASSERT_EQ(array.elements.size(), 3u);
  EXPECT_EQ(array.elements[1].str, "");
  EXPECT_EQ(array.elements[2].str, "c");

  // Nested arrays with a nil inside (EVAL converts Lua false to nil).
  const Reply nested = redis.Ok({"EVAL", "return {1, {'x', false}, 'y'}", "0"});
  ASSERT_EQ(nested.elements.size(), 3u);
  EXPECT_EQ(nested.elements[0].integer, 1);
  ASSERT_EQ(nested.elements[1].elements.size(), 2u);
  EXPECT_EQ(nested.elements[1].elements[0].str, "x");
  EXPECT_TRUE(nested.elements[1].elements[1].is_nil());
  EXPECT_EQ(nested.elements[2].str, "y");

  auto [error_status, error] = redis.Call({"INCR", Key("s")});
  EXPECT_FALSE(error_status.ok());
  EXPECT_EQ(error.type, Reply::Type::kError);
  EXPECT_THAT(error_status.message(), HasSubstr("not an integer"));

  // The connection is still usable after an error reply.
  EXPECT_EQ(redis.Ok({"PING"}).str, "PONG");
}

TEST_F(RedisClientTest, ValuesAreBinarySafeAndLarge) {
  SyncRedis redis(url_);
  ASSERT_TRUE(redis.Start().ok());
  std::string binary;
  for (int i = 0; i < 3 * 1024 * 1024; ++i) binary.push_back(static_cast<char>(i * 7 % 256));
  redis.Ok({"SET", Key("big"), binary});
  EXPECT_EQ(redis.Ok({"GET", Key("big")}).str, binary);
  EXPECT_EQ(redis.Ok({"STRLEN", Key("big")}).integer, static_cast<int64_t>(binary.size()));
}

TEST_F(RedisClientTest, PipelinedRepliesMatchTheirCommandsInOrder) {
  SyncRedis redis(url_);
  ASSERT_TRUE(redis.Start().ok());
  constexpr int kCommands = 5000;
  std::vector<std::string> got(kCommands);
  std::atomic<int> done{0};
  std::promise<void> all;
  for (int i = 0; i < kCommands; ++i) {
    redis.client().Execute({"ECHO", "reply-" + std::to_string(i)}, [&, i](Status status, Reply reply) {
      got[i] = status.ok() ? reply.str : status.message();
      if (++done == kCommands) all.set_value();
    });
  }
  auto future = all.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  for (int i = 0; i < kCommands; ++i) ASSERT_EQ(got[i], "reply-" + std::to_string(i));
  const redis::ClientCounters counters = redis.client().counters();
  // Coalesced writes: far fewer system calls than commands.
  EXPECT_LT(counters.writes * 4, counters.commands_sent) << counters.writes << " writes";
}

TEST_F(RedisClientTest, DefaultDatabaseAndClientNameAreApplied) {
  SyncRedis redis(url_ + ",defaultDatabase=3,name=opstream-test");
  ASSERT_TRUE(redis.Start().ok());
  redis.Ok({"SET", Key("in-db-3"), "x"});
  EXPECT_EQ(redis.Ok({"CLIENT", "GETNAME"}).str, "opstream-test");
  SyncRedis db0(url_);
  ASSERT_TRUE(db0.Start().ok());
  EXPECT_TRUE(db0.Ok({"GET", Key("in-db-3")}).is_nil());
  EXPECT_EQ(db0.Ok({"SELECT", "3"}).str, "OK");
  EXPECT_EQ(db0.Ok({"GET", Key("in-db-3")}).str, "x");
  redis.Ok({"DEL", Key("in-db-3")});
}

TEST_F(RedisClientTest, RefusedPasswordIsAClearErrorWithoutThePassword) {
  SyncRedis redis(url_ + ",password=hunter2-secret,connectRetry=1");
  const Status started = redis.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.message(), HasSubstr("AUTH"));
  EXPECT_THAT(started.message(), Not(HasSubstr("hunter2")));
  // Commands are refused while the client waits to retry, with the reason.
  auto [status, reply] = redis.Call({"PING"});
  EXPECT_THAT(status.message(), HasSubstr("No connection is available to service this operation: PING"));
  EXPECT_THAT(status.message(), HasSubstr("AUTH"));
  EXPECT_FALSE(redis.client().connected());
}

TEST_F(RedisClientTest, UnreachableServerFailsAfterConnectRetryAttempts) {
  // Port 1 (tcpmux) is not served on a test machine: the connection is refused at once.
  const auto started_at = std::chrono::steady_clock::now();
  SyncRedis redis("127.0.0.1:1,connectRetry=2");
  const Status started = redis.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.message(), HasSubstr("It was not possible to connect to the redis server(s) 127.0.0.1:1"));
  EXPECT_THAT(started.message(), HasSubstr("refused"));
  EXPECT_LT(std::chrono::steady_clock::now() - started_at, std::chrono::seconds(3));
}

TEST_F(RedisClientTest, ConnectTimeoutIsHonoured) {
  // 192.0.2.1 (TEST-NET-1) is never routed: the SYN goes unanswered, or fails at once when the
  // machine has no route at all; both must end within the timeout.
  const auto started_at = std::chrono::steady_clock::now();
  SyncRedis redis("192.0.2.1:6379,connectTimeout=300,connectRetry=1");
  const Status started = redis.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.message(), HasSubstr("192.0.2.1:6379"));
  EXPECT_LT(std::chrono::steady_clock::now() - started_at, std::chrono::seconds(2));
}

TEST_F(RedisClientTest, SecondEndpointIsUsedWhenTheFirstIsDown) {
  SyncRedis redis("127.0.0.1:1," + url_);
  ASSERT_TRUE(redis.Start().ok());
  EXPECT_EQ(redis.Ok({"PING"}).str, "PONG");
}

TEST_F(RedisClientTest, WithSeveralEndpointsThePrimaryIsChosen) {
  const std::string primary_host = url_.substr(0, url_.find(':'));
  const std::string primary_port = url_.substr(url_.find(':') + 1);
  PrivateRedisServer replica("--replicaof " + primary_host + " " + primary_port);
  ASSERT_TRUE(replica.started());
  {  // wait until the replica answers
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      SyncRedis probe(replica.endpoint() + ",connectRetry=1");
      if (probe.Start().ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  SyncRedis redis(replica.endpoint() + "," + url_);
  ASSERT_TRUE(redis.Start().ok());
  EXPECT_EQ(redis.Ok({"ROLE"}).elements.at(0).str, "master");
  EXPECT_EQ(redis.Ok({"SET", Key("on-primary"), "1"}).str, "OK");

  SyncRedis replicas_only(replica.endpoint() + "," + replica.endpoint() + ",connectRetry=1");
  const Status refused = replicas_only.Start();
  EXPECT_THAT(refused.message(), HasSubstr(replica.endpoint() + " is not a primary (role slave)"));
}

TEST_F(RedisClientTest, CommandsIssuedBeforeTheConnectionWaitForIt) {
  SyncRedis redis(url_);
  std::promise<std::string> reply;
  redis.client().Execute({"ECHO", "early"},
                         [&reply](Status status, Reply r) { reply.set_value(status.ok() ? r.str : status.message()); });
  ASSERT_TRUE(redis.Start().ok());
  auto future = reply.get_future();
  EXPECT_EQ(Wait(future), "early");
}

TEST_F(RedisClientTest, LostConnectionFailsPendingCommandsThenRecovers) {
  const std::string name = "victim-" + std::to_string(::getpid());
  SyncRedis redis(url_ + ",name=" + name);
  ASSERT_TRUE(redis.Start().ok());
  SyncRedis admin(url_);
  ASSERT_TRUE(admin.Start().ok());
  const int64_t id = redis.Ok({"CLIENT", "ID"}).integer;

  std::promise<Status> blocked;
  redis.client().Execute({"BLPOP", Key("never"), "10"},
                         [&blocked](Status status, Reply) { blocked.set_value(std::move(status)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(admin.Ok({"CLIENT", "KILL", "ID", std::to_string(id)}).integer, 1);
  auto future = blocked.get_future();
  const Status lost = Wait(future);
  EXPECT_THAT(lost.message(), HasSubstr("Redis connection lost"));
  EXPECT_THAT(lost.message(), HasSubstr("may or may not have been executed"));

  // The client reconnects by itself (backoff starts at 100 ms).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!redis.client().connected() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(redis.client().connected());
  EXPECT_EQ(redis.Ok({"CLIENT", "GETNAME"}).str, name);  // the handshake ran again
  EXPECT_NE(redis.Ok({"CLIENT", "ID"}).integer, id);
  EXPECT_EQ(redis.client().counters().connects, 2u);
}

TEST_F(RedisClientTest, UnansweredCommandTimesOutAndTheConnectionIsReplaced) {
  SyncRedis redis(url_ + ",syncTimeout=300");
  ASSERT_TRUE(redis.Start().ok());
  // BLPOP for 2 s never answers within the 300 ms timeout; the PING behind it shares its fate.
  std::promise<Status> first;
  std::promise<Status> second;
  redis.client().Execute({"BLPOP", Key("never"), "2"}, [&first](Status s, Reply) { first.set_value(s); });
  redis.client().Execute({"PING"}, [&second](Status s, Reply) { second.set_value(s); });
  const auto started_at = std::chrono::steady_clock::now();
  auto first_future = first.get_future();
  auto second_future = second.get_future();
  const Status timed_out = Wait(first_future);
  EXPECT_THAT(timed_out.message(), HasSubstr("Timeout performing BLPOP (300 ms"));
  EXPECT_THAT(Wait(second_future).message(), HasSubstr("Timeout performing BLPOP"));
  EXPECT_LT(std::chrono::steady_clock::now() - started_at, std::chrono::milliseconds(1500));
  // A fresh connection serves later commands.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  Status pinged = Status::Error("not tried");
  while (std::chrono::steady_clock::now() < deadline) {
    auto [status, reply] = redis.Call({"PING"});
    pinged = status;
    if (status.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(pinged.ok()) << pinged.message();
}

TEST_F(RedisClientTest, StopFailsPendingAndLaterCommands) {
  SyncRedis redis(url_);
  ASSERT_TRUE(redis.Start().ok());
  std::promise<Status> blocked;
  redis.client().Execute({"BLPOP", Key("never"), "10"}, [&blocked](Status s, Reply) { blocked.set_value(s); });
  redis.client().Stop();
  auto future = blocked.get_future();
  EXPECT_EQ(Wait(future).message(), "Redis client stopped");
  EXPECT_EQ(redis.Call({"PING"}).first.message(), "Redis client stopped");
}

TEST_F(RedisClientTest, PushHandlerSeesUnsolicitedMessages) {
  // What the backplane (issue 7) builds on: a subscriber connection whose messages arrive
  // without a command, and whose subscriptions are restored by the connected handler.
  boost::asio::io_context io;
  redis::ConnectionOptions options;
  ASSERT_TRUE(redis::ParseConnectionString(url_, options).ok());
  redis::Client subscriber(io, options);
  std::mutex mutex;
  std::vector<std::string> messages;
  const std::string channel = Key("channel");
  subscriber.SetPushHandler([&](const Reply& reply) {
    if (reply.type != Reply::Type::kArray || reply.elements.size() != 3 || reply.elements[0].str != "message") {
      return false;  // subscribe confirmations answer the SUBSCRIBE command
    }
    std::lock_guard lock(mutex);
    messages.push_back(reply.elements[2].str);
    return true;
  });
  std::promise<Status> subscribed;
  subscriber.SetConnectedHandler([&] {
    subscriber.Execute({"SUBSCRIBE", channel}, [&subscribed](Status s, Reply) { subscribed.set_value(s); });
  });
  subscriber.Start([](Status) {});
  // Joined on every exit, also when a failed wait throws.
  std::jthread thread([&io] { io.run_for(std::chrono::seconds(5)); });
  auto subscribed_future = subscribed.get_future();
  EXPECT_TRUE(Wait(subscribed_future).ok());

  SyncRedis publisher(url_);
  ASSERT_TRUE(publisher.Start().ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(publisher.Ok({"PUBLISH", channel, "m" + std::to_string(i)}).integer, 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (;;) {
    {
      std::lock_guard lock(mutex);
      if (messages.size() == 3 || std::chrono::steady_clock::now() > deadline) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  subscriber.Stop();
  io.stop();
  thread.join();
  EXPECT_THAT(messages, ::testing::ElementsAre("m0", "m1", "m2"));
}

}  // namespace
}  // namespace opstream::storage::testing
