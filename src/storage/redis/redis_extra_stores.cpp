// The `redis` provider's management calls (Enumerate, GetInfo, Delete, DeleteByTenantPrefix) and
// its history, comment and ref stores. Keys (docs/storage/redis.md):
//
//   doc:{id}:history_ops           stream      as doc:{id}:ops (reference, §3.7)
//   doc:{id}:history_snapshots     sorted set  snapshot JSON (+ "name" when named), score = revision
//   comments:{docId}               hash        comment id -> camelCase comment JSON (reference library)
//   comments:{docId}:byrev         sorted set  comment id, score = anchoredAtRevision; unresolved
//                                              roots with an anchor only (reference library)
//   comments:id:{commentId}        string      document id (reference library)
//   refs:names                     hash        global name -> DocumentNameInfo JSON
//   refs:branches:{name}           hash        branch id -> BranchRef JSON
//   refs:versions:{name}           hash        "{branchId}\0{tag}" -> VersionRef JSON
//   refs:pins:{physicalId}         hash        "{name}\0{branchId}" -> "1" (the pin guard's index)
//
// Writes that touch several keys are Lua scripts, so each is atomic. All callbacks run on the
// store's I/O thread, so the state of a multi-step call needs no lock.
#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "common/base64.hpp"
#include "storage/append_rules.hpp"
#include "storage/redis/redis_document_store.hpp"
#include "storage/redis/redis_format.hpp"
#include "storage/store_jobs.hpp"

namespace opstream::storage {

using namespace redis_format;
using redis::Reply;
namespace json = boost::json;

namespace {

template <typename F, typename... Args>
void Call(F& f, Args&&... args) noexcept {
  jobs::InvokeCompletion("redis", f, std::forward<Args>(args)...);
}

Status Failed(std::string_view operation, const Status& status) {
  return Status::Error(fmt::format("Redis {} failed: {}", operation, status.message()));
}

// SCAN's glob with the metacharacters of §3.7 escaped.
std::string GlobEscape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string Key(std::string_view prefix, std::string_view id, std::string_view suffix) {
  return fmt::format("{}doc:{}:{}", prefix, id, suffix);
}

constexpr char kSeparator = '\0';  // between the parts of a hash field (ids never hold NUL)

std::string Pair(std::string_view a, std::string_view b) {
  std::string out(a);
  out += kSeparator;
  out += b;
  return out;
}

// ---- JSON of records ----

// The object `text` holds, or null when it is not a JSON object; `holder` keeps it alive.
const json::object* ParseObject(std::string_view text, json::value& holder) {
  json::error_code ec;
  holder = json::parse(text, ec);
  return ec ? nullptr : holder.if_object();
}

std::string String(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::optional<std::string> OptionalString(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return 0;
}

bool Bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

std::optional<Timestamp> Time(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return ParseTimestamp(v->get_string());
}

json::value OptionalValue(const std::optional<std::string>& s) { return s ? json::value(*s) : json::value(nullptr); }

json::value OptionalTime(const std::optional<Timestamp>& t) {
  return t ? json::value(FormatIsoTimestamp(*t)) : json::value(nullptr);
}

// Anchor text that is not a JSON object counts as no anchor (server.md §3.4.7).
bool IsAnchorObject(const std::optional<std::string>& anchor) {
  if (!anchor) return false;
  json::error_code ec;
  const json::value v = json::parse(*anchor, ec);
  return !ec && v.is_object();
}

std::string CommentJson(const Comment& c) {
  json::object o;
  o["id"] = c.id;
  o["documentId"] = c.document_id;
  o["parentCommentId"] = OptionalValue(c.parent_comment_id);
  o["authorPeerId"] = c.author_peer_id;
  o["authorName"] = c.author_name;
  o["body"] = c.body;
  // The record's anchor is a JSON object (§7.1); text that is not JSON is kept as a string.
  if (c.anchor_json) {
    json::error_code ec;
    json::value anchor = json::parse(*c.anchor_json, ec);
    o["anchor"] = ec ? json::value(*c.anchor_json) : std::move(anchor);
  } else {
    o["anchor"] = nullptr;
  }
  o["anchoredAtRevision"] = c.anchored_at_revision;
  o["createdAt"] = FormatIsoTimestamp(c.created_at);
  o["resolvedAt"] = OptionalTime(c.resolved_at);
  o["resolvedByPeerId"] = OptionalValue(c.resolved_by_peer_id);
  o["isOrphaned"] = c.is_orphaned;
  return json::serialize(o);
}

bool ParseComment(std::string_view text, Comment& c) {
  json::value v;
  const json::object* o = ParseObject(text, v);
  if (!o) return false;
  c.id = String(*o, "id");
  c.document_id = String(*o, "documentId");
  c.parent_comment_id = OptionalString(*o, "parentCommentId");
  c.author_peer_id = String(*o, "authorPeerId");
  c.author_name = String(*o, "authorName");
  c.body = String(*o, "body");
  const json::value* anchor = o->if_contains("anchor");
  if (!anchor || anchor->is_null()) {
    c.anchor_json.reset();
  } else if (anchor->is_string()) {
    c.anchor_json = std::string(anchor->get_string());
  } else {
    c.anchor_json = json::serialize(*anchor);
  }
  c.anchored_at_revision = Int(*o, "anchoredAtRevision");
  c.created_at = Time(*o, "createdAt").value_or(Timestamp());
  c.resolved_at = Time(*o, "resolvedAt");
  c.resolved_by_peer_id = OptionalString(*o, "resolvedByPeerId");
  c.is_orphaned = Bool(*o, "isOrphaned");
  return !c.id.empty();
}

// The byrev score of a comment: only unresolved roots with an anchor are listed.
std::string ByRevisionScore(const Comment& c) {
  if (c.parent_comment_id || c.resolved_at || !IsAnchorObject(c.anchor_json)) return {};
  return std::to_string(c.anchored_at_revision);
}

std::string NameJson(const DocumentName& n) {
  json::object o;
  o["name"] = n.global_name;
  o["defaultBranchId"] = n.default_branch_id;
  o["engineType"] = n.engine_type;
  o["createdAt"] = FormatIsoTimestamp(n.created_at);
  return json::serialize(o);
}

bool ParseName(std::string_view text, DocumentName& n) {
  json::value v;
  const json::object* o = ParseObject(text, v);
  if (!o) return false;
  n.global_name = String(*o, "name");
  n.default_branch_id = String(*o, "defaultBranchId");
  n.engine_type = String(*o, "engineType");
  n.created_at = Time(*o, "createdAt").value_or(Timestamp());
  return true;
}

std::string BranchJson(const DocumentBranch& b) {
  json::object o;
  o["name"] = b.global_name;
  o["branchId"] = b.branch_id;
  o["physicalDocumentId"] = b.physical_document_id;
  o["forkParentBranchId"] = OptionalValue(b.fork_parent_branch_id);
  o["forkRevision"] = b.fork_revision;
  o["createdAt"] = FormatIsoTimestamp(b.created_at);
  o["isReadOnly"] = b.is_read_only;
  return json::serialize(o);
}

bool ParseBranch(std::string_view text, DocumentBranch& b) {
  json::value v;
  const json::object* o = ParseObject(text, v);
  if (!o) return false;
  b.global_name = String(*o, "name");
  b.branch_id = String(*o, "branchId");
  b.physical_document_id = String(*o, "physicalDocumentId");
  b.fork_parent_branch_id = OptionalString(*o, "forkParentBranchId");
  b.fork_revision = Int(*o, "forkRevision");
  b.created_at = Time(*o, "createdAt").value_or(Timestamp());
  b.is_read_only = Bool(*o, "isReadOnly");
  return true;
}

std::string VersionJson(const DocumentVersion& v) {
  json::object o;
  o["name"] = v.global_name;
  o["branchId"] = v.branch_id;
  o["tag"] = v.tag;
  o["revision"] = v.revision;
  o["historySnapshotName"] = v.history_snapshot_name;
  o["createdAt"] = FormatIsoTimestamp(v.created_at);
  return json::serialize(o);
}

bool ParseVersion(std::string_view text, DocumentVersion& out) {
  json::value v;
  const json::object* o = ParseObject(text, v);
  if (!o) return false;
  out.global_name = String(*o, "name");
  out.branch_id = String(*o, "branchId");
  out.tag = String(*o, "tag");
  out.revision = Int(*o, "revision");
  out.history_snapshot_name = String(*o, "historySnapshotName");
  out.created_at = Time(*o, "createdAt").value_or(Timestamp());
  return true;
}

// A history snapshot member: the reference's snapshot JSON, plus "name" when named.
std::string HistorySnapshotJson(const Snapshot& snapshot, const std::optional<std::string>& name) {
  std::string text = SnapshotJson(snapshot);
  if (name) {
    text.pop_back();  // the closing brace
    text += ",\"name\":";
    text += json::serialize(json::value(*name));
    text += '}';
  }
  return text;
}

std::optional<std::string> HistorySnapshotName(std::string_view text) {
  json::value v;
  const json::object* o = ParseObject(text, v);
  return o ? OptionalString(*o, "name") : std::nullopt;
}

// ---- scripts ----

// KEYS: snapshot, ops. {snapshot or nil, XLEN, last entry or {}} from one point in time.
constexpr std::string_view kInfoScript = R"lua(
return {redis.call('GET', KEYS[1]), redis.call('XLEN', KEYS[2]), redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)}
)lua";

// KEYS: history_snapshots. ARGV: revision, member. 0 when the revision already has a snapshot.
constexpr std::string_view kHistorySnapshotScript = R"lua(
if #redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1], 'LIMIT', 0, 1) > 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return 1
)lua";

