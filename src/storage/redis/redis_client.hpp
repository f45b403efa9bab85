#pragma once
// An asynchronous Redis client on Asio: one TCP connection, RESP2, pipelined commands.
//
// Lives in the storage layer because opstream_core (storage and backplane) must not depend on
// opstream_net; the Redis backplane (issue 7) reuses it from src/backplane/.
//
// * Commands are written as soon as they are issued, many in flight; replies are matched to
//   commands in order (RESP guarantees it). Writes issued while a write is under way are
//   coalesced into the next one, so a burst of commands costs one system call.
// * Connecting: each endpoint of the connection string in turn, with connectTimeout; then AUTH
//   (user/password), SELECT (defaultDatabase) and CLIENT SETNAME (name) before any command.
//   Commands issued while a connection attempt is under way wait for it.
// * A lost connection fails every command awaiting a reply ("may or may not have been
//   executed") and reconnects in the background with exponential backoff; between attempts
//   commands fail at once with "No connection is available ...", never queue without bound.
// * A command without a reply after syncTimeout fails, together with every later command on the
//   connection, and the connection is replaced: in-order matching cannot skip a reply, and a
//   server that stops answering is best treated as lost.
// * Subscriber use (issue 7): SetPushHandler sees every reply first and may consume it (pub/sub
//   messages arrive without a command); SetConnectedHandler runs after every (re)connect, before
//   queued commands are sent, to restore subscriptions.
//
// Thread-safety: Execute, Stop and the accessors may be called from any thread. Callbacks and
// handlers run on the client's strand of the io_context passed in.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "storage/redis/redis_connection_string.hpp"

namespace boost::asio {
class io_context;
}

namespace opstream::redis {

struct Reply {
  enum class Type { kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = Type::kNil;
  std::string str;  // bulk string, status or error text
  int64_t integer = 0;
  std::vector<Reply> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
};

struct ClientSettings {
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  std::string log_name = "redis";  // prefix of log lines: which client this is
};

struct ClientCounters {
  uint64_t commands_sent = 0;
  uint64_t writes = 0;  // socket writes; commands_sent / writes is the pipelining factor
  uint64_t connects = 0;
};

class Client {
 public:
  // Transport failures (not connected, connection lost, timeout) and Redis error replies both
  // arrive as an error Status; for an error reply `reply` holds it too (type kError).
  using Callback = std::function<void(Status status, Reply reply)>;
  using StartCallback = std::function<void(Status)>;

  Client(boost::asio::io_context& io, ConnectionOptions options, ClientSettings settings = {});
  // Stops (see Stop). Completions still pending afterwards are dropped with the io_context.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Starts connecting. `done` reports the first connection: success, or failure after
  // connectRetry attempts (at least one). Reconnecting continues in the background either way.
  void Start(StartCallback done);
  // Sends one command (argv form: binary-safe arguments).
  void Execute(std::vector<std::string> args, Callback done);
  // Closes the connection; every command awaiting a reply fails with "Redis client stopped".
  void Stop();

  bool connected() const;
  std::string last_error() const;
  ClientCounters counters() const;
  const ConnectionOptions& options() const;

  // See the file comment. Set before Start.
  void SetPushHandler(std::function<bool(const Reply&)> handler);
  void SetConnectedHandler(std::function<void()> handler);

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

// Ends the message of a command that was sent but whose reply was lost (connection lost, timeout):
// Redis may or may not have executed it. Callers that must know check the data afterwards.
inline constexpr std::string_view kInDoubtMarker = "the command may or may not have been executed";
bool IsInDoubt(const Status& status);

// RESP2 encoding of one command, appended to `out` (exposed for tests).
void EncodeCommand(const std::vector<std::string>& args, std::string& out);

}  // namespace opstream::redis
