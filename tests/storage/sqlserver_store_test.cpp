// The `sqlserver` provider. Two kinds of test:
//  * against a live SQL Server (OPSTREAM_TEST_SQLSERVER_URL): the shared conformance suite, the
//    schema as SQL Server reports it, the migration history, refusal of a newer schema, duplicate
//    revisions. Without the variable they are SKIPPED with a message saying why;
//  * without a server: ODBC and FreeTDS really run as far as a refused TCP connection, a missing
//    driver, and the checks made before any connection.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "storage/document_store_conformance.hpp"
#include "storage/sqlserver/sqlserver_document_store.hpp"
#include "storage/sqlserver_test_support.hpp"

namespace opstream::storage::testing {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

void SkipWithoutServer() { GTEST_SKIP() << kSqlServerSkipMessage; }

std::unique_ptr<DocumentStore> OpenOrFail(const std::string& connection_string) {
  std::unique_ptr<DocumentStore> store;
  const Status status = OpenSqlServerStore(connection_string, store);
  EXPECT_TRUE(status.ok()) << status.message();
  return store;
}

const StoreFactory kSqlServerFactory{"SqlServer",
                                     [](const std::filesystem::path&) -> std::unique_ptr<DocumentStore> {
                                       const auto url = SqlServerTestUrl();
                                       if (!url) {
                                         SkipWithoutServer();
                                         return nullptr;
                                       }
                                       auto database = std::make_shared<SqlServerTestDatabase>(*url);
                                       auto store = OpenOrFail(database->ConnectionString());
                                       if (!store) return nullptr;
                                       return std::make_unique<StoreOwning>(std::move(database), std::move(store));
                                     },
                                     std::chrono::nanoseconds(100), std::chrono::nanoseconds(100),
                                     std::chrono::nanoseconds(100)};

OPSTREAM_INSTANTIATE_STORE_CONFORMANCE(SqlServer, kSqlServerFactory);

// ----- against a live server -----

class SqlServerLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto url = SqlServerTestUrl();
    if (!url) GTEST_SKIP() << kSqlServerSkipMessage;
    database_ = std::make_unique<SqlServerTestDatabase>(*url);
  }

  std::unique_ptr<DocumentStore> OpenInitialized() {
    auto store = OpenOrFail(database_->ConnectionString());
    if (!store) return nullptr;
    const Status initialized = InitializeSync(*store);
    EXPECT_TRUE(initialized.ok()) << initialized.message();
    return store;
  }

  std::unique_ptr<SqlServerTestDatabase> database_;
};

TEST_F(SqlServerLiveTest, SchemaHasTheReferenceTypesInSchemaOpstream) {
  auto store = OpenInitialized();
  ASSERT_NE(store, nullptr);
  RawSqlServer raw = database_->Raw();
  ASSERT_TRUE(raw.ok());
  const auto rows = raw.Query(
      "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, DATETIME_PRECISION, IS_NULLABLE "
      "FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = 'opstream' AND TABLE_NAME = 'DocumentOps' "
      "ORDER BY ORDINAL_POSITION");
  std::vector<std::string> columns;
  for (const auto& r : rows) columns.push_back(r[0] + " " + r[1] + " " + r[2] + " " + r[3] + " " + r[4]);
  EXPECT_THAT(columns, ElementsAre("DocumentId nvarchar 450 <null> NO", "Revision bigint <null> <null> NO",
                                   "AuthorId nvarchar -1 <null> NO", "Timestamp datetimeoffset <null> 7 NO",
                                   "Payload varbinary -1 <null> NO", "EngineType nvarchar -1 <null> NO"));
  const auto tables =
      raw.Query("SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'opstream' ORDER BY TABLE_NAME");
  std::vector<std::string> names;
  for (const auto& r : tables) names.push_back(r[0]);
  EXPECT_THAT(names, ElementsAre("Comments", "DocumentBranches", "DocumentNames", "DocumentOps", "DocumentSnapshots",
                                 "DocumentVersions", "HistoryOps", "HistorySnapshots"));
}

TEST_F(SqlServerLiveTest, MigrationHistoryHoldsTheSqlServerIds) {
  auto store = OpenInitialized();
  ASSERT_NE(store, nullptr);
  RawSqlServer raw = database_->Raw();
  const auto rows = raw.Query("SELECT [MigrationId] FROM [dbo].[__EFMigrationsHistory] ORDER BY [MigrationId]");
  std::vector<std::string> ids;
  for (const auto& r : rows) ids.push_back(r[0]);
  EXPECT_THAT(
      ids, ElementsAre("20260528094935_Initial", "20260529085214_UpdateModel", "20260624150108_AddCommentAuthorName"));
  // A second start applies nothing again.
  auto again = OpenOrFail(database_->ConnectionString());
  EXPECT_TRUE(InitializeSync(*again).ok());
  EXPECT_EQ(raw.Query("SELECT COUNT(*) FROM [dbo].[__EFMigrationsHistory]"),
            (std::vector<std::vector<std::string>>{{"3"}}));
}

TEST_F(SqlServerLiveTest, NewerSchemaIsRefused) {
  auto store = OpenInitialized();
  ASSERT_NE(store, nullptr);
  RawSqlServer raw = database_->Raw();
  raw.Query("INSERT INTO [__EFMigrationsHistory] VALUES (N'20990101000000_Future', N'99.0.0')");
  auto newer = OpenOrFail(database_->ConnectionString());
  const Status status = InitializeSync(*newer);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("newer schema"), HasSubstr("20990101000000_Future")));
}

