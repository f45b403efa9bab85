#include "session/connection.hpp"

#include "session/document_session.hpp"

namespace opstream::session {
namespace {
thread_local SendBatch* current_batch = nullptr;
// Lists of held-back connections kept for reuse, so that a batch allocates nothing.
thread_local std::vector<std::vector<std::shared_ptr<Connection>>> spare_lists;
}  // namespace

SendBatch::SendBatch() : outer_(current_batch) {
  if (outer_ != nullptr) return;
  current_batch = this;
  if (!spare_lists.empty()) {
    held_ = std::move(spare_lists.back());
    spare_lists.pop_back();
  }
}

SendBatch::~SendBatch() {
  if (outer_ != nullptr) return;
  current_batch = nullptr;
  const bool write_now = held_.size() <= kWriteNowLimit;
  for (auto& connection : held_) connection->FlushHeldBack(write_now);
  held_.clear();
  if (held_.capacity() <= 4 * kWriteNowLimit) spare_lists.push_back(std::move(held_));
}

bool SendBatch::Active() { return current_batch != nullptr; }

bool SendBatch::HoldBack(const std::shared_ptr<Connection>& connection) {
  if (current_batch == nullptr) return false;
  current_batch->held_.push_back(connection);
  return true;
}

void Connection::SendOps(std::span<const std::shared_ptr<const OpEvent>> events) {
  for (const auto& event : events) Send(event);
}

std::shared_ptr<JoinedDocument> Connection::FindJoined(const std::string& document_id) const {
  std::lock_guard lock(membership_mutex_);
  for (const auto& [id, session] : joined_) {
    if (id == document_id) return session;
  }
  return nullptr;
}

void Connection::AddJoined(const std::string& document_id, std::shared_ptr<JoinedDocument> session) {
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

void Connection::RemoveJoinedIf(const std::string& document_id, const JoinedDocument* session) {
  std::lock_guard lock(membership_mutex_);
  std::erase_if(joined_,
                [&](const auto& entry) { return entry.first == document_id && entry.second.get() == session; });
}

std::vector<std::shared_ptr<JoinedDocument>> Connection::TakeAllJoined() {
  std::lock_guard lock(membership_mutex_);
  std::vector<std::shared_ptr<JoinedDocument>> sessions;
  sessions.reserve(joined_.size());
  for (auto& [id, session] : joined_) sessions.push_back(std::move(session));
  joined_.clear();
  return sessions;
}

}  // namespace opstream::session
