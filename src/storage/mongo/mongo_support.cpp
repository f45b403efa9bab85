#include "storage/mongo/mongo_support.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <limits>
#include <mutex>

#include "storage/mongo/mongo_document_store.hpp"

namespace opstream::storage::mongo {
namespace {

void LogFromDriver(mongoc_log_level_t level, const char* domain, const char* message, void*) {
  // The driver's own messages name hosts, never the URI's credentials; trace and debug are noise.
  if (level <= MONGOC_LOG_LEVEL_WARNING) {
    spdlog::warn("storage.mongo: {}: {}", domain ? domain : "", message ? message : "");
  } else if (level <= MONGOC_LOG_LEVEL_INFO) {
    spdlog::debug("storage.mongo: {}: {}", domain ? domain : "", message ? message : "");
  }
}

int Length(std::string_view value) { return static_cast<int>(std::min<size_t>(value.size(), INT32_MAX)); }

}  // namespace

void InitializeDriver() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_init();
    mongoc_log_set_handler(LogFromDriver, nullptr);
  });
}

void AppendString(bson_t* doc, const char* key, std::string_view value) {
  bson_append_utf8(doc, key, -1, value.data(), Length(value));
}

bool AppendBytes(bson_t* doc, const char* key, std::string_view value) {
  if (value.size() > static_cast<size_t>(INT32_MAX)) return false;
  return bson_append_binary(doc, key, -1, BSON_SUBTYPE_BINARY, reinterpret_cast<const uint8_t*>(value.data()),
                            static_cast<uint32_t>(value.size()));
}

int64_t ToBsonMillis(Timestamp t) {
  const int64_t ns = t.time_since_epoch().count();
  return ns / 1000000 - (ns % 1000000 < 0 ? 1 : 0);
}

void AppendTime(bson_t* doc, const char* key, Timestamp t) { bson_append_date_time(doc, key, -1, ToBsonMillis(t)); }

bool ReadInt64(const bson_iter_t& it, int64_t& out) {
  switch (bson_iter_type(&it)) {
    case BSON_TYPE_INT64:
      out = bson_iter_int64(&it);
      return true;
    case BSON_TYPE_INT32:
      out = bson_iter_int32(&it);
      return true;
    case BSON_TYPE_DOUBLE: {
      const double d = bson_iter_double(&it);
      if (!(d >= -9.2e18 && d <= 9.2e18)) return false;
      out = static_cast<int64_t>(d);
      return true;
    }
    default:
      return false;
  }
}

std::string ReadString(const bson_iter_t& it) {
  if (bson_iter_type(&it) != BSON_TYPE_UTF8) return {};
  uint32_t length = 0;
  const char* text = bson_iter_utf8(&it, &length);
  return std::string(text, length);
}

std::string ReadBytes(const bson_iter_t& it) {
  if (bson_iter_type(&it) == BSON_TYPE_BINARY) {
    bson_subtype_t subtype;
    uint32_t length = 0;
    const uint8_t* data = nullptr;
    bson_iter_binary(&it, &subtype, &length, &data);
    return std::string(reinterpret_cast<const char*>(data), length);
  }
  return ReadString(it);
}

bool ReadTime(const bson_iter_t& it, Timestamp& out) {
  if (bson_iter_type(&it) != BSON_TYPE_DATE_TIME) return false;
  out = Timestamp(std::chrono::milliseconds(bson_iter_date_time(&it)));
  return true;
}

namespace {
constexpr int64_t kUnixEpochTicks = 621355968000000000LL;  // 0001-01-01 to 1970-01-01 in 100 ns ticks
}

void AppendDateTimeOffset(bson_t* doc, const char* key, Timestamp t) {
  // Milliseconds, like every other time this provider stores (BSON dates), so a record reads
  // back the same whichever collection it is in.
  const int64_t ticks = ToBsonMillis(t) * 10000 + kUnixEpochTicks;
  bson_t array;
  BSON_APPEND_ARRAY_BEGIN(doc, key, &array);
  BSON_APPEND_INT64(&array, "0", ticks);
  BSON_APPEND_INT32(&array, "1", 0);
  bson_append_array_end(doc, &array);
}

