// Microsoft.Data.SqlClient connection strings (server.md §3.5) and their FreeTDS ODBC translation.
#include "storage/sqlserver/sqlserver_connection_string.hpp"

#include <gmock/gmock.h>

namespace opstream::storage {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

SqlServerConnectionOptions Parse(const std::string& text) {
  SqlServerConnectionOptions options;
  const Status status = ParseSqlServerConnectionString(text, options);
  EXPECT_TRUE(status.ok()) << status.message();
  return options;
}

std::string Error(const std::string& text) {
  SqlServerConnectionOptions options;
  const Status status = ParseSqlServerConnectionString(text, options);
  EXPECT_FALSE(status.ok()) << text;
  return status.message();
}

std::string Odbc(const std::string& text) { return ToFreeTdsOdbcConnectionString(Parse(text), "FreeTDS"); }

TEST(SqlServerConnectionStringTest, DocumentedExample) {
  const auto o = Parse("Server=host,1433;Database=OpStream;User Id=sa;Password=Pa55w0rd!;TrustServerCertificate=True");
  EXPECT_EQ(o.host, "host");
  EXPECT_EQ(o.port, 1433);
  EXPECT_TRUE(o.port_given);
  EXPECT_EQ(o.database, "OpStream");
  EXPECT_EQ(o.user, "sa");
  EXPECT_EQ(o.password, "Pa55w0rd!");
  EXPECT_TRUE(o.trust_server_certificate);
  EXPECT_EQ(o.encrypt, SqlServerEncrypt::kMandatory);  // SqlClient 4+: on unless said otherwise
  EXPECT_EQ(o.connect_timeout, std::chrono::seconds(15));
  EXPECT_EQ(o.command_timeout, std::chrono::seconds(30));
}

TEST(SqlServerConnectionStringTest, ServerForms) {
  auto o = Parse("Server=tcp:db.example.com,14330;User Id=u");
  EXPECT_EQ(o.host, "db.example.com");
  EXPECT_EQ(o.port, 14330);
  o = Parse("Data Source=db\\SQLEXPRESS;User Id=u");
  EXPECT_EQ(o.host, "db");
  EXPECT_EQ(o.instance, "SQLEXPRESS");
  EXPECT_FALSE(o.port_given);
  o = Parse("Address=(local);User Id=u");
  EXPECT_EQ(o.host, "localhost");
  o = Parse("Server=.;User Id=u");
  EXPECT_EQ(o.host, "localhost");
  EXPECT_EQ(o.port, 1433);
  o = Parse("Server=TCP:10.0.0.5\\inst,1500;User Id=u");
  EXPECT_EQ(o.host, "10.0.0.5");
  EXPECT_EQ(o.instance, "inst");
  EXPECT_EQ(o.port, 1500);
}

TEST(SqlServerConnectionStringTest, AliasesAndSpellingsAreAccepted) {
  for (const char* user : {"User Id", "UserID", "uid", "User", "USER ID"}) {
    EXPECT_EQ(Parse(std::string("Server=h;") + user + "=alice").user, "alice") << user;
  }
  for (const char* password : {"Password", "pwd", "PASSWORD"}) {
    EXPECT_EQ(Parse(std::string("Server=h;User Id=u;") + password + "=p").password, "p") << password;
  }
  for (const char* database : {"Database", "Initial Catalog", "initialcatalog"}) {
    EXPECT_EQ(Parse(std::string("Server=h;User Id=u;") + database + "=x").database, "x") << database;
  }
  for (const char* timeout : {"Connect Timeout", "Connection Timeout", "Timeout", "ConnectTimeout"}) {
    EXPECT_EQ(Parse(std::string("Server=h;User Id=u;") + timeout + "=4").connect_timeout, std::chrono::seconds(4))
        << timeout;
  }
}

TEST(SqlServerConnectionStringTest, OptionsAreParsed) {
  const auto o = Parse(
      "Server=h;User Id=u;Password='a;b=c';Encrypt=False;Command Timeout=7;Application Name=app;WSID=ws;"
      "Current Language=us_english;Packet Size=4096;ApplicationIntent=ReadOnly;MultipleActiveResultSets=True;"
      "Pooling=false;Max Pool Size=3;Min Pool Size=1;Connect Retry Count=2;Persist Security Info=False;"
      "MultiSubnetFailover=True;Authentication=SqlPassword");
  EXPECT_EQ(o.password, "a;b=c");
  EXPECT_EQ(o.encrypt, SqlServerEncrypt::kOptional);
  EXPECT_EQ(o.command_timeout, std::chrono::seconds(7));
  EXPECT_EQ(o.application_name, "app");
  EXPECT_EQ(o.workstation_id, "ws");
  EXPECT_EQ(o.language, "us_english");
  EXPECT_EQ(o.packet_size, 4096);
  EXPECT_TRUE(o.read_only_intent);
  EXPECT_FALSE(o.pooling);
  EXPECT_EQ(o.max_pool_size, 3);
  EXPECT_EQ(Parse("Server=h;User Id=u;Encrypt=Mandatory").encrypt, SqlServerEncrypt::kMandatory);
  EXPECT_EQ(Parse("Server=h;User Id=u;Encrypt=optional").encrypt, SqlServerEncrypt::kOptional);
  EXPECT_TRUE(Parse("Server=h;Integrated Security=SSPI").integrated_security);
  EXPECT_TRUE(Parse("Server=h;Trusted_Connection=yes").integrated_security);
}

TEST(SqlServerConnectionStringTest, UnknownKeywordsAndBadValuesAreErrors) {
  EXPECT_THAT(Error("Server=h;User Id=u;Colour=blue"),
              AllOf(HasSubstr("Invalid SQL Server connection string"), HasSubstr("'Colour' is not a valid keyword"),
                    HasSubstr("Initial Catalog")));
  EXPECT_THAT(Error("Server=h,notaport;User Id=u"), HasSubstr("'Server' must be a whole number"));
  EXPECT_THAT(Error("Server=h,0;User Id=u"), HasSubstr("from 1 to 65535"));
  EXPECT_THAT(Error("Server=h;User Id=u;Encrypt=maybe"), HasSubstr("'Encrypt' must be True, False"));
  EXPECT_THAT(Error("Server=h;User Id=u;Encrypt=Strict"), HasSubstr("not supported by the FreeTDS driver"));
  EXPECT_THAT(Error("Server=np:\\\\h\\pipe\\sql\\query;User Id=u"), HasSubstr("only TCP"));
  EXPECT_THAT(Error("Server=(localdb)\\MSSQLLocalDB;User Id=u"), HasSubstr("LocalDB"));
  EXPECT_THAT(Error("Server=h;User Id=u;Authentication=ActiveDirectoryPassword"), HasSubstr("only SQL Server logins"));
  EXPECT_THAT(Error("Server=h;User Id=u;Connect Timeout=-1"), HasSubstr("'Connect Timeout' must be a whole number"));
  EXPECT_THAT(Error("Server=h"), HasSubstr("'User ID' is required"));
  EXPECT_THAT(Error("Server=h;User Id=u;TrustServerCertificate=sure"), HasSubstr("TrustServerCertificate"));
}

TEST(SqlServerConnectionStringTest, ErrorsNeverQuoteThePassword) {
  EXPECT_THAT(Error("Server=h;User Id=u;Password=hunter2;Colour=blue"), Not(HasSubstr("hunter2")));
  EXPECT_THAT(Error("Server=h;User Id=u;Password=hunter2;junk"), Not(HasSubstr("hunter2")));
  const auto o = Parse("Server=h,1444;Database=d;User Id=u;Password=hunter2");
  EXPECT_EQ(o.Describe(), "h,1444/d as u");
  EXPECT_THAT(o.Describe(), Not(HasSubstr("hunter2")));
}

TEST(SqlServerConnectionStringTest, TranslatesToFreeTdsOdbc) {
  EXPECT_EQ(Odbc("Server=tcp:db,1433;Database=OpStream;User Id=sa;Password=pw;TrustServerCertificate=True"),
            "DRIVER={FreeTDS};SERVER={db};PORT=1433;DATABASE={OpStream};UID={sa};PWD={pw};TDS_Version=7.4;"
            "ClientCharset=UTF-8;Encryption=require;APP={OpStream Server};PacketSize=8000;");
  EXPECT_EQ(Odbc("Server=db\\inst;User Id=sa;Encrypt=False;App=x;WSID=w;Language=français;ApplicationIntent=ReadOnly"),
            "DRIVER={FreeTDS};SERVER={db\\inst};UID={sa};PWD={};TDS_Version=7.4;ClientCharset=UTF-8;"
            "Encryption=off;APP={x};WSID={w};Language={français};PacketSize=8000;ApplicationIntent=ReadOnly;");
  EXPECT_EQ(Odbc("Server=h;Integrated Security=True"),
            "DRIVER={FreeTDS};SERVER={h};PORT=1433;Trusted_Connection=Yes;TDS_Version=7.4;ClientCharset=UTF-8;"
            "Encryption=require;APP={OpStream Server};PacketSize=8000;");
}

TEST(SqlServerConnectionStringTest, OdbcValuesAreBracedSoSeparatorsSurvive) {
  const std::string odbc = Odbc("Server=h;User Id=u;Password=\"a;b}c=d\";Database=x]y");
  EXPECT_THAT(odbc, HasSubstr("PWD={a;b}}c=d};"));
  EXPECT_THAT(odbc, HasSubstr("DATABASE={x]y};"));
  const auto o = Parse("Server=h;Database=d;User Id=u");
  EXPECT_THAT(
      ToFreeTdsOdbcConnectionString(o, "/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so", "master"),
      HasSubstr("DRIVER={/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so};SERVER={h};PORT=1433;DATABASE={master};"));
}

}  // namespace
}  // namespace opstream::storage
