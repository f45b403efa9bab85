// MySqlConnector connection strings (server.md §3.5).
#include "storage/mysql/mysql_connection_string.hpp"

#include <gmock/gmock.h>

namespace opstream::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

MySqlConnectionOptions Parse(const std::string& text) {
  MySqlConnectionOptions options;
  const Status status = ParseMySqlConnectionString(text, options);
  EXPECT_TRUE(status.ok()) << status.message();
  return options;
}

std::string Error(const std::string& text) {
  MySqlConnectionOptions options;
  const Status status = ParseMySqlConnectionString(text, options);
  EXPECT_FALSE(status.ok()) << text;
  return status.message();
}

TEST(MySqlConnectionStringTest, DocumentedExample) {
  const auto o = Parse("Server=localhost;Port=3306;Database=opstream;Uid=root;Pwd=root");
  EXPECT_THAT(o.hosts, ElementsAre("localhost"));
  EXPECT_EQ(o.port, 3306);
  EXPECT_EQ(o.database, "opstream");
  EXPECT_EQ(o.user, "root");
  EXPECT_EQ(o.password, "root");
  EXPECT_EQ(o.connect_timeout, std::chrono::seconds(15));
  EXPECT_EQ(o.command_timeout, std::chrono::seconds(30));
  EXPECT_EQ(o.ssl_mode, MySqlSslMode::kPreferred);
}

TEST(MySqlConnectionStringTest, AliasesAndSpellingsAreAccepted) {
  for (const char* user : {"User ID", "UserID", "uid", "User", "Username", "user name"}) {
    EXPECT_EQ(Parse(std::string("Host=h;Database=d;") + user + "=alice").user, "alice") << user;
  }
  for (const char* password : {"Password", "pwd", "PASSWORD"}) {
    EXPECT_EQ(Parse(std::string("Server=h;Database=d;") + password + "=p").password, "p") << password;
  }
  EXPECT_EQ(Parse("Data Source=db1;Initial Catalog=x").hosts, (std::vector<std::string>{"db1"}));
  EXPECT_EQ(Parse("Server=db1;Initial Catalog=x").database, "x");
  EXPECT_EQ(Parse("Server=a, b;Database=d").hosts, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Parse("Database=d").hosts, (std::vector<std::string>{"localhost"}));
}

TEST(MySqlConnectionStringTest, OptionsAreParsed) {
  const auto o = Parse(
      "Server=h;Database=d;SslMode=Required;Connection Timeout=3;Default Command Timeout=7;Pooling=false;"
      "Maximum Pool Size=12;Minimum Pool Size=2;AllowPublicKeyRetrieval=True;CharSet=utf8mb4;Keep Alive=10;"
      "Allow User Variables=true;Convert Zero DateTime=yes;Ssl-Ca=/ca.pem");
  EXPECT_EQ(o.ssl_mode, MySqlSslMode::kRequired);
  EXPECT_EQ(o.connect_timeout, std::chrono::seconds(3));
  EXPECT_EQ(o.command_timeout, std::chrono::seconds(7));
  EXPECT_FALSE(o.pooling);
  EXPECT_EQ(o.max_pool_size, 12);
  EXPECT_EQ(o.min_pool_size, 2);
  EXPECT_TRUE(o.allow_public_key_retrieval);
  EXPECT_EQ(o.ssl_ca, "/ca.pem");
  EXPECT_EQ(Parse("Server=h;Database=d;Ssl Mode=none").ssl_mode, MySqlSslMode::kNone);
  EXPECT_EQ(Parse("Server=h;Database=d;sslmode=VerifyFull").ssl_mode, MySqlSslMode::kVerifyFull);
  EXPECT_EQ(Parse("Server=h;Database=d;Connect Timeout=0").connect_timeout, std::chrono::seconds(0));
}

TEST(MySqlConnectionStringTest, QuotedValuesKeepSemicolons) {
  const auto o = Parse("Server=h;Database=d;Pwd='a;b''c'");
  EXPECT_EQ(o.password, "a;b'c");
}

TEST(MySqlConnectionStringTest, UnknownKeywordsAndBadValuesAreRefusedClearly) {
  EXPECT_THAT(Error("Server=h;Database=d;Jurnal=1"),
              AllOf(HasSubstr("Invalid MySQL connection string"), HasSubstr("'Jurnal' is not a valid keyword")));
  EXPECT_THAT(Error("Server=h;Database=d;Port=0"), HasSubstr("'Port' must be a whole number"));
  EXPECT_THAT(Error("Server=h;Database=d;Port=abc"), HasSubstr("'Port'"));
  EXPECT_THAT(Error("Server=h;Database=d;SslMode=Sometimes"), HasSubstr("'SslMode' must be one of"));
  EXPECT_THAT(Error("Server=h;Database=d;Pooling=maybe"), HasSubstr("Pooling"));
  EXPECT_THAT(Error("Server=h;Database=d;CharSet=latin1"), HasSubstr("utf8mb4"));
  EXPECT_THAT(Error("Server=;Database=d"), HasSubstr("empty host"));
  EXPECT_THAT(Error("Server=h"), HasSubstr("'Database' is required"));
  EXPECT_THAT(Error("Server=h;Database=d;garbage"), HasSubstr("Invalid MySQL connection string"));
  EXPECT_THAT(Error("Server=h;Database=d;Pwd='unterminated"), HasSubstr("Invalid MySQL connection string"));
}

TEST(MySqlConnectionStringTest, PasswordIsNeverEchoed) {
  for (const char* text : {"Server=h;Database=d;Pwd=s3cr3t;Bogus=1", "Server=h;Database=d;Pwd=s3cr3t;Port=x",
                           "Server=h;Database=d;Password=s3cr3t;s3cr3t", "Server=h;Pwd=s3cr3t"}) {
    EXPECT_THAT(Error(text), Not(HasSubstr("s3cr3t"))) << text;
  }
  const auto o = Parse("Server=db;Port=3307;Database=x;Uid=u;Pwd=s3cr3t");
  EXPECT_EQ(o.Describe(), "db:3307/x as u");
}

}  // namespace
}  // namespace opstream::storage