void AppendOptionalDateTimeOffset(bson_t* doc, const char* key, const std::optional<Timestamp>& t) {
  if (t) {
    AppendDateTimeOffset(doc, key, *t);
  } else {
    BSON_APPEND_NULL(doc, key);
  }
}

bool ReadDateTimeOffset(const bson_iter_t& it, Timestamp& out) {
  if (bson_iter_type(&it) == BSON_TYPE_DATE_TIME) return ReadTime(it, out);
  if (bson_iter_type(&it) != BSON_TYPE_ARRAY) return false;
  bson_iter_t child;
  if (!bson_iter_recurse(&it, &child)) return false;
  int64_t ticks = 0, offset_minutes = 0;
  if (!bson_iter_next(&child) || !ReadInt64(child, ticks)) return false;
  if (bson_iter_next(&child)) ReadInt64(child, offset_minutes);
  // The ticks are the local clock time; UTC = local - offset.
  const int64_t utc_ticks = ticks - kUnixEpochTicks - offset_minutes * 600000000LL;
  out = Timestamp(std::chrono::nanoseconds(utc_ticks * 100));
  return true;
}

void AppendOptionalString(bson_t* doc, const char* key, const std::optional<std::string>& value) {
  if (value) {
    AppendString(doc, key, *value);
  } else {
    BSON_APPEND_NULL(doc, key);
  }
}

std::optional<std::string> ReadOptionalString(const bson_iter_t& it) {
  if (bson_iter_type(&it) != BSON_TYPE_UTF8) return std::nullopt;
  return ReadString(it);
}

std::string CanonicalJson(const bson_t* doc) {
  size_t length = 0;
  char* json = bson_as_canonical_extended_json(doc, &length);
  if (json == nullptr) return {};
  std::string out(json, length);
  bson_free(json);
  return out;
}

std::string OpId(std::string_view document_id, int64_t revision) { return fmt::format("{}:{}", document_id, revision); }

BsonPtr OpDocument(std::string_view document_id, const StoredOp& op) {
  BsonPtr doc = NewBson();
  AppendString(doc.get(), "_id", OpId(document_id, op.revision));
  AppendString(doc.get(), "DocumentId", document_id);
  BSON_APPEND_INT64(doc.get(), "Revision", op.revision);
  AppendString(doc.get(), "AuthorId", op.author_id);
  AppendTime(doc.get(), "Timestamp", op.timestamp);
  if (!AppendBytes(doc.get(), "Payload", op.payload)) return nullptr;
  AppendString(doc.get(), "EngineType", op.engine_type);
  return doc;
}

BsonPtr SnapshotUpdate(const Snapshot& snapshot) {
  BsonPtr update = NewBson();
  bson_t set;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  BSON_APPEND_INT64(&set, "Revision", snapshot.revision);
  AppendTime(&set, "Timestamp", snapshot.timestamp);
  const bool fits = AppendBytes(&set, "State", snapshot.state);
  bson_append_document_end(update.get(), &set);
  if (!fits) return nullptr;
  return update;
}

BsonPtr IdFilter(std::string_view id) {
  BsonPtr filter = NewBson();
  AppendString(filter.get(), "_id", id);
  return filter;
}

BsonPtr IdsFilter(std::string_view document_id, const std::vector<StoredOp>& ops, size_t count) {
  BsonPtr filter = NewBson();
  bson_t id, in;
  BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &id);
  BSON_APPEND_ARRAY_BEGIN(&id, "$in", &in);
  for (size_t i = 0; i < count && i < ops.size(); ++i) {
    const std::string key = std::to_string(i);
    AppendString(&in, key.c_str(), OpId(document_id, ops[i].revision));
  }
  bson_append_array_end(&id, &in);
  bson_append_document_end(filter.get(), &id);
  return filter;
}

namespace {
BsonPtr RevisionRangeFilter(std::string_view document_id, const char* op, int64_t bound) {
  BsonPtr filter = NewBson();
  AppendString(filter.get(), "DocumentId", document_id);
  bson_t range;
  BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "Revision", &range);
  BSON_APPEND_INT64(&range, op, bound);
  bson_append_document_end(filter.get(), &range);
  return filter;
}
}  // namespace

