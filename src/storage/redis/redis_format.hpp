#pragma once
// The reference's value formats in Redis (server.md §3.7), shared by the document store and the
// history/comment/ref stores of the `redis` provider.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "common/status.hpp"
#include "storage/document_store.hpp"
#include "storage/redis/redis_client.hpp"

namespace opstream::storage::redis_format {

Timestamp FromUnixMilliseconds(int64_t ms);
int64_t ToUnixMilliseconds(Timestamp t);
bool ParseInt64(std::string_view text, int64_t& out);
// camelCase `{"revision":N,"timestamp":"<ISO-8601>","state":"<base64>"}`.
std::string SnapshotJson(const Snapshot& snapshot);
Status ParseSnapshotJson(std::string_view document_id, std::string_view text, Snapshot& out);
// One XRANGE entry: [id, [field, value, ...]] with fields rev, auth, ts, payload, engine.
Status ParseStreamEntry(std::string_view document_id, const redis::Reply& entry, StoredOp& op);

}  // namespace opstream::storage::redis_format
