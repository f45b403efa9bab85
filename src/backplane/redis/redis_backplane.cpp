#include "backplane/redis/redis_backplane.hpp"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "backplane/messages.hpp"
#include "common/ids.hpp"
#include "common/logging.hpp"
#include "storage/redis/redis_client.hpp"

namespace opstream::backplane {
namespace {

namespace asio = boost::asio;

const std::shared_ptr<spdlog::logger>& Log() {
  static const auto logger = GetLogger("OpStream.Server.Backplane.Redis.RedisBackplane");
  return logger;
}

// Extends the lease only while this node holds it; takes the key again when it vanished (Redis
// restarted without persistence): the store's per-revision uniqueness keeps that safe even if
// another node wrote meanwhile, because this node's next append then fails and reloads.
constexpr std::string_view kRenewScript =
    "local v = redis.call('GET', KEYS[1]) "
    "if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end "
    "return 0";
constexpr std::string_view kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

}  // namespace

std::string NewNodeId() {
  std::string id = NewUuid();
  std::erase(id, '-');
  return id;
}

class RedisBackplane::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, redis::ConnectionOptions options, RedisBackplaneSettings settings)
      : io_(io),
        settings_(std::move(settings)),
        node_id_(settings_.node_id.empty() ? NewNodeId() : settings_.node_id),
        subscriber_(io, options, {std::chrono::milliseconds(100), std::chrono::milliseconds(5000), "backplane-sub"}),
        publisher_(io, options, {std::chrono::milliseconds(100), std::chrono::milliseconds(5000), "backplane-pub"}),
        owner_(io, options, {std::chrono::milliseconds(100), std::chrono::milliseconds(5000), "backplane-owner"}),
        renew_timer_(io),
        last_renewal_(std::chrono::steady_clock::now()) {}

  struct Entry {
    Handler handler;
    std::atomic<bool> active{true};
  };
  struct Channel {
    std::vector<std::shared_ptr<Entry>> entries;
    bool confirmed = false;
    std::vector<SubscribedCompletion> waiters;
  };
  struct Pending {
    ResponseCompletion done;
    std::shared_ptr<asio::steady_timer> timer;
  };

  void Start(std::function<void(Status)> done) {
    std::weak_ptr<Impl> weak = weak_from_this();
    subscriber_.SetPushHandler([weak](const redis::Reply& reply) {
      // Pub/sub deliveries have no command; subscribe confirmations answer their SUBSCRIBE.
      if (reply.type != redis::Reply::Type::kArray || reply.elements.size() != 3 ||
          reply.elements[0].str != "message") {
        return false;
      }
      if (auto self = weak.lock()) self->OnDelivery(reply.elements[1].str, reply.elements[2].str);
      return true;
    });
    subscriber_.SetConnectedHandler([weak] {
      if (auto self = weak.lock()) self->Resubscribe();
    });
    struct Join {
      std::mutex mutex;
      int left = 3;
      Status first_failure;
      std::function<void(Status)> done;
    };
    auto join = std::make_shared<Join>();
    join->done = std::move(done);
    auto one = [join](Status status) {
      std::unique_lock lock(join->mutex);
      if (!status.ok() && join->first_failure.ok()) join->first_failure = status;
      if (--join->left != 0) return;
      auto result = join->first_failure;
      auto callback = std::move(join->done);
      lock.unlock();
      if (callback) callback(result);
    };
    // The subscriber counts once both own channels are subscribed (or once it failed): a node
    // must not send requests before it can hear their answers, nor look alive before it can hear
    // requests.
    auto subscriber_once = std::make_shared<std::once_flag>();
    auto subscriber_done = [one, subscriber_once](Status status) {
      std::call_once(*subscriber_once, [&] { one(std::move(status)); });
    };
    auto channels_left = std::make_shared<std::atomic<int>>(2);
    {
      std::lock_guard lock(mutex_);
      for (const auto& name : {RequestChannel(node_id_), ResponseChannel(node_id_)}) {
        channels_[name].waiters.push_back([subscriber_done, channels_left](Status status) {
          if (!status.ok()) return subscriber_done(std::move(status));
          if (channels_left->fetch_sub(1) == 1) subscriber_done(Status::Ok());
        });
      }
    }
    subscriber_.Start([subscriber_done](Status status) {
      if (!status.ok()) subscriber_done(std::move(status));
    });
    publisher_.Start(one);
    owner_.Start(one);
    ScheduleRenewal();
  }

  void Stop() {
    stopped_ = true;
    renew_timer_.cancel();
    subscriber_.Stop();
    publisher_.Stop();
    owner_.Stop();
    std::unordered_map<std::string, Pending> pending;
    {
      std::lock_guard lock(mutex_);
      pending.swap(pending_);
    }
    for (auto& [id, call] : pending) {
      call.timer->cancel();
      call.done(Response::Failure(std::string(kRequestTimedOut)));
    }
  }

  const std::string& node_id() const { return node_id_; }

  // ---- pub/sub ----

  void Publish(const std::string& topic, Message message) {
    if (message.sender_node_id.empty()) message.sender_node_id = node_id_;
    publisher_.Execute({"PUBLISH", DocumentChannel(topic), EncodeMessage(message)},
                       [topic](Status status, redis::Reply) {
                         if (!status.ok()) Log()->warn("Publish to {} failed: {}", topic, status.message());
                       });
  }

  std::shared_ptr<Entry> Subscribe(const std::string& topic, Handler handler, SubscribedCompletion subscribed) {
    auto entry = std::make_shared<Entry>();
    entry->handler = std::move(handler);
    const std::string name = DocumentChannel(topic);
    bool send = false;
    {
      std::lock_guard lock(mutex_);
      auto& channel = channels_[name];
      send = channel.entries.empty();
      channel.entries.push_back(entry);
      if (subscribed) {
        if (channel.confirmed) {
          // Already in place on the server: answer outside the lock.
          asio::post(io_, [subscribed = std::move(subscribed)] { subscribed(Status::Ok()); });
        } else {
          channel.waiters.push_back(std::move(subscribed));
        }
      }
    }
    if (send) SendSubscribe(name);
    return entry;
  }

  void Unsubscribe(const std::string& topic, const std::shared_ptr<Entry>& entry) {
    entry->active = false;
    const std::string name = DocumentChannel(topic);
    {
      std::lock_guard lock(mutex_);
      auto it = channels_.find(name);
      if (it == channels_.end()) return;
      std::erase(it->second.entries, entry);
      if (!it->second.entries.empty()) return;
      for (auto& waiter : it->second.waiters) asio::post(io_, [waiter] { waiter(Status::Error("unsubscribed")); });
      channels_.erase(it);
    }
    if (stopped_) return;
    subscriber_.Execute({"UNSUBSCRIBE", name}, [](Status, redis::Reply) {});
  }

  void SendSubscribe(const std::string& name) {
    if (stopped_) return;
    std::weak_ptr<Impl> weak = weak_from_this();
    subscriber_.Execute({"SUBSCRIBE", name}, [weak, name](Status status, redis::Reply) {
      auto self = weak.lock();
      if (!self) return;
      std::vector<SubscribedCompletion> waiters;
      {
        std::lock_guard lock(self->mutex_);
        auto it = self->channels_.find(name);
        if (it == self->channels_.end()) return;
        // A failed SUBSCRIBE is retried by Resubscribe after the reconnect; waiters learn now.
        it->second.confirmed = status.ok();
        waiters.swap(it->second.waiters);
      }
      if (!status.ok()) Log()->warn("Subscribing {} failed: {}", name, status.message());
      for (auto& waiter : waiters) waiter(status);
    });
  }

  void Resubscribe() {
    std::vector<std::string> names;
    {
      std::lock_guard lock(mutex_);
      names.push_back(RequestChannel(node_id_));
      names.push_back(ResponseChannel(node_id_));
      for (auto& [name, channel] : channels_) {
        channel.confirmed = false;
        if (name != names[0] && name != names[1]) names.push_back(name);
      }
    }
    Log()->info("Backplane node {} subscribing {} channels", node_id_, names.size());
    for (const auto& name : names) SendSubscribe(name);
  }

  // Runs on the subscriber's strand: one delivery at a time, in the order Redis sent them.
  void OnDelivery(const std::string& channel, const std::string& body) {
    if (stopped_) return;
    if (channel == own_request_channel_) return OnRequest(body);
    if (channel == own_response_channel_) return OnResponse(body);
    Message message;
    if (auto decoded = DecodeMessage(body, message); !decoded.ok()) {
      Log()->warn("Dropped a malformed message on {}: {}", channel, decoded.message());
      return;
    }
    std::vector<std::shared_ptr<Entry>> entries;
    {
      std::lock_guard lock(mutex_);
      auto it = channels_.find(channel);
      if (it == channels_.end()) return;
      entries = it->second.entries;
    }
    for (const auto& entry : entries) {
      if (!entry->active) continue;
      try {
        entry->handler(message);
      } catch (const std::exception& e) {
        Log()->error("Handler of {} failed: {}", channel, e.what());
      }
    }
  }

  // ---- requests ----

  void SetRequestHandler(RequestHandler handler) {
    std::lock_guard lock(mutex_);
    request_handler_ = std::make_shared<RequestHandler>(std::move(handler));
  }

  void OnRequest(const std::string& body) {
    Request request;
    if (auto decoded = DecodeRequest(body, request); !decoded.ok()) {
      Log()->warn("Dropped a malformed request: {}", decoded.message());
      return;
    }
    std::shared_ptr<RequestHandler> handler;
    {
      std::lock_guard lock(mutex_);
      handler = request_handler_;
    }
    const std::string reply_channel = ResponseChannel(request.sender_node_id);
    const std::string request_id = request.request_id;
    std::weak_ptr<Impl> weak = weak_from_this();
    auto respond = [weak, reply_channel, request_id](Response response) {
      auto self = weak.lock();
      if (!self || self->stopped_) return;
      response.request_id = request_id;
      if (!response.success && !response.error_message) response.error_message = "Remote node execution failed";
      self->publisher_.Execute({"PUBLISH", reply_channel, EncodeResponse(response)}, [](Status, redis::Reply) {});
    };
    // §4.9 item 3: a request this node cannot serve is answered, never dropped.
    if (!handler || !*handler) return respond(Response::Failure("No request handler registered on this node."));
    try {
      (*handler)(std::move(request), std::move(respond));
    } catch (const std::exception& e) {
      Log()->error("Request handler failed: {}", e.what());
    }
  }

  void OnResponse(const std::string& body) {
    Response response;
    if (auto decoded = DecodeResponse(body, response); !decoded.ok()) {
      Log()->warn("Dropped a malformed response: {}", decoded.message());
      return;
    }
    const std::string id = response.request_id;  // not read after the move below
    Complete(id, std::move(response));
  }

  void Complete(const std::string& request_id, Response response) {
    Pending call;
    {
      std::lock_guard lock(mutex_);
      auto it = pending_.find(request_id);
      if (it == pending_.end()) return;  // unknown or already timed out
      call = std::move(it->second);
      pending_.erase(it);
    }
    call.timer->cancel();
    call.done(std::move(response));
  }

  void SendRequest(const std::string& target, std::string type, std::string payload, std::chrono::milliseconds timeout,
                   ResponseCompletion done) {
    Request request{NewNodeId(), node_id_, std::move(type), std::move(payload)};
    const std::string id = request.request_id;
    auto timer = std::make_shared<asio::steady_timer>(io_, timeout);
    {
      std::lock_guard lock(mutex_);
      pending_.emplace(id, Pending{std::move(done), timer});
    }
    std::weak_ptr<Impl> weak = weak_from_this();
    timer->async_wait([weak, id](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->Complete(id, Response::Failure(std::string(kRequestTimedOut)));
    });
    publisher_.Execute({"PUBLISH", RequestChannel(target), EncodeRequest(request)},
                       [weak, id, target](Status status, redis::Reply reply) {
                         auto self = weak.lock();
                         if (!self) return;
                         if (!status.ok()) {
                           return self->Complete(
                               id, Response::Failure(fmt::format("Backplane request failed: {}", status.message())));
                         }
                         // Nobody listens on the target's request channel: the node is gone, so
                         // waiting for the timeout would only delay the caller's retry.
                         if (reply.type == redis::Reply::Type::kInteger && reply.integer == 0) {
                           Log()->warn("Request {} to node {}: no such node is subscribed", id, target);
                           auto failure = Response::Failure(std::string(kRequestTimedOut));
                           failure.target_unreachable = true;
                           self->Complete(id, std::move(failure));
                         }
                       });
  }

  // ---- ownership ----

  void SetOwnershipLostHandler(OwnershipLostHandler handler) {
    std::lock_guard lock(mutex_);
    lost_handler_ = std::make_shared<OwnershipLostHandler>(std::move(handler));
  }

  void GetOrAcquireOwner(const std::string& document_id, OwnerCompletion done, int attempt = 0) {
    std::weak_ptr<Impl> weak = weak_from_this();
    owner_.Execute({"SET", OwnerKey(document_id), node_id_, "PX", std::to_string(settings_.lease.count()), "NX"},
                   [weak, document_id, done = std::move(done), attempt](Status status, redis::Reply reply) mutable {
                     auto self = weak.lock();
                     if (!self) return;
                     if (!status.ok()) return done(status, {});
                     if (!reply.is_nil()) {
                       self->Hold(document_id);
                       return done(Status::Ok(), self->node_id_);
                     }
                     self->owner_.Execute(
                         {"GET", OwnerKey(document_id)}, [weak, document_id, done = std::move(done), attempt](
                                                             Status status, redis::Reply reply) mutable {
                           auto self = weak.lock();
                           if (!self) return;
                           if (!status.ok()) return done(status, {});
                           if (reply.is_nil()) {
                             // Expired between SET and GET: try again rather than own it without the key.
                             if (attempt < 3) return self->GetOrAcquireOwner(document_id, std::move(done), attempt + 1);
                             return done(Status::Error("Document ownership could not be resolved."), {});
                           }
                           if (reply.str == self->node_id_) self->Hold(document_id);
                           done(Status::Ok(), reply.str);
                         });
                   });
  }

  void Hold(const std::string& document_id) {
    std::lock_guard lock(mutex_);
    held_.insert(document_id);
  }

  void ReleaseOwnership(const std::string& document_id) {
    {
      std::lock_guard lock(mutex_);
      if (held_.erase(document_id) == 0) return;
    }
    if (stopped_) return;
    owner_.Execute({"EVAL", std::string(kReleaseScript), "1", OwnerKey(document_id), node_id_},
                   [document_id](Status status, redis::Reply) {
                     if (!status.ok()) Log()->warn("Releasing {} failed: {}", document_id, status.message());
                   });
  }

  void EvictDeadOwner(const std::string& document_id, const std::string& dead_node_id) {
    if (stopped_ || dead_node_id == node_id_) return;
    Log()->warn("Node {} is gone; removing its lease on document {}", dead_node_id, document_id);
    owner_.Execute({"EVAL", std::string(kReleaseScript), "1", OwnerKey(document_id), dead_node_id},
                   [](Status, redis::Reply) {});
  }

  void ScheduleRenewal() {
    if (stopped_) return;
    renew_timer_.expires_after(settings_.renew_interval);
    std::weak_ptr<Impl> weak = weak_from_this();
    renew_timer_.async_wait([weak](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        self->RenewAll();
        self->ScheduleRenewal();
      }
    });
  }

  void RenewAll() {
    std::vector<std::string> documents;
    {
      std::lock_guard lock(mutex_);
      documents.assign(held_.begin(), held_.end());
    }
    const auto now = std::chrono::steady_clock::now();
    if (!owner_.connected()) {
      // Without Redis the lease cannot be kept; once it has surely lapsed another node may own
      // the document, so this node stops serving it.
      if (now - last_renewal_.load() > settings_.lease) {
        for (const auto& document : documents) Lost(document);
      }
      return;
    }
    last_renewal_ = now;
    std::weak_ptr<Impl> weak = weak_from_this();
    for (const auto& document : documents) {
      owner_.Execute({"EVAL", std::string(kRenewScript), "1", OwnerKey(document), node_id_,
                      std::to_string(settings_.lease.count())},
                     [weak, document](Status status, redis::Reply reply) {
                       auto self = weak.lock();
                       if (!self || !status.ok()) return;  // a transport failure is judged by the next round
                       if (reply.type == redis::Reply::Type::kInteger && reply.integer == 0) self->Lost(document);
                     });
    }
  }

  void Lost(const std::string& document_id) {
    std::shared_ptr<OwnershipLostHandler> handler;
    {
      std::lock_guard lock(mutex_);
      if (held_.erase(document_id) == 0) return;
      handler = lost_handler_;
    }
    Log()->warn("Node {} lost ownership of document {}", node_id_, document_id);
    if (handler && *handler) (*handler)(document_id);
  }

  // ---- health ----

  void CheckHealth(storage::DocumentStore::HealthCompletion done) {
    if (!subscriber_.connected()) {
      return done({storage::HealthStatus::kUnhealthy,
                   fmt::format("Redis backplane subscriber is disconnected: {}", subscriber_.last_error())});
    }
    publisher_.Execute({"PING"}, [done = std::move(done)](Status status, redis::Reply) {
      if (status.ok()) return done({storage::HealthStatus::kHealthy, "Redis backplane"});
      done({storage::HealthStatus::kUnhealthy, fmt::format("Redis backplane PING failed: {}", status.message())});
    });
  }

 private:
  asio::io_context& io_;
  const RedisBackplaneSettings settings_;
  const std::string node_id_;
  const std::string own_request_channel_ = RequestChannel(node_id_);
  const std::string own_response_channel_ = ResponseChannel(node_id_);
  redis::Client subscriber_;
  redis::Client publisher_;
  redis::Client owner_;
  asio::steady_timer renew_timer_;
  std::atomic<std::chrono::steady_clock::time_point> last_renewal_;
  std::atomic<bool> stopped_{false};

  std::mutex mutex_;
  std::unordered_map<std::string, Channel> channels_;
  std::unordered_map<std::string, Pending> pending_;
  std::unordered_set<std::string> held_;
  std::shared_ptr<RequestHandler> request_handler_;
  std::shared_ptr<OwnershipLostHandler> lost_handler_;
};

