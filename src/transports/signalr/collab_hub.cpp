#include "transports/signalr/collab_hub.hpp"

#include <fmt/format.h>

#include "common/text.hpp"
#include "net/await.hpp"
#include "session/validation.hpp"
#include "transports/signalr/hub_binder.hpp"

namespace opstream::transports::signalr {
namespace asio = boost::asio;

std::string MethodDoesNotExist(std::string_view target) {
  return fmt::format("Failed to invoke '{}' due to an error on the server. HubException: Method does not exist.",
                     target);
}

std::string BindingFailed(std::string_view target) {
  return fmt::format("Failed to invoke '{}' due to an error on the server.", target);
}

std::string HubError(std::string_view target, std::string_view error) {
  return fmt::format("An unexpected error occurred invoking '{}' on the server. HubException: {}", target, error);
}

namespace {

enum class Method {
  kJoinDocument,
  kSendOp,
  kUpdateAwareness,
  kCreateComment,
  kEditComment,
  kResolveComment,
  kDeleteComment,
  kListOpenComments,
  kUnknown
};

// Hub methods are looked up case-insensitively (OP-37).
Method FindMethod(std::string_view target) {
  static constexpr std::pair<std::string_view, Method> kMethods[] = {
      {"JoinDocument", Method::kJoinDocument},       {"SendOp", Method::kSendOp},
      {"UpdateAwareness", Method::kUpdateAwareness}, {"CreateComment", Method::kCreateComment},
      {"EditComment", Method::kEditComment},         {"ResolveComment", Method::kResolveComment},
      {"DeleteComment", Method::kDeleteComment},     {"ListOpenComments", Method::kListOpenComments},
  };
  for (const auto& [name, method] : kMethods) {
    if (AsciiIEquals(name, target)) return method;
  }
  return Method::kUnknown;
}

// This build's session layer has no comments; the raw WebSocket transport answers the same text.
constexpr std::string_view kCommentsUnavailable = "Comments are not available on this server.";

}  // namespace

asio::awaitable<void> CollabHub::Invoke(std::shared_ptr<HubConnection> connection, HubMessage message) {
  co_await net::AwaitCallback<bool>([&](std::function<void(bool)> resume) {
    std::function<void()> done = [resume = std::move(resume)] { resume(true); };
    TryStart(connection, message, done);
  });
}

// Every method completes by callback (the session layer's), so the whole hub is TryStart and the
// coroutine form above only waits for it.
bool CollabHub::TryStart(const std::shared_ptr<HubConnection>& connection, HubMessage& message,
                         std::function<void()>& done_ref) {
  std::function<void()> done = std::move(done_ref);
  const auto& id = message.invocation_id;
  auto error = [&](std::string text) {
    if (id) connection->CompleteError(*id, std::move(text));
    done();
    return true;
  };
  const auto method = FindMethod(message.target);
  std::vector<BoundArgument> args;
  bool bound = false;
  switch (method) {
    case Method::kUnknown:
      return error(MethodDoesNotExist(message.target));
    case Method::kJoinDocument:
      bound = BindArguments({ParamKind::kString, ParamKind::kString, ParamKind::kInt32}, message.arguments, args);
      break;
    case Method::kSendOp:
      bound = BindArguments({ParamKind::kString, ParamKind::kBytes, ParamKind::kInt64}, message.arguments, args);
      break;
    case Method::kUpdateAwareness:
      bound = BindArguments({ParamKind::kString, ParamKind::kJson}, message.arguments, args);
      break;
    case Method::kCreateComment:
      bound = BindArguments({ParamKind::kString, ParamKind::kObject}, message.arguments, args);
      break;
    case Method::kEditComment:
      bound = BindArguments({ParamKind::kString, ParamKind::kString, ParamKind::kString}, message.arguments, args);
      break;
    case Method::kResolveComment:
    case Method::kDeleteComment:
      bound = BindArguments({ParamKind::kString, ParamKind::kString}, message.arguments, args);
      break;
    case Method::kListOpenComments:
      bound = BindArguments({ParamKind::kString}, message.arguments, args);
      break;
  }
  if (!bound) return error(BindingFailed(message.target));

  if (method != Method::kJoinDocument && method != Method::kSendOp && method != Method::kUpdateAwareness) {
    return error(HubError(message.target, kCommentsUnavailable));
  }

  const session::CorrelationId correlation = id;
  std::shared_ptr<session::Connection> peer = connection;
  if (method == Method::kUpdateAwareness) {
    // OP-21: rejected updates are answered with an invocation error instead of a silent null.
    router_.UpdateAwareness(peer, correlation, std::move(args[0].text), args[1].text, true,
                            [connection, id, target = message.target, done = std::move(done)](bool success) {
                              if (id && !connection->responded()) {
                                if (success) {
                                  connection->CompleteNull(*id);
                                } else {
                                  connection->CompleteError(*id, HubError(target, session::kNotJoined));
                                }
                              }
                              done();
                            });
    return true;
  }
  // The session answers joins and ops itself; this covers a request it dropped without a word.
  auto answered = [connection, id, target = message.target, done = std::move(done)](bool) {
    if (id && !connection->responded()) {
      connection->CompleteError(*id, fmt::format("An unexpected error occurred invoking '{}' on the server.", target));
    }
    done();
  };
  if (method == Method::kJoinDocument) {
    router_.Join(peer, correlation, std::move(args[0].text), std::move(args[1].text), args[2].integer,
                 std::move(answered));
  } else {
    router_.SubmitOp(peer, correlation, std::move(args[0].text), std::move(args[1].text), args[2].integer,
                     std::move(answered));
  }
  return true;
}

void CollabHub::OnDisconnected(const std::shared_ptr<HubConnection>& connection) { router_.Disconnect(connection); }

}  // namespace opstream::transports::signalr
