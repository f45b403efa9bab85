#pragma once
// Helpers shared by the storage tests: a scratch directory and blocking wrappers around the
// asynchronous DocumentStore calls (each waits with a timeout, so a lost completion fails the
// test instead of hanging it).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <random>
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

// The test server's address from `variable` (scripts/test-services.sh exports it), or "" after
// recording a failure that says how to get one: a missing service fails, it is never skipped.
inline std::string TestServiceUrl(const char* variable, std::string_view what) {
  const char* url = std::getenv(variable);
  if (url == nullptr || *url == '\0') {
    ADD_FAILURE() << variable << " is not set: the " << what
                  << " tests need a server. Run them through scripts/test.sh, or "
                     "`source scripts/test-services.sh; start_test_services` in this shell first.";
    return {};
  }
  return url;
}

// The first cell of the rows `sql` gave; a failure (not a crash) when there is none.
inline std::string FirstCell(const std::vector<std::vector<std::string>>& rows, const std::string& sql) {
  if (rows.empty() || rows.front().empty()) {
    ADD_FAILURE() << "no row from: " << sql;
    return "<no row>";
  }
  return rows.front().front();
}

// A loopback port nobody listens on (the kernel's choice, released again).
inline int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

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

// Calls an asynchronous store method and waits for its completion: `start` receives the
// completion to pass on. Result is Status for plain completions, std::pair<Status, T> for the others.
template <typename Result, typename Start>
Result CallSync(Start&& start) {
  auto promise = std::make_shared<std::promise<Result>>();
  auto future = promise->get_future();
  start([promise](auto&&... args) { promise->set_value(Result{std::forward<decltype(args)>(args)...}); });
  return Wait(future);
}

inline std::vector<int64_t> Revisions(const std::vector<StoredOp>& ops) {
  std::vector<int64_t> revisions;
  for (const StoredOp& op : ops) revisions.push_back(op.revision);
  return revisions;
}

// A database (or key) name no other test process or test of this one uses.
inline std::string UniqueTestName(std::string_view prefix) {
  static std::atomic<int> counter{0};
  std::random_device random;
  return std::string(prefix) + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(random() % 1000000);
}

// A store that owns what it works on (a scratch database): `owned` is released after the store
// is closed.
class StoreOwning final : public DocumentStore {
 public:
  StoreOwning(std::shared_ptr<void> owned, std::unique_ptr<DocumentStore> store)
      : owned_(std::move(owned)), store_(std::move(store)) {}
  ~StoreOwning() override { store_.reset(); }

  std::string_view provider() const override { return store_->provider(); }
  std::string_view type_name() const override { return store_->type_name(); }
  void Initialize(Completion done) override { store_->Initialize(std::move(done)); }
  void Load(std::string id, LoadCompletion done) override { store_->Load(std::move(id), std::move(done)); }
  void Append(std::string id, std::vector<StoredOp> ops, Completion done) override {
    store_->Append(std::move(id), std::move(ops), std::move(done));
  }
  void WriteSnapshot(std::string id, Snapshot snapshot, Completion done) override {
    store_->WriteSnapshot(std::move(id), std::move(snapshot), std::move(done));
  }
  void Compact(std::string id, int64_t up_to, Completion done) override {
    store_->Compact(std::move(id), up_to, std::move(done));
  }
  void Enumerate(std::string prefix, DocumentQuery query, EnumerateCompletion done) override {
    store_->Enumerate(std::move(prefix), query, std::move(done));
  }
  void GetInfo(std::string id, InfoCompletion done) override { store_->GetInfo(std::move(id), std::move(done)); }
  void Delete(std::string id, Completion done) override { store_->Delete(std::move(id), std::move(done)); }
  void DeleteByTenantPrefix(std::string prefix, CountCompletion done) override {
    store_->DeleteByTenantPrefix(std::move(prefix), std::move(done));
  }
  HistoryStore* history_store() override { return store_->history_store(); }
  CommentStore* comment_store() override { return store_->comment_store(); }
  RefStore* ref_store() override { return store_->ref_store(); }
  void CheckHealth(HealthCompletion done) override { store_->CheckHealth(std::move(done)); }
  void Flush(std::chrono::milliseconds timeout) override { store_->Flush(timeout); }

 private:
  std::shared_ptr<void> owned_;  // released after store_
  std::unique_ptr<DocumentStore> store_;
};

// `store` after Initialize, with a test failure when Initialize fails (or there is no store).
template <typename Store>
std::unique_ptr<Store> InitializedOrFail(std::unique_ptr<Store> store) {
  if (!store) return store;
  const Status initialized = InitializeSync(*store);
  EXPECT_TRUE(initialized.ok()) << initialized.message();
  return store;
}

// What a store pointed at `port`, where nobody listens, must do (§3.8): Initialize and later calls
// fail fast with `{name} is unavailable (127.0.0.1:{port}...`, the probe says Unhealthy, and no
// message shows the password `s3cr3t` the connection string carries.
inline void ExpectUnreachableStoreFailsFast(DocumentStore& store, std::string_view name, int port) {
  using ::testing::HasSubstr;
  using ::testing::Not;
  const std::string unavailable = std::string(name) + " is unavailable";
  const Status initialized = InitializeSync(store);
  ASSERT_FALSE(initialized.ok());
  EXPECT_THAT(initialized.message(), HasSubstr(unavailable + " (127.0.0.1:" + std::to_string(port)));
  EXPECT_THAT(initialized.message(), Not(HasSubstr("s3cr3t")));
  const auto started = std::chrono::steady_clock::now();
  const Status append = AppendSync(store, "doc", MakeOps(2, 2));
  EXPECT_THAT(append.message(), HasSubstr(unavailable));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  const HealthReport health = CheckHealthSync(store);
  EXPECT_EQ(health.status, HealthStatus::kUnhealthy);
  EXPECT_THAT(health.description, Not(HasSubstr("s3cr3t")));
}

// A database of its own on a test server (`base` is the server's connection string), so that
// tests can run in parallel (ctest -j) without seeing each other's rows: created at construction,
// dropped at destruction. `run_admin(base, sql)` runs one statement outside that database.
class ScratchDatabase {
 public:
  using RunAdmin = std::function<void(const std::string& base, const std::string& sql)>;

  // `quote` encloses the name in the statements; `drop_options` follows the DROP statement.
  ScratchDatabase(std::string base, RunAdmin run_admin, std::string quote, std::string drop_options = {})
      : base_(std::move(base)),
        run_admin_(std::move(run_admin)),
        quote_(std::move(quote)),
        drop_options_(std::move(drop_options)) {
    if (base_.empty()) return;
    name_ = UniqueTestName("opstream_t_");
    run_admin_(base_, "CREATE DATABASE " + quote_ + name_ + quote_);
  }
  ~ScratchDatabase() {
    if (!name_.empty()) run_admin_(base_, "DROP DATABASE IF EXISTS " + quote_ + name_ + quote_ + drop_options_);
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  bool ok() const { return !name_.empty(); }
  const std::string& name() const { return name_; }
  // The server's connection string with this database (a repeated keyword takes the last value).
  std::string ConnectionString(const std::string& extra = {}) const {
    return base_ + ";Database=" + name_ + (extra.empty() ? "" : ";" + extra);
  }

 private:
  std::string base_;
  RunAdmin run_admin_;
  std::string quote_;
  std::string drop_options_;
  std::string name_;
};

}  // namespace opstream::storage::testing