// KEYS: history_ops, history_snapshots. ARGV: min id kept, up_to.
constexpr std::string_view kPurgeScript = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
return 1
)lua";

// KEYS: hash, byrev, id key. ARGV: comment id, JSON, document id, byrev score ('' = not listed).
constexpr std::string_view kCommentAddScript = R"lua(
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
return 1
)lua";

// KEYS: hash, byrev. ARGV: (comment id, JSON, byrev score or '') repeated. Replaces existing ones only.
constexpr std::string_view kCommentSetScript = R"lua(
for i = 1, #ARGV, 3 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    if ARGV[i + 2] ~= '' then redis.call('ZADD', KEYS[2], ARGV[i + 2], ARGV[i])
    else redis.call('ZREM', KEYS[2], ARGV[i]) end
  end
end
return 1
)lua";

// KEYS: hash, byrev, then the id keys. ARGV: comment ids.
constexpr std::string_view kCommentDeleteScript = R"lua(
for i = 1, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('DEL', KEYS[i + 2])
end
return 1
)lua";

// KEYS: branches hash, pins hash. ARGV: branch id, JSON, pin field.
constexpr std::string_view kBranchCreateScript = R"lua(
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[3], '1')
return 1
)lua";

// KEYS: branches hash, pins hash. ARGV: branch id, pin field.
constexpr std::string_view kBranchDeleteScript = R"lua(
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
)lua";

