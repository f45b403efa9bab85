// The RefStore contract (server.md §3.1 "Versioning ref store", §6, ref_store.hpp), checked for
// every provider that instantiates RefStoreConformance.
#include <gmock/gmock.h>

#include "storage/document_store_conformance.hpp"

namespace opstream::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using NameResult = std::pair<Status, std::optional<DocumentName>>;
using NamesResult = std::pair<Status, std::vector<DocumentName>>;
using BranchResult = std::pair<Status, std::optional<DocumentBranch>>;
using BranchesResult = std::pair<Status, std::vector<DocumentBranch>>;
using VersionResult = std::pair<Status, std::optional<DocumentVersion>>;
using VersionsResult = std::pair<Status, std::vector<DocumentVersion>>;

DocumentName Name(const std::string& global_name) { return DocumentName{global_name, "main", "text", SampleTime(1)}; }

DocumentBranch Branch(const std::string& name, const std::string& branch_id, const std::string& physical,
                      std::optional<std::string> parent = std::nullopt) {
  return DocumentBranch{name, branch_id, physical, std::move(parent), parent ? 5 : 0, SampleTime(2), false};
}

DocumentVersion Version(const std::string& name, const std::string& branch_id, const std::string& tag,
                        int64_t revision) {
  return DocumentVersion{name, branch_id, tag, revision, "tag/" + tag, SampleTime(3)};
}

class Refs {
 public:
  explicit Refs(RefStore& store) : store_(store) {}
  Status CreateName(DocumentName name) {
    return CallSync<Status>([&](auto done) { store_.CreateName(name, done); });
  }
  NameResult GetName(const std::string& name) {
    return CallSync<NameResult>([&](auto done) { store_.GetName(name, done); });
  }
  std::vector<std::string> NameList(const std::string& prefix) {
    auto [status, names] = CallSync<NamesResult>([&](auto done) { store_.EnumerateNames(prefix, done); });
    EXPECT_TRUE(status.ok()) << status.message();
    std::vector<std::string> out;
    for (const DocumentName& n : names) out.push_back(n.global_name);
    return out;
  }
  Status CreateBranch(DocumentBranch branch) {
    return CallSync<Status>([&](auto done) { store_.CreateBranch(branch, done); });
  }
  BranchResult GetBranch(const std::string& name, const std::string& branch) {
    return CallSync<BranchResult>([&](auto done) { store_.GetBranch(name, branch, done); });
  }
  std::vector<std::string> BranchList(const std::string& name) {
    auto [status, branches] = CallSync<BranchesResult>([&](auto done) { store_.EnumerateBranches(name, done); });
    EXPECT_TRUE(status.ok()) << status.message();
    std::vector<std::string> out;
    for (const DocumentBranch& b : branches) out.push_back(b.branch_id);
    return out;
  }
  Status DeleteBranch(const std::string& name, const std::string& branch) {
    return CallSync<Status>([&](auto done) { store_.DeleteBranch(name, branch, done); });
  }
  Status CreateVersion(DocumentVersion version) {
    return CallSync<Status>([&](auto done) { store_.CreateVersion(version, done); });
  }
  VersionResult GetVersion(const std::string& name, const std::string& branch, const std::string& tag) {
    return CallSync<VersionResult>([&](auto done) { store_.GetVersion(name, branch, tag, done); });
  }
  std::vector<std::string> VersionList(const std::string& name, const std::string& branch) {
    auto [status, versions] =
        CallSync<VersionsResult>([&](auto done) { store_.EnumerateVersions(name, branch, done); });
    EXPECT_TRUE(status.ok()) << status.message();
    std::vector<std::string> out;
    for (const DocumentVersion& v : versions) out.push_back(v.tag);
    return out;
  }
  VersionsResult Pinning(const std::string& physical) {
    return CallSync<VersionsResult>([&](auto done) { store_.ListVersionsPinning(physical, done); });
  }

 private:
  RefStore& store_;
};

TEST_P(RefStoreConformance, NamesAreCreatedReadAndListedByPrefix) {
  Refs r(refs());
  for (const char* name : {"t1:b", "t1:a", "t2:a", "t1:A"}) ASSERT_TRUE(r.CreateName(Name(name)).ok());
  auto [status, found] = r.GetName("t1:a");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->global_name, "t1:a");
  EXPECT_EQ(found->default_branch_id, "main");
  EXPECT_EQ(found->engine_type, "text");
  EXPECT_EQ(found->created_at, StoredRecordTime(SampleTime(1)));
  EXPECT_FALSE(r.GetName("t1:z").second.has_value());
  EXPECT_THAT(r.NameList("t1:"), ElementsAre("t1:A", "t1:a", "t1:b"));
  EXPECT_THAT(r.NameList(""), ElementsAre("t1:A", "t1:a", "t1:b", "t2:a"));
  EXPECT_TRUE(r.NameList("t1_").empty());
}

TEST_P(RefStoreConformance, CreatingAnExistingNameIsRefused) {
  Refs r(refs());
  ASSERT_TRUE(r.CreateName(Name("doc")).ok());
  DocumentName again = Name("doc");
  again.engine_type = "json";
  const Status status = r.CreateName(again);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(), "Name 'doc' already exists.");
  EXPECT_EQ(r.GetName("doc").second->engine_type, "text");
}