BsonPtr OpsAfterFilter(std::string_view document_id, int64_t after) {
  return RevisionRangeFilter(document_id, "$gt", after);
}

BsonPtr OpsUpToFilter(std::string_view document_id, int64_t up_to) {
  return RevisionRangeFilter(document_id, "$lte", up_to);
}

BsonPtr SortBy(const char* key, int direction) {
  BsonPtr opts = NewBson();
  bson_t sort;
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "sort", &sort);
  BSON_APPEND_INT32(&sort, key, direction);
  bson_append_document_end(opts.get(), &sort);
  return opts;
}

BsonPtr PrefixFilter(const char* key, std::string_view prefix) {
  BsonPtr filter = NewBson();
  bson_t regex;
  BSON_APPEND_DOCUMENT_BEGIN(filter.get(), key, &regex);
  AppendString(&regex, "$regex", PrefixPattern(prefix));
  bson_append_document_end(filter.get(), &regex);
  return filter;
}

BsonPtr DocumentIdFilter(std::string_view document_id) {
  BsonPtr filter = NewBson();
  AppendString(filter.get(), "DocumentId", document_id);
  return filter;
}

BsonPtr OpsSummaryPipeline(const BsonPtr& match) {
  BsonPtr command = NewBson();
  bson_t pipeline, stage, group, max_revision, max_time, count;
  BSON_APPEND_ARRAY_BEGIN(command.get(), "pipeline", &pipeline);
  BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "0", &stage);
  BSON_APPEND_DOCUMENT(&stage, "$match", match.get());
  bson_append_document_end(&pipeline, &stage);
  BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "1", &stage);
  BSON_APPEND_DOCUMENT_BEGIN(&stage, "$group", &group);
  BSON_APPEND_UTF8(&group, "_id", "$DocumentId");
  BSON_APPEND_DOCUMENT_BEGIN(&group, "Revision", &max_revision);
  BSON_APPEND_UTF8(&max_revision, "$max", "$Revision");
  bson_append_document_end(&group, &max_revision);
  BSON_APPEND_DOCUMENT_BEGIN(&group, "Timestamp", &max_time);
  BSON_APPEND_UTF8(&max_time, "$max", "$Timestamp");
  bson_append_document_end(&group, &max_time);
  BSON_APPEND_DOCUMENT_BEGIN(&group, "Count", &count);
  BSON_APPEND_INT32(&count, "$sum", 1);
  bson_append_document_end(&group, &count);
  bson_append_document_end(&stage, &group);
  bson_append_document_end(&pipeline, &stage);
  bson_append_array_end(command.get(), &pipeline);
  return command;
}

BsonPtr Ping() {
  BsonPtr command = NewBson();
  BSON_APPEND_INT32(command.get(), "ping", 1);
  return command;
}

const std::vector<IndexSpec>& ReferenceIndexes() {
  // Names are the server's defaults for these keys, as the reference's driver creates them, so
  // createIndexes on a database the reference set up is a no-op rather than an options conflict.
  static const std::vector<IndexSpec> indexes = {
      {"ops", {{"DocumentId", 1}, {"Revision", 1}}, "DocumentId_1_Revision_1"},
      {"history_ops", {{"DocumentId", 1}, {"Revision", 1}}, "DocumentId_1_Revision_1"},
      {"history_snapshots", {{"DocumentId", 1}, {"Revision", -1}}, "DocumentId_1_Revision_-1"},
      {"comments",
       {{"DocumentId", 1}, {"ParentCommentId", 1}, {"ResolvedAt", 1}},
       "DocumentId_1_ParentCommentId_1_ResolvedAt_1"},
      // Not in the reference (its Mongo provider keeps refs in process): uniqueness of the keys the
      // relational tables have as primary keys, and the pin-guard lookup (docs/storage/mongo.md).
      {"document_branches", {{"GlobalName", 1}, {"BranchId", 1}}, "GlobalName_1_BranchId_1", true},
      {"document_branches", {{"PhysicalDocumentId", 1}}, "PhysicalDocumentId_1"},
      {"document_versions", {{"GlobalName", 1}, {"BranchId", 1}, {"Tag", 1}}, "GlobalName_1_BranchId_1_Tag_1", true},
  };
  return indexes;
}