std::vector<std::string> Eval(std::string_view script, std::vector<std::string> keys, std::vector<std::string> args) {
  std::vector<std::string> out;
  out.reserve(3 + keys.size() + args.size());
  out.emplace_back("EVAL");
  out.emplace_back(script);
  out.push_back(std::to_string(keys.size()));
  for (auto& k : keys) out.push_back(std::move(k));
  for (auto& a : args) out.push_back(std::move(a));
  return out;
}

// Document ids in `keys` of the form {prefix}doc:{id}:{suffix} for one of `suffixes`.
std::set<std::string> DocumentIds(const std::vector<std::string>& keys, std::string_view key_prefix,
                                  std::initializer_list<std::string_view> suffixes) {
  std::set<std::string> ids;
  const std::string head = std::string(key_prefix) + "doc:";
  for (const std::string& key : keys) {
    if (!key.starts_with(head)) continue;
    for (std::string_view suffix : suffixes) {
      const std::string tail = ":" + std::string(suffix);
      if (key.size() >= head.size() + tail.size() && key.ends_with(tail)) {
        ids.insert(key.substr(head.size(), key.size() - head.size() - tail.size()));
        break;
      }
    }
  }
  return ids;
}

}  // namespace

// ---- plumbing ----

void RedisDocumentStore::ScanKeys(std::vector<std::string> patterns,
                                  std::function<void(Status, std::vector<std::string>)> done) {
  struct State {
    std::vector<std::string> patterns;
    size_t pattern = 0;
    std::vector<std::string> keys;
    std::function<void(Status, std::vector<std::string>)> done;
    std::function<void(std::string)> next;
  };
  auto state = std::make_shared<State>();
  state->patterns = std::move(patterns);
  state->done = std::move(done);
  std::weak_ptr<State> weak = state;
  state->next = [this, weak](std::string cursor) {
    auto s = weak.lock();
    if (!s) return;
    if (s->pattern >= s->patterns.size()) {
      auto finished = std::move(s->done);
      auto keys = std::move(s->keys);
      s->next = nullptr;  // breaks the cycle
      Call(finished, Status::Ok(), std::move(keys));
      return;
    }
    Run({"SCAN", cursor, "MATCH", s->patterns[s->pattern], "COUNT", "250"}, [s](Status status, Reply reply) {
      if (!status.ok() || reply.elements.size() != 2) {
        auto finished = std::move(s->done);
        s->next = nullptr;
        Call(finished, status.ok() ? Status::Error("unexpected SCAN reply") : status, std::vector<std::string>());
        return;
      }
      for (Reply& key : reply.elements[1].elements) s->keys.push_back(std::move(key.str));
      std::string following = reply.elements[0].str;
      if (following == "0") {
        ++s->pattern;
        following = "0";
      }
      auto step = s->next;  // a copy: the call may end the chain
      if (step) step(std::move(following));
    });
  };
  auto start = state->next;
  start("0");
}

// ---- DocumentStore management calls ----

namespace {

// The reply of kInfoScript as a DocumentInfo; none when the document has neither snapshot nor ops.
Status ReadInfo(const std::string& id, const Reply& reply, std::optional<DocumentInfo>& out) {
  if (reply.elements.size() != 3) return Status::Error("unexpected reply to the info script");
  std::optional<Snapshot> snapshot;
  if (reply.elements[0].type == Reply::Type::kString) {
    Snapshot s;
    if (Status status = ParseSnapshotJson(id, reply.elements[0].str, s); !status.ok()) return status;
    snapshot = std::move(s);
  }
  const int64_t count = reply.elements[1].integer;
  std::optional<StoredOp> last;
  if (!reply.elements[2].elements.empty()) {
    StoredOp op;
    if (Status status = ParseStreamEntry(id, reply.elements[2].elements[0], op); !status.ok()) return status;
    last = std::move(op);
  }
  if (!snapshot && !last) return Status::Ok();
  DocumentInfo info;
  info.document_id = id;
  info.op_count = count;
  info.revision = std::max(snapshot ? snapshot->revision : INT64_MIN, last ? last->revision : INT64_MIN);
  info.last_modified =
      std::max(snapshot ? snapshot->timestamp : Timestamp::min(), last ? last->timestamp : Timestamp::min());
  out = std::move(info);
  return Status::Ok();
}

}  // namespace

void RedisDocumentStore::GetInfo(std::string document_id, InfoCompletion done) {
  const std::string& p = key_prefix();
  Run(Eval(kInfoScript, {Key(p, document_id, "snapshot"), Key(p, document_id, "ops")}, {}),
      [id = document_id, done = std::move(done)](Status status, Reply reply) mutable {
        std::optional<DocumentInfo> info;
        if (status.ok()) status = ReadInfo(id, reply, info);
        if (!status.ok()) {
          info.reset();
          status = Failed("document info", status);
        }
        Call(done, std::move(status), std::move(info));
      });
}

