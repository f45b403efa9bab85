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
#include <string>

#include "storage/document_store.hpp"
#include "storage/store_test_support.hpp"

namespace opstream::storage::testing {

struct StoreFactory {
  std::string name;
  // Creates a store whose files (if any) live in `directory`; the suite calls Initialize.
  std::function<std::unique_ptr<DocumentStore>(const std::filesystem::path& directory)> make;
  // Op timestamps come back truncated to this (Redis and Mongo keep milliseconds, server.md §3.6-§3.7).
  std::chrono::nanoseconds op_timestamp_resolution{100};
};

inline std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info) { return info.param.name; }

class DocumentStoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    store_ = GetParam().make(directory_.path());
    ASSERT_NE(store_, nullptr);
    const Status initialized = InitializeSync(*store_);
    ASSERT_TRUE(initialized.ok()) << initialized.message();
  }
  void TearDown() override {
    if (store_) store_->Flush(std::chrono::seconds(10));
    store_.reset();
  }

  DocumentStore& store() { return *store_; }
  // An op timestamp as the provider gives it back.
  Timestamp StoredOpTime(Timestamp t) const { return t - t.time_since_epoch() % GetParam().op_timestamp_resolution; }

 private:
  TempDir directory_;
  std::unique_ptr<DocumentStore> store_;
};

}  // namespace opstream::storage::testing
