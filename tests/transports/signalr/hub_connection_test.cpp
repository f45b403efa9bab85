// HubConnection without sockets: handshake, in-order invocations, answers in the negotiated
// protocol, encode-once broadcasts (the same bytes for every peer of a protocol), protocol errors,
// shutdown and the drop of a client that does not read its output.
#include "transports/signalr/hub_connection.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "transports/signalr/msgpack_codec.hpp"

namespace opstream::transports::signalr {
namespace {
namespace asio = boost::asio;

constexpr std::string_view kJsonHandshake = "{\"protocol\":\"json\",\"version\":1}\x1e";

class NullHttp final : public net::HttpHandler {
 public:
  void Handle(const net::HttpRequest&, std::function<void(net::HttpResponse)> respond) override {
    respond(net::HttpResponse{404});
  }
};

// Answers every invocation with null; a target "Fail" makes the session-style error path run.
class RecordingHub final : public Hub {
 public:
  asio::awaitable<void> Invoke(std::shared_ptr<HubConnection> connection, HubMessage message) override {
    targets.push_back(message.target);
    if (message.target == "Fail") {
      connection->Send(session::ErrorResponse{message.invocation_id, "Forbidden: no."});
    } else if (message.invocation_id) {
      connection->CompleteNull(*message.invocation_id);
    }
    co_return;
  }
  void OnDisconnected(const std::shared_ptr<HubConnection>&) override { ++disconnects; }

  std::vector<std::string> targets;
  int disconnects = 0;
};

class HubConnectionTest : public ::testing::Test {
 protected:
  ~HubConnectionTest() override {
    for (auto& connection : connections_) connection->Abort();
  }

  std::shared_ptr<HubConnection> Make(TransportType transport = TransportType::kWebSockets) {
    auto connection = std::make_shared<HubConnection>(io_, "conn" + std::to_string(connections_.size()), hub_, server_,
                                                      options_, nullptr);
    connection->Start();
    EXPECT_TRUE(connection->Attach(transport));
    connections_.push_back(connection);
    return connection;
  }

  template <typename T>
  T Run(asio::awaitable<T> work) {
    std::optional<T> result;
    io_.restart();  // run_one/poll stop the context once it runs out of work
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { result = co_await std::move(work); }, asio::detached);
    for (int i = 0; i < 1000 && !result; ++i) io_.run_one_for(std::chrono::milliseconds(10));
    if (!result) throw std::runtime_error("coroutine did not complete");
    return std::move(*result);
  }

  bool Receive(HubConnection& connection, std::string_view bytes) { return Run(connection.Receive(bytes)); }

  HubConnection::Output Next(HubConnection& connection) {
    return Run(connection.NextOutput(std::chrono::milliseconds(0)));
  }

  static std::string Text(const HubConnection::Output& output) {
    std::string text;
    for (const auto& buffer : output.buffers) text.append(static_cast<const char*>(buffer.data()), buffer.size());
    return text;
  }

