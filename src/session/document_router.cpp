#include "session/document_router.hpp"

#include <fmt/format.h>

#include <atomic>

#include "engines/awareness_data.hpp"
#include "session/validation.hpp"

namespace opstream::session {

DocumentRouter::DocumentRouter(boost::asio::io_context& io, const engines::EngineRegistry& engines,
                               storage::DocumentStore& store, backplane::Backplane& backplane, SessionOptions options)
    : io_(io), engines_(engines), store_(store), backplane_(backplane), options_(options) {}

DocumentRouter::~DocumentRouter() {
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (auto& [id, session] : shard.sessions) session->DetachPeers();
    shard.sessions.clear();
  }
}

DocumentRouter::Shard& DocumentRouter::ShardOf(const std::string& document_id) {
  return shards_[std::hash<std::string>{}(document_id) % shards_.size()];
}

std::shared_ptr<DocumentSession> DocumentRouter::GetOrOpen(const std::string& document_id,
                                                           const engines::Engine& engine) {
  auto& shard = ShardOf(document_id);
  std::shared_ptr<DocumentSession> session;
  {
    std::lock_guard lock(shard.mutex);
    auto& slot = shard.sessions[document_id];
    if (slot) return slot;
    slot = std::make_shared<DocumentSession>(io_, document_id, engine, store_, *this, options_);
    session = slot;
  }
  session->Open();
  return session;
}

void DocumentRouter::RemoveSession(const std::string& document_id, const DocumentSession* session) {
  auto& shard = ShardOf(document_id);
  std::lock_guard lock(shard.mutex);
  auto it = shard.sessions.find(document_id);
  if (it != shard.sessions.end() && it->second.get() == session) shard.sessions.erase(it);
}

size_t DocumentRouter::OpenDocumentCount() const {
  size_t count = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    count += shard.sessions.size();
  }
  return count;
}

std::string DocumentRouter::DocumentTypeOf(std::string_view op_type_name) const {
  for (const auto& type : engines_.DocumentTypes()) {
    if (const auto* engine = engines_.Find(type); engine && engine->op_type_name() == op_type_name) return type;
  }
  return std::string(op_type_name);
}

void DocumentRouter::Join(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string document_id,
                          std::string document_type, int64_t protocol_version, Done done) {
  auto fail = [&](std::string message) {
    connection->Send(ErrorResponse{std::move(correlation), std::move(message)});
    done(false);
  };
  if (protocol_version != kProtocolVersion) return fail(std::string(kUnsupportedProtocol));
  if (auto reason = ValidateJoin(document_id, document_type)) return fail(InvalidMessage(*reason));
  const auto* engine = engines_.Find(document_type);
  if (engine == nullptr) return fail(fmt::format("No session engine registered for document type: {}", document_type));
  auto session = GetOrOpen(document_id, *engine);
  session->Join(std::move(connection), std::move(correlation), std::move(document_type), std::move(done));
}

void DocumentRouter::SubmitOp(std::shared_ptr<Connection> connection, CorrelationId correlation,
                              std::string document_id, std::string payload, int64_t base_revision, Done done) {
  auto fail = [&](std::string message) {
    connection->Send(ErrorResponse{std::move(correlation), std::move(message)});
    done(false);
  };
  if (auto reason = ValidateOp(document_id, payload.size(), base_revision)) return fail(InvalidMessage(*reason));
  auto session = connection->FindJoined(document_id);
  if (!session) return fail(std::string(kNotJoined));
  session->SubmitOp(std::move(connection), std::move(correlation), std::move(payload), base_revision, std::move(done));
}

void DocumentRouter::UpdateAwareness(std::shared_ptr<Connection> connection, CorrelationId correlation,
                                     std::string document_id, std::string_view data_json, bool report_rejections,
                                     Done done) {
  auto reject = [&](std::string message, bool always_report) {
    if (report_rejections || always_report) connection->Send(ErrorResponse{std::move(correlation), std::move(message)});
    done(false);
  };
  if (auto reason = ValidateAwareness(document_id, data_json.size())) return reject(InvalidMessage(*reason), false);
  std::string compact;
  if (auto minified = engines::MinifyJson(data_json, compact); !minified.ok()) {
    return reject(InvalidMessage(minified.message()), true);
  }
  auto session = connection->FindJoined(document_id);
  if (!session) return reject(std::string(kNotJoined), false);
  session->UpdateAwareness(std::move(connection), std::move(compact), std::move(done));
}

void DocumentRouter::Disconnect(const std::shared_ptr<Connection>& connection) {
  for (auto& session : connection->TakeAllJoined()) session->Leave(connection);
}

void DocumentRouter::FlushAll(std::function<void()> done) {
  std::vector<std::shared_ptr<DocumentSession>> sessions;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (auto& [id, session] : shard.sessions) sessions.push_back(session);
  }
  if (sessions.empty()) return done();
  auto remaining = std::make_shared<std::atomic<size_t>>(sessions.size());
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& session : sessions) {
    session->FlushSnapshot([remaining, shared_done] {
      if (remaining->fetch_sub(1) == 1) (*shared_done)();
    });
  }
}

}  // namespace opstream::session