TEST_P(RefStoreConformance, DeleteNameAndDeleteVersionFailLikeTheReference) {
  Refs r(refs());
  ASSERT_TRUE(r.CreateName(Name("doc")).ok());
  const std::string type(refs().ref_store_type_name());
  const Status name = CallSync<Status>([&](auto done) { refs().DeleteName("doc", done); });
  EXPECT_EQ(name.message(), type + " does not implement DeleteNameAsync.");
  const Status version = CallSync<Status>([&](auto done) { refs().DeleteVersion("doc", "main", "v1", done); });
  EXPECT_EQ(version.message(), type + " does not implement DeleteVersionAsync.");
  EXPECT_TRUE(r.GetName("doc").second.has_value());
}

TEST_P(RefStoreConformance, BranchesRoundTripAndAreListedPerName) {
  Refs r(refs());
  DocumentBranch fork = Branch("doc", "feature", "doc@feature", "main");
  fork.is_read_only = true;
  ASSERT_TRUE(r.CreateBranch(Branch("doc", "main", "doc")).ok());
  ASSERT_TRUE(r.CreateBranch(fork).ok());
  ASSERT_TRUE(r.CreateBranch(Branch("doc-2", "main", "doc-2")).ok());

  auto [status, found] = r.GetBranch("doc", "feature");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->physical_document_id, "doc@feature");
  EXPECT_EQ(found->fork_parent_branch_id, std::optional<std::string>("main"));
  EXPECT_EQ(found->fork_revision, 5);
  EXPECT_EQ(found->created_at, StoredRecordTime(SampleTime(2)));
  EXPECT_TRUE(found->is_read_only);
  const auto root = r.GetBranch("doc", "main").second;
  ASSERT_TRUE(root.has_value());
  EXPECT_FALSE(root->fork_parent_branch_id.has_value());
  EXPECT_FALSE(root->is_read_only);
  EXPECT_THAT(r.BranchList("doc"), ElementsAre("feature", "main"));
  EXPECT_THAT(r.BranchList("doc-2"), ElementsAre("main"));
  EXPECT_TRUE(r.BranchList("do").empty());

  const Status again = r.CreateBranch(Branch("doc", "main", "elsewhere"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.message(), "Branch 'main' already exists.");

  ASSERT_TRUE(r.DeleteBranch("doc", "feature").ok());
  EXPECT_FALSE(r.GetBranch("doc", "feature").second.has_value());
  EXPECT_THAT(r.BranchList("doc"), ElementsAre("main"));
  EXPECT_TRUE(r.DeleteBranch("doc", "never").ok());
}

TEST_P(RefStoreConformance, VersionsRoundTripAndTagsAreUniquePerBranch) {
  Refs r(refs());
  ASSERT_TRUE(r.CreateVersion(Version("doc", "main", "v2", 20)).ok());
  ASSERT_TRUE(r.CreateVersion(Version("doc", "main", "v1", 10)).ok());
  ASSERT_TRUE(r.CreateVersion(Version("doc", "feature", "v1", 30)).ok());

  auto [status, found] = r.GetVersion("doc", "main", "v1");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->revision, 10);
  EXPECT_EQ(found->history_snapshot_name, "tag/v1");
  EXPECT_EQ(found->created_at, StoredRecordTime(SampleTime(3)));
  EXPECT_EQ(r.GetVersion("doc", "feature", "v1").second->revision, 30);
  EXPECT_FALSE(r.GetVersion("doc", "main", "v3").second.has_value());
  EXPECT_THAT(r.VersionList("doc", "main"), ElementsAre("v1", "v2"));
  EXPECT_THAT(r.VersionList("doc", "feature"), ElementsAre("v1"));

  const Status again = r.CreateVersion(Version("doc", "main", "v1", 99));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.message(), "Tag 'v1' already exists on branch 'main'.");
  EXPECT_EQ(r.GetVersion("doc", "main", "v1").second->revision, 10);
}

TEST_P(RefStoreConformance, PinGuardListsVersionsOfBranchesBackedByTheDocument) {
  Refs r(refs());
  ASSERT_TRUE(r.CreateBranch(Branch("doc", "main", "phys")).ok());
  ASSERT_TRUE(r.CreateBranch(Branch("alias", "b", "phys")).ok());
  ASSERT_TRUE(r.CreateBranch(Branch("doc", "feature", "phys@feature", "main")).ok());
  ASSERT_TRUE(r.CreateVersion(Version("doc", "main", "v1", 40)).ok());
  ASSERT_TRUE(r.CreateVersion(Version("alias", "b", "x", 15)).ok());
  ASSERT_TRUE(r.CreateVersion(Version("doc", "feature", "f1", 3)).ok());
  ASSERT_TRUE(r.CreateVersion(Version("orphan", "main", "o1", 1)).ok());  // no branch ref

  auto [status, pins] = r.Pinning("phys");
  ASSERT_TRUE(status.ok()) << status.message();
  std::vector<int64_t> revisions;
  for (const DocumentVersion& v : pins) revisions.push_back(v.revision);
  EXPECT_THAT(revisions, ElementsAre(15, 40));
  EXPECT_EQ(r.Pinning("phys@feature").second.size(), 1u);
  EXPECT_TRUE(r.Pinning("unknown").second.empty());
  // Deleting the branch ref keeps its versions but they no longer pin the document.
  ASSERT_TRUE(r.DeleteBranch("alias", "b").ok());
  EXPECT_EQ(r.Pinning("phys").second.size(), 1u);
  EXPECT_EQ(r.GetVersion("alias", "b", "x").second->revision, 15);
}

}  // namespace
}  // namespace opstream::storage::testing
