#include "storage/memory_ref_store.hpp"

#include <algorithm>

#include "storage/store_rules.hpp"

namespace opstream::storage {

void MemoryRefStore::GetName(std::string global_name, NameCompletion done) {
  std::optional<DocumentName> found;
  {
    std::lock_guard lock(mutex_);
    if (auto it = names_.find(global_name); it != names_.end()) found = it->second;
  }
  done(Status::Ok(), std::move(found));
}

void MemoryRefStore::EnumerateNames(std::string prefix, NamesCompletion done) {
  std::vector<DocumentName> names;
  {
    std::lock_guard lock(mutex_);
    for (auto it = names_.lower_bound(prefix); it != names_.end() && it->first.starts_with(prefix); ++it) {
      names.push_back(it->second);
    }
  }
  done(Status::Ok(), std::move(names));
}

void MemoryRefStore::CreateName(DocumentName name, Completion done) {
  Status status;
  {
    std::lock_guard lock(mutex_);
    const std::string key = name.global_name;
    if (!names_.try_emplace(key, std::move(name)).second) status = NameExistsError(key);
  }
  done(std::move(status));
}

void MemoryRefStore::GetBranch(std::string global_name, std::string branch_id, BranchCompletion done) {
  std::optional<DocumentBranch> found;
  {
    std::lock_guard lock(mutex_);
    if (auto it = branches_.find({global_name, branch_id}); it != branches_.end()) found = it->second;
  }
  done(Status::Ok(), std::move(found));
}

void MemoryRefStore::EnumerateBranches(std::string global_name, BranchesCompletion done) {
  std::vector<DocumentBranch> branches;
  {
    std::lock_guard lock(mutex_);
    for (auto it = branches_.lower_bound({global_name, std::string()});
         it != branches_.end() && it->first.first == global_name; ++it) {
      branches.push_back(it->second);
    }
  }
  done(Status::Ok(), std::move(branches));
}

void MemoryRefStore::CreateBranch(DocumentBranch branch, Completion done) {
  Status status;
  {
    std::lock_guard lock(mutex_);
    BranchKey key{branch.global_name, branch.branch_id};
    if (!branches_.try_emplace(key, std::move(branch)).second) status = BranchExistsError(key.second);
  }
  done(std::move(status));
}

void MemoryRefStore::DeleteBranch(std::string global_name, std::string branch_id, Completion done) {
  {
    std::lock_guard lock(mutex_);
    branches_.erase({global_name, branch_id});
  }
  done(Status::Ok());
}

void MemoryRefStore::CreateVersion(DocumentVersion version, Completion done) {
  Status status;
  {
    std::lock_guard lock(mutex_);
    VersionKey key{version.global_name, version.branch_id, version.tag};
    if (!versions_.try_emplace(key, std::move(version)).second) {
      status = TagExistsError(std::get<2>(key), std::get<1>(key));
    }
  }
  done(std::move(status));
}

void MemoryRefStore::GetVersion(std::string global_name, std::string branch_id, std::string tag,
                                VersionCompletion done) {
  std::optional<DocumentVersion> found;
  {
    std::lock_guard lock(mutex_);
    if (auto it = versions_.find({global_name, branch_id, tag}); it != versions_.end()) found = it->second;
  }
  done(Status::Ok(), std::move(found));
}

void MemoryRefStore::EnumerateVersions(std::string global_name, std::string branch_id, VersionsCompletion done) {
  std::vector<DocumentVersion> versions;
  {
    std::lock_guard lock(mutex_);
    for (auto it = versions_.lower_bound({global_name, branch_id, std::string()});
         it != versions_.end() && std::get<0>(it->first) == global_name && std::get<1>(it->first) == branch_id; ++it) {
      versions.push_back(it->second);
    }
  }
  done(Status::Ok(), std::move(versions));
}

void MemoryRefStore::ListVersionsPinning(std::string physical_document_id, VersionsCompletion done) {
  std::vector<DocumentVersion> versions;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, branch] : branches_) {
      if (branch.physical_document_id != physical_document_id) continue;
      for (auto it = versions_.lower_bound({key.first, key.second, std::string()});
           it != versions_.end() && std::get<0>(it->first) == key.first && std::get<1>(it->first) == key.second; ++it) {
        versions.push_back(it->second);
      }
    }
  }
  std::stable_sort(versions.begin(), versions.end(),
                   [](const DocumentVersion& a, const DocumentVersion& b) { return a.revision < b.revision; });
  done(Status::Ok(), std::move(versions));
}

}  // namespace opstream::storage
