// Npgsql connection strings (server.md §3.5) mapped onto libpq parameters.
#include "storage/postgres/postgres_connection_string.hpp"

#include <gmock/gmock.h>

#include <map>

namespace opstream::storage {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

PostgresConnectionOptions Parse(const std::string& text) {
  PostgresConnectionOptions options;
  const Status status = ParsePostgresConnectionString(text, options);
  EXPECT_TRUE(status.ok()) << status.message();
  return options;
}

std::string Error(const std::string& text) {
  PostgresConnectionOptions options;
  const Status status = ParsePostgresConnectionString(text, options);
  EXPECT_FALSE(status.ok()) << text;
  return status.message();
}

std::map<std::string, std::string> Libpq(const std::string& text) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : Parse(text).LibpqParameters()) out[key] = value;
  return out;
}

TEST(PostgresConnectionStringTest, DocumentedExample) {
  const auto o = Parse("Host=postgres;Port=5432;Database=opstream;Username=opstream;Password=opstream");
  ASSERT_EQ(o.hosts.size(), 1u);
  EXPECT_EQ(o.hosts[0].first, "postgres");
  EXPECT_EQ(o.port, 5432);
  EXPECT_EQ(o.database, "opstream");
  EXPECT_EQ(o.username, "opstream");
  EXPECT_EQ(o.password, "opstream");
  EXPECT_EQ(o.connect_timeout, std::chrono::seconds(15));
  EXPECT_EQ(o.command_timeout, std::chrono::seconds(30));
  const auto libpq = Libpq("Host=postgres;Port=5432;Database=opstream;Username=opstream;Password=opstream");
  EXPECT_EQ(libpq.at("host"), "postgres");
  EXPECT_EQ(libpq.at("port"), "5432");
  EXPECT_EQ(libpq.at("dbname"), "opstream");
  EXPECT_EQ(libpq.at("user"), "opstream");
  EXPECT_EQ(libpq.at("password"), "opstream");
  EXPECT_EQ(libpq.at("connect_timeout"), "15");
  EXPECT_EQ(libpq.at("client_encoding"), "UTF8");
}

TEST(PostgresConnectionStringTest, AliasesCaseAndSpacing) {
  for (const std::string text : {"server=h;user id=u;pwd=p;db=d", "SERVER = h ; UserId=u; PSW=p;DB=d",
                                 "Host=h;User Name=u;Password=p;Database=d", "host=h;uid=u;password=p;database=d"}) {
    const auto o = Parse(text);
    ASSERT_EQ(o.hosts.size(), 1u) << text;
    EXPECT_EQ(o.hosts[0].first, "h") << text;
    EXPECT_EQ(o.username, "u") << text;
    EXPECT_EQ(o.password, "p") << text;
    EXPECT_EQ(o.database, "d") << text;
  }
  EXPECT_EQ(Parse("Host=h;SslMode=require").ssl_mode, "require");
  EXPECT_EQ(Parse("Host=h;SSL Mode=VerifyFull").ssl_mode, "verify-full");
  EXPECT_EQ(Parse("Host=h;ssl mode=Verify CA").ssl_mode, "verify-ca");
  EXPECT_EQ(Parse("Host=h;Ssl Mode=Disable").ssl_mode, "disable");
}

TEST(PostgresConnectionStringTest, QuotedValuesAndLastValueWins) {
  const auto o = Parse("Host=h;Password='a;b''c';Database=\"x y\";Database=z");
  EXPECT_EQ(o.password, "a;b'c");
  EXPECT_EQ(o.database, "z");
}

TEST(PostgresConnectionStringTest, MultipleHostsWithPorts) {
  const auto libpq = Libpq("Host=a:5433,b,[::1]:6000;Port=5999");
  EXPECT_EQ(libpq.at("host"), "a,b,::1");
  EXPECT_EQ(libpq.at("port"), "5433,5999,6000");
  EXPECT_EQ(Parse("Host=a:5433,b;Port=5999;Username=u;Database=d").Describe(), "a:5433,b:5999/d as u");
}