void RedisDocumentStore::Enumerate(std::string prefix, DocumentQuery query, EnumerateCompletion done) {
  const std::string p = key_prefix();
  const std::string glob = GlobEscape(p) + "doc:" + GlobEscape(prefix) + "*:";
  ScanKeys({glob + "snapshot", glob + "ops"}, [this, p, prefix, query, done = std::move(done)](
                                                  Status status, std::vector<std::string> keys) mutable {
    if (!status.ok()) return Call(done, Failed("enumeration", status), std::vector<DocumentInfo>());
    std::set<std::string> ids = DocumentIds(keys, p, {"snapshot", "ops"});
    std::erase_if(ids, [&prefix](const std::string& id) { return !id.starts_with(prefix); });
    if (ids.empty()) return Call(done, Status::Ok(), std::vector<DocumentInfo>());
    struct Gather {
      std::map<std::string, std::optional<DocumentInfo>> infos;
      size_t pending = 0;
      Status failure;
      DocumentQuery query;
      EnumerateCompletion done;
    };
    auto gather = std::make_shared<Gather>();
    gather->pending = ids.size();
    gather->query = query;
    gather->done = std::move(done);
    for (const std::string& id : ids) {
      Run(Eval(kInfoScript, {Key(p, id, "snapshot"), Key(p, id, "ops")}, {}), [gather, id](Status s, Reply reply) {
        std::optional<DocumentInfo> info;
        if (s.ok()) s = ReadInfo(id, reply, info);
        if (!s.ok() && gather->failure.ok()) gather->failure = Failed("enumeration", s);
        gather->infos[id] = std::move(info);
        if (--gather->pending > 0) return;
        std::vector<DocumentInfo> out;
        if (!gather->failure.ok()) return Call(gather->done, gather->failure, std::move(out));
        const int64_t skip = gather->query.skip.value_or(0) > 0 ? *gather->query.skip : 0;
        const int64_t take = gather->query.take.value_or(0) > 0 ? *gather->query.take : INT64_MAX;
        int64_t index = 0;
        for (auto& [key, found] : gather->infos) {
          if (!found) continue;
          if (index++ < skip) continue;
          if (static_cast<int64_t>(out.size()) >= take) break;
          out.push_back(std::move(*found));
        }
        Call(gather->done, Status::Ok(), std::move(out));
      });
    }
  });
}

void RedisDocumentStore::Delete(std::string document_id, Completion done) {
  const std::string& p = key_prefix();
  Run({"DEL", Key(p, document_id, "snapshot"), Key(p, document_id, "ops")},
      [done = std::move(done)](Status status, Reply) mutable {
        Call(done, status.ok() ? status : Failed("delete", status));
      });
}

namespace {

// DEL of `keys` in batches of 500; `done` gets the first failure or Ok.
void DeleteKeys(std::function<void(std::vector<std::string>, std::function<void(Status, Reply)>)> run,
                std::vector<std::string> keys, std::function<void(Status)> done) {
  if (keys.empty()) return done(Status::Ok());
  struct Gather {
    size_t pending = 0;
    Status failure;
    std::function<void(Status)> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->done = std::move(done);
  std::vector<std::vector<std::string>> batches;
  for (size_t i = 0; i < keys.size(); i += 500) {
    std::vector<std::string> batch{"DEL"};
    for (size_t j = i; j < std::min(keys.size(), i + 500); ++j) batch.push_back(std::move(keys[j]));
    batches.push_back(std::move(batch));
  }
  gather->pending = batches.size();
  for (auto& batch : batches) {
    run(std::move(batch), [gather](Status status, Reply) {
      if (!status.ok() && gather->failure.ok()) gather->failure = status;
      if (--gather->pending == 0) gather->done(gather->failure);
    });
  }
}

}  // namespace

void RedisDocumentStore::DeleteByTenantPrefix(std::string prefix, CountCompletion done) {
  const std::string p = key_prefix();
  const std::string glob = GlobEscape(p) + "doc:" + GlobEscape(prefix) + "*:";
  ScanKeys({glob + "snapshot", glob + "ops"},
           [this, p, prefix, done = std::move(done)](Status status, std::vector<std::string> keys) mutable {
             if (!status.ok()) return Call(done, Failed("prefix delete", status), int64_t{0});
             std::set<std::string> ids = DocumentIds(keys, p, {"snapshot", "ops"});
             std::erase_if(ids, [&prefix](const std::string& id) { return !id.starts_with(prefix); });
             const auto count = static_cast<int64_t>(ids.size());
             DeleteKeys([this](std::vector<std::string> args,
                               std::function<void(Status, Reply)> cb) { Run(std::move(args), std::move(cb)); },
                        std::move(keys),
                        [count, done = std::move(done)](Status s) mutable {
                          if (!s.ok()) return Call(done, Failed("prefix delete", s), int64_t{0});
                          Call(done, Status::Ok(), count);
                        });
           });
}

// ---- HistoryStore ----

void RedisDocumentStore::LoadHistorySnapshot(std::string document_id, int64_t max_revision, SnapshotCompletion done) {
  Run({"ZREVRANGEBYSCORE", Key(key_prefix(), document_id, "history_snapshots"), std::to_string(max_revision), "-inf",
       "LIMIT", "0", "1"},
      [id = document_id, done = std::move(done)](Status status, Reply reply) mutable {
        std::optional<Snapshot> out;
        if (status.ok() && !reply.elements.empty()) {
          Snapshot snapshot;
          status = ParseSnapshotJson(id, reply.elements[0].str, snapshot);
          if (status.ok()) out = std::move(snapshot);
        }
        if (!status.ok()) {
          out.reset();
          status = Failed("history snapshot load", status);
        }
        Call(done, std::move(status), std::move(out));
      });
}

void RedisDocumentStore::StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to, OpsCompletion done) {
  if (up_to < 1 || up_to <= since) {
    // Stream ids start at 1-0: nothing is at or below 0.
    return Run({"PING"},
               [done = std::move(done)](Status, Reply) mutable { Call(done, Status::Ok(), std::vector<StoredOp>()); });
  }
  const std::string from = since < 0 ? "-" : fmt::format("{}-0", since + 1);
  Run({"XRANGE", Key(key_prefix(), document_id, "history_ops"), from, fmt::format("{}-0", up_to)},
      [id = document_id, done = std::move(done)](Status status, Reply reply) mutable {
        std::vector<StoredOp> ops;
        if (status.ok()) {
          for (const Reply& entry : reply.elements) {
            StoredOp op;
            status = ParseStreamEntry(id, entry, op);
            if (!status.ok()) break;
            ops.push_back(std::move(op));
          }
        }
        if (!status.ok()) {
          ops.clear();
          status = Failed("history stream", status);
        }
        Call(done, std::move(status), std::move(ops));
      });
}

