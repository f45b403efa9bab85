#include "storage/sqlite/sqlite_connection_string.hpp"

#include <gtest/gtest.h>

namespace opstream::storage {
namespace {

SqliteConnectionOptions ParseOk(std::string_view text) {
  SqliteConnectionOptions options;
  const Status status = ParseSqliteConnectionString(text, options);
  EXPECT_TRUE(status.ok()) << text << ": " << status.message();
  return options;
}

std::string ParseError(std::string_view text) {
  SqliteConnectionOptions options;
  const Status status = ParseSqliteConnectionString(text, options);
  EXPECT_FALSE(status.ok()) << text;
  return status.message();
}

TEST(SqliteConnectionStringTest, DocumentedExample) {
  const auto options = ParseOk("Data Source=/var/lib/opstream/opstream.db;Cache=Shared");
  EXPECT_EQ(options.data_source, "/var/lib/opstream/opstream.db");
  EXPECT_EQ(options.cache, SqliteCacheMode::kShared);
  EXPECT_EQ(options.mode, SqliteOpenMode::kReadWriteCreate);
  EXPECT_FALSE(options.in_memory());
  EXPECT_FALSE(options.is_uri());
}

TEST(SqliteConnectionStringTest, DefaultsForAnEmptyString) {
  const auto options = ParseOk("");
  EXPECT_EQ(options.data_source, "");
  EXPECT_EQ(options.mode, SqliteOpenMode::kReadWriteCreate);
  EXPECT_EQ(options.cache, SqliteCacheMode::kDefault);
  EXPECT_FALSE(options.foreign_keys.has_value());
  EXPECT_FALSE(options.recursive_triggers);
  EXPECT_EQ(options.default_timeout, std::chrono::seconds(30));
  EXPECT_TRUE(options.pooling);
  EXPECT_EQ(options.vfs, "");
}

TEST(SqliteConnectionStringTest, KeywordsAreCaseInsensitiveAndWhitespaceTolerant) {
  const auto options = ParseOk("  data   SOURCE = ops.db ;  MODE=readwrite;cache = PRIVATE ;; ");
  EXPECT_EQ(options.data_source, "ops.db");
  EXPECT_EQ(options.mode, SqliteOpenMode::kReadWrite);
  EXPECT_EQ(options.cache, SqliteCacheMode::kPrivate);
}

TEST(SqliteConnectionStringTest, DataSourceAliases) {
  EXPECT_EQ(ParseOk("DataSource=a.db").data_source, "a.db");
  EXPECT_EQ(ParseOk("Filename=b.db").data_source, "b.db");
  EXPECT_EQ(ParseOk("filename=c.db;Data Source=d.db").data_source, "d.db");  // the last one wins
}

TEST(SqliteConnectionStringTest, QuotedValues) {
  EXPECT_EQ(ParseOk("Data Source=\"dir;with;semicolons/x.db\";Mode=ReadOnly").data_source, "dir;with;semicolons/x.db");
  EXPECT_EQ(ParseOk("Data Source='it''s here.db'").data_source, "it's here.db");
  EXPECT_EQ(ParseOk("Data Source=\" spaced \" ; Cache=Shared").data_source, " spaced ");
}

TEST(SqliteConnectionStringTest, EveryValidKeyword) {
  const auto options = ParseOk(
      "Data Source=x.db;Mode=ReadOnly;Cache=Private;Password=;Foreign Keys=True;Recursive Triggers=true;"
      "Default Timeout=5;Pooling=False;Vfs=unix-dotfile");
  EXPECT_EQ(options.mode, SqliteOpenMode::kReadOnly);
  EXPECT_EQ(options.foreign_keys, std::optional<bool>(true));
  EXPECT_TRUE(options.recursive_triggers);
  EXPECT_EQ(options.default_timeout, std::chrono::seconds(5));
  EXPECT_FALSE(options.pooling);
  EXPECT_EQ(options.vfs, "unix-dotfile");
  EXPECT_EQ(ParseOk("Command Timeout=7").default_timeout, std::chrono::seconds(7));
  EXPECT_FALSE(ParseOk("Foreign Keys=").foreign_keys.has_value());
  EXPECT_EQ(ParseOk("Foreign Keys=false").foreign_keys, std::optional<bool>(false));
}

TEST(SqliteConnectionStringTest, MemoryDatabases) {
  EXPECT_TRUE(ParseOk("Mode=Memory").in_memory());
  EXPECT_TRUE(ParseOk("Data Source=shared-name;Mode=Memory;Cache=Shared").in_memory());
  EXPECT_TRUE(ParseOk("Data Source=:memory:").in_memory());
  EXPECT_TRUE(ParseOk("Data Source=file:x.db?mode=ro").is_uri());
}

TEST(SqliteConnectionStringTest, UnknownKeywordIsNamed) {
  const std::string message = ParseError("Data Source=x.db;Journal Mode=WAL");
  EXPECT_NE(message.find("'Journal Mode' is not a valid keyword"), std::string::npos) << message;
  EXPECT_NE(message.find("Valid keywords:"), std::string::npos) << message;
}

TEST(SqliteConnectionStringTest, PasswordIsRefusedWithoutEchoingIt) {
  const std::string message = ParseError("Data Source=x.db;Password=s3cr3t-value");
  EXPECT_NE(message.find("Encrypted SQLite databases are not supported"), std::string::npos) << message;
  EXPECT_EQ(message.find("s3cr3t"), std::string::npos) << message;
  // A password containing `;` leaves a fragment that is not `key=value`; it must not be echoed either.
  const std::string fragment = ParseError("Password=abc;hidden-part;Data Source=x.db");
  EXPECT_EQ(fragment.find("hidden-part"), std::string::npos) << fragment;
  EXPECT_EQ(fragment.find("abc"), std::string::npos) << fragment;
}

TEST(SqliteConnectionStringTest, MalformedStrings) {
  EXPECT_NE(ParseError("just-text").find("expected 'keyword=value'"), std::string::npos);
  EXPECT_NE(ParseError("=value").find("missing keyword"), std::string::npos);
  EXPECT_NE(ParseError("Data Source='never closed").find("unterminated quoted value"), std::string::npos);
  EXPECT_NE(ParseError("Data Source='a.db' trailing").find("unexpected characters"), std::string::npos);
}

TEST(SqliteConnectionStringTest, BadValues) {
  EXPECT_NE(ParseError("Mode=Fast").find("'Mode' must be one of"), std::string::npos);
  EXPECT_NE(ParseError("Cache=Huge").find("'Cache' must be one of"), std::string::npos);
  EXPECT_NE(ParseError("Default Timeout=-1").find("non-negative number of seconds"), std::string::npos);
  EXPECT_NE(ParseError("Default Timeout=soon").find("non-negative number of seconds"), std::string::npos);
  EXPECT_NE(ParseError("Foreign Keys=maybe").find("must be True or False"), std::string::npos);
  EXPECT_NE(ParseError("Pooling=").find("must be True or False"), std::string::npos);
}

}  // namespace
}  // namespace opstream::storage
