#pragma once
// The DocumentStore conformance suite, written once and run against every provider (ShareDB's
// test/db.js habit). A provider's test file instantiates it with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Memory, DocumentStoreConformance,
//                            ::testing::Values(StoreFactory{"Memory", [](const auto&) { ... }}),
//                            StoreFactoryName);
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "storage/comment_store.hpp"
#include "storage/document_store.hpp"
#include "storage/history_store.hpp"
#include "storage/ref_store.hpp"
#include "storage/store_test_support.hpp"

namespace opstream::storage::testing {

struct StoreFactory {
  std::string name;
  // Creates a store whose files (if any) live in `directory`; the suite calls Initialize.
  std::function<std::unique_ptr<DocumentStore>(const std::filesystem::path& directory)> make;
  // What the provider keeps of a timestamp: PostgreSQL microseconds; Redis milliseconds for ops
  // (stream fields) but the full ISO text for snapshots (server.md §3.7).
  std::chrono::nanoseconds op_timestamp_resolution{1};
  std::chrono::nanoseconds snapshot_timestamp_resolution{1};
  // The same for history snapshots, comments and refs.
  std::chrono::nanoseconds record_timestamp_resolution{1};
};

inline std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info) { return info.param.name; }

class DocumentStoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    store_ = GetParam().make(directory_.path());
    if (IsSkipped()) return;  // a factory whose server is not configured here (e.g. SQL Server)
    ASSERT_NE(store_, nullptr);
    const Status initialized = InitializeSync(*store_);
    ASSERT_TRUE(initialized.ok()) << initialized.message();
  }
  void TearDown() override {
    if (store_) store_->Flush(std::chrono::seconds(10));
    store_.reset();
  }

  DocumentStore& store() { return *store_; }
  // `t` as the provider gives it back (truncated to its resolution).
  Timestamp StoredOpTime(Timestamp t) const { return Truncated(t, GetParam().op_timestamp_resolution); }
  Timestamp StoredSnapshotTime(Timestamp t) const { return Truncated(t, GetParam().snapshot_timestamp_resolution); }
  Timestamp StoredRecordTime(Timestamp t) const { return Truncated(t, GetParam().record_timestamp_resolution); }

  // The logical store the provider persists itself (server.md §3.2); a provider without one
  // cannot run that suite.
  template <typename LogicalStore>
  static LogicalStore& Persisted(LogicalStore* persisted, const char* what) {
    if (persisted == nullptr) throw std::logic_error(std::string("the provider has no ") + what + " store");
    return *persisted;
  }

 private:
  static Timestamp Truncated(Timestamp t, std::chrono::nanoseconds resolution) {
    return t - (t.time_since_epoch() % resolution);
  }
  TempDir directory_;
  std::unique_ptr<DocumentStore> store_;
};

// The suites of the other logical stores (server.md §3.1), for providers that persist them
// (DocumentStore::history_store() and friends not null). A provider that persists all of them
// instantiates the four suites at once with OPSTREAM_INSTANTIATE_STORE_CONFORMANCE (below).
class HistoryStoreConformance : public DocumentStoreConformance {
 protected:
  HistoryStore& history() { return Persisted(store().history_store(), "history"); }
};

class CommentStoreConformance : public DocumentStoreConformance {
 protected:
  CommentStore& comments() { return Persisted(store().comment_store(), "comment"); }
};

class RefStoreConformance : public DocumentStoreConformance {
 protected:
  RefStore& refs() { return Persisted(store().ref_store(), "ref"); }
};

}  // namespace opstream::storage::testing

// Instantiates the four suites above for a provider that persists every logical store, with test
// names `{prefix}/{Suite}.{Test}/{factory name}`.
#define OPSTREAM_INSTANTIATE_STORE_CONFORMANCE(prefix, factory)                                             \
  INSTANTIATE_TEST_SUITE_P(prefix, DocumentStoreConformance, ::testing::Values(factory), StoreFactoryName); \
  INSTANTIATE_TEST_SUITE_P(prefix, HistoryStoreConformance, ::testing::Values(factory), StoreFactoryName);  \
  INSTANTIATE_TEST_SUITE_P(prefix, CommentStoreConformance, ::testing::Values(factory), StoreFactoryName);  \
  INSTANTIATE_TEST_SUITE_P(prefix, RefStoreConformance, ::testing::Values(factory), StoreFactoryName)
