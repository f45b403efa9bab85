#pragma once
// Inbound validation of wire-protocol §2.3 / server.md §9. Each function returns the reason text
// without the `InvalidMessage: ` prefix, or nullopt when the input is acceptable.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace opstream::session {

inline constexpr size_t kMaxDocumentIdLength = 256;    // UTF-16 code units
inline constexpr size_t kMaxDocumentTypeLength = 128;  // UTF-16 code units
inline constexpr size_t kMaxOpPayloadBytes = 1048576;
inline constexpr size_t kMaxAwarenessBytes = 65536;
inline constexpr int kProtocolVersion = 1;
// The backplane's management channel id; a document may not use it (server.md SV-44).
inline constexpr std::string_view kReservedDocumentId = "__opstream:mgmt__";

std::optional<std::string> ValidateDocumentId(std::string_view document_id);
std::optional<std::string> ValidateJoin(std::string_view document_id, std::string_view document_type);
std::optional<std::string> ValidateOp(std::string_view document_id, size_t payload_bytes, int64_t base_revision);
std::optional<std::string> ValidateAwareness(std::string_view document_id, size_t data_bytes);

std::string InvalidMessage(std::string_view reason);

inline constexpr std::string_view kUnsupportedProtocol = "UnsupportedProtocol: Required proto=1";
inline constexpr std::string_view kNotJoined = "InvalidMessage: Document not joined on this connection.";

}  // namespace opstream::session
