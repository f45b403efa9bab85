#pragma once
// The versioning ref store (server.md §3.1 "Versioning ref store", §6.1): document names, their
// branches (each backed by a physical document) and version tags. Names are global names.
//
// Same calling conventions as DocumentStore: every call returns at once and runs its completion
// exactly once, on a thread of the store's choosing. Listings are ordered ordinally by their key
// (name; branch id; tag) so every provider answers alike.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/status.hpp"

namespace opstream::storage {

struct DocumentName {
  std::string global_name;
  std::string default_branch_id;
  std::string engine_type;
  Timestamp created_at;
};

struct DocumentBranch {
  std::string global_name;
  std::string branch_id;
  std::string physical_document_id;  // global id
  std::optional<std::string> fork_parent_branch_id;
  int64_t fork_revision = 0;
  Timestamp created_at;
  bool is_read_only = false;
};

struct DocumentVersion {
  std::string global_name;
  std::string branch_id;
  std::string tag;
  int64_t revision = 0;
  std::string history_snapshot_name;
  Timestamp created_at;
};

class RefStore {
 public:
  using Completion = std::function<void(Status)>;
  using NameCompletion = std::function<void(Status, std::optional<DocumentName>)>;
  using NamesCompletion = std::function<void(Status, std::vector<DocumentName>)>;
  using BranchCompletion = std::function<void(Status, std::optional<DocumentBranch>)>;
  using BranchesCompletion = std::function<void(Status, std::vector<DocumentBranch>)>;
  using VersionCompletion = std::function<void(Status, std::optional<DocumentVersion>)>;
  using VersionsCompletion = std::function<void(Status, std::vector<DocumentVersion>)>;

  virtual ~RefStore() = default;

  // The reference's store type, used in its "does not implement" messages.
  virtual std::string_view ref_store_type_name() const = 0;

  virtual void GetName(std::string global_name, NameCompletion done) = 0;
  // Names starting (ordinal) with `prefix`; empty = all.
  virtual void EnumerateNames(std::string prefix, NamesCompletion done) = 0;
  // Inserts; an existing name is refused with `Name '{name}' already exists.`
  virtual void CreateName(DocumentName name, Completion done) = 0;
  // No reference store implements it (§3.1): `{ref_store_type_name} does not implement DeleteNameAsync.`
  virtual void DeleteName(std::string global_name, Completion done) {
    (void)global_name;
    done(Status::Error(std::string(ref_store_type_name()) + " does not implement DeleteNameAsync."));
  }

  virtual void GetBranch(std::string global_name, std::string branch_id, BranchCompletion done) = 0;
  virtual void EnumerateBranches(std::string global_name, BranchesCompletion done) = 0;
  // Inserts; an existing (name, branch) is refused with `Branch '{id}' already exists.`
  virtual void CreateBranch(DocumentBranch branch, Completion done) = 0;
  // Removes the branch ref only (its versions stay, §6.4); an unknown branch succeeds.
  virtual void DeleteBranch(std::string global_name, std::string branch_id, Completion done) = 0;

  // Inserts; an existing (name, branch, tag) is refused with `Tag '{tag}' already exists on branch '{branch}'.`
  virtual void CreateVersion(DocumentVersion version, Completion done) = 0;
  virtual void GetVersion(std::string global_name, std::string branch_id, std::string tag, VersionCompletion done) = 0;
  virtual void EnumerateVersions(std::string global_name, std::string branch_id, VersionsCompletion done) = 0;
  // `{ref_store_type_name} does not implement DeleteVersionAsync.` (§3.1)
  virtual void DeleteVersion(std::string global_name, std::string branch_id, std::string tag, Completion done) {
    (void)global_name;
    (void)branch_id;
    (void)tag;
    done(Status::Error(std::string(ref_store_type_name()) + " does not implement DeleteVersionAsync."));
  }
  // The pin guard (§6.8): every version whose branch's physical document id is
  // `physical_document_id`, ordered by revision, then name, branch, tag.
  virtual void ListVersionsPinning(std::string physical_document_id, VersionsCompletion done) = 0;
};

// The overrides of every RefStore call except ref_store_type_name (each class names its own),
// declared by one list for the classes that implement them all.
#define OPSTREAM_REF_STORE_OVERRIDES                                                                                 \
  void GetName(std::string global_name, NameCompletion done) override;                                               \
  void EnumerateNames(std::string prefix, NamesCompletion done) override;                                            \
  void CreateName(DocumentName name, RefStore::Completion done) override;                                            \
  void GetBranch(std::string global_name, std::string branch_id, BranchCompletion done) override;                    \
  void EnumerateBranches(std::string global_name, BranchesCompletion done) override;                                 \
  void CreateBranch(DocumentBranch branch, RefStore::Completion done) override;                                      \
  void DeleteBranch(std::string global_name, std::string branch_id, RefStore::Completion done) override;             \
  void CreateVersion(DocumentVersion version, RefStore::Completion done) override;                                   \
  void GetVersion(std::string global_name, std::string branch_id, std::string tag, VersionCompletion done) override; \
  void EnumerateVersions(std::string global_name, std::string branch_id, VersionsCompletion done) override;          \
  void ListVersionsPinning(std::string physical_document_id, VersionsCompletion done) override

}  // namespace opstream::storage
