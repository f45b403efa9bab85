#pragma once
// UTC instants with .NET tick (100 ns) resolution and the timestamp texts the reference writes.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace opstream {

using Timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;

inline Timestamp UtcNow() {
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
}

// ISO 8601 as System.Text.Json writes DateTimeOffset in UTC: `2025-06-02T09:15:04.5120318+00:00`,
// fraction of up to 7 digits with trailing zeros removed, omitted when zero (wire-protocol §0.3).
std::string FormatIsoTimestamp(Timestamp t);
// SQLite's EF Core text form: `2026-06-24 15:41:39.1234567+00:00` (server.md §3.4.3).
std::string FormatSqliteTimestamp(Timestamp t);
// Accepts any RFC 3339 form with either separator ('T' or ' '), `Z` or a numeric offset.
std::optional<Timestamp> ParseTimestamp(std::string_view text);

}  // namespace opstream
