#include "transports/grpc/grpc_service.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <string_view>

#include "common/ids.hpp"
#include "common/logging.hpp"
#include "opstream.pb.h"
#include "reflection.pb.h"
#include "transports/grpc/framing.hpp"

namespace opstream::transports::grpc {
namespace asio = boost::asio;

namespace {

constexpr std::string_view kForbidden = "Forbidden: Insufficient permissions for this operation.";
constexpr std::string_view kCommentsUnavailable = "Comments are not available on this server.";

net::Http2Headers ResponseHeaders() {
  return {{"content-type", "application/grpc"}, {"grpc-accept-encoding", "identity,gzip"}};
}

net::Http2Headers Trailers(const Status& status, bool trailers_only) {
  net::Http2Headers trailers;
  if (trailers_only) trailers.emplace_back("content-type", "application/grpc");
  trailers.emplace_back("grpc-status", std::to_string(static_cast<int>(status.code)));
  if (!status.message.empty()) trailers.emplace_back("grpc-message", PercentEncode(status.message));
  return trailers;
}

std::string_view HeaderValue(const net::Http2RequestHead& head, std::string_view name) {
  for (const auto& [key, value] : head.headers) {
    if (key == name) return value;
  }
  return {};
}

std::string Framed(const google::protobuf::MessageLite& message) {
  std::string out;
  const size_t size = message.ByteSizeLong();
  out.reserve(kPrefixBytes + size);
  out.resize(kPrefixBytes);
  out[1] = static_cast<char>((size >> 24) & 0xff);
  out[2] = static_cast<char>((size >> 16) & 0xff);
  out[3] = static_cast<char>((size >> 8) & 0xff);
  out[4] = static_cast<char>(size & 0xff);
  message.AppendToString(&out);
  return out;
}

void SetTimestamp(Timestamp t, google::protobuf::Timestamp& out) {
  const auto ns = t.time_since_epoch().count();
  int64_t seconds = ns / 1'000'000'000;
  int64_t nanos = ns % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --seconds;
  }
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(nanos));
}

void SetAwareness(const session::AwarenessState& state, opstream::AwarenessStateProto& out) {
  out.set_peer_id(state.peer_id);
  out.set_data_json(state.data_json);
  SetTimestamp(state.last_updated, *out.mutable_last_updated());
}

// What every call shares: request framing, the deadline, and finishing exactly once.
// Everything but Send-side writes runs on the connection's strand.
class Call : public net::Http2StreamHandler {
 public:
  Call(const net::Http2RequestHead& head, std::shared_ptr<net::Http2Stream> stream)
      : stream_(std::move(stream)),
        reader_(HeaderValue(head, "grpc-encoding") == "gzip"),
        timer_(stream_->executor()) {}

  // Checks the request metadata; false when the call was already answered.
  bool Begin(const net::Http2RequestHead& head, std::shared_ptr<Call> self) {
    const auto encoding = HeaderValue(head, "grpc-encoding");
    if (!encoding.empty() && encoding != "identity" && encoding != "gzip") {
      End(Status{StatusCode::kUnimplemented, fmt::format("Unsupported grpc-encoding '{}'.", encoding)});
      return false;
    }
    if (const auto timeout_text = HeaderValue(head, "grpc-timeout"); !timeout_text.empty()) {
      if (const auto timeout = ParseTimeout(timeout_text)) {
        timer_.expires_after(*timeout);
        timer_.async_wait([weak = std::weak_ptr<Call>(self)](boost::system::error_code ec) {
          if (ec) return;
          if (auto call = weak.lock()) call->End(Status{StatusCode::kDeadlineExceeded, "Deadline Exceeded"});
        });
      }
    }
    return true;
  }

  void OnData(std::string_view data) override {
    if (ended_) return;
    if (auto error = reader_.Feed(data, [this](std::string message) { received_.push_back(std::move(message)); })) {
      End(*error);
      return;
    }
    unconsumed_ += data.size();
    OnMessages();
    ReleaseWindow();
  }

  void OnEndStream() override {
    if (ended_) return;
    if (auto error = reader_.Finish()) {
      End(*error);
      return;
    }
    half_closed_ = true;
    OnMessages();
  }

  void OnClose(uint32_t) override {
    closed_ = true;
    timer_.cancel();
    if (!ended_) {
      ended_ = true;
      OnEnded();
    }
  }

