#include "storage/redis/redis_client.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <deque>
#include <mutex>

#include "storage/guarded_invoke.hpp"

namespace opstream::redis {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

Reply Convert(const redisReply* raw) {
  Reply reply;
  switch (raw->type) {
    case REDIS_REPLY_STRING:
      reply.type = Reply::Type::kString;
      reply.str.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_STATUS:
      reply.type = Reply::Type::kStatus;
      reply.str.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_ERROR:
      reply.type = Reply::Type::kError;
      reply.str.assign(raw->str, raw->len);
      break;
    case REDIS_REPLY_INTEGER:
      reply.type = Reply::Type::kInteger;
      reply.integer = raw->integer;
      break;
    case REDIS_REPLY_ARRAY:
      reply.type = Reply::Type::kArray;
      reply.elements.reserve(raw->elements);
      for (size_t i = 0; i < raw->elements; ++i) reply.elements.push_back(Convert(raw->element[i]));
      break;
    default:
      reply.type = Reply::Type::kNil;
  }
  return reply;
}

// Calls a user callback; an exception from it must not tear down the connection.
template <typename F, typename... Args>
void SafeInvoke(const std::string& log_name, F& f, Args&&... args) noexcept {
  storage::jobs::InvokeGuarded({}, log_name, f, std::forward<Args>(args)...);
}

std::string CommandName(const std::vector<std::string>& args) {
  if (args.empty()) return "(empty)";
  std::string name = args.front().substr(0, 32);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
  return name;
}

}  // namespace

bool IsInDoubt(const Status& status) { return status.message().find(kInDoubtMarker) != std::string::npos; }

void EncodeCommand(const std::vector<std::string>& args, std::string& out) {
  fmt::format_to(std::back_inserter(out), "*{}\r\n", args.size());
  for (const std::string& arg : args) {
    fmt::format_to(std::back_inserter(out), "${}\r\n", arg.size());
    out += arg;
    out += "\r\n";
  }
}