TEST(PostgresConnectionStringTest, TimeoutsKeepaliveAndSessionSettings) {
  const auto o = Parse(
      "Host=h;Timeout=3;Command Timeout=0;Keepalive=20;Search Path=app, public;Timezone=UTC;"
      "Application Name=node 1;Target Session Attributes=read-write");
  EXPECT_EQ(o.connect_timeout, std::chrono::seconds(3));
  EXPECT_EQ(o.command_timeout, std::chrono::seconds(0));
  const auto libpq = Libpq(
      "Host=h;Timeout=3;Keepalive=20;Search Path=app, public;Timezone=UTC;Application Name=node 1;"
      "Target Session Attributes=ReadWrite");
  EXPECT_EQ(libpq.at("connect_timeout"), "3");
  EXPECT_EQ(libpq.at("keepalives_idle"), "20");
  EXPECT_EQ(libpq.at("options"), "-c search_path=app,\\ public -c TimeZone=UTC");
  EXPECT_EQ(libpq.at("application_name"), "node 1");
  EXPECT_EQ(libpq.at("target_session_attrs"), "read-write");
  EXPECT_EQ(Libpq("Host=h;Timeout=0").count("connect_timeout"), 0u);  // 0: no limit
}

TEST(PostgresConnectionStringTest, PoolingAndCompatibilityKeysAreAccepted) {
  const auto o = Parse(
      "Host=h;Pooling=false;Minimum Pool Size=1;Maximum Pool Size=50;Connection Idle Lifetime=300;"
      "Include Error Detail=true;Trust Server Certificate=true;Enlist=false;No Reset On Close=true;"
      "Max Auto Prepare=20;Multiplexing=false;Client Encoding=UTF8;Server Compatibility Mode=None");
  EXPECT_FALSE(o.pooling);
  EXPECT_EQ(o.min_pool_size, 1);
  EXPECT_EQ(o.max_pool_size, 50);
}

TEST(PostgresConnectionStringTest, UnknownKeywordIsNamed) {
  const std::string message = Error("Host=h;Jurnal Mode=WAL");
  EXPECT_THAT(message, HasSubstr("'Jurnal Mode' is not a valid keyword"));
  EXPECT_THAT(message, HasSubstr("Valid keywords: Host (or Server)"));
}

TEST(PostgresConnectionStringTest, MalformedStringsAndBadValues) {
  EXPECT_THAT(Error("Database=d"), HasSubstr("'Host' is required"));
  EXPECT_THAT(Error("Host=h;oops"), HasSubstr("expected 'keyword=value' at position 7"));
  EXPECT_THAT(Error("Host=h;=x"), HasSubstr("missing keyword"));
  EXPECT_THAT(Error("Host=h;Database='open"), HasSubstr("unterminated quoted value for 'Database'"));
  EXPECT_THAT(Error("Host=h;Database='a' b"), HasSubstr("unexpected characters after the quoted value"));
  EXPECT_THAT(Error("Host=h;Port=99999"), HasSubstr("'Port' must be a whole number from 1 to 65535 (got '99999')"));
  EXPECT_THAT(Error("Host=h;Port=abc"), HasSubstr("'Port'"));
  EXPECT_THAT(Error("Host=h;Timeout=-1"), HasSubstr("'Timeout'"));
  EXPECT_THAT(Error("Host=h;Pooling=maybe"), HasSubstr("'Pooling' must be True or False"));
  EXPECT_THAT(Error("Host=h;SSL Mode=sometimes"), HasSubstr("'SSL Mode' must be one of"));
  EXPECT_THAT(Error("Host=h;Client Encoding=LATIN1"), HasSubstr("must be UTF8"));
  EXPECT_THAT(Error("Host=,b"), HasSubstr("empty host name"));
  EXPECT_THAT(Error("Host=a:0"), HasSubstr("'Host'"));
  EXPECT_THAT(Error("Host=h;Target Session Attributes=whatever"), HasSubstr("'Target Session Attributes'"));
}

TEST(PostgresConnectionStringTest, PasswordNeverAppearsInMessagesOrDescriptions) {
  // A password containing `;` splits into a segment that is not `keyword=value`.
  const std::string message = Error("Host=h;Password=abc;def-secret-tail;Database=d");
  EXPECT_THAT(message, Not(HasSubstr("def-secret-tail")));
  EXPECT_THAT(message, Not(HasSubstr("abc")));
  const std::string unknown = Error("Host=h;Password=s3cr3t;Bogus=1");
  EXPECT_THAT(unknown, Not(HasSubstr("s3cr3t")));
  const auto o = Parse("Host=h;Username=u;Password=s3cr3t;Database=d");
  EXPECT_THAT(o.Describe(), Not(HasSubstr("s3cr3t")));
  EXPECT_EQ(o.Describe(), "h:5432/d as u");
}

}  // namespace
}  // namespace opstream::storage