  void OnShutdown() override { End(Status{StatusCode::kUnavailable, "Server is shutting down."}); }

  // Finishes the call with `status` (trailers, or trailers-only if nothing was written).
  void End(const Status& status) {
    if (ended_) return;
    ended_ = true;
    timer_.cancel();
    stream_->Finish(Trailers(status, !headers_sent_.load()));
    OnEnded();
  }

 protected:
  // New messages in received_, or the client half-closed.
  virtual void OnMessages() = 0;
  // The call is over (finished or reset): release session-layer state.
  virtual void OnEnded() {}

  // Thread-safe.
  net::Http2Stream::WriteResult Write(std::string_view framed, size_t limit, bool hold = false) {
    if (!headers_sent_.exchange(true)) stream_->SendHeaders(ResponseHeaders());
    return stream_->Write(framed, limit, hold);
  }

  // Flow control: the client may send more only while few requests wait here.
  void ReleaseWindow() {
    if (received_.size() < kMaxQueuedRequests && unconsumed_ > 0) {
      stream_->Consume(unconsumed_);
      unconsumed_ = 0;
    }
  }

  static constexpr size_t kMaxQueuedRequests = 16;
  std::shared_ptr<net::Http2Stream> stream_;
  size_t unconsumed_ = 0;
  MessageReader reader_;
  asio::steady_timer timer_;
  std::deque<std::string> received_;
  bool half_closed_ = false;
  bool ended_ = false;
  bool closed_ = false;
  std::atomic<bool> headers_sent_{false};
};

// A unary call: one request message, one answer computed by `answer_` once the client half-closed.
class UnaryCall final : public Call, public std::enable_shared_from_this<UnaryCall> {
 public:
  // Returns the serialized response (unframed), or a failure status.
  using Answer = std::function<void(std::string request, std::function<void(std::variant<std::string, Status>)>)>;

  UnaryCall(const net::Http2RequestHead& head, std::shared_ptr<net::Http2Stream> stream, Answer answer)
      : Call(head, std::move(stream)), answer_(std::move(answer)) {}

 private:
  void OnMessages() override {
    if (received_.size() > 1) {
      End(Status{StatusCode::kInternal, "Expected one request message for a unary call."});
      return;
    }
    if (!half_closed_ || answered_) return;
    if (received_.empty()) {
      End(Status{StatusCode::kInternal, "No request message for a unary call."});
      return;
    }
    answered_ = true;
    auto self = shared_from_this();
    answer_(std::move(received_.front()), [self](std::variant<std::string, Status> result) {
      asio::post(self->stream_->executor(), [self, result = std::move(result)] {
        if (self->ended_) return;
        if (const auto* status = std::get_if<Status>(&result)) {
          self->End(*status);
          return;
        }
        std::string framed;
        AppendFrame(std::get<std::string>(result), framed);
        self->Write(framed, SIZE_MAX);
        self->End(Status{});
      });
    });
  }

  Answer answer_;
  bool answered_ = false;
};

// A server-streaming call that stays open until the client cancels, the deadline passes or the
// server shuts down (SubscribeComments on a server without comments: no event ever comes).
class OpenStreamCall final : public Call, public std::enable_shared_from_this<OpenStreamCall> {
 public:
  using Call::Call;

 private:
  void OnMessages() override {
    if (received_.size() > 1) {
      End(Status{StatusCode::kInternal, "Expected one request message for a server-streaming call."});
    }
  }
};

// opstream.OpStreamService/Connect: one peer of the session layer per call (wire-protocol §5.4).
class ConnectCall final : public Call, public session::Connection {
 public:
  ConnectCall(const net::Http2RequestHead& head, std::shared_ptr<net::Http2Stream> stream,
              session::DocumentRouter& router, const GrpcOptions& options)
      : Call(head, std::move(stream)),
        session::Connection(NewUuid(), session::TransportKind::kGrpc),
        router_(router),
        options_(options) {}

  std::shared_ptr<ConnectCall> self() { return std::static_pointer_cast<ConnectCall>(shared_from_this()); }

