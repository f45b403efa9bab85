#pragma once
// Test-only helpers shared by the engine tests: shared-folder paths, seeded randomness controlled by
// environment variables, and a miniature server pipeline (engines.md §3.2) with an op log.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "engines/engine.hpp"

namespace opstream::engines::testing {

inline std::string SharedPath(std::string_view relative) {
  return std::string(OPSTREAM_SHARED_DIR) + "/" + std::string(relative);
}

inline bool ReadWholeFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  out = std::move(buffer).str();
  return true;
}

// Randomized tests: OPSTREAM_PROP_SEED overrides the base seed, OPSTREAM_PROP_CASES the case count.
// Case i uses seed base + i, so a failure printed as "seed S" replays alone with
// OPSTREAM_PROP_SEED=S OPSTREAM_PROP_CASES=1.
inline uint64_t PropertyBaseSeed(uint64_t default_seed) {
  const char* value = std::getenv("OPSTREAM_PROP_SEED");
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 0) : default_seed;
}

inline uint64_t PropertyCaseCount(uint64_t default_cases) {
  const char* value = std::getenv("OPSTREAM_PROP_CASES");
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 0) : default_cases;
}

// SplitMix64: small, fast, and good enough to drive test-case generation.
class TestRandom {
 public:
  explicit TestRandom(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [low, high].
  int64_t Between(int64_t low, int64_t high) {
    return low + static_cast<int64_t>(Next() % static_cast<uint64_t>(high - low + 1));
  }
  bool Chance(int percent) { return Between(1, 100) <= percent; }

 private:
  uint64_t state_;
};

// The op pipeline of engines.md §3.2 over one document, with the C++ server's OP-14 rule: a base
// revision above the current revision is rejected (wire-protocol.md OP-14) instead of being treated
// as current like the reference does.
class MiniOtServer {
 public:
  struct Result {
    bool success = false;
    int64_t new_revision = 0;
    bool absorbed = false;
    std::string stored_payload;  // what is stored and broadcast; empty unless a new revision was made
    std::string error;
  };
  struct LogEntry {
    int64_t revision;
    std::unique_ptr<Op> op;
    std::string payload;
  };

  MiniOtServer(const Engine& engine, std::unique_ptr<DocumentState> state, int64_t revision)
      : engine_(engine), state_(std::move(state)), revision_(revision) {}

  Result Submit(std::string_view payload, int64_t base_revision) {
    Result result;
    result.new_revision = revision_;
    std::unique_ptr<Op> op;
    Status status = engine_.ParseOp(payload, op);  // step 1
    if (!status.ok()) return Reject(result, status.message());
    if (base_revision > revision_) {
      return Reject(result, "Base revision " + std::to_string(base_revision) + " is ahead of current revision " +
                                std::to_string(revision_) + ".");
    }
    if (base_revision < revision_) {  // step 3: rebase over the log
      int64_t expected = base_revision + 1;
      for (const LogEntry& entry : log_) {
        if (entry.revision <= base_revision) continue;
        if (entry.revision != expected) {
          return Reject(result, "Cannot reconstruct transformation path: compacted log past baseRevision.");
        }
        std::unique_ptr<Op> rebased = engine_.Transform(*op, *entry.op, Priority::kExistingWins);
        if (rebased == nullptr || engine_.IsNoOp(*rebased)) {
          result.success = true;
          result.absorbed = true;
          return result;
        }
        op = std::move(rebased);
        ++expected;
      }
      if (expected <= revision_) return Reject(result, "Cannot reconstruct transformation path: op log gap.");
    }
    status = engine_.Apply(*state_, *op);  // step 4 (in place; unchanged on failure)
    if (!status.ok()) return Reject(result, status.message());
    engine_.SerializeOp(*op, result.stored_payload);  // step 5
    ++revision_;                                      // step 6
    log_.push_back({revision_, std::move(op), result.stored_payload});
    result.success = true;
    result.new_revision = revision_;
    return result;
  }

  const DocumentState& state() const { return *state_; }
  int64_t revision() const { return revision_; }
  const std::vector<LogEntry>& log() const { return log_; }

 private:
  static Result Reject(Result& result, std::string message) {
    result.success = false;
    result.error = std::move(message);
    return result;
  }

  const Engine& engine_;
  std::unique_ptr<DocumentState> state_;
  int64_t revision_;
  std::vector<LogEntry> log_;
};

}  // namespace opstream::engines::testing