void RedisDocumentStore::GetMilestones(std::string document_id, MilestonesCompletion done) {
  Run({"ZREVRANGEBYSCORE", Key(key_prefix(), document_id, "history_snapshots"), "+inf", "-inf"},
      [id = document_id, done = std::move(done)](Status status, Reply reply) mutable {
        std::vector<HistoryMilestone> out;
        if (status.ok()) {
          for (const Reply& member : reply.elements) {
            Snapshot snapshot;
            status = ParseSnapshotJson(id, member.str, snapshot);
            if (!status.ok()) break;
            out.push_back({snapshot.revision, snapshot.timestamp, HistorySnapshotName(member.str)});
          }
        }
        if (!status.ok()) {
          out.clear();
          status = Failed("milestones", status);
        }
        Call(done, std::move(status), std::move(out));
      });
}

void RedisDocumentStore::WriteHistorySnapshot(std::string document_id, Snapshot snapshot,
                                              std::optional<std::string> name, HistoryStore::Completion done) {
  Run(Eval(kHistorySnapshotScript, {Key(key_prefix(), document_id, "history_snapshots")},
           {std::to_string(snapshot.revision), HistorySnapshotJson(snapshot, name)}),
      [id = document_id, revision = snapshot.revision, done = std::move(done)](Status status, Reply reply) mutable {
        if (!status.ok()) return Call(done, Failed("history snapshot write", status));
        if (reply.integer == 0) {
          return Call(done, Status::Error(fmt::format(
                                "A history snapshot at revision {} of document '{}' already exists.", revision, id)));
        }
        Call(done, Status::Ok());
      });
}

void RedisDocumentStore::AppendHistoryOp(std::string document_id, StoredOp op, HistoryStore::Completion done) {
  if (op.revision < 1) {
    return Run({"PING"}, [done = std::move(done), revision = op.revision, id = document_id](Status, Reply) mutable {
      Call(done,
           Status::Error(fmt::format(
               "Redis storage cannot store revision {} of document '{}' (stream ids start at 1-0).", revision, id)));
    });
  }
  const int64_t revision = op.revision;
  Run({"XADD", Key(key_prefix(), document_id, "history_ops"), fmt::format("{}-0", revision), "rev",
       std::to_string(revision), "auth", std::move(op.author_id), "ts",
       std::to_string(ToUnixMilliseconds(op.timestamp)), "payload", std::move(op.payload), "engine",
       std::move(op.engine_type)},
      [id = document_id, revision, done = std::move(done)](Status status, Reply reply) mutable {
        if (!status.ok() && (reply.str.find("equal or smaller") != std::string::npos ||
                             status.message().find("equal or smaller") != std::string::npos)) {
          return Call(done, DuplicateRevisionError(id, revision));
        }
        Call(done, status.ok() ? status : Failed("history append", status));
      });
}

void RedisDocumentStore::DeleteHistory(std::string document_id, HistoryStore::Completion done) {
  const std::string& p = key_prefix();
  Run({"DEL", Key(p, document_id, "history_ops"), Key(p, document_id, "history_snapshots")},
      [done = std::move(done)](Status status, Reply) mutable {
        Call(done, status.ok() ? status : Failed("history delete", status));
      });
}

void RedisDocumentStore::PurgeHistoryUpTo(std::string document_id, int64_t up_to, HistoryStore::Completion done) {
  const std::string& p = key_prefix();
  const std::string min_id = up_to < 0 ? "0-0" : fmt::format("{}-0", up_to + 1);
  Run(Eval(kPurgeScript, {Key(p, document_id, "history_ops"), Key(p, document_id, "history_snapshots")},
           {min_id, std::to_string(up_to)}),
      [done = std::move(done)](Status status, Reply) mutable {
        Call(done, status.ok() ? status : Failed("history purge", status));
      });
}

void RedisDocumentStore::DeleteHistoryByTenantPrefix(std::string prefix, HistoryStore::CountCompletion done) {
  const std::string p = key_prefix();
  const std::string glob = GlobEscape(p) + "doc:" + GlobEscape(prefix) + "*:";
  ScanKeys({glob + "history_ops", glob + "history_snapshots"},
           [this, p, prefix, done = std::move(done)](Status status, std::vector<std::string> keys) mutable {
             if (!status.ok()) return Call(done, Failed("history prefix delete", status), int64_t{0});
             std::set<std::string> ids = DocumentIds(keys, p, {"history_ops", "history_snapshots"});
             std::erase_if(ids, [&prefix](const std::string& id) { return !id.starts_with(prefix); });
             const auto count = static_cast<int64_t>(ids.size());
             DeleteKeys([this](std::vector<std::string> args,
                               std::function<void(Status, Reply)> cb) { Run(std::move(args), std::move(cb)); },
                        std::move(keys),
                        [count, done = std::move(done)](Status s) mutable {
                          if (!s.ok()) return Call(done, Failed("history prefix delete", s), int64_t{0});
                          Call(done, Status::Ok(), count);
                        });
           });
}

// ---- CommentStore ----

namespace {
std::string CommentsKey(std::string_view p, std::string_view doc) { return fmt::format("{}comments:{}", p, doc); }
std::string ByRevisionKey(std::string_view p, std::string_view doc) {
  return fmt::format("{}comments:{}:byrev", p, doc);
}
std::string CommentIdKey(std::string_view p, std::string_view id) { return fmt::format("{}comments:id:{}", p, id); }

void SortComments(std::vector<Comment>& comments) {
  std::sort(comments.begin(), comments.end(), [](const Comment& a, const Comment& b) {
    return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
  });
}
}  // namespace