  void Send(session::Outbound message) override {
    if (gone_.load()) return;
    const std::string* bytes = nullptr;
    std::string own;
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, session::JoinResponse>) {
            opstream::ServerMessage out;
            if (m.correlation) out.set_correlation_id(*m.correlation);
            auto& join = *out.mutable_join_response();
            join.set_revision(m.revision);
            join.set_snapshot(m.snapshot);
            for (const auto& state : m.awareness) SetAwareness(state, *join.add_awareness());
            own = Framed(out);
          } else if constexpr (std::is_same_v<T, session::OpResponse>) {
            // OP-1: a successful ack carries an empty error_message, never an error_response.
            opstream::ServerMessage out;
            if (m.correlation) out.set_correlation_id(*m.correlation);
            auto& ack = *out.mutable_op_response();
            ack.set_success(m.success);
            ack.set_new_revision(m.new_revision);
            if (m.error) ack.set_error_message(*m.error);
            own = Framed(out);
          } else if constexpr (std::is_same_v<T, session::ErrorResponse>) {
            opstream::ServerMessage out;
            if (m.correlation) out.set_correlation_id(*m.correlation);
            if (current_request_.load() == Request::kOp) {
              // §5.4: request errors of an op are op_response {success=false, new_revision=0}.
              auto& ack = *out.mutable_op_response();
              ack.set_success(false);
              ack.set_new_revision(0);
              ack.set_error_message(m.message);
            } else {
              out.mutable_error_response()->set_message(m.message);
            }
            own = Framed(out);
          } else if constexpr (std::is_same_v<T, std::shared_ptr<const session::OpEvent>>) {
            bytes = &m->encodings.Get(session::TransportKind::kGrpc, [&] {
              opstream::ServerMessage out;
              auto& event = *out.mutable_receive_op_event();
              event.set_payload(m->payload);
              event.set_new_revision(m->revision);
              return Framed(out);
            });
          } else if constexpr (std::is_same_v<T, std::shared_ptr<const session::AwarenessEvent>>) {
            bytes = &m->encodings.Get(session::TransportKind::kGrpc, [&] {
              opstream::ServerMessage out;
              SetAwareness(m->state, *out.mutable_receive_awareness_event()->add_awareness());
              return Framed(out);
            });
          } else {
            bytes = &m->encodings.Get(session::TransportKind::kGrpc, [&] {
              opstream::ServerMessage out;
              out.mutable_peer_disconnected_event()->set_peer_id(m->peer_id);
              return Framed(out);
            });
          }
        },
        message);
    // Inside a document's batch, broadcasts are held back and written once per receiver when the
    // batch ends (FlushHeldBack); the sender's own answers go out at once, with what was held.
    const bool hold = bytes != nullptr && session::SendBatch::Active();
    const auto result = Write(bytes ? *bytes : own, options_.outbound_limit_bytes, hold);
    if (hold && result == net::Http2Stream::WriteResult::kQueued && !held_back_.exchange(true)) {
      session::SendBatch::HoldBack(shared_from_this());
    }
    if (result == net::Http2Stream::WriteResult::kOverflow && !gone_.exchange(true)) {
      // The reader fell too far behind: drop the call rather than buffer without bound.
      stream_->Reset(NGHTTP2_CANCEL);
      asio::post(stream_->executor(), [self = self()] {
        if (!self->ended_) {
          self->ended_ = true;
          self->timer_.cancel();
          self->OnEnded();
        }
      });
    }
  }

  void FlushHeldBack(bool write_now) override {
    held_back_ = false;
    // A large fan-out is paced, so the connections' input (the next request) is not queued
    // behind one write per receiver.
    stream_->Release(!write_now);
  }

 private:
  enum class Request : int { kNone, kJoin, kOp, kAwareness };

  void OnMessages() override {
    while (!busy_ && !ended_ && !received_.empty()) {
      std::string bytes = std::move(received_.front());
      received_.pop_front();
      opstream::ClientMessage message;
      if (!message.ParseFromString(bytes)) {
        End(Status{StatusCode::kInternal, "Failed to deserialize request message."});
        return;
      }
      Dispatch(message);
    }
    if (!busy_ && !ended_ && received_.empty() && half_closed_) End(Status{});
    ReleaseWindow();
  }

  void Dispatch(opstream::ClientMessage& message) {
    auto done = [self = self()](bool) {
      asio::post(self->stream_->executor(), [self] {
        self->busy_ = false;
        if (self->ended_) {
          self->OnEnded();
          return;
        }
        self->OnMessages();
      });
    };
    session::CorrelationId correlation = std::move(*message.mutable_correlation_id());
    switch (message.message_type_case()) {
      case opstream::ClientMessage::kJoinRequest: {
        auto& join = *message.mutable_join_request();
        busy_ = true;
        current_request_ = Request::kJoin;
        router_.Join(shared_from_this(), std::move(correlation), std::move(*join.mutable_document_id()),
                     std::move(*join.mutable_document_type()), join.client_proto_version(), std::move(done));
        return;
      }
      case opstream::ClientMessage::kOpRequest: {
        auto& op = *message.mutable_op_request();
        busy_ = true;
        current_request_ = Request::kOp;
        router_.SubmitOp(shared_from_this(), std::move(correlation), std::move(*op.mutable_document_id()),
                         std::move(*op.mutable_payload()), op.base_revision(), std::move(done));
        return;
      }
      case opstream::ClientMessage::kAwarenessRequest: {
        auto& awareness = *message.mutable_awareness_request();
        busy_ = true;
        current_request_ = Request::kAwareness;
        router_.UpdateAwareness(shared_from_this(), std::move(correlation), std::move(*awareness.mutable_document_id()),
                                awareness.data_json(), false, std::move(done));
        return;
      }
      default:
        return;  // no oneof member: ignored (§5.4)
    }
  }

  // Half-close, cancellation, deadline, overflow: the disconnect procedure runs once (§2.8).
  // While a request is in flight the disconnect waits for it: a join completing after the
  // disconnect would leave the peer in the document for good.
  void OnEnded() override {
    gone_ = true;
    if (!disconnected_ && !busy_) {
      disconnected_ = true;
      router_.Disconnect(shared_from_this());
    }
  }

  session::DocumentRouter& router_;
  const GrpcOptions& options_;
  bool busy_ = false;
  bool disconnected_ = false;
  std::atomic<bool> gone_{false};
  std::atomic<bool> held_back_{false};  // registered with the current SendBatch
  std::atomic<Request> current_request_{Request::kNone};
};

