#pragma once
// libmongoc/libbson plumbing for the mongo provider: owners for the C handles, the documents and
// filters of server.md §3.6, and readers that accept what the reference (or the stand-in) stores.
// Only src/storage/mongo/*.cpp include this (it pulls in the driver's headers).
#include <mongoc/mongoc.h>

// bson_t is declared 128-byte aligned; the handles here are heap pointers from bson_new, so the
// attribute that templates drop (std::unique_ptr<bson_t>, std::vector<const bson_t*>) never matters.
#pragma GCC diagnostic ignored "-Wignored-attributes"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/status.hpp"
#include "storage/document_store.hpp"

namespace opstream::storage::mongo {

struct BsonDeleter {
  void operator()(bson_t* b) const { bson_destroy(b); }
};
using BsonPtr = std::unique_ptr<bson_t, BsonDeleter>;
inline BsonPtr NewBson() { return BsonPtr(bson_new()); }

// A reply or option document on the stack of the caller.
class Bson {
 public:
  Bson() { bson_init(&b_); }
  ~Bson() { bson_destroy(&b_); }
  Bson(const Bson&) = delete;
  Bson& operator=(const Bson&) = delete;
  bson_t* get() { return &b_; }

 private:
  bson_t b_;
};

struct CollectionDeleter {
  void operator()(mongoc_collection_t* c) const { mongoc_collection_destroy(c); }
};
using Collection = std::unique_ptr<mongoc_collection_t, CollectionDeleter>;
struct CursorDeleter {
  void operator()(mongoc_cursor_t* c) const { mongoc_cursor_destroy(c); }
};
using Cursor = std::unique_ptr<mongoc_cursor_t, CursorDeleter>;

// mongoc_init once per process, with the driver's log routed to spdlog.
void InitializeDriver();

constexpr int32_t kDuplicateKeyCode = 11000;

// ---- values ----
void AppendString(bson_t* doc, const char* key, std::string_view value);
bool AppendBytes(bson_t* doc, const char* key, std::string_view value);
void AppendTime(bson_t* doc, const char* key, Timestamp t);
// BSON dates keep milliseconds: the rest is truncated (towards the past), as the .NET driver does.
int64_t ToBsonMillis(Timestamp t);

bool ReadInt64(const bson_iter_t& it, int64_t& out);
std::string ReadString(const bson_iter_t& it);
std::string ReadBytes(const bson_iter_t& it);
bool ReadTime(const bson_iter_t& it, Timestamp& out);
std::string CanonicalJson(const bson_t* doc);
// The .NET driver's default DateTimeOffset encoding: [ticks (int64), offset minutes (int32)];
// always written with offset 0 (UTC), truncated to milliseconds.
void AppendDateTimeOffset(bson_t* doc, const char* key, Timestamp t);
void AppendOptionalDateTimeOffset(bson_t* doc, const char* key, const std::optional<Timestamp>& t);
// Also reads a BSON date; false for anything else (null included).
bool ReadDateTimeOffset(const bson_iter_t& it, Timestamp& out);
void AppendOptionalString(bson_t* doc, const char* key, const std::optional<std::string>& value);
std::optional<std::string> ReadOptionalString(const bson_iter_t& it);

// ---- documents and filters (server.md §3.6) ----
std::string OpId(std::string_view document_id, int64_t revision);
// Null when the op does not fit in a BSON document.
BsonPtr OpDocument(std::string_view document_id, const StoredOp& op);
BsonPtr SnapshotUpdate(const Snapshot& snapshot);
BsonPtr IdFilter(std::string_view id);
// `_id` in the ids of the first `count` ops.
BsonPtr IdsFilter(std::string_view document_id, const std::vector<StoredOp>& ops, size_t count);
BsonPtr OpsAfterFilter(std::string_view document_id, int64_t after);
BsonPtr OpsUpToFilter(std::string_view document_id, int64_t up_to);
BsonPtr SortBy(const char* key, int direction);
// `{key: {$regex: "^<escaped prefix>"}}`.
BsonPtr PrefixFilter(const char* key, std::string_view prefix);
BsonPtr DocumentIdFilter(std::string_view document_id);
// Ops of the matched documents grouped by DocumentId: `_id`, `Revision` (max), `Timestamp` (max), `Count`.
BsonPtr OpsSummaryPipeline(const BsonPtr& match);
BsonPtr Ping();

struct IndexSpec {
  const char* collection;
  std::vector<std::pair<const char*, int>> keys;
  std::string name;
  bool unique = false;
};
// The reference's indexes plus those of the comment and ref collections this provider adds.
const std::vector<IndexSpec>& ReferenceIndexes();
BsonPtr CreateIndexCommand(const IndexSpec& index);

// The first entry of a write reply's `writeErrors`.
struct WriteError {
  size_t index = 0;
  int32_t code = 0;
  std::string message;
};
std::optional<WriteError> FirstWriteError(const bson_t* reply);

// ---- configuration ----
Status ValidateDatabaseName(std::string_view name);
// The password in `mongodb://user:password@host` (empty when there is none).
std::string UriPassword(std::string_view uri);
// `message` with every occurrence of `secret` replaced by `***`.
std::string RedactSecret(std::string message, std::string_view secret);

}  // namespace opstream::storage::mongo