BsonPtr CreateIndexCommand(const IndexSpec& index) {
  BsonPtr command = NewBson();
  BSON_APPEND_UTF8(command.get(), "createIndexes", index.collection);
  bson_t indexes, spec, key;
  BSON_APPEND_ARRAY_BEGIN(command.get(), "indexes", &indexes);
  BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &spec);
  BSON_APPEND_DOCUMENT_BEGIN(&spec, "key", &key);
  for (const auto& [name, direction] : index.keys) BSON_APPEND_INT32(&key, name, direction);
  bson_append_document_end(&spec, &key);
  AppendString(&spec, "name", index.name);
  if (index.unique) BSON_APPEND_BOOL(&spec, "unique", true);
  bson_append_document_end(&indexes, &spec);
  bson_append_array_end(command.get(), &indexes);
  return command;
}

std::optional<WriteError> FirstWriteError(const bson_t* reply) {
  bson_iter_t it, errors;
  if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
      !bson_iter_recurse(&it, &errors) || !bson_iter_next(&errors) || !BSON_ITER_HOLDS_DOCUMENT(&errors)) {
    return std::nullopt;
  }
  bson_iter_t field;
  if (!bson_iter_recurse(&errors, &field)) return std::nullopt;
  WriteError out;
  while (bson_iter_next(&field)) {
    const std::string_view key = bson_iter_key(&field);
    int64_t value = 0;
    if (key == "index" && ReadInt64(field, value) && value >= 0) {
      out.index = static_cast<size_t>(value);
    } else if (key == "code" && ReadInt64(field, value)) {
      out.code = static_cast<int32_t>(value);
    } else if (key == "errmsg") {
      out.message = ReadString(field);
    }
  }
  return out;
}

Status ValidateDatabaseName(std::string_view name) {
  // The server's own restrictions for database names on every platform.
  if (name.empty() || name.size() > 63 ||
      name.find_first_of(std::string_view("/\\. \"$*<>:|?\0", 13)) != std::string_view::npos) {
    return Status::Error(fmt::format(
        "OpStream:Storage:DatabaseName '{}' is not a valid MongoDB database name (1 to 63 characters, none of "
        "/\\. \"$*<>:|?).",
        name));
  }
  return Status::Ok();
}

std::string UriPassword(std::string_view uri) {
  const size_t scheme = uri.find("://");
  if (scheme == std::string_view::npos) return {};
  const std::string_view rest = uri.substr(scheme + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return {};
  const std::string_view userinfo = authority.substr(0, at);
  const size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) return {};
  return std::string(userinfo.substr(colon + 1));
}

std::string RedactSecret(std::string message, std::string_view secret) {
  if (secret.empty()) return message;
  for (size_t at = message.find(secret); at != std::string::npos; at = message.find(secret, at + 3)) {
    message.replace(at, secret.size(), "***");
  }
  return message;
}

}  // namespace opstream::storage::mongo

namespace opstream::storage::mongo {

std::string OpDocumentJson(std::string_view document_id, const StoredOp& op) {
  BsonPtr doc = OpDocument(document_id, op);
  return doc ? CanonicalJson(doc.get()) : std::string();
}

std::string SnapshotUpdateJson(const Snapshot& snapshot) {
  BsonPtr doc = SnapshotUpdate(snapshot);
  return doc ? CanonicalJson(doc.get()) : std::string();
}

std::string PrefixPattern(std::string_view prefix) {
  std::string pattern = "^";
  for (const char c : prefix) {
    const auto u = static_cast<unsigned char>(c);
    // ASCII punctuation escaped with a backslash is a literal in PCRE (the server) and in Python's
    // re (the stand-in); letters, digits and non-ASCII bytes stay as they are.
    if (u < 0x80 && std::ispunct(u)) pattern += '\\';
    pattern += c;
  }
  return pattern;
}

}  // namespace opstream::storage::mongo
