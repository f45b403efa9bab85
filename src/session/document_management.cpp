#include "session/document_management.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <memory>

#include "backplane/messages.hpp"
#include "common/logging.hpp"
#include "common/text.hpp"
#include "session/document_router.hpp"
#include "storage/history_store.hpp"
#include "storage/ref_store.hpp"

namespace opstream::session {
namespace {

// The reference's category for these commands and their log lines (server.md §5.3).
const std::shared_ptr<spdlog::logger>& Log() {
  static const auto logger = GetLogger("OpStream.Server.Session.DatabaseCommandRouter");
  return logger;
}

// §5.3: failures of the owner-routed commands are logged and returned as their message.
Status Failed(std::string_view command, const std::string& document_id, const Status& status) {
  Log()->error("Error routing management command {} for {}: {}", command, document_id, status.message());
  return status;
}

// The smallest revision pinned by a version tag of this physical document (§6.8); none when no
// version pins it or the provider keeps no refs.
void MinPinnedRevision(storage::RefStore* refs, const std::string& document_id,
                       std::function<void(Status, std::optional<int64_t>)> done) {
  if (refs == nullptr) return done(Status::Ok(), std::nullopt);
  refs->ListVersionsPinning(document_id,
                            [done = std::move(done)](Status status, std::vector<storage::DocumentVersion> versions) {
                              if (!status.ok()) return done(status, std::nullopt);
                              std::optional<int64_t> lowest;
                              for (const auto& version : versions) {
                                if (!lowest || version.revision < *lowest) lowest = version.revision;
                              }
                              done(Status::Ok(), lowest);
                            });
}

}  // namespace

std::optional<int64_t> ParseUpToRevision(std::string_view text) {
  text = TrimWhitespace(text);
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  // Accumulated as a negative number so that INT64_MIN parses like in .NET.
  int64_t value = 0;
  for (char c : text) {
    const int digit = c - '0';
    if (value < (std::numeric_limits<int64_t>::min() + digit) / 10) return std::nullopt;
    value = value * 10 - digit;
  }
  if (negative) return value;
  if (value == std::numeric_limits<int64_t>::min()) return std::nullopt;
  return -value;
}

DocumentManagement::DocumentManagement(DocumentRouter& router, storage::DocumentStore& store,
                                       backplane::Backplane& backplane)
    : router_(router), store_(store), backplane_(backplane) {}

bool DocumentManagement::IsManagementRequest(std::string_view type) {
  return type == "DeleteDocument" || type == "CompactDocument" || type == "PurgeHistory";
}

void DocumentManagement::HandleRequest(const backplane::Request& request,
                                       backplane::Backplane::ResponseCompletion respond) {
  backplane::ManagementRequestPayload payload;
  if (auto decoded = backplane::DecodeManagementRequest(request.payload, payload); !decoded.ok()) {
    return respond(
        backplane::Response::Failure(fmt::format("Malformed {} request: {}", request.type, decoded.message())));
  }
  auto answer = [respond = std::move(respond)](Status status) {
    if (!status.ok()) return respond(backplane::Response::Failure(status.message()));
    respond({{}, true, {}, std::nullopt});
  };
  if (request.type == "DeleteDocument") return DeleteDocument(std::move(payload.global_document_id), std::move(answer));
  const auto up_to = payload.up_to_revision ? ParseUpToRevision(*payload.up_to_revision) : std::nullopt;
  if (!up_to) return answer(Status::Error(std::string(kInvalidUpToRevision)));
  if (request.type == "CompactDocument") {
    return CompactDocument(std::move(payload.global_document_id), *up_to, std::move(answer));
  }
  PurgeHistory(std::move(payload.global_document_id), *up_to, std::move(answer));
}

void DocumentManagement::DeleteDocument(std::string document_id, Done done) {
  Log()->info("Deleting document {}", document_id);
  auto id = std::make_shared<const std::string>(std::move(document_id));
  // The last step whatever happened: joins held back meanwhile go ahead, and the lease is given up
  // unless such a join opened the (now empty) document here again.
  auto finish = [this, id, done = std::move(done)](Status status) {
    if (!router_.FinishDelete(*id)) backplane_.ReleaseOwnership(*id);
    done(std::move(status));
  };
  router_.EvictForDelete(*id, std::string(kDocumentDeleted), [this, id, finish = std::move(finish)]() mutable {
    store_.Delete(*id, [this, id, finish = std::move(finish)](Status deleted) mutable {
      if (!deleted.ok()) return finish(Failed("DeleteDocument", *id, deleted));
      auto published = [this, id, finish = std::move(finish)](Status history) mutable {
        // The hot data is gone, so every node must evict even when the history could not be deleted.
        backplane_.Publish(std::string(backplane::kManagementTopic),
                           {backplane_.node_id(), "document_deleted", backplane::EncodeJsonString(*id), {}});
        finish(history.ok() ? Status::Ok() : Failed("DeleteDocument", *id, history));
      };
      auto* history = store_.history_store();
      if (history == nullptr) return published(Status::Ok());  // "unsupported" is ignored (§5.3)
      history->DeleteHistory(*id, std::move(published));
    });
  });
}

void DocumentManagement::CompactDocument(std::string document_id, int64_t up_to, Done done) {
  auto id = std::make_shared<const std::string>(std::move(document_id));
  MinPinnedRevision(store_.ref_store(), *id,
                    [this, id, up_to, done = std::move(done)](Status status, std::optional<int64_t> pinned) mutable {
                      if (!status.ok()) return done(Failed("CompactDocument", *id, status));
                      if (pinned && *pinned < up_to) {
                        up_to = *pinned - 1;
                        Log()->info("Compaction for {} clamped to revision {} (pinned by a version tag)", *id, up_to);
                      }
                      if (up_to <= 0) return done(Status::Ok());
                      if (auto session = router_.FindSession(*id)) {
                        return session->PrepareCompaction(
                            up_to, [this, id, up_to, done = std::move(done)](std::optional<int64_t> limit) mutable {
                              if (limit) return CompactTo(*id, up_to, *limit, std::move(done));
                              // The session is not serving (loading, unavailable, closed meanwhile).
                              CompactFromStore(*id, up_to, std::move(done));
                            });
                      }
                      CompactFromStore(*id, up_to, std::move(done));
                    });
}

void DocumentManagement::CompactFromStore(const std::string& document_id, int64_t up_to, Done done) {
  // Without a serving session only the stored snapshot bounds what may go.
  store_.Load(document_id, [this, id = document_id, up_to, done = std::move(done)](
                               Status loaded, storage::LoadedDocument document) mutable {
    if (!loaded.ok()) return done(Failed("CompactDocument", id, loaded));
    CompactTo(id, up_to, document.snapshot ? document.snapshot->revision : 0, std::move(done));
  });
}

void DocumentManagement::CompactTo(const std::string& document_id, int64_t requested, int64_t limit, Done done) {
  const int64_t up_to = std::min(requested, limit);
  if (up_to < requested) {
    Log()->info(
        "Compaction for {} clamped to revision {} (later ops are not covered by the stored snapshot or a connected "
        "client may still need them)",
        document_id, up_to);
  }
  if (up_to <= 0) return done(Status::Ok());
  store_.Compact(document_id, up_to, [id = document_id, done = std::move(done)](Status status) {
    done(status.ok() ? status : Failed("CompactDocument", id, status));
  });
}

void DocumentManagement::PurgeHistory(std::string document_id, int64_t up_to, Done done) {
  auto* history = store_.history_store();
  if (history == nullptr || up_to <= 0) return done(Status::Ok());
  auto id = std::make_shared<const std::string>(std::move(document_id));
  MinPinnedRevision(store_.ref_store(), *id,
                    [history, id, up_to, done = std::move(done)](Status status, std::optional<int64_t> pinned) mutable {
                      if (!status.ok()) return done(Failed("PurgeHistory", *id, status));
                      // SV-16: a version's history snapshot sits at its pinned revision, so that
                      // revision itself must stay too.
                      if (pinned && *pinned <= up_to) {
                        up_to = *pinned - 1;
                        Log()->info("History purge for {} clamped to revision {} (pinned by a version tag)", *id,
                                    up_to);
                      }
                      if (up_to <= 0) return done(Status::Ok());
                      history->PurgeHistoryUpTo(*id, up_to, [id, done = std::move(done)](Status purged) {
                        done(purged.ok() ? purged : Failed("PurgeHistory", *id, purged));
                      });
                    });
}

}  // namespace opstream::session