void RedisDocumentStore::LoadComments(std::string document_id, CommentsCompletion done) {
  Run({"HVALS", CommentsKey(key_prefix(), document_id)}, [done = std::move(done)](Status status, Reply reply) mutable {
    std::vector<Comment> out;
    if (status.ok()) {
      for (const Reply& value : reply.elements) {
        Comment c;
        if (!ParseComment(value.str, c)) {
          status = Status::Error("a stored comment is not readable JSON");
          break;
        }
        out.push_back(std::move(c));
      }
    }
    if (!status.ok()) {
      out.clear();
      status = Failed("comment load", status);
    }
    SortComments(out);
    Call(done, std::move(status), std::move(out));
  });
}

void RedisDocumentStore::GetComment(std::string comment_id, CommentCompletion done) {
  const std::string p = key_prefix();
  Run({"GET", CommentIdKey(p, comment_id)},
      [this, p, id = comment_id, done = std::move(done)](Status status, Reply reply) mutable {
        if (!status.ok()) return Call(done, Failed("comment get", status), std::optional<Comment>());
        if (reply.type != Reply::Type::kString) return Call(done, Status::Ok(), std::optional<Comment>());
        Run({"HGET", CommentsKey(p, reply.str), id}, [done = std::move(done)](Status s, Reply value) mutable {
          std::optional<Comment> out;
          if (s.ok() && value.type == Reply::Type::kString) {
            Comment c;
            if (ParseComment(value.str, c)) {
              out = std::move(c);
            } else {
              s = Status::Error("the stored comment is not readable JSON");
            }
          }
          if (!s.ok()) {
            out.reset();
            s = Failed("comment get", s);
          }
          Call(done, std::move(s), std::move(out));
        });
      });
}

void RedisDocumentStore::AddComment(Comment comment, CommentStore::Completion done) {
  const std::string& p = key_prefix();
  Run(Eval(kCommentAddScript,
           {CommentsKey(p, comment.document_id), ByRevisionKey(p, comment.document_id), CommentIdKey(p, comment.id)},
           {comment.id, CommentJson(comment), comment.document_id, ByRevisionScore(comment)}),
      [id = comment.id, done = std::move(done)](Status status, Reply reply) mutable {
        if (!status.ok()) return Call(done, Failed("comment add", status));
        if (reply.integer == 0) return Call(done, Status::Error(fmt::format("Comment '{}' already exists.", id)));
        Call(done, Status::Ok());
      });
}

void RedisDocumentStore::UpdateComment(Comment comment, CommentStore::Completion done) {
  const std::string p = key_prefix();
  std::string id = comment.id;  // before the lambda below takes `comment`
  GetComment(std::move(id), [this, p, comment = std::move(comment), done = std::move(done)](
                                Status status, std::optional<Comment> stored) mutable {
    if (!status.ok()) return Call(done, status);
    if (!stored) return Call(done, Status::Error(fmt::format("Comment '{}' not found.", comment.id)));
    // Author, parent, document, creation time and author name are immutable.
    Comment next = *stored;
    next.body = std::move(comment.body);
    next.anchor_json = std::move(comment.anchor_json);
    next.anchored_at_revision = comment.anchored_at_revision;
    next.resolved_at = comment.resolved_at;
    next.resolved_by_peer_id = std::move(comment.resolved_by_peer_id);
    next.is_orphaned = comment.is_orphaned;
    Run(Eval(kCommentSetScript, {CommentsKey(p, next.document_id), ByRevisionKey(p, next.document_id)},
             {next.id, CommentJson(next), ByRevisionScore(next)}),
        [done = std::move(done)](Status s, Reply) mutable { Call(done, s.ok() ? s : Failed("comment update", s)); });
  });
}

void RedisDocumentStore::DeleteComment(std::string comment_id, CommentStore::Completion done) {
  const std::string p = key_prefix();
  GetComment(comment_id, [this, p, done = std::move(done)](Status status, std::optional<Comment> stored) mutable {
    if (!status.ok()) return Call(done, status);
    if (!stored) return Call(done, Status::Ok());
    auto remove = [this, p, doc = stored->document_id](std::vector<std::string> ids, CommentStore::Completion finish) {
      std::vector<std::string> keys{CommentsKey(p, doc), ByRevisionKey(p, doc)};
      for (const std::string& id : ids) keys.push_back(CommentIdKey(p, id));
      Run(Eval(kCommentDeleteScript, std::move(keys), std::move(ids)),
          [finish = std::move(finish)](Status s, Reply) mutable {
            Call(finish, s.ok() ? s : Failed("comment delete", s));
          });
    };
    if (stored->parent_comment_id) return remove({stored->id}, std::move(done));
    // A root takes its replies with it.
    LoadComments(stored->document_id,
                 [root = stored->id, remove, done = std::move(done)](Status s, std::vector<Comment> all) mutable {
                   if (!s.ok()) return Call(done, s);
                   std::vector<std::string> ids{root};
                   for (const Comment& c : all) {
                     if (c.parent_comment_id == root) ids.push_back(c.id);
                   }
                   remove(std::move(ids), std::move(done));
                 });
  });
}