namespace {
class RedisSubscription final : public Subscription {
 public:
  RedisSubscription(std::weak_ptr<RedisBackplane::Impl> impl, std::string topic,
                    std::shared_ptr<RedisBackplane::Impl::Entry> entry)
      : impl_(std::move(impl)), topic_(std::move(topic)), entry_(std::move(entry)) {}
  ~RedisSubscription() override {
    if (auto impl = impl_.lock()) impl->Unsubscribe(topic_, entry_);
  }

 private:
  std::weak_ptr<RedisBackplane::Impl> impl_;
  std::string topic_;
  std::shared_ptr<RedisBackplane::Impl::Entry> entry_;
};
}  // namespace

RedisBackplane::RedisBackplane(boost::asio::io_context& io, redis::ConnectionOptions options,
                               RedisBackplaneSettings settings)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(settings))) {}
RedisBackplane::~RedisBackplane() { Stop(); }

void RedisBackplane::Start(std::function<void(Status)> done) { impl_->Start(std::move(done)); }
void RedisBackplane::Stop() { impl_->Stop(); }
const std::string& RedisBackplane::node_id() const { return impl_->node_id(); }
void RedisBackplane::Publish(const std::string& topic, Message message) { impl_->Publish(topic, std::move(message)); }
std::unique_ptr<Subscription> RedisBackplane::Subscribe(const std::string& topic, Handler handler,
                                                        SubscribedCompletion subscribed) {
  auto entry = impl_->Subscribe(topic, std::move(handler), std::move(subscribed));
  return std::make_unique<RedisSubscription>(impl_, topic, std::move(entry));
}
void RedisBackplane::SendRequest(const std::string& target_node_id, std::string type, std::string payload,
                                 std::chrono::milliseconds timeout, ResponseCompletion done) {
  impl_->SendRequest(target_node_id, std::move(type), std::move(payload), timeout, std::move(done));
}
void RedisBackplane::SetRequestHandler(RequestHandler handler) { impl_->SetRequestHandler(std::move(handler)); }
void RedisBackplane::GetOrAcquireOwner(const std::string& document_id, OwnerCompletion done) {
  impl_->GetOrAcquireOwner(document_id, std::move(done));
}
void RedisBackplane::ReleaseOwnership(const std::string& document_id) { impl_->ReleaseOwnership(document_id); }
void RedisBackplane::SetOwnershipLostHandler(OwnershipLostHandler handler) {
  impl_->SetOwnershipLostHandler(std::move(handler));
}
void RedisBackplane::EvictDeadOwner(const std::string& document_id, const std::string& dead_node_id) {
  impl_->EvictDeadOwner(document_id, dead_node_id);
}
void RedisBackplane::CheckHealth(storage::DocumentStore::HealthCompletion done) { impl_->CheckHealth(std::move(done)); }

}  // namespace opstream::backplane
