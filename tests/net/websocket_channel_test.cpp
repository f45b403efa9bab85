// A channel's socket follows its connection to another event loop (the loop of the document it
// joined): later messages are read there, frames are still written, and a socket with a write
// waiting for room stays where it is.
#include "net/websocket_channel.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/eventually.hpp"
#include "common/io_context_pool.hpp"

namespace opstream::net::websocket {
namespace {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A text frame as a client sends it (masked; the zero key leaves the payload as it is).
std::string ClientFrame(std::string_view payload) {
  std::string frame{"\x81", 1};
  frame.push_back(static_cast<char>(0x80 | payload.size()));
  frame.append(4, '\0');
  frame.append(payload);
  return frame;
}

// Pauses after every message, as a request to a document does, and notes where it was read.
class PausingChannel final : public Channel, public std::enable_shared_from_this<PausingChannel> {
 public:
  struct Read {
    std::string payload;
    asio::io_context* loop;
  };
  PausingChannel(tcp::socket socket, const ChannelOptions& options) : Channel(std::move(socket), options) {}
  void Start() { StartReading(); }
  using Channel::ResumeReading;

  std::vector<Read> reads() {
    std::lock_guard lock(mutex_);
    return reads_;
  }

 protected:
  bool OnMessage(std::string_view payload, bool) override {
    std::lock_guard lock(mutex_);
    reads_.push_back({std::string(payload), IoContextPool::CurrentLoop()});
    return false;
  }
  void OnClosed() override {}
  std::shared_ptr<void> KeepAlive() override { return shared_from_this(); }

 private:
  std::mutex mutex_;
  std::vector<Read> reads_;
};

using opstream::test_support::Eventually;

class ChannelMoveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loops_.Start();
    tcp::acceptor acceptor(client_context_, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client_.connect(acceptor.local_endpoint());
    tcp::socket accepted = acceptor.accept(loops_.at(0));
    channel_ = std::make_shared<PausingChannel>(std::move(accepted), options_);
    channel_->Start();
    timeval timeout{0, 20'000};
    ::setsockopt(client_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  void TearDown() override {
    channel_->Shutdown();
    loops_.Stop();
    loops_.Join();
    channel_.reset();
  }

  void ClientSends(std::string_view payload) { asio::write(client_, asio::buffer(ClientFrame(payload))); }
  bool ReadsReach(size_t count) {
    return Eventually([&] { return channel_->reads().size() >= count; });
  }
  std::string ClientReceives(size_t expected) {
    std::string received;
    char buffer[256];
    const auto deadline = Clock::now() + 5s;
    while (received.size() < expected && Clock::now() < deadline) {
      const ssize_t n = ::recv(client_.native_handle(), buffer, sizeof buffer, 0);
      if (n > 0) received.append(buffer, static_cast<size_t>(n));
    }
    return received;
  }

  IoContextPool loops_{2};
  asio::io_context client_context_;
  tcp::socket client_{client_context_};
  ChannelOptions options_;
  std::shared_ptr<PausingChannel> channel_;
};

TEST_F(ChannelMoveTest, LaterMessagesAreReadOnTheNewLoopAndFramesStillGoOut) {
  ClientSends("one");
  ASSERT_TRUE(ReadsReach(1));
  EXPECT_EQ(channel_->reads()[0].loop, &loops_.at(0));

  channel_->ResumeReading(&loops_.at(1));
  ClientSends("two");
  ClientSends("three");  // arrives while "two" pauses the reader: kept as pending input
  ASSERT_TRUE(ReadsReach(2));
  channel_->ResumeReading();
  ASSERT_TRUE(ReadsReach(3));
  const auto reads = channel_->reads();
  EXPECT_EQ(reads[1].payload, "two");
  EXPECT_EQ(reads[1].loop, &loops_.at(1));
  EXPECT_EQ(reads[2].payload, "three");
  EXPECT_EQ(reads[2].loop, &loops_.at(1));

  ASSERT_NE(channel_->Enqueue(OutboundFrame::Own("xyz"), Channel::WriteMode::kSoon), Channel::EnqueueResult::kDropped);
  EXPECT_EQ(ClientReceives(3), "xyz");
}

TEST_F(ChannelMoveTest, MovingToTheLoopItIsOnChangesNothing) {
  ClientSends("one");
  ASSERT_TRUE(ReadsReach(1));
  channel_->ResumeReading(&loops_.at(0));
  ClientSends("two");
  ASSERT_TRUE(ReadsReach(2));
  EXPECT_EQ(channel_->reads()[1].loop, &loops_.at(0));
}

TEST_F(ChannelMoveTest, ASocketWhoseWriteWaitsForRoomStaysOnItsLoop) {
  ClientSends("one");
  ASSERT_TRUE(ReadsReach(1));
  // The client reads nothing: a few megabytes fill both socket buffers, and the writer waits for
  // writability on the socket's own loop.
  const std::string block(256 * 1024, 'x');
  for (int i = 0; i < 32; ++i) {
    ASSERT_NE(channel_->Enqueue(OutboundFrame::Own(block), Channel::WriteMode::kSoon),
              Channel::EnqueueResult::kDropped);
  }
  std::this_thread::sleep_for(200ms);
  channel_->ResumeReading(&loops_.at(1));
  ClientSends("two");
  ASSERT_TRUE(ReadsReach(2));
  EXPECT_EQ(channel_->reads()[1].loop, &loops_.at(0));
  EXPECT_EQ(ClientReceives(block.size() * 32).size(), block.size() * 32) << "every queued byte still arrives";
}

}  // namespace
}  // namespace opstream::net::websocket