void RedisDocumentStore::UpdateAnchors(std::string document_id, int64_t revision, std::vector<AnchorUpdate> updates,
                                       CommentStore::Completion done) {
  const std::string p = key_prefix();
  if (updates.empty()) {
    return Run({"PING"}, [done = std::move(done)](Status, Reply) mutable { Call(done, Status::Ok()); });
  }
  std::vector<std::string> args{"HMGET", CommentsKey(p, document_id)};
  for (const AnchorUpdate& u : updates) args.push_back(u.comment_id);
  Run(std::move(args), [this, p, doc = std::move(document_id), revision, updates = std::move(updates),
                        done = std::move(done)](Status status, Reply reply) mutable {
    if (!status.ok()) return Call(done, Failed("anchor update", status));
    std::vector<std::string> set;
    for (size_t i = 0; i < updates.size() && i < reply.elements.size(); ++i) {
      Comment c;
      if (reply.elements[i].type != Reply::Type::kString || !ParseComment(reply.elements[i].str, c)) continue;
      c.anchor_json = updates[i].anchor_json;
      c.anchored_at_revision = revision;
      c.is_orphaned = c.is_orphaned || updates[i].outcome == AnchorOutcome::kOrphaned;
      set.push_back(c.id);
      set.push_back(CommentJson(c));
      set.push_back(ByRevisionScore(c));
    }
    if (set.empty()) return Call(done, Status::Ok());
    // One script: every update or none.
    Run(Eval(kCommentSetScript, {CommentsKey(p, doc), ByRevisionKey(p, doc)}, std::move(set)),
        [done = std::move(done)](Status s, Reply) mutable { Call(done, s.ok() ? s : Failed("anchor update", s)); });
  });
}

void RedisDocumentStore::GetMinAnchoredRevision(std::string document_id, RevisionCompletion done) {
  Run({"ZRANGE", ByRevisionKey(key_prefix(), document_id), "0", "0", "WITHSCORES"},
      [done = std::move(done)](Status status, Reply reply) mutable {
        std::optional<int64_t> out;
        if (status.ok() && reply.elements.size() == 2) {
          int64_t value = 0;
          // Scores come back as decimal text; revisions are integers.
          const std::string& score = reply.elements[1].str;
          if (ParseInt64(score.substr(0, score.find('.')), value)) out = value;
        }
        if (!status.ok()) {
          out.reset();
          status = Failed("comment revision", status);
        }
        Call(done, std::move(status), out);
      });
}

// ---- RefStore ----

namespace {
std::string NamesKey(std::string_view p) { return fmt::format("{}refs:names", p); }
std::string BranchesKey(std::string_view p, std::string_view name) {
  return fmt::format("{}refs:branches:{}", p, name);
}
std::string VersionsKey(std::string_view p, std::string_view name) {
  return fmt::format("{}refs:versions:{}", p, name);
}
std::string PinsKey(std::string_view p, std::string_view physical) {
  return fmt::format("{}refs:pins:{}", p, physical);
}

// (status, optional record) from a reply holding one JSON value or nil.
template <typename T, typename Parser>
void One(Status status, const Reply& reply, Parser parse, std::string_view operation,
         std::function<void(Status, std::optional<T>)>& done) {
  std::optional<T> out;
  if (status.ok() && reply.type == Reply::Type::kString) {
    T record;
    if (parse(reply.str, record)) {
      out = std::move(record);
    } else {
      status = Status::Error("a stored record is not readable JSON");
    }
  }
  if (!status.ok()) {
    out.reset();
    status = Failed(operation, status);
  }
  Call(done, std::move(status), std::move(out));
}
}  // namespace

void RedisDocumentStore::GetName(std::string global_name, NameCompletion done) {
  Run({"HGET", NamesKey(key_prefix()), std::move(global_name)}, [done = std::move(done)](Status s, Reply r) mutable {
    One<DocumentName>(std::move(s), r, ParseName, "name get", done);
  });
}

void RedisDocumentStore::EnumerateNames(std::string prefix, NamesCompletion done) {
  Run({"HGETALL", NamesKey(key_prefix())},
      [prefix = std::move(prefix), done = std::move(done)](Status status, Reply reply) mutable {
        std::vector<DocumentName> out;
        for (size_t i = 0; status.ok() && i + 1 < reply.elements.size(); i += 2) {
          if (!reply.elements[i].str.starts_with(prefix)) continue;
          DocumentName n;
          if (!ParseName(reply.elements[i + 1].str, n)) status = Status::Error("a stored name is not readable JSON");
          out.push_back(std::move(n));
        }
        if (!status.ok()) {
          out.clear();
          status = Failed("name enumeration", status);
        }
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.global_name < b.global_name; });
        Call(done, std::move(status), std::move(out));
      });
}

void RedisDocumentStore::CreateName(DocumentName name, RefStore::Completion done) {
  Run({"HSETNX", NamesKey(key_prefix()), name.global_name, NameJson(name)},
      [n = name.global_name, done = std::move(done)](Status status, Reply reply) mutable {
        if (!status.ok()) return Call(done, Failed("name create", status));
        if (reply.integer == 0) return Call(done, Status::Error(fmt::format("Name '{}' already exists.", n)));
        Call(done, Status::Ok());
      });
}

void RedisDocumentStore::GetBranch(std::string global_name, std::string branch_id, BranchCompletion done) {
  Run({"HGET", BranchesKey(key_prefix(), global_name), std::move(branch_id)},
      [done = std::move(done)](Status s, Reply r) mutable {
        One<DocumentBranch>(std::move(s), r, ParseBranch, "branch get", done);
      });
}

void RedisDocumentStore::EnumerateBranches(std::string global_name, BranchesCompletion done) {
  Run({"HVALS", BranchesKey(key_prefix(), global_name)}, [done = std::move(done)](Status status, Reply reply) mutable {
    std::vector<DocumentBranch> out;
    for (size_t i = 0; status.ok() && i < reply.elements.size(); ++i) {
      DocumentBranch b;
      if (!ParseBranch(reply.elements[i].str, b)) status = Status::Error("a stored branch is not readable JSON");
      out.push_back(std::move(b));
    }
    if (!status.ok()) {
      out.clear();
      status = Failed("branch enumeration", status);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.branch_id < b.branch_id; });
    Call(done, std::move(status), std::move(out));
  });
}