  asio::io_context io_;
  NullHttp http_;
  net::Server server_{io_, http_};
  SignalROptions options_;
  RecordingHub hub_;
  std::vector<std::shared_ptr<HubConnection>> connections_;
};

TEST_F(HubConnectionTest, HandshakeThenInvocationsRunInOrderAcrossSplitInput) {
  auto c = Make();
  const std::string input = std::string(kJsonHandshake) + R"({"type":1,"invocationId":"1","target":"A","arguments":[]})"
                                                          "\x1e"
                                                          R"({"type":6})"
                                                          "\x1e"
                                                          R"({"type":1,"target":"B","arguments":[]})"
                                                          "\x1e";
  for (size_t i = 0; i < input.size(); i += 7) ASSERT_TRUE(Receive(*c, std::string_view(input).substr(i, 7)));
  EXPECT_EQ(hub_.targets, (std::vector<std::string>{"A", "B"}));
  auto output = Next(*c);
  ASSERT_EQ(output.status, HubConnection::Output::Status::kData);
  EXPECT_EQ(Text(output), "{}\x1e{\"type\":3,\"invocationId\":\"1\",\"result\":null}\x1e");
}

TEST_F(HubConnectionTest, SessionErrorsAreWrappedWithTheRunningTarget) {
  auto c = Make();
  ASSERT_TRUE(Receive(*c, std::string(kJsonHandshake) +
                              R"({"type":1,"invocationId":"9","target":"Fail","arguments":[]})"
                              "\x1e"));
  EXPECT_EQ(
      Text(Next(*c)),
      "{}\x1e{\"type\":3,\"invocationId\":\"9\",\"error\":\"An unexpected error occurred invoking \\u0027Fail\\u0027 "
      "on the server. HubException: Forbidden: no.\"}\x1e");
  // Without an invocation id nothing is answered, not even an error.
  ASSERT_TRUE(Receive(*c, R"({"type":1,"target":"Fail","arguments":[]})"
                          "\x1e"));
  EXPECT_EQ(Next(*c).status, HubConnection::Output::Status::kTimeout);
}

TEST_F(HubConnectionTest, BroadcastsAreEncodedOncePerProtocolAndShared) {
  auto a = Make(), b = Make(), m = Make();
  ASSERT_TRUE(Receive(*a, kJsonHandshake));
  ASSERT_TRUE(Receive(*b, kJsonHandshake));
  ASSERT_TRUE(Receive(*m, "{\"protocol\":\"messagepack\",\"version\":1}\x1e"));
  for (auto* c : {a.get(), b.get(), m.get()}) Next(*c);  // handshake responses
  auto event = std::make_shared<session::OpEvent>();
  event->payload = R"({"components":[{"type":"insert","text":"Hello"}]})";
  event->revision = 2;
  for (auto* c : {a.get(), b.get(), m.get()}) c->Send(std::shared_ptr<const session::OpEvent>(event));
  auto oa = Next(*a), ob = Next(*b), om = Next(*m);
  ASSERT_EQ(oa.buffers.size(), 1u);
  ASSERT_EQ(ob.buffers.size(), 1u);
  EXPECT_EQ(oa.buffers[0].data(), ob.buffers[0].data()) << "the same encoded bytes go to both JSON peers";
  EXPECT_EQ(Text(oa),
            "{\"type\":1,\"target\":\"ReceiveOp\",\"arguments\":["
            "\"eyJjb21wb25lbnRzIjpbeyJ0eXBlIjoiaW5zZXJ0IiwidGV4dCI6IkhlbGxvIn1dfQ==\",2]}\x1e");
  ASSERT_EQ(om.buffers.size(), 1u);
  EXPECT_NE(om.buffers[0].data(), oa.buffers[0].data());
  EXPECT_EQ(static_cast<const char*>(om.buffers[0].data())[1], static_cast<char>(0x95)) << "a MessagePack array";
}

TEST_F(HubConnectionTest, ProtocolErrorSendsCloseThenEnds) {
  auto c = Make();
  ASSERT_TRUE(Receive(*c, kJsonHandshake));
  EXPECT_FALSE(Receive(*c, "garbage\x1e"));
  EXPECT_EQ(Text(Next(*c)), "{}\x1e{\"type\":7,\"error\":\"Connection closed with an error.\"}\x1e");
  EXPECT_EQ(Next(*c).status, HubConnection::Output::Status::kEnd);
  EXPECT_TRUE(c->ended());
  EXPECT_EQ(hub_.disconnects, 1);
}

TEST_F(HubConnectionTest, OversizedRecordClosesTheConnection) {
  options_.max_record_bytes = 64;
  auto c = Make();
  ASSERT_TRUE(Receive(*c, kJsonHandshake));
  EXPECT_FALSE(Receive(*c, std::string(65, 'x')));
  EXPECT_EQ(Text(Next(*c)), "{}\x1e{\"type\":7,\"error\":\"Connection closed with an error.\"}\x1e");
}

TEST_F(HubConnectionTest, HandshakeFailuresAreAnsweredAndClose) {
  auto c = Make();
  EXPECT_FALSE(Receive(*c, "{\"protocol\":\"xml\",\"version\":1}\x1e"));
  EXPECT_EQ(Text(Next(*c)), "{\"error\":\"The protocol \\u0027xml\\u0027 is not supported.\"}\x1e");
  EXPECT_EQ(Next(*c).status, HubConnection::Output::Status::kEnd);
  auto sse = Make(TransportType::kServerSentEvents);
  EXPECT_FALSE(Receive(*sse, "{\"protocol\":\"messagepack\",\"version\":1}\x1e"));
  EXPECT_NE(Text(Next(*sse)).find("does not support \\u0027Binary\\u0027"), std::string::npos);
}

TEST_F(HubConnectionTest, ShutdownSendsCloseWithAllowReconnect) {
  auto c = Make();
  ASSERT_TRUE(Receive(*c, kJsonHandshake));
  c->Shutdown();
  EXPECT_EQ(Text(Next(*c)), "{}\x1e{\"type\":7,\"allowReconnect\":true}\x1e");
  EXPECT_EQ(Next(*c).status, HubConnection::Output::Status::kEnd);
}

TEST_F(HubConnectionTest, ClientThatDoesNotReadIsDroppedAtTheQueueLimit) {
  options_.max_queued_bytes = 64 * 1024;
  auto c = Make();
  ASSERT_TRUE(Receive(*c, kJsonHandshake));
  auto event = std::make_shared<session::OpEvent>();
  event->payload = std::string(10 * 1024, 'x');
  for (int i = 0; i < 10; ++i) c->Send(std::shared_ptr<const session::OpEvent>(event));
  io_.poll();
  EXPECT_TRUE(c->ended());
  EXPECT_EQ(hub_.disconnects, 1);
  EXPECT_EQ(Next(*c).status, HubConnection::Output::Status::kEnd);
}

TEST_F(HubConnectionTest, ClientCloseEndsWithoutReply) {
  auto c = Make();
  ASSERT_TRUE(Receive(*c, kJsonHandshake));
  EXPECT_FALSE(Receive(*c, "{\"type\":7}\x1e"));
  EXPECT_TRUE(c->ended());
  EXPECT_EQ(Next(*c).status, HubConnection::Output::Status::kEnd);
}

TEST_F(HubConnectionTest, AttachIsExclusive) {
  auto c = Make(TransportType::kLongPolling);
  EXPECT_FALSE(c->Attach(TransportType::kLongPolling));
  EXPECT_FALSE(c->Attach(TransportType::kWebSockets));
  EXPECT_EQ(c->transport(), TransportType::kLongPolling);
  EXPECT_TRUE(c->TryBeginReceive());
  EXPECT_FALSE(c->TryBeginReceive());
  c->EndReceive();
  EXPECT_TRUE(c->TryBeginReceive());
}

}  // namespace
}  // namespace opstream::transports::signalr
