#pragma once
// Helpers shared by the storage tests: a scratch directory and blocking wrappers around the
// asynchronous DocumentStore calls (each waits with a timeout, so a lost completion fails the
// test instead of hanging it).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "storage/document_store.hpp"

namespace opstream::storage::testing {

inline constexpr std::chrono::seconds kCompletionTimeout{20};

// A fresh directory under the system's temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "opstream-store-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string File(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A timestamp with every tick set, so tests notice lost precision.
inline Timestamp SampleTime(int seconds_offset = 0) {
  using namespace std::chrono;
  return Timestamp(sys_days{year{2026} / 6 / 24} + hours{15} + minutes{41} + seconds{39 + seconds_offset} +
                   nanoseconds{123456700});
}

inline StoredOp MakeOp(int64_t revision, std::string payload = {}) {
  StoredOp op;
  op.revision = revision;
  op.author_id = "peer-" + std::to_string(revision % 3);
  op.timestamp = SampleTime(static_cast<int>(revision));
  op.payload = payload.empty() ? "{\"rev\":" + std::to_string(revision) + "}" : std::move(payload);
  op.engine_type = "TextOp";
  return op;
}

inline std::vector<StoredOp> MakeOps(int64_t first, int64_t last) {
  std::vector<StoredOp> ops;
  for (int64_t revision = first; revision <= last; ++revision) ops.push_back(MakeOp(revision));
  return ops;
}

template <typename T>
T Wait(std::future<T>& future) {
  if (future.wait_for(kCompletionTimeout) != std::future_status::ready) {
    ADD_FAILURE() << "completion not called within " << kCompletionTimeout.count() << " s";
    throw std::runtime_error("completion timeout");
  }
  return future.get();
}

inline Status InitializeSync(DocumentStore& store) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  store.Initialize([promise](Status status) { promise->set_value(std::move(status)); });
  return Wait(future);
}

inline Status AppendSync(DocumentStore& store, const std::string& document_id, std::vector<StoredOp> ops) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  store.Append(document_id, std::move(ops), [promise](Status status) { promise->set_value(std::move(status)); });
  return Wait(future);
}

inline Status WriteSnapshotSync(DocumentStore& store, const std::string& document_id, Snapshot snapshot) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  store.WriteSnapshot(document_id, std::move(snapshot),
                      [promise](Status status) { promise->set_value(std::move(status)); });
  return Wait(future);
}

inline Status CompactSync(DocumentStore& store, const std::string& document_id, int64_t up_to) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  store.Compact(document_id, up_to, [promise](Status status) { promise->set_value(std::move(status)); });
  return Wait(future);
}

inline std::pair<Status, LoadedDocument> LoadSync(DocumentStore& store, const std::string& document_id) {
  auto promise = std::make_shared<std::promise<std::pair<Status, LoadedDocument>>>();
  auto future = promise->get_future();
  store.Load(document_id, [promise](Status status, LoadedDocument loaded) {
    promise->set_value({std::move(status), std::move(loaded)});
  });
  return Wait(future);
}

inline HealthReport CheckHealthSync(DocumentStore& store) {
  auto promise = std::make_shared<std::promise<HealthReport>>();
  auto future = promise->get_future();
  store.CheckHealth([promise](HealthReport report) { promise->set_value(std::move(report)); });
  return Wait(future);
}

inline std::vector<int64_t> Revisions(const std::vector<StoredOp>& ops) {
  std::vector<int64_t> revisions;
  for (const StoredOp& op : ops) revisions.push_back(op.revision);
  return revisions;
}

}  // namespace opstream::storage::testing
