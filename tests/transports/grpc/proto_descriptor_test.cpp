// The generated gRPC contract against the specification's own tables (wire-protocol §5.2, §5.3):
// the tables are read from the spec at run time, so a drift on either side fails here.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "opstream.pb.h"

namespace {
namespace pb = google::protobuf;

std::string ReadSpec() {
  std::ifstream in(std::string(OPSTREAM_SHARED_DIR) + "/spec/wire-protocol.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Section(const std::string& spec, const std::string& from, const std::string& to) {
  const auto begin = spec.find(from);
  const auto end = spec.find(to, begin);
  if (begin == std::string::npos || end == std::string::npos) return {};
  return spec.substr(begin, end - begin);
}

std::vector<std::string> Cells(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '|') {
      const auto b = cell.find_first_not_of(' ');
      const auto e = cell.find_last_not_of(' ');
      cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  return cells;
}

const pb::Descriptor* Message(const std::string& name) {
  // Force the generated file to be linked and registered.
  (void)opstream::ClientMessage::descriptor();
  return pb::DescriptorPool::generated_pool()->FindMessageTypeByName("opstream." + name);
}

std::string TypeName(const pb::FieldDescriptor& field) {
  switch (field.type()) {
    case pb::FieldDescriptor::TYPE_MESSAGE: {
      const std::string& full = field.message_type()->full_name();
      if (full == "google.protobuf.Timestamp") return "Timestamp";
      if (full == "google.protobuf.Int32Value") return "Int32Value";
      if (full == "google.protobuf.Int64Value") return "Int64Value";
      return field.message_type()->name();
    }
    default:
      return field.type_name();
  }
}

TEST(GrpcProtoDescriptor, EveryFieldOfTheSpecTablesMatches) {
  const std::string tables = Section(ReadSpec(), "### 5.3 Message field tables", "### 5.4");
  ASSERT_FALSE(tables.empty());
  std::istringstream lines(tables);
  std::string line;
  size_t rows = 0;
  std::map<std::string, int> fields_per_message;
  while (std::getline(lines, line)) {
    if (!line.starts_with("| ") || line.starts_with("| Message") || line.starts_with("|---")) continue;
    const auto cells = Cells(line);
    ASSERT_EQ(cells.size(), 4u) << line;
    const auto* message = Message(cells[0]);
    ASSERT_NE(message, nullptr) << "missing message " << cells[0];
    ++rows;
    fields_per_message.try_emplace(cells[0], 0);
    if (cells[1].starts_with("(no fields)")) {
      EXPECT_EQ(message->field_count(), 0) << cells[0];
      continue;
    }
    ++fields_per_message[cells[0]];
    // "name (oneof `group`)"
    std::string field_name = cells[1];
    std::string oneof;
    if (const auto mark = cells[1].find(" (oneof `"); mark != std::string::npos) {
      field_name = cells[1].substr(0, mark);
      const auto begin = mark + 9;
      oneof = cells[1].substr(begin, cells[1].find('`', begin) - begin);
    }
    const auto* field = message->FindFieldByName(field_name);
    ASSERT_NE(field, nullptr) << cells[0] << "." << field_name;
    EXPECT_EQ(field->number(), std::stoi(cells[2])) << line;
    std::string type = cells[3];
    const bool repeated = type.starts_with("repeated ");
    if (repeated) type = type.substr(9);
    EXPECT_EQ(field->is_repeated(), repeated) << line;
    EXPECT_EQ(TypeName(*field), type) << line;
    const auto* containing = field->real_containing_oneof();
    EXPECT_EQ(containing == nullptr ? "" : containing->name(), oneof) << line;
  }
  EXPECT_GT(rows, 150u);
  // No extra fields beyond the tables.
  for (const auto& [name, count] : fields_per_message) EXPECT_EQ(Message(name)->field_count(), count) << name;
  EXPECT_EQ(fields_per_message.size(), 58u);
}

TEST(GrpcProtoDescriptor, EveryMethodOfTheServiceTableMatches) {
  const std::string table = Section(ReadSpec(), "### 5.2 Services and methods", "### 5.3");
  ASSERT_FALSE(table.empty());
  std::istringstream lines(table);
  std::string line;
  std::string service_name;
  size_t methods = 0;
  while (std::getline(lines, line)) {
    if (!line.starts_with("| ") || line.starts_with("| Service") || line.starts_with("|---")) continue;
    const auto cells = Cells(line);
    ASSERT_EQ(cells.size(), 5u) << line;
    auto strip = [](std::string s) {
      std::erase(s, '`');
      return s;
    };
    if (!cells[0].empty()) service_name = strip(cells[0]);
    const auto* service = pb::DescriptorPool::generated_pool()->FindServiceByName("opstream." + service_name);
    ASSERT_NE(service, nullptr) << service_name;
    const auto* method = service->FindMethodByName(strip(cells[1]));
    ASSERT_NE(method, nullptr) << line;
    ++methods;
    std::string request = strip(cells[3]);
    std::string response = strip(cells[4]);
    const bool client_streaming = request.starts_with("stream ");
    const bool server_streaming = response.starts_with("stream ");
    if (client_streaming) request = request.substr(7);
    if (server_streaming) response = response.substr(7);
    EXPECT_EQ(method->client_streaming(), client_streaming) << line;
    EXPECT_EQ(method->server_streaming(), server_streaming) << line;
    EXPECT_EQ(method->input_type()->name(), request) << line;
    EXPECT_EQ(method->output_type()->name(), response) << line;
    const std::string kind = cells[2];
    EXPECT_EQ(kind == "bidirectional streaming", client_streaming && server_streaming) << line;
  }
  EXPECT_EQ(methods, 26u);
  const auto* file = opstream::ClientMessage::descriptor()->file();
  EXPECT_EQ(file->package(), "opstream");
  EXPECT_EQ(file->options().csharp_namespace(), "OpStream.Shared.Messages.gRPC");
}

// The bytes of wire-protocol §8.3 step 1 and step 3.
TEST(GrpcProtoDescriptor, ConformanceExampleBytes) {
  opstream::ClientMessage join;
  join.set_correlation_id("c-1");
  join.mutable_join_request()->set_document_id("doc-1");
  join.mutable_join_request()->set_document_type("text");
  join.mutable_join_request()->set_client_proto_version(1);
  const std::string expected_join =
      "\x0a\x03"
      "c-1\x12\x0f\x0a\x05"
      "doc-1\x12\x04text\x18\x01";
  EXPECT_EQ(join.SerializeAsString(), expected_join);

  opstream::ServerMessage ack;
  ack.set_correlation_id("c-2");
  ack.mutable_op_response()->set_success(true);
  ack.mutable_op_response()->set_new_revision(2);
  EXPECT_EQ(ack.SerializeAsString(), std::string("\x0a\x03"
                                                 "c-2\x1a\x04\x08\x01\x10\x02",
                                                 11));
}

}  // namespace
