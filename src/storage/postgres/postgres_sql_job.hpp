#pragma once
// A generic request for the PostgreSQL lanes: a few statements sent in one round trip and run in
// one implicit transaction (everything before the pipeline's sync point), with every value in
// binary format. The management, history, comment and ref calls (postgres_records.cpp) are built
// on it, so they share the lanes, the reconnect logic and the timeouts of the hot path.
#include <postgresql/libpq-fe.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/status.hpp"

namespace opstream::storage::postgres {

// Type OIDs (pg_type), fixed since PostgreSQL 7.
inline constexpr Oid kBoolOid = 16;
inline constexpr Oid kByteaOid = 17;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kTextOid = 25;
inline constexpr Oid kTimestamptzOid = 1184;

// One parameter, already in binary wire format; none is SQL NULL.
struct SqlValue {
  Oid type = kTextOid;
  std::optional<std::string> bytes;
};

struct SqlStatement {
  const char* sql = nullptr;
  std::vector<SqlValue> params;
};

// One statement's answer: rows of binary values (none = NULL), and the affected row count.
struct SqlResult {
  std::vector<std::vector<std::optional<std::string>>> rows;
  int64_t affected = 0;
};

struct SqlJob {
  std::string_view operation;  // for messages: `PostgreSQL {operation} failed: ...`
  std::vector<SqlStatement> statements;
  // Safe to run again when the connection turned out to be dead (reads, deletes, updates to
  // fixed values); inserts are not, since their first attempt may have committed.
  bool idempotent = true;
  // Called once on a lane: the first failure (or Ok), its SQLSTATE ("" when none), and one result
  // per statement (empty on failure).
  std::function<void(Status, std::string sqlstate, std::vector<SqlResult>)> done;
};

// ----- binary encoders and decoders -----

inline void AppendBigEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
}

inline SqlValue Text(std::string_view value) { return {kTextOid, std::string(value)}; }
inline SqlValue Bytes(std::string_view value) { return {kByteaOid, std::string(value)}; }
inline SqlValue Int8(int64_t value) {
  std::string bytes;
  AppendBigEndian(bytes, static_cast<uint64_t>(value), 8);
  return {kInt8Oid, std::move(bytes)};
}
inline SqlValue Bool(bool value) { return {kBoolOid, std::string(1, value ? '\1' : '\0')}; }
inline SqlValue Null(Oid type) { return {type, std::nullopt}; }
inline SqlValue OptionalText(const std::optional<std::string>& value) { return value ? Text(*value) : Null(kTextOid); }

// timestamptz keeps microseconds since 2000-01-01 UTC: the 100 ns tick is truncated, as Npgsql does.
inline constexpr int64_t kPostgresEpochMicros = 946684800LL * 1000000LL;
inline SqlValue Time(Timestamp value) {
  const int64_t ns = value.time_since_epoch().count();
  const int64_t us = ns / 1000 - (ns % 1000 < 0 ? 1 : 0);
  SqlValue encoded = Int8(us - kPostgresEpochMicros);
  encoded.type = kTimestamptzOid;
  return encoded;
}
inline SqlValue OptionalTime(const std::optional<Timestamp>& value) {
  return value ? Time(*value) : Null(kTimestamptzOid);
}

// Decoders return false on a value of the wrong size (a schema that does not match).
inline bool ReadInt8(const std::optional<std::string>& value, int64_t& out) {
  if (!value || value->size() != 8) return false;
  uint64_t v = 0;
  for (char c : *value) v = (v << 8) | static_cast<unsigned char>(c);
  out = static_cast<int64_t>(v);
  return true;
}
inline bool ReadTime(const std::optional<std::string>& value, Timestamp& out) {
  int64_t micros = 0;
  if (!ReadInt8(value, micros)) return false;
  out = Timestamp(std::chrono::microseconds(micros + kPostgresEpochMicros));
  return true;
}
inline bool ReadBool(const std::optional<std::string>& value, bool& out) {
  if (!value || value->size() != 1) return false;
  out = (*value)[0] != 0;
  return true;
}

}  // namespace opstream::storage::postgres
