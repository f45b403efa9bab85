#pragma once
// UTC instants with .NET tick (100 ns) resolution and the timestamp texts the reference writes.
#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace opstream {

using Timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;

inline Timestamp UtcNow() {
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
}

// steady_clock::now() at the kernel tick's resolution (a few ms), for activity stamps taken on
// every message (keep-alive and idle timeouts): CLOCK_MONOTONIC_COARSE reads a cached value,
// where the precise clock costs a TSC read and conversion per call. Same epoch as steady_clock
// on Linux, so the two compare directly.
inline std::chrono::steady_clock::time_point CoarseSteadyNow() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return std::chrono::steady_clock::time_point(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec)));
}

// ISO 8601 as System.Text.Json writes DateTimeOffset in UTC: `2025-06-02T09:15:04.5120318+00:00`,
// fraction of up to 7 digits with trailing zeros removed, omitted when zero (wire-protocol §0.3).
std::string FormatIsoTimestamp(Timestamp t);
// SQLite's EF Core text form: `2026-06-24 15:41:39.1234567+00:00` (server.md §3.4.3).
std::string FormatSqliteTimestamp(Timestamp t);
// Accepts any RFC 3339 form with either separator ('T' or ' '), `Z` or a numeric offset.
std::optional<Timestamp> ParseTimestamp(std::string_view text);

}  // namespace opstream