TEST_F(SqlServerLiveTest, DuplicateRevisionIsReportedAsSuch) {
  auto store = OpenInitialized();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(AppendSync(*store, "t:#:d", MakeOps(1, 3)).ok());
  const Status status = AppendSync(*store, "t:#:d", MakeOps(3, 4));
  EXPECT_EQ(status.message(), "Revision 3 of document 't:#:d' already exists.");
  const auto [loaded_status, loaded] = LoadSync(*store, "t:#:d");
  EXPECT_THAT(Revisions(loaded.ops), ElementsAre(1, 2, 3));
}

TEST_F(SqlServerLiveTest, TextAndBytesRoundTrip) {
  auto store = OpenInitialized();
  ASSERT_NE(store, nullptr);
  StoredOp op = MakeOp(1, std::string("{\"t\":\"h\xC3\xA9llo \xF0\x9F\x98\x80\"}") + std::string(70000, 'x'));
  op.author_id =
      "p\xC3\xA9"
      "er";
  ASSERT_TRUE(AppendSync(*store, "d\xC3\xA9", {op}).ok());
  const auto [status, loaded] = LoadSync(*store, "d\xC3\xA9");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_EQ(loaded.ops.size(), 1u);
  EXPECT_EQ(loaded.ops[0].payload, op.payload);
  EXPECT_EQ(loaded.ops[0].author_id, op.author_id);
  EXPECT_EQ(loaded.ops[0].timestamp, op.timestamp);
}

// ----- without a server -----

// A loopback port that nothing listens on (bound, then closed).
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

std::string ClosedPortConnectionString() {
  return "Server=tcp:127.0.0.1," + std::to_string(ClosedPort()) +
         ";Database=OpStream;User Id=sa;Password=S3cret-Pa55;Connect Timeout=3;Encrypt=False";
}

TEST(SqlServerOdbcTest, ClosedPortFailsInitializeWithAClearError) {
  auto store = OpenOrFail(ClosedPortConnectionString());
  ASSERT_NE(store, nullptr);
  const auto started = std::chrono::steady_clock::now();
  const Status status = InitializeSync(*store);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), AllOf(HasSubstr("SQL Server is unavailable (127.0.0.1,"), HasSubstr("/OpStream as sa"),
                                      HasSubstr("[FreeTDS]"), Not(HasSubstr("S3cret-Pa55"))));
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  std::cout << "closed port: " << status.message() << "\n";
}

TEST(SqlServerOdbcTest, ClosedPortMakesCallsFailAndHealthUnhealthy) {
  auto store = OpenOrFail(ClosedPortConnectionString());
  ASSERT_NE(store, nullptr);
  const HealthReport health = CheckHealthSync(*store);
  EXPECT_EQ(health.status, HealthStatus::kUnhealthy);
  EXPECT_THAT(health.description, HasSubstr("SQL Server"));
  const auto [status, loaded] = LoadSync(*store, "doc");
  EXPECT_THAT(status.message(), HasSubstr("SQL Server is unavailable"));
  EXPECT_FALSE(loaded.snapshot.has_value());
  EXPECT_THAT(AppendSync(*store, "doc", MakeOps(1, 1)).message(), HasSubstr("SQL Server is unavailable"));
  EXPECT_FALSE(WriteSnapshotSync(*store, "doc", Snapshot{1, SampleTime(), "{}"}).ok());
  EXPECT_FALSE(CompactSync(*store, "doc", 1).ok());
}

TEST(SqlServerOdbcTest, MissingOdbcDriverIsNamedInTheError) {
  SqlServerConnectionOptions options;
  ASSERT_TRUE(ParseSqlServerConnectionString(ClosedPortConnectionString(), options).ok());
  SqlServerStoreSettings settings;
  settings.odbc_driver = "NoSuchOdbcDriver";
  SqlServerDocumentStore store(options, settings);
  const Status status = InitializeSync(store);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("NoSuchOdbcDriver"), HasSubstr("tdsodbc")));
}

TEST(SqlServerOdbcTest, OverlongIdsAndBadBatchesAreRefusedBeforeAnyConnection) {
  auto store = OpenOrFail(ClosedPortConnectionString());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(AppendSync(*store, std::string(451, 'a'), MakeOps(1, 1)).message(),
              HasSubstr("at most 450 (nvarchar(450))"));
  // 226 four-byte characters are 452 UTF-16 units.
  std::string astral;
  for (int i = 0; i < 226; ++i) astral += "\xF0\x9F\x98\x80";
  EXPECT_THAT(AppendSync(*store, astral, MakeOps(1, 1)).message(), HasSubstr("452 UTF-16 code units"));
  auto ops = MakeOps(1, 2);
  std::swap(ops[0], ops[1]);
  EXPECT_THAT(AppendSync(*store, "doc", ops).message(), HasSubstr("must have ascending revisions"));
}

TEST(SqlServerOdbcTest, BadConnectionStringIsRefusedAtOpen) {
  std::unique_ptr<DocumentStore> store;
  const Status status = OpenSqlServerStore("Server=h;User Id=u;Password=pw;Bogus=1", store);
  EXPECT_THAT(status.message(), HasSubstr("'Bogus' is not a valid keyword"));
  EXPECT_EQ(store, nullptr);
}

}  // namespace
}  // namespace opstream::storage::testing
