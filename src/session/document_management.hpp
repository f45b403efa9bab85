#pragma once
// Owner-side execution of the per-document management commands (server.md §5.3): DeleteDocument,
// CompactDocument and PurgeHistory. One place for both callers: the backplane request handler
// (another node routed the command here, §4.5) and a management API that found this node to be
// the owner. No authorization and no ownership check happen here (§4.5 "executed directly"); the
// caller decides who may ask.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "backplane/backplane.hpp"
#include "common/status.hpp"
#include "storage/document_store.hpp"

namespace opstream::session {

class DocumentRouter;

inline constexpr std::string_view kInvalidUpToRevision = "Missing or invalid argument 'upToRevision'.";
inline constexpr std::string_view kDocumentDeleted = "Document was deleted.";

// The reference parses `upToRevision` with .NET's long.TryParse (NumberStyles.Integer): optional
// surrounding white space, an optional sign, decimal digits, no overflow. None when it fails.
std::optional<int64_t> ParseUpToRevision(std::string_view text);

class DocumentManagement {
 public:
  using Done = std::function<void(Status)>;

  DocumentManagement(DocumentRouter& router, storage::DocumentStore& store, backplane::Backplane& backplane);

  // Evicts the local session (its clients lose their membership and rejoin, as on ownership loss)
  // and waits until nothing of it can still be written, deletes the hot data and the history, then
  // releases the lease and publishes `document_deleted` so that every node evicts. Joins of the
  // document on this node during the deletion wait and then find an empty document.
  void DeleteDocument(std::string document_id, Done done);
  // Pin guard, then deletes hot ops <= up_to, clamped so that the stored snapshot covers every
  // deleted op (SV-15) and no connected client loses an op it may still base an op on (OP-34).
  void CompactDocument(std::string document_id, int64_t up_to, Done done);
  // Deletes history ops and history snapshots <= up_to, below any version pin (SV-16).
  void PurgeHistory(std::string document_id, int64_t up_to, Done done);

  // The request types of §4.5 executed here.
  static bool IsManagementRequest(std::string_view type);
  // Parses the payload (`{"globalDocumentId","args"}`) and runs the command; success is an empty
  // payload, a failure carries the command's message.
  void HandleRequest(const backplane::Request& request, backplane::Backplane::ResponseCompletion respond);

 private:
  void CompactFromStore(const std::string& document_id, int64_t up_to, Done done);
  void CompactTo(const std::string& document_id, int64_t requested, int64_t limit, Done done);

  DocumentRouter& router_;
  storage::DocumentStore& store_;
  backplane::Backplane& backplane_;
};

}  // namespace opstream::session