// grpc.reflection.v1alpha / v1 ServerReflectionInfo: answers each request in order from the
// descriptors compiled into the server.
class ReflectionCall final : public Call, public std::enable_shared_from_this<ReflectionCall> {
 public:
  using Call::Call;

 private:
  void OnMessages() override {
    while (!ended_ && !received_.empty()) {
      ::grpc::reflection::v1alpha::ServerReflectionRequest request;
      if (!request.ParseFromString(received_.front())) {
        End(Status{StatusCode::kInternal, "Failed to deserialize request message."});
        return;
      }
      received_.pop_front();
      const auto response = Answer(request);
      Write(Framed(response), SIZE_MAX);
    }
    if (!ended_ && half_closed_) End(Status{});
  }

  static ::grpc::reflection::v1alpha::ServerReflectionResponse Answer(
      const ::grpc::reflection::v1alpha::ServerReflectionRequest& request) {
    namespace pb = google::protobuf;
    using Request = ::grpc::reflection::v1alpha::ServerReflectionRequest;
    ::grpc::reflection::v1alpha::ServerReflectionResponse response;
    response.set_valid_host(request.host());
    *response.mutable_original_request() = request;
    const auto* pool = pb::DescriptorPool::generated_pool();
    (void)opstream::ClientMessage::descriptor();  // the generated files register on first use
    const pb::FileDescriptor* file = nullptr;
    switch (request.message_request_case()) {
      case Request::kListServices: {
        auto& list = *response.mutable_list_services_response();
        for (const auto* descriptor : {opstream::ClientMessage::descriptor()->file(),
                                       ::grpc::reflection::v1alpha::ServerReflectionRequest::descriptor()->file()}) {
          for (int i = 0; i < descriptor->service_count(); ++i) {
            list.add_service()->set_name(descriptor->service(i)->full_name());
          }
        }
        return response;
      }
      case Request::kFileByFilename:
        file = pool->FindFileByName(request.file_by_filename());
        break;
      case Request::kFileContainingSymbol:
        file = pool->FindFileContainingSymbol(request.file_containing_symbol());
        break;
      default:
        break;
    }
    if (file == nullptr) {
      auto& error = *response.mutable_error_response();
      error.set_error_code(static_cast<int>(StatusCode::kNotFound));
      error.set_error_message("Not found.");
      return response;
    }
    // The file and everything it imports (clients resolve the imports by name, in any order).
    std::vector<const pb::FileDescriptor*> files{file};
    for (size_t i = 0; i < files.size(); ++i) {
      for (int d = 0; d < files[i]->dependency_count(); ++d) {
        const auto* dependency = files[i]->dependency(d);
        if (std::find(files.begin(), files.end(), dependency) == files.end()) files.push_back(dependency);
      }
    }
    auto& descriptors = *response.mutable_file_descriptor_response();
    for (const auto* f : files) {
      pb::FileDescriptorProto proto;
      f->CopyTo(&proto);
      descriptors.add_file_descriptor_proto(proto.SerializeAsString());
    }
    return response;
  }
};

