#pragma once
// What every persistent provider (sqlite, postgres, mysql, sqlserver, mongo, redis) is: one object
// that is the document store and also the history, comment and ref store it persists itself
// (server.md §3.2, §12 SV-12). The method names of the four interfaces do not collide; the
// completion types they share are named once here so that they are not ambiguous.
#include "storage/comment_store.hpp"
#include "storage/document_store.hpp"
#include "storage/history_store.hpp"
#include "storage/ref_store.hpp"

namespace opstream::storage {

class PersistentStore : public DocumentStore, public HistoryStore, public CommentStore, public RefStore {
 public:
  using Completion = DocumentStore::Completion;
  using CountCompletion = DocumentStore::CountCompletion;

  HistoryStore* history_store() override { return this; }
  CommentStore* comment_store() override { return this; }
  RefStore* ref_store() override { return this; }
};

// Every call of the four interfaces but the hot-path ones, for a provider class that implements
// them all (directly, or through QueuedJobStore for the hot path).
#define OPSTREAM_PERSISTENT_STORE_RECORD_OVERRIDES \
  OPSTREAM_DOCUMENT_STORE_MANAGEMENT_OVERRIDES;    \
  OPSTREAM_HISTORY_STORE_OVERRIDES;                \
  OPSTREAM_COMMENT_STORE_OVERRIDES;                \
  OPSTREAM_REF_STORE_OVERRIDES

// Every call of the four interfaces, for a provider class that implements them all.
#define OPSTREAM_PERSISTENT_STORE_OVERRIDES   \
  OPSTREAM_DOCUMENT_STORE_HOT_PATH_OVERRIDES; \
  OPSTREAM_PERSISTENT_STORE_RECORD_OVERRIDES

}  // namespace opstream::storage