class Client::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, ConnectionOptions options, ClientSettings settings)
      : options_(std::move(options)),
        settings_(std::move(settings)),
        strand_(asio::make_strand(io)),
        resolver_(strand_),
        socket_(strand_),
        connect_timer_(strand_),
        retry_timer_(strand_),
        command_timer_(strand_) {}

  ~Impl() {
    if (reader_) redisReaderFree(reader_);
  }

  void Start(StartCallback done) {
    asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
      if (self->state_ != State::kIdle) return;
      self->start_done_ = std::move(done);
      self->start_attempts_left_ = std::max(1, self->options_.connect_retry);
      self->BeginAttempt();
    });
  }

  void Execute(std::vector<std::string> args, Callback done) {
    asio::post(strand_, [self = shared_from_this(), args = std::move(args), done = std::move(done)]() mutable {
      self->ExecuteOnStrand(std::move(args), std::move(done));
    });
  }

  void Stop() {
    asio::post(strand_, [self = shared_from_this()] {
      self->state_ = State::kStopped;
      self->retry_timer_.cancel();
      self->connect_timer_.cancel();
      self->resolver_.cancel();
      self->CloseSocket();
      self->FailAll("Redis client stopped");
    });
  }

  bool connected() const { return connected_.load(); }
  std::string last_error() const {
    std::lock_guard lock(error_mutex_);
    return last_error_;
  }
  ClientCounters counters() const { return {commands_sent_.load(), writes_.load(), connects_.load()}; }
  const ConnectionOptions& options() const { return options_; }
  void SetPushHandler(std::function<bool(const Reply&)> handler) { push_handler_ = std::move(handler); }
  void SetConnectedHandler(std::function<void()> handler) { connected_handler_ = std::move(handler); }

 private:
  enum class State { kIdle, kConnecting, kHandshaking, kConnected, kWaitingToRetry, kStopped };

  struct Pending {
    std::string name;
    Callback done;
    SteadyClock::time_point deadline;
    bool internal = false;  // handshake command: its failure fails the connection attempt
  };
  struct Queued {
    std::string name;
    std::string encoded;
    Callback done;
  };

  void SetLastError(std::string text) {
    std::lock_guard lock(error_mutex_);
    last_error_ = std::move(text);
  }

  std::string NoConnectionMessage(const std::string& command) const {
    return fmt::format("No connection is available to service this operation: {}; {}", command,
                       last_error().empty() ? "not connected to Redis" : last_error());
  }

  void ExecuteOnStrand(std::vector<std::string> args, Callback done) {
    const std::string name = CommandName(args);
    switch (state_) {
      case State::kConnected: {
        std::string encoded;
        EncodeCommand(args, encoded);
        Send(name, encoded, std::move(done), false);
        return;
      }
      case State::kIdle:
      case State::kConnecting:
      case State::kHandshaking: {
        Queued queued{name, {}, std::move(done)};
        EncodeCommand(args, queued.encoded);
        queued_.push_back(std::move(queued));
        return;
      }
      case State::kWaitingToRetry:
        SafeInvoke(settings_.log_name, done, Status::Error(NoConnectionMessage(name)), Reply{});
        return;
      case State::kStopped:
        SafeInvoke(settings_.log_name, done, Status::Error("Redis client stopped"), Reply{});
        return;
    }
  }

  void Send(const std::string& name, const std::string& encoded, Callback done, bool internal) {
    pending_.push_back({name, std::move(done), SteadyClock::now() + options_.command_timeout, internal});
    next_write_ += encoded;
    ++commands_sent_;
    StartWrite();
    ArmCommandTimer();
  }

  // ---- connecting ----

  void BeginAttempt() {
    state_ = State::kConnecting;
    endpoint_index_ = 0;
    attempt_errors_.clear();
    ConnectEndpoint();
  }

  void ConnectEndpoint() {
    if (state_ == State::kStopped) return;
    if (endpoint_index_ >= options_.endpoints.size()) {
      AttemptFailed(
          fmt::format("It was not possible to connect to the redis server(s) {}: {}", EndpointList(), attempt_errors_));
      return;
    }
    const Endpoint& endpoint = options_.endpoints[endpoint_index_];
    const uint64_t attempt = ++attempt_serial_;
    connect_timer_.expires_after(options_.connect_timeout);
    connect_timer_.async_wait([self = shared_from_this(), attempt](const boost::system::error_code& ec) {
      if (ec || attempt != self->attempt_serial_ || self->state_ != State::kConnecting) return;
      self->timed_out_ = true;
      self->resolver_.cancel();
      boost::system::error_code ignored;
      self->socket_.close(ignored);
    });
    timed_out_ = false;
    resolver_.async_resolve(
        endpoint.host, std::to_string(endpoint.port),
        [self = shared_from_this(), attempt](const boost::system::error_code& ec, tcp::resolver::results_type results) {
          if (attempt != self->attempt_serial_ || self->state_ == State::kStopped) return;
          if (ec) return self->EndpointFailed(ec);
          asio::async_connect(self->socket_, results,
                              [self, attempt](const boost::system::error_code& connect_ec, const tcp::endpoint&) {
                                if (attempt != self->attempt_serial_ || self->state_ == State::kStopped) return;
                                if (connect_ec) return self->EndpointFailed(connect_ec);
                                self->Connected();
                              });
        });
  }

  std::string EndpointList() const {
    std::string list;
    for (const Endpoint& endpoint : options_.endpoints) {
      if (!list.empty()) list += ',';
      list += fmt::format("{}:{}", endpoint.host, endpoint.port);
    }
    return list;
  }

  void EndpointFailed(const boost::system::error_code& ec) {
    const Endpoint& endpoint = options_.endpoints[endpoint_index_];
    if (!attempt_errors_.empty()) attempt_errors_ += "; ";
    attempt_errors_ += fmt::format(
        "{}:{} {}", endpoint.host, endpoint.port,
        timed_out_ ? fmt::format("did not connect within {} ms (connectTimeout)", options_.connect_timeout.count())
                   : ec.message());
    CloseSocket();
    ++endpoint_index_;
    ConnectEndpoint();
  }

  void EndpointRejected(const std::string& why) {
    if (!attempt_errors_.empty()) attempt_errors_ += "; ";
    attempt_errors_ += why;
    CloseSocket();
    state_ = State::kConnecting;
    ++endpoint_index_;
    ConnectEndpoint();
  }

  void Connected() {
    connect_timer_.cancel();
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    if (options_.keep_alive.count() > 0) {
      socket_.set_option(asio::socket_base::keep_alive(true), ignored);
      const int idle = static_cast<int>(options_.keep_alive.count());
      ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    }
    if (reader_) redisReaderFree(reader_);
    reader_ = redisReaderCreate();
    state_ = State::kHandshaking;
    StartRead();

    // The handshake goes first on the wire; its replies come back first.
    std::vector<std::vector<std::string>> handshake;
    if (!options_.password.empty()) {
      if (options_.user.empty()) {
        handshake.push_back({"AUTH", options_.password});
      } else {
        handshake.push_back({"AUTH", options_.user, options_.password});
      }
    }
    if (options_.database != 0) handshake.push_back({"SELECT", std::to_string(options_.database)});
    if (!options_.client_name.empty()) handshake.push_back({"CLIENT", "SETNAME", options_.client_name});
    handshake.push_back({"PING"});  // proves the server answers even without any other step
    // With several endpoints, write to the primary: a replica answers writes with READONLY.
    if (options_.endpoints.size() > 1) handshake.push_back({"ROLE"});
    handshake_left_ = handshake.size();
    const Endpoint& endpoint = options_.endpoints[endpoint_index_];
    for (auto& command : handshake) {
      std::string encoded;
      EncodeCommand(command, encoded);
      const std::string name = CommandName(command);
      const uint64_t connection = connection_serial_;
      Send(
          name, encoded,
          [self = shared_from_this(), name, connection, endpoint](Status status, Reply reply) {
            if (connection != self->connection_serial_ || self->state_ != State::kHandshaking) return;
            if (status.ok() && name == "ROLE" && (reply.elements.empty() || reply.elements[0].str != "master")) {
              self->pending_.clear();
              self->EndpointRejected(fmt::format("{}:{} is not a primary (role {})", endpoint.host, endpoint.port,
                                                 reply.elements.empty() ? "unknown" : reply.elements[0].str));
              return;
            }
            if (!status.ok()) {
              self->CloseSocket();
              self->pending_.clear();  // only handshake commands: user commands wait in queued_
              self->AttemptFailed(
                  fmt::format("Redis {}:{} refused {}: {}", endpoint.host, endpoint.port, name, status.message()));
              return;
            }
            if (--self->handshake_left_ == 0) self->HandshakeDone();
          },
          true);
    }
  }

  void HandshakeDone() {
    state_ = State::kConnected;
    connected_ = true;
    ++connects_;
    backoff_ = settings_.initial_backoff;
    SetLastError({});
    const Endpoint& endpoint = options_.endpoints[endpoint_index_];
    spdlog::info("{}: connected to {}:{} (database {})", settings_.log_name, endpoint.host, endpoint.port,
                 options_.database);
    SafeInvoke(settings_.log_name, connected_handler_);
    std::vector<Queued> queued = std::move(queued_);
    queued_.clear();
    for (Queued& command : queued) Send(command.name, command.encoded, std::move(command.done), false);
    if (start_done_) {
      auto done = std::move(start_done_);
      start_done_ = nullptr;
      SafeInvoke(settings_.log_name, done, Status::Ok());
    }
  }

  void AttemptFailed(std::string message) {
    if (state_ == State::kStopped) return;
    connect_timer_.cancel();
    SetLastError(message);
    state_ = State::kWaitingToRetry;
    std::vector<Queued> queued = std::move(queued_);
    queued_.clear();
    for (Queued& command : queued) {
      SafeInvoke(settings_.log_name, command.done, Status::Error(NoConnectionMessage(command.name)), Reply{});
    }
    if (start_done_ && --start_attempts_left_ <= 0) {
      auto done = std::move(start_done_);
      start_done_ = nullptr;
      SafeInvoke(settings_.log_name, done, Status::Error(message));
    }
    spdlog::warn("{}: {}; retrying in {} ms", settings_.log_name, message, backoff_.count());
    retry_timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, settings_.max_backoff);
    retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->state_ != State::kWaitingToRetry) return;
      self->BeginAttempt();
    });
  }

  void ConnectionLost(const std::string& reason) {
    if (state_ == State::kStopped || state_ == State::kWaitingToRetry) return;
    const bool was_handshaking = state_ == State::kHandshaking || state_ == State::kConnecting;
    CloseSocket();
    FailAll(fmt::format("Redis connection lost ({}); {}", reason, kInDoubtMarker));
    if (!was_handshaking) spdlog::warn("{}: connection lost: {}", settings_.log_name, reason);
    AttemptFailed(fmt::format("Redis connection lost: {}", reason));
  }

  void CloseSocket() {
    ++connection_serial_;
    connected_ = false;
    boost::system::error_code ignored;
    socket_.close(ignored);
    command_timer_.cancel();
    writing_ = false;
    write_buffer_.clear();
    next_write_.clear();
  }

  void FailAll(const std::string& message) {
    std::deque<Pending> pending = std::move(pending_);
    pending_.clear();
    for (Pending& command : pending) {
      if (command.internal) continue;  // the attempt reports its own failure
      SafeInvoke(settings_.log_name, command.done, Status::Error(message), Reply{});
    }
    std::vector<Queued> queued = std::move(queued_);
    queued_.clear();
    for (Queued& command : queued) SafeInvoke(settings_.log_name, command.done, Status::Error(message), Reply{});
  }

  // ---- I/O ----

  void StartWrite() {
    if (writing_ || next_write_.empty()) return;
    if (state_ != State::kConnected && state_ != State::kHandshaking) return;
    writing_ = true;
    write_buffer_.swap(next_write_);
    next_write_.clear();
    ++writes_;
    const uint64_t connection = connection_serial_;
    asio::async_write(socket_, asio::buffer(write_buffer_),
                      [self = shared_from_this(), connection](const boost::system::error_code& ec, size_t) {
                        if (connection != self->connection_serial_) return;
                        self->writing_ = false;
                        if (ec) return self->ConnectionLost(ec.message());
                        self->write_buffer_.clear();
                        self->StartWrite();
                      });
  }

  void StartRead() {
    const uint64_t connection = connection_serial_;
    socket_.async_read_some(asio::buffer(read_buffer_), [self = shared_from_this(), connection](
                                                            const boost::system::error_code& ec, size_t bytes) {
      if (connection != self->connection_serial_) return;
      if (ec) return self->ConnectionLost(ec == asio::error::eof ? "closed by the server" : ec.message());
      if (redisReaderFeed(self->reader_, self->read_buffer_.data(), bytes) != REDIS_OK) {
        return self->ConnectionLost(fmt::format("protocol error: {}", self->reader_->errstr));
      }
      if (!self->DrainReplies(connection)) return;
      self->StartRead();
    });
  }

  // Hands every complete reply to its command; false when the connection went away meanwhile.
  bool DrainReplies(uint64_t connection) {
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
        ConnectionLost(fmt::format("protocol error: {}", reader_->errstr));
        return false;
      }
      if (raw == nullptr) return true;
      Reply reply = Convert(static_cast<redisReply*>(raw));
      freeReplyObject(raw);
      if (push_handler_ && state_ == State::kConnected && push_handler_(reply)) {
        if (connection != connection_serial_) return false;
        continue;
      }
      if (pending_.empty()) {
        ConnectionLost("a reply arrived for no command");
        return false;
      }
      Pending command = std::move(pending_.front());
      pending_.pop_front();
      Status status = reply.is_error() ? Status::Error(reply.str) : Status::Ok();
      SafeInvoke(settings_.log_name, command.done, std::move(status), std::move(reply));
      // The callback may have stopped the client or lost the connection.
      if (connection != connection_serial_) return false;
    }
  }

  void ArmCommandTimer() {
    if (timer_armed_ || pending_.empty()) return;
    timer_armed_ = true;
    command_timer_.expires_at(pending_.front().deadline);
    const uint64_t connection = connection_serial_;
    command_timer_.async_wait([self = shared_from_this(), connection](const boost::system::error_code&) {
      self->timer_armed_ = false;
      if (self->pending_.empty()) return;
      // Cancelled with an earlier connection: the current one's commands still need a timer.
      if (connection != self->connection_serial_) return self->ArmCommandTimer();
      if (self->pending_.front().deadline > SteadyClock::now()) return self->ArmCommandTimer();
      const std::string name = self->pending_.front().name;
      const std::string reason =
          fmt::format("Timeout performing {} ({} ms, syncTimeout); the connection is replaced; {}", name,
                      self->options_.command_timeout.count(), kInDoubtMarker);
      spdlog::warn("{}: {}", self->settings_.log_name, reason);
      const bool handshaking = self->state_ == State::kHandshaking;
      self->CloseSocket();
      self->FailAll(reason);
      self->AttemptFailed(handshaking ? fmt::format("Redis did not answer {} during the handshake", name) : reason);
    });
  }

  ConnectionOptions options_;
  ClientSettings settings_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer connect_timer_;
  asio::steady_timer retry_timer_;
  asio::steady_timer command_timer_;

  State state_ = State::kIdle;
  redisReader* reader_ = nullptr;
  std::array<char, 64 * 1024> read_buffer_{};
  std::string write_buffer_;
  std::string next_write_;
  bool writing_ = false;
  bool timer_armed_ = false;
  bool timed_out_ = false;
  std::deque<Pending> pending_;
  std::vector<Queued> queued_;
  size_t endpoint_index_ = 0;
  size_t handshake_left_ = 0;
  std::string attempt_errors_;
  uint64_t attempt_serial_ = 0;
  uint64_t connection_serial_ = 0;
  int start_attempts_left_ = 1;
  StartCallback start_done_;
  std::chrono::milliseconds backoff_{settings_.initial_backoff};
  std::function<bool(const Reply&)> push_handler_;
  std::function<void()> connected_handler_;

  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> commands_sent_{0};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> connects_{0};
  mutable std::mutex error_mutex_;
  std::string last_error_;
};

Client::Client(asio::io_context& io, ConnectionOptions options, ClientSettings settings)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(settings))) {}
Client::~Client() { impl_->Stop(); }
void Client::Start(StartCallback done) { impl_->Start(std::move(done)); }
void Client::Execute(std::vector<std::string> args, Callback done) { impl_->Execute(std::move(args), std::move(done)); }
void Client::Stop() { impl_->Stop(); }
bool Client::connected() const { return impl_->connected(); }
std::string Client::last_error() const { return impl_->last_error(); }
ClientCounters Client::counters() const { return impl_->counters(); }
const ConnectionOptions& Client::options() const { return impl_->options(); }
void Client::SetPushHandler(std::function<bool(const Reply&)> handler) { impl_->SetPushHandler(std::move(handler)); }
void Client::SetConnectedHandler(std::function<void()> handler) { impl_->SetConnectedHandler(std::move(handler)); }

}  // namespace opstream::redis