constexpr std::array<std::string_view, 8> kManagementMethods = {"ListDocuments",  "GetDocumentInfo", "GetSnapshot",
                                                                "DeleteDocument", "CompactDocument", "ListMilestones",
                                                                "PurgeHistory",   "PurgeTenant"};
constexpr std::array<std::string_view, 11> kVersioningMethods = {
    "RegisterName",  "ListNames",    "DeleteName",          "ListBranches",  "ForkBranch", "DeleteBranch",
    "CreateVersion", "ListVersions", "ReadVersionSnapshot", "DeleteVersion", "MergeBranch"};

template <size_t N>
bool Contains(const std::array<std::string_view, N>& names, std::string_view name) {
  for (const auto n : names) {
    if (n == name) return true;
  }
  return false;
}

// grpc.health.v1: HealthCheckRequest {string service = 1}; HealthCheckResponse {enum status = 1}.
std::optional<std::string> HealthService(const std::string& request) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(request.data()),
                                            static_cast<int>(request.size()));
  std::string service;
  while (const uint32_t tag = in.ReadTag()) {
    if (tag == 0x0a) {
      uint32_t length = 0;
      if (!in.ReadVarint32(&length) || !in.ReadString(&service, static_cast<int>(length))) return std::nullopt;
    } else if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) {
      return std::nullopt;
    }
  }
  return service;
}

bool KnownHealthService(std::string_view service) {
  return service.empty() || service == "opstream.OpStreamService" || service == "opstream.OpStreamManagementService";
}

enum class HealthStatus : char { kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

std::string HealthResponse(HealthStatus status) { return std::string("\x08", 1) + static_cast<char>(status); }
std::string HealthResponse(bool serving) {
  return HealthResponse(serving ? HealthStatus::kServing : HealthStatus::kNotServing);
}

// grpc.health.v1.Health/Watch: the current status at once, then every change (the readiness
// checks are re-run every few seconds while the call is open).
class HealthWatchCall final : public Call, public std::enable_shared_from_this<HealthWatchCall> {
 public:
  HealthWatchCall(const net::Http2RequestHead& head, std::shared_ptr<net::Http2Stream> stream, net::HttpHandler& health)
      : Call(head, std::move(stream)), health_(health), poll_(stream_->executor()) {}

  static constexpr std::chrono::seconds kPollInterval{5};

 private:
  void OnMessages() override {
    if (received_.size() > 1) {
      End(Status{StatusCode::kInternal, "Expected one request message for a server-streaming call."});
      return;
    }
    if (received_.empty() || started_) return;
    started_ = true;
    const auto name = HealthService(received_.front());
    if (!name) {
      End(Status{StatusCode::kInternal, "Failed to deserialize request message."});
      return;
    }
    if (!KnownHealthService(*name)) {
      Send(HealthStatus::kServiceUnknown);
      return;
    }
    Poll();
  }

  void OnEnded() override { poll_.cancel(); }

  void Poll() {
    health_.Handle(net::HttpRequest{"GET", "/health/ready", ""}, [self = shared_from_this()](net::HttpResponse r) {
      const auto status = r.status < 500 ? HealthStatus::kServing : HealthStatus::kNotServing;
      asio::post(self->stream_->executor(), [self, status] {
        if (self->ended_) return;
        if (status != self->last_) self->Send(status);
        self->poll_.expires_after(kPollInterval);
        self->poll_.async_wait([weak = std::weak_ptr<HealthWatchCall>(self)](boost::system::error_code ec) {
          auto call = weak.lock();
          if (!ec && call && !call->ended_) call->Poll();
        });
      });
    });
  }

  void Send(HealthStatus status) {
    last_ = status;
    std::string framed;
    AppendFrame(HealthResponse(status), framed);
    Write(framed, SIZE_MAX);
  }

  net::HttpHandler& health_;
  asio::steady_timer poll_;
  bool started_ = false;
  std::optional<HealthStatus> last_;
};

}  // namespace

