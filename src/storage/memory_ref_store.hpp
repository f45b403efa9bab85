#pragma once
// The in-process versioning ref store (server.md §3.2, §6): what the image uses for every
// provider, and the reference implementation of RefStore.
//
// Deliberate deviation from the reference: creating an existing name is refused (the reference's
// memory store overwrites it while the SQL stores fail with a key violation), so every provider
// behaves alike.
//
// Thread-safe. Completions run inline on the caller's thread, after the lock is released.
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "storage/ref_store.hpp"

namespace opstream::storage {

class MemoryRefStore final : public RefStore {
 public:
  std::string_view ref_store_type_name() const override { return "InMemoryDocumentRefStore"; }

  void GetName(std::string global_name, NameCompletion done) override;
  void EnumerateNames(std::string prefix, NamesCompletion done) override;
  void CreateName(DocumentName name, Completion done) override;
  void GetBranch(std::string global_name, std::string branch_id, BranchCompletion done) override;
  void EnumerateBranches(std::string global_name, BranchesCompletion done) override;
  void CreateBranch(DocumentBranch branch, Completion done) override;
  void DeleteBranch(std::string global_name, std::string branch_id, Completion done) override;
  void CreateVersion(DocumentVersion version, Completion done) override;
  void GetVersion(std::string global_name, std::string branch_id, std::string tag, VersionCompletion done) override;
  void EnumerateVersions(std::string global_name, std::string branch_id, VersionsCompletion done) override;
  void ListVersionsPinning(std::string physical_document_id, VersionsCompletion done) override;

 private:
  using BranchKey = std::pair<std::string, std::string>;
  using VersionKey = std::tuple<std::string, std::string, std::string>;

  std::mutex mutex_;
  std::map<std::string, DocumentName> names_;
  std::map<BranchKey, DocumentBranch> branches_;
  std::map<VersionKey, DocumentVersion> versions_;
};

}  // namespace opstream::storage
