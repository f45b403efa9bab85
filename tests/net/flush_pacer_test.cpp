// Write pacing: a connection written to less than the pacer's interval ago waits for the pacer's
// round, a quiet one writes at once, and a response never waits behind a paced flush. The channel
// tests run over a real loopback socket and read the bytes as the kernel delivers them.
#include "net/flush_pacer.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/eventually.hpp"
#include "net/websocket_channel.hpp"

namespace opstream::net {
namespace {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class CountingFlush final : public FlushPacer::Flushable {
 public:
  void FlushDeferred() override {
    ++flushes;
    if (on_flush) on_flush();
  }
  std::atomic<int> flushes{0};
  std::function<void()> on_flush;
};

// An io_context run by one thread for the length of a test.
class RunningContext {
 public:
  RunningContext() : work_(asio::make_work_guard(context)), thread_([this] { context.run(); }) {}
  ~RunningContext() {
    work_.reset();
    context.stop();
    thread_.join();
  }
  asio::io_context context;

 private:
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

using opstream::test_support::Eventually;

TEST(FlushPacerTest, OneRoundRunsEveryDeferredFlushAfterTheInterval) {
  RunningContext running;
  FlushPacer pacer(running.context, 50ms);
  std::vector<std::shared_ptr<CountingFlush>> targets;
  const auto start = Clock::now();
  for (int i = 0; i < 10; ++i) {
    targets.push_back(std::make_shared<CountingFlush>());
    pacer.Defer({targets.back(), targets.back().get()});
  }
  ASSERT_TRUE(Eventually([&] {
    for (auto& target : targets) {
      if (target->flushes.load() != 1) return false;
    }
    return true;
  }));
  EXPECT_GE(Clock::now() - start, 45ms);
}

TEST(FlushPacerTest, AFlushDeferredDuringARoundRunsInTheNextOne) {
  RunningContext running;
  FlushPacer pacer(running.context, 20ms);
  auto target = std::make_shared<CountingFlush>();
  target->on_flush = [&] {
    if (target->flushes.load() < 3) pacer.Defer({target, target.get()});
  };
  pacer.Defer({target, target.get()});
  ASSERT_TRUE(Eventually([&] { return target->flushes.load() == 3; }));
  std::this_thread::sleep_for(60ms);
  EXPECT_EQ(target->flushes.load(), 3);
}

TEST(FlushPacerTest, OverWorkerLoopsAFlushRunsOnTheLoopThatDeferredIt) {
  IoContextPool loops(2);
  loops.Start();
  FlushPacer pacer(loops, 5ms);
  std::vector<std::shared_ptr<CountingFlush>> targets;
  std::vector<std::atomic<asio::io_context*>> ran_on(3);
  for (size_t i = 0; i < 3; ++i) {
    targets.push_back(std::make_shared<CountingFlush>());
    targets.back()->on_flush = [&ran_on, i] { ran_on[i] = IoContextPool::CurrentLoop(); };
  }
  asio::post(loops.at(0), [&] { pacer.Defer({targets[0], targets[0].get()}); });
  asio::post(loops.at(1), [&] { pacer.Defer({targets[1], targets[1].get()}); });
  pacer.Defer({targets[2], targets[2].get()});  // from a thread that runs no loop
  ASSERT_TRUE(Eventually([&] {
    for (auto& target : targets) {
      if (target->flushes.load() != 1) return false;
    }
    return true;
  }));
  EXPECT_EQ(ran_on[0].load(), &loops.at(0));
  EXPECT_EQ(ran_on[1].load(), &loops.at(1));
  EXPECT_EQ(ran_on[2].load(), &loops.at(0)) << "other threads' flushes go to the first loop";
  loops.Stop();
  loops.Join();
}

TEST(FlushPacerTest, KeepsTheTargetAliveUntilItsFlushRan) {
  RunningContext running;
  FlushPacer pacer(running.context, 20ms);
  auto target = std::make_shared<CountingFlush>();
  std::weak_ptr<CountingFlush> watch = target;
  pacer.Defer({target, target.get()});
  target.reset();
  EXPECT_FALSE(watch.expired());
  ASSERT_TRUE(Eventually([&] { return watch.expired(); }));
}

// ---- the channel's use of the pacer ----

class TestChannel final : public websocket::Channel, public std::enable_shared_from_this<TestChannel> {
 public:
  static std::shared_ptr<TestChannel> Open(tcp::socket socket, const websocket::ChannelOptions& options) {
    auto channel = std::make_shared<TestChannel>(std::move(socket), options);
    channel->StartReading();
    return channel;
  }
  TestChannel(tcp::socket socket, const websocket::ChannelOptions& options) : Channel(std::move(socket), options) {}

