#include "session/connection.hpp"

#include "session/document_session.hpp"

namespace opstream::session {

std::shared_ptr<DocumentSession> Connection::FindJoined(const std::string& document_id) const {
  std::lock_guard lock(membership_mutex_);
  for (const auto& [id, session] : joined_) {
    if (id == document_id) return session;
  }
  return nullptr;
}

void Connection::AddJoined(const std::string& document_id, std::shared_ptr<DocumentSession> session) {
  std::lock_guard lock(membership_mutex_);
  for (auto& [id, existing] : joined_) {
    if (id == document_id) {
      existing = std::move(session);
      return;
    }
  }
  joined_.emplace_back(document_id, std::move(session));
}

void Connection::RemoveJoined(const std::string& document_id) {
  std::lock_guard lock(membership_mutex_);
  std::erase_if(joined_, [&](const auto& entry) { return entry.first == document_id; });
}

std::vector<std::shared_ptr<DocumentSession>> Connection::TakeAllJoined() {
  std::lock_guard lock(membership_mutex_);
  std::vector<std::shared_ptr<DocumentSession>> sessions;
  sessions.reserve(joined_.size());
  for (auto& [id, session] : joined_) sessions.push_back(std::move(session));
  joined_.clear();
  return sessions;
}

}  // namespace opstream::session
