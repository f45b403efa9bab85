#include "storage/memory_store.hpp"

#include <thread>

#include "storage/document_store_conformance.hpp"

namespace opstream::storage::testing {
namespace {

const StoreFactory kMemory{"Memory", [](const std::filesystem::path&) -> std::unique_ptr<DocumentStore> {
                             return std::make_unique<MemoryDocumentStore>();
                           }};

OPSTREAM_INSTANTIATE_STORE_CONFORMANCE(Memory, kMemory);

TEST(MemoryDocumentStoreTest, NamesAndHealthMatchTheReference) {
  MemoryDocumentStore store;
  EXPECT_EQ(store.provider(), "memory");
  EXPECT_EQ(store.type_name(), "MemoryDocumentStore");
  const HealthReport report = CheckHealthSync(store);
  EXPECT_EQ(report.status, HealthStatus::kDegraded);
  EXPECT_EQ(report.description, "in-memory store, data lost on restart");
}

TEST(MemoryDocumentStoreTest, CompletionsRunInlineOnTheCallersThread) {
  MemoryDocumentStore store;
  std::thread::id completion_thread;
  store.Append("doc", {MakeOp(2)}, [&](Status) { completion_thread = std::this_thread::get_id(); });
  EXPECT_EQ(completion_thread, std::this_thread::get_id());
}

}  // namespace
}  // namespace opstream::storage::testing