GrpcService::GrpcService(session::DocumentRouter& router, net::HttpHandler& health, GrpcOptions options)
    : router_(router), health_(health), options_(options) {}

std::shared_ptr<net::Http2StreamHandler> GrpcService::Open(const net::Http2RequestHead& head,
                                                           std::shared_ptr<net::Http2Stream> stream) {
  if (!head.content_type.starts_with("application/grpc")) return nullptr;
  const std::string_view path = head.path;
  const auto slash = path.rfind('/');
  const std::string_view service = slash == std::string_view::npos ? path : path.substr(1, slash - 1);
  const std::string_view method = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);

  auto begin = [&head](const std::shared_ptr<Call>& call) {
    call->Begin(head, call);
    return call;
  };
  auto unary = [&](UnaryCall::Answer answer) {
    return begin(std::make_shared<UnaryCall>(head, stream, std::move(answer)));
  };
  // Failures known from the path alone are answered at once, trailers-only, without waiting for
  // the request (a streaming client may never half-close).
  auto fail = [&](Status status) -> std::shared_ptr<net::Http2StreamHandler> {
    auto call = std::make_shared<UnaryCall>(head, stream, nullptr);
    call->End(status);
    return call;
  };

  if (head.method != "POST") {
    return fail(Status{StatusCode::kUnimplemented, "Method is unimplemented."});
  }
  if (service == "opstream.OpStreamService" && method == "Connect") {
    auto call = std::make_shared<ConnectCall>(head, stream, router_, options_);
    call->Begin(head, call);
    return call;
  }
  if (service == "opstream.OpStreamManagementService" && Contains(kManagementMethods, method)) {
    // The reference's default authorizer denies every management call (wire-protocol §5.5).
    return fail(Status{StatusCode::kPermissionDenied, std::string(kForbidden)});
  }
  if (service == "opstream.OpStreamVersioningService" && Contains(kVersioningMethods, method)) {
    // Same default authorizer and status mapping as management (wire-protocol §5.6, §6.3).
    return fail(Status{StatusCode::kPermissionDenied, std::string(kForbidden)});
  }
  if (service == "opstream.OpStreamCommentsService") {
    if (method == "CreateComment" || method == "EditComment" || method == "ResolveComment") {
      return unary([](std::string, auto respond) {
        opstream::CommentResponse response;
        response.set_success(false);
        response.set_error_message(std::string(kCommentsUnavailable));
        respond(response.SerializeAsString());
      });
    }
    if (method == "DeleteComment") {
      return unary([](std::string, auto respond) {
        opstream::CommentOkResponse response;
        response.set_success(false);
        response.set_error_message(std::string(kCommentsUnavailable));
        respond(response.SerializeAsString());
      });
    }
    if (method == "ListOpenComments") {
      return fail(Status{StatusCode::kInternal, std::string(kCommentsUnavailable)});
    }
    if (method == "SubscribeComments") return begin(std::make_shared<OpenStreamCall>(head, stream));
  }
  if ((service == "grpc.reflection.v1alpha.ServerReflection" || service == "grpc.reflection.v1.ServerReflection") &&
      method == "ServerReflectionInfo") {
    return begin(std::make_shared<ReflectionCall>(head, stream));
  }
  if (service == "grpc.health.v1.Health" && (method == "Check" || method == "Watch")) {
    if (method == "Watch") return begin(std::make_shared<HealthWatchCall>(head, stream, health_));
    return unary([this](std::string request, auto respond) {
      const auto name = HealthService(request);
      if (!name) return respond(Status{StatusCode::kInternal, "Failed to deserialize request message."});
      if (!KnownHealthService(*name)) return respond(Status{StatusCode::kNotFound, "unknown service"});
      health_.Handle(net::HttpRequest{"GET", "/health/ready", ""},
                     [respond](net::HttpResponse response) { respond(HealthResponse(response.status < 500)); });
    });
  }
  const bool known_service = service == "opstream.OpStreamService" || service == "opstream.OpStreamManagementService" ||
                             service == "opstream.OpStreamVersioningService" ||
                             service == "opstream.OpStreamCommentsService" || service == "grpc.health.v1.Health";
  return fail(
      Status{StatusCode::kUnimplemented, known_service ? "Method is unimplemented." : "Service is unimplemented."});
}

}  // namespace opstream::transports::grpc
