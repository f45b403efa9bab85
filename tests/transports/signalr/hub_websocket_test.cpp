// The SignalR WebSockets transport on net::websocket::Channel, over a real loopback socket:
// records across and within messages, answers framed in the protocol's frame type, broadcast
// frames shared byte for byte between receivers (and the record inside them for the pull
// transports), Close records followed by close frame 1000 on errors and on shutdown, and the end
// of the connection when the peer goes away.
#include "transports/signalr/hub_websocket.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <thread>

namespace opstream::transports::signalr {
namespace {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr std::string_view kJsonHandshake = "{\"protocol\":\"json\",\"version\":1}\x1e";

class NullHttp final : public net::HttpHandler {
 public:
  void Handle(const net::HttpRequest&, std::function<void(net::HttpResponse)> respond) override {
    respond(net::HttpResponse{404});
  }
};

class NullHub final : public Hub {
 public:
  asio::awaitable<void> Invoke(std::shared_ptr<HubConnection> connection, HubMessage message) override {
    if (message.invocation_id) connection->CompleteNull(*message.invocation_id);
    co_return;
  }
  void OnDisconnected(const std::shared_ptr<HubConnection>&) override { ++disconnects; }
  std::atomic<int> disconnects{0};
};

struct Frame {
  int opcode = -1;  // -1: nothing arrived in time (or the socket closed)
  std::string payload;
};

// The client end: masked frames out, unmasked frames in, blocking with a receive timeout.
class Client {
 public:
  explicit Client(tcp::socket socket) : socket_(std::move(socket)) {
    timeval timeout{5, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }

  void Send(std::string_view payload, uint8_t opcode = 0x1) {
    std::string frame;
    frame.push_back(static_cast<char>(0x80 | opcode));
    if (payload.size() < 126) {
      frame.push_back(static_cast<char>(0x80 | payload.size()));
    } else {
      frame.push_back(static_cast<char>(0x80 | 126));
      frame.push_back(static_cast<char>(payload.size() >> 8));
      frame.push_back(static_cast<char>(payload.size() & 0xFF));
    }
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    frame.append(mask, 4);
    for (size_t i = 0; i < payload.size(); ++i) frame.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    asio::write(socket_, asio::buffer(frame));
  }

  Frame Read() {
    Frame frame;
    std::string header;
    if (!ReadExactly(2, header)) return frame;
    size_t length = static_cast<uint8_t>(header[1]) & 0x7F;
    std::string extended;
    if (length >= 126) {
      if (!ReadExactly(length == 126 ? 2 : 8, extended)) return frame;
      length = 0;
      for (char c : extended) length = (length << 8) | static_cast<uint8_t>(c);
    }
    if (!ReadExactly(length, frame.payload)) return frame;
    frame.opcode = static_cast<uint8_t>(header[0]) & 0x0F;
    last_raw_ = header + extended + frame.payload;
    return frame;
  }

  // Bytes of the last frame read, header included.
  const std::string& last_raw() const { return last_raw_; }
  // True once the server closed the TCP connection.
  bool AtEof() {
    char c;
    return ::recv(socket_.native_handle(), &c, 1, 0) == 0;
  }
  void Disconnect() { socket_.close(); }
  int fd() { return socket_.native_handle(); }

 private:
  bool ReadExactly(size_t n, std::string& out) {
    out.resize(n);
    size_t done = 0;
    while (done < n) {
      const ssize_t got = ::recv(socket_.native_handle(), out.data() + done, n - done, 0);
      if (got <= 0) return false;
      done += static_cast<size_t>(got);
    }
    return true;
  }

  tcp::socket socket_;
  std::string last_raw_;
};

class HubWebSocketTest : public ::testing::Test {
 protected:
  HubWebSocketTest() {
    thread_ = std::thread([this] { io_.run(); });
  }
  ~HubWebSocketTest() override {
    for (auto& weak : connections_) {
      if (auto connection = weak.lock()) connection->Abort();
    }
    // The clients are gone by now: wait until every socket saw its end and unregistered, so that
    // no handler outlives the server.
    WaitFor([this] { return server_.LiveConnectionCount() == 0; });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  std::shared_ptr<HubConnection> MakeConnection(TransportType transport) {
    auto connection = std::make_shared<HubConnection>(io_, "c" + std::to_string(connections_.size()), hub_, server_,
                                                      options_, nullptr);
    connection->Start();
    EXPECT_TRUE(connection->Attach(transport));
    connections_.push_back(connection);
    return connection;
  }

  // A connection served by HubWebSocket, and the client end of its socket.
  std::pair<std::shared_ptr<HubConnection>, std::unique_ptr<Client>> Open() {
    auto connection = MakeConnection(TransportType::kWebSockets);
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket client(client_io_);
    client.connect(acceptor.local_endpoint());
    tcp::socket served(io_);
    acceptor.accept(served);
    HubWebSocket::Serve(std::move(served), connection, server_, channel_options_);
    return {connection, std::make_unique<Client>(std::move(client))};
  }

  // Payloads of frames read until `bytes` bytes arrived (records may be framed one by one).
  static std::string ReadRecords(Client& client, size_t bytes, int expected_opcode = 0x1) {
    std::string text;
    while (text.size() < bytes) {
      auto frame = client.Read();
      if (frame.opcode != expected_opcode) {
        ADD_FAILURE() << "frame opcode " << frame.opcode << " after \"" << text << "\"";
        break;
      }
      text += frame.payload;
    }
    return text;
  }

  // A connection whose socket arrives as an HTTP upgrade request (already read, as the server
  // hands it over), served through HubWebSocket::Accept.
  std::pair<std::shared_ptr<HubConnection>, std::unique_ptr<Client>> Upgrade(bool with_key) {
    auto connection = MakeConnection(TransportType::kWebSockets);
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket client(client_io_);
    client.connect(acceptor.local_endpoint());
    tcp::socket served(io_);
    acceptor.accept(served);
    net::UpgradeRequest request{boost::beast::http::verb::get, "/collab", 11};
    request.set(boost::beast::http::field::host, "localhost");
    request.set(boost::beast::http::field::upgrade, "websocket");
    request.set(boost::beast::http::field::connection, "Upgrade");
    request.set(boost::beast::http::field::sec_websocket_version, "13");
    if (with_key) request.set(boost::beast::http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    HubWebSocket::Accept(boost::beast::tcp_stream(std::move(served)), std::move(request), connection, server_,
                         channel_options_);
    return {connection, std::make_unique<Client>(std::move(client))};
  }

  template <typename Predicate>
  static bool WaitFor(Predicate predicate) {
    for (int i = 0; i < 500 && !predicate(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return predicate();
  }

  static uint16_t CloseCodeOf(const Frame& frame) {
    if (frame.payload.size() < 2) return 0;
    return static_cast<uint16_t>((static_cast<uint8_t>(frame.payload[0]) << 8) |
                                 static_cast<uint8_t>(frame.payload[1]));
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  asio::io_context client_io_;
  NullHttp http_;
  net::Server server_{io_, http_};
  SignalROptions options_;
  net::websocket::ChannelOptions channel_options_;
  NullHub hub_;
  // Weak, like the endpoint's table after a connection ended: a connection owns its socket, which
  // stays registered with the server until both are gone.
  std::vector<std::weak_ptr<HubConnection>> connections_;
  std::thread thread_;
};

TEST_F(HubWebSocketTest, RecordsSpanAndShareMessagesAndAnswersAreTextFrames) {
  auto [connection, client] = Open();
  client->Send(kJsonHandshake.substr(0, 10));
  client->Send(std::string(kJsonHandshake.substr(10)) + R"({"type":1,"invocationId":"1","target":"A","arguments":[)");
  // The rest of the first invocation, a ping and a second invocation share one Binary message.
  client->Send(
      std::string("]}\x1e{\"type\":6}\x1e") + R"({"type":1,"invocationId":"2","target":"B","arguments":[]})" + "\x1e",
      0x2);
  const std::string expected =
      "{}\x1e{\"type\":3,\"invocationId\":\"1\",\"result\":null}\x1e{\"type\":3,\"invocationId\":\"2\",\"result\":null}"
      "\x1e";
  EXPECT_EQ(ReadRecords(*client, expected.size()), expected);
}

TEST_F(HubWebSocketTest, BroadcastFrameIsEncodedOnceAndSharedByEveryReceiver) {
  auto [a, client_a] = Open();
  auto [b, client_b] = Open();
  auto sse = MakeConnection(TransportType::kServerSentEvents);
  for (auto* client : {client_a.get(), client_b.get()}) {
    client->Send(kJsonHandshake);
    EXPECT_EQ(ReadRecords(*client, 3), "{}\x1e");
  }
  std::optional<bool> sse_ok;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        const bool ok = co_await sse->Receive(kJsonHandshake);
        co_await sse->NextOutput(std::chrono::milliseconds(0));  // the handshake response
        sse_ok = ok;
      },
      asio::detached);
  ASSERT_TRUE(WaitFor([&] { return sse_ok.has_value(); }));

  auto event = std::make_shared<session::OpEvent>();
  event->payload = R"({"components":[{"type":"insert","text":"Hello"}]})";
  event->revision = 2;
  const std::string record =
      "{\"type\":1,\"target\":\"ReceiveOp\",\"arguments\":["
      "\"eyJjb21wb25lbnRzIjpbeyJ0eXBlIjoiaW5zZXJ0IiwidGV4dCI6IkhlbGxvIn1dfQ==\",2]}\x1e";
  for (auto* c : {a.get(), b.get(), sse.get()}) c->Send(std::shared_ptr<const session::OpEvent>(event));
  auto frame_a = client_a->Read();
  const std::string raw_a = client_a->last_raw();
  auto frame_b = client_b->Read();
  EXPECT_EQ(frame_a.opcode, 0x1);
  EXPECT_EQ(frame_a.payload, record);
  EXPECT_EQ(client_b->last_raw(), raw_a);
  // The cached encoding is the frame itself: nothing was framed per receiver.
  const std::string& cached =
      event->encodings.Get(session::TransportKind::kSignalRJson, []() -> std::string { return "not cached"; });
  EXPECT_EQ(cached, raw_a);

  // The pull transports write the record inside the cached frame, without copying it.
  std::optional<HubConnection::Output> output;
  asio::co_spawn(
      io_, [&]() -> asio::awaitable<void> { output = co_await sse->NextOutput(std::chrono::milliseconds(0)); },
      asio::detached);
  ASSERT_TRUE(WaitFor([&] { return output.has_value(); }));
  ASSERT_EQ(output->buffers.size(), 1u);
  EXPECT_EQ(std::string_view(static_cast<const char*>(output->buffers[0].data()), output->buffers[0].size()), record);
  EXPECT_EQ(static_cast<const char*>(output->buffers[0].data()), cached.data() + (cached.size() - record.size()));
}

TEST_F(HubWebSocketTest, MessagePackRecordsGoOutAsBinaryFrames) {
  auto [connection, client] = Open();
  client->Send("{\"protocol\":\"messagepack\",\"version\":1}\x1e");
  auto response = client->Read();
  EXPECT_EQ(response.opcode, 0x2);
  EXPECT_EQ(response.payload, "{}\x1e");
  auto event = std::make_shared<session::OpEvent>();
  event->payload = R"({"components":[]})";
  event->revision = 3;
  connection->Send(std::shared_ptr<const session::OpEvent>(event));
  auto frame = client->Read();
  EXPECT_EQ(frame.opcode, 0x2);
  ASSERT_GE(frame.payload.size(), 2u);
  EXPECT_EQ(static_cast<uint8_t>(frame.payload[1]), 0x95) << "a length-prefixed MessagePack array";
}

TEST_F(HubWebSocketTest, ProtocolErrorSendsCloseRecordThenCloseFrame1000) {
  auto [connection, client] = Open();
  client->Send(std::string(kJsonHandshake) + "garbage\x1e");
  const std::string expected = "{}\x1e{\"type\":7,\"error\":\"Connection closed with an error.\"}\x1e";
  EXPECT_EQ(ReadRecords(*client, expected.size()), expected);
  auto close = client->Read();
  EXPECT_EQ(close.opcode, 0x8);
  EXPECT_EQ(CloseCodeOf(close), 1000);
  EXPECT_TRUE(WaitFor([&] { return connection->ended(); }));
  EXPECT_EQ(hub_.disconnects.load(), 1);
}

TEST_F(HubWebSocketTest, HandshakeFailureIsAnsweredThenClosed) {
  auto [connection, client] = Open();
  client->Send("{\"protocol\":\"xml\",\"version\":1}\x1e");
  const std::string expected = "{\"error\":\"The protocol \\u0027xml\\u0027 is not supported.\"}\x1e";
  EXPECT_EQ(ReadRecords(*client, expected.size()), expected);
  auto close = client->Read();
  EXPECT_EQ(close.opcode, 0x8);
  EXPECT_EQ(CloseCodeOf(close), 1000);
}

TEST_F(HubWebSocketTest, ShutdownSendsCloseWithAllowReconnectThenCloseFrame1000) {
  auto [connection, client] = Open();
  client->Send(kJsonHandshake);
  EXPECT_EQ(ReadRecords(*client, 3), "{}\x1e");
  EXPECT_EQ(server_.LiveConnectionCount(), 2u) << "the connection and its socket";
  server_.Stop();
  const std::string expected = "{\"type\":7,\"allowReconnect\":true}\x1e";
  EXPECT_EQ(ReadRecords(*client, expected.size()), expected);
  auto close = client->Read();
  EXPECT_EQ(close.opcode, 0x8);
  EXPECT_EQ(CloseCodeOf(close), 1000);
  // The socket stays registered (shutdown waits) until the close handshake is over.
  EXPECT_EQ(server_.LiveConnectionCount(), 1u);
  connection.reset();  // the endpoint's table let go of the ended connection
  EXPECT_EQ(server_.LiveConnectionCount(), 1u);
  client->Send(close.payload, 0x8);
  EXPECT_TRUE(WaitFor([&] { return server_.LiveConnectionCount() == 0; }));
  EXPECT_TRUE(client->AtEof());
}

TEST_F(HubWebSocketTest, ClientCloseRecordEndsTheConnectionWithCloseFrame1000) {
  auto [connection, client] = Open();
  client->Send(kJsonHandshake);
  EXPECT_EQ(ReadRecords(*client, 3), "{}\x1e");
  client->Send("{\"type\":7}\x1e");
  auto close = client->Read();
  EXPECT_EQ(close.opcode, 0x8);
  EXPECT_EQ(CloseCodeOf(close), 1000);
  EXPECT_TRUE(connection->ended());
}

TEST_F(HubWebSocketTest, PeerGoingAwayEndsTheConnection) {
  auto [connection, client] = Open();
  client->Send(kJsonHandshake);
  EXPECT_EQ(ReadRecords(*client, 3), "{}\x1e");
  client->Disconnect();
  EXPECT_TRUE(WaitFor([&] { return connection->ended(); }));
  EXPECT_EQ(hub_.disconnects.load(), 1);
  connection.reset();  // the endpoint's table let go of the ended connection
  EXPECT_TRUE(WaitFor([&] { return server_.LiveConnectionCount() == 0; }));
}

TEST_F(HubWebSocketTest, AcceptAnswersTheUpgradeThenServesTheConnection) {
  auto [connection, client] = Upgrade(true);
  client->Send(kJsonHandshake);  // buffered by the kernel until the server reads after the upgrade
  std::string response;
  char c;
  while (response.find("\r\n\r\n") == std::string::npos) {
    ASSERT_EQ(::recv(client->fd(), &c, 1, 0), 1) << response;
    response += c;
  }
  EXPECT_EQ(response.rfind("HTTP/1.1 101", 0), 0u) << response;
  EXPECT_NE(response.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos) << "RFC 6455's sample accept key";
  EXPECT_EQ(ReadRecords(*client, 3), "{}\x1e");
  EXPECT_FALSE(connection->ended());
}

TEST_F(HubWebSocketTest, FailedOpeningHandshakeEndsTheNegotiatedConnection) {
  auto [connection, client] = Upgrade(false);  // no Sec-WebSocket-Key: refused with 400
  EXPECT_TRUE(WaitFor([&] { return connection->ended(); })) << "not left to its handshake timeout";
  EXPECT_EQ(hub_.disconnects.load(), 1);
}

}  // namespace
}  // namespace opstream::transports::signalr