 protected:
  bool OnMessage(std::string_view, bool) override { return true; }
  void OnClosed() override {}
  std::shared_ptr<void> KeepAlive() override { return shared_from_this(); }
};

// A paced round long enough that a test thread stalled by a loaded machine (sanitizers, parallel
// tests) still checks "not written yet" well inside it.
constexpr auto kRound = 1s;

class PacedChannelTest : public ::testing::Test {
 protected:
  void Open(std::chrono::microseconds interval, std::chrono::microseconds fanout_interval = {}) {
    pacer_.emplace(running_.context, interval);
    options_.flush_pacer = &*pacer_;
    if (fanout_interval.count() != 0) {
      fanout_pacer_.emplace(running_.context, fanout_interval);
      options_.fanout_pacer = &*fanout_pacer_;
    }
    options_.write_context = &running_.context;
    tcp::acceptor acceptor(running_.context, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client_.emplace(running_.context);
    client_->connect(acceptor.local_endpoint());
    channel_ = TestChannel::Open(acceptor.accept(), options_);
    timeval timeout{0, 20'000};
    ::setsockopt(client_->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  void TearDown() override {
    if (channel_) channel_->Shutdown();
    channel_.reset();
  }

  // Bytes that arrive until `expected` bytes are there or `limit` passes; also when they came.
  std::string Receive(size_t expected, std::chrono::milliseconds limit, Clock::duration* took = nullptr) {
    const auto start = Clock::now();
    std::string received;
    char buffer[256];
    while (received.size() < expected && Clock::now() - start < limit) {
      const ssize_t n = ::recv(client_->native_handle(), buffer, sizeof buffer, 0);
      if (n > 0) received.append(buffer, static_cast<size_t>(n));
    }
    if (took != nullptr) *took = Clock::now() - start;
    return received;
  }

  // A first write, finished when this returns (an urgent frame is written by the calling thread),
  // so that the connection counts as recently written and no writer is still under way.
  void Prime() {
    Send("a", websocket::Channel::WriteMode::kUrgent);
    ASSERT_EQ(Receive(1, 2s), "a");
  }

  void Send(std::string bytes, websocket::Channel::WriteMode mode) {
    ASSERT_NE(channel_->Enqueue(websocket::OutboundFrame::Own(std::move(bytes)), mode),
              websocket::Channel::EnqueueResult::kDropped);
  }

  RunningContext running_;
  std::optional<FlushPacer> pacer_;
  std::optional<FlushPacer> fanout_pacer_;
  websocket::ChannelOptions options_;
  std::optional<tcp::socket> client_;
  std::shared_ptr<TestChannel> channel_;
};

TEST_F(PacedChannelTest, AQuietConnectionWritesAtOnce) {
  Open(10s);
  Clock::duration took{};
  EXPECT_EQ(Receive(3, 50ms).size(), 0u);  // nothing sent yet
  Send("abc", websocket::Channel::WriteMode::kSoon);
  EXPECT_EQ(Receive(3, 2s, &took), "abc");
  EXPECT_LT(took, 1s);  // far below the 10 s interval
}

TEST_F(PacedChannelTest, ABusyConnectionWaitsForThePacerAndGathersItsFrames) {
  Open(kRound);
  Prime();
  const auto start = Clock::now();
  Send("b", websocket::Channel::WriteMode::kHeldBack);
  channel_->FlushHeldBack(true);
  Send("c", websocket::Channel::WriteMode::kHeldBack);
  channel_->FlushHeldBack(true);
  EXPECT_EQ(Receive(2, 100ms), "");  // paced: not yet
  EXPECT_EQ(Receive(2, 5s), "bc");
  EXPECT_GE(Clock::now() - start, kRound - 100ms);
}

TEST_F(PacedChannelTest, FramesForTheWriterThreadsAreNotPaced) {
  Open(10s);
  Prime();
  Clock::duration took{};
  Send("b", websocket::Channel::WriteMode::kSoon);
  EXPECT_EQ(Receive(1, 2s, &took), "b");
  EXPECT_LT(took, 1s);
  Send("c", websocket::Channel::WriteMode::kHeldBack);
  channel_->FlushHeldBack(false);  // a large fan-out's flush
  EXPECT_EQ(Receive(1, 2s, &took), "c");
  EXPECT_LT(took, 1s);
}

TEST_F(PacedChannelTest, ABusyReceiverOfALargeFanOutWaitsForTheFanOutPacer) {
  Open(10s, kRound);
  Prime();
  const auto start = Clock::now();
  Send("b", websocket::Channel::WriteMode::kHeldBack);
  channel_->FlushHeldBack(false);
  Send("c", websocket::Channel::WriteMode::kHeldBack);
  channel_->FlushHeldBack(false);
  EXPECT_EQ(Receive(2, 100ms), "");
  EXPECT_EQ(Receive(2, 5s), "bc");  // the fan-out pacer's round, not the other one's 10 s
  EXPECT_GE(Clock::now() - start, kRound - 100ms);
}

TEST_F(PacedChannelTest, AResponseIsNotHeldBehindAPacedFlushAndKeepsTheOrder) {
  Open(10s);
  Prime();
  Send("b", websocket::Channel::WriteMode::kHeldBack);
  channel_->FlushHeldBack(true);  // paced for up to 10 s
  EXPECT_EQ(Receive(1, 100ms), "");
  Clock::duration took{};
  Send("R", websocket::Channel::WriteMode::kUrgent);
  EXPECT_EQ(Receive(2, 2s, &took), "bR");
  EXPECT_LT(took, 1s);
}

TEST_F(PacedChannelTest, AHeldBackResponseIsWrittenAtOnceToo) {
  Open(10s);
  Prime();
  Send("b", websocket::Channel::WriteMode::kHeldBack);
  channel_->FlushHeldBack(true);  // paced for up to 10 s
  Clock::duration took{};
  Send("R", websocket::Channel::WriteMode::kHeldBackResponse);
  channel_->FlushHeldBack(true);
  EXPECT_EQ(Receive(2, 2s, &took), "bR");
  EXPECT_LT(took, 1s);
}

TEST_F(PacedChannelTest, BroadcastsToAnIdleReaderAreWrittenAtOnce) {
  Open(10s);
  Clock::duration took{};
  Send("b", websocket::Channel::WriteMode::kHeldBack);
  channel_->FlushHeldBack(true);
  EXPECT_EQ(Receive(1, 2s, &took), "b");
  EXPECT_LT(took, 1s);
}

TEST_F(PacedChannelTest, HeldBackBroadcastsOfABusyConnectionArePaced) {
  Open(kRound);
  Prime();
  Send("b", websocket::Channel::WriteMode::kHeldBack);
  channel_->FlushHeldBack(true);
  EXPECT_EQ(Receive(1, 100ms), "");
  EXPECT_EQ(Receive(1, 5s), "b");
}

}  // namespace
}  // namespace opstream::net