void RedisDocumentStore::CreateBranch(DocumentBranch branch, RefStore::Completion done) {
  const std::string& p = key_prefix();
  Run(Eval(kBranchCreateScript, {BranchesKey(p, branch.global_name), PinsKey(p, branch.physical_document_id)},
           {branch.branch_id, BranchJson(branch), Pair(branch.global_name, branch.branch_id)}),
      [id = branch.branch_id, done = std::move(done)](Status status, Reply reply) mutable {
        if (!status.ok()) return Call(done, Failed("branch create", status));
        if (reply.integer == 0) return Call(done, Status::Error(fmt::format("Branch '{}' already exists.", id)));
        Call(done, Status::Ok());
      });
}

void RedisDocumentStore::DeleteBranch(std::string global_name, std::string branch_id, RefStore::Completion done) {
  const std::string p = key_prefix();
  GetBranch(
      global_name, branch_id,
      [this, p, done = std::move(done)](Status status, std::optional<DocumentBranch> branch) mutable {
        if (!status.ok()) return Call(done, status);
        if (!branch) return Call(done, Status::Ok());
        Run(Eval(kBranchDeleteScript, {BranchesKey(p, branch->global_name), PinsKey(p, branch->physical_document_id)},
                 {branch->branch_id, Pair(branch->global_name, branch->branch_id)}),
            [done = std::move(done)](Status s, Reply) mutable { Call(done, s.ok() ? s : Failed("branch delete", s)); });
      });
}

void RedisDocumentStore::CreateVersion(DocumentVersion version, RefStore::Completion done) {
  Run({"HSETNX", VersionsKey(key_prefix(), version.global_name), Pair(version.branch_id, version.tag),
       VersionJson(version)},
      [tag = version.tag, branch = version.branch_id, done = std::move(done)](Status status, Reply reply) mutable {
        if (!status.ok()) return Call(done, Failed("version create", status));
        if (reply.integer == 0) {
          return Call(done, Status::Error(fmt::format("Tag '{}' already exists on branch '{}'.", tag, branch)));
        }
        Call(done, Status::Ok());
      });
}

void RedisDocumentStore::GetVersion(std::string global_name, std::string branch_id, std::string tag,
                                    VersionCompletion done) {
  Run({"HGET", VersionsKey(key_prefix(), global_name), Pair(branch_id, tag)},
      [done = std::move(done)](Status s, Reply r) mutable {
        One<DocumentVersion>(std::move(s), r, ParseVersion, "version get", done);
      });
}

namespace {
// The versions of `branch_id` in an HGETALL reply of a versions hash (appended to `out`).
Status CollectVersions(const Reply& reply, std::string_view branch_id, std::vector<DocumentVersion>& out) {
  const std::string head = std::string(branch_id) + kSeparator;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    if (!reply.elements[i].str.starts_with(head)) continue;
    DocumentVersion v;
    if (!ParseVersion(reply.elements[i + 1].str, v)) return Status::Error("a stored version is not readable JSON");
    out.push_back(std::move(v));
  }
  return Status::Ok();
}
}  // namespace

void RedisDocumentStore::EnumerateVersions(std::string global_name, std::string branch_id, VersionsCompletion done) {
  Run({"HGETALL", VersionsKey(key_prefix(), global_name)},
      [branch = std::move(branch_id), done = std::move(done)](Status status, Reply reply) mutable {
        std::vector<DocumentVersion> out;
        if (status.ok()) status = CollectVersions(reply, branch, out);
        if (!status.ok()) {
          out.clear();
          status = Failed("version enumeration", status);
        }
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.tag < b.tag; });
        Call(done, std::move(status), std::move(out));
      });
}

void RedisDocumentStore::ListVersionsPinning(std::string physical_document_id, VersionsCompletion done) {
  const std::string p = key_prefix();
  Run({"HKEYS", PinsKey(p, physical_document_id)},
      [this, p, done = std::move(done)](Status status, Reply reply) mutable {
        if (!status.ok()) return Call(done, Failed("pin guard", status), std::vector<DocumentVersion>());
        std::vector<std::pair<std::string, std::string>> branches;
        for (const Reply& field : reply.elements) {
          const size_t at = field.str.find(kSeparator);
          if (at != std::string::npos) branches.emplace_back(field.str.substr(0, at), field.str.substr(at + 1));
        }
        if (branches.empty()) return Call(done, Status::Ok(), std::vector<DocumentVersion>());
        struct Gather {
          size_t pending = 0;
          Status failure;
          std::vector<DocumentVersion> out;
          VersionsCompletion done;
        };
        auto gather = std::make_shared<Gather>();
        gather->pending = branches.size();
        gather->done = std::move(done);
        for (auto& [name, branch] : branches) {
          Run({"HGETALL", VersionsKey(p, name)}, [gather, branch = branch](Status s, Reply r) {
            if (s.ok()) s = CollectVersions(r, branch, gather->out);
            if (!s.ok() && gather->failure.ok()) gather->failure = Failed("pin guard", s);
            if (--gather->pending > 0) return;
            if (!gather->failure.ok()) return Call(gather->done, gather->failure, std::vector<DocumentVersion>());
            std::sort(gather->out.begin(), gather->out.end(), [](const auto& a, const auto& b) {
              return std::tie(a.revision, a.global_name, a.branch_id, a.tag) <
                     std::tie(b.revision, b.global_name, b.branch_id, b.tag);
            });
            Call(gather->done, Status::Ok(), std::move(gather->out));
          });
        }
      });
}

}  // namespace opstream::storage
