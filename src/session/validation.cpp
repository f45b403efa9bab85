#include "session/validation.hpp"

#include <fmt/format.h>

#include "common/text.hpp"

namespace opstream::session {

std::optional<std::string> ValidateDocumentId(std::string_view document_id) {
  if (IsBlank(document_id)) return "Missing document id.";
  if (Utf16Length(document_id) > kMaxDocumentIdLength) return "Document id exceeds 256 characters.";
  if (ContainsControlCharacters(document_id)) return "Document id contains control characters.";
  if (document_id == kReservedDocumentId) return "Document id is reserved.";
  return std::nullopt;
}

std::optional<std::string> ValidateJoin(std::string_view document_id, std::string_view document_type) {
  if (auto reason = ValidateDocumentId(document_id)) return reason;
  if (IsBlank(document_type)) return "Join requires a document type.";
  if (Utf16Length(document_type) > kMaxDocumentTypeLength) return "Document type exceeds 128 characters.";
  return std::nullopt;
}

std::optional<std::string> ValidateOp(std::string_view document_id, size_t payload_bytes, int64_t base_revision) {
  if (auto reason = ValidateDocumentId(document_id)) return reason;
  if (payload_bytes == 0) return "Operation payload is empty.";
  if (payload_bytes > kMaxOpPayloadBytes) return "Operation payload exceeds 1048576 bytes.";
  if (base_revision < 0) return "Base revision must be non-negative.";
  return std::nullopt;
}

std::optional<std::string> ValidateAwareness(std::string_view document_id, size_t data_bytes) {
  if (auto reason = ValidateDocumentId(document_id)) return reason;
  if (data_bytes > kMaxAwarenessBytes) return "Awareness payload exceeds 65536 bytes.";
  return std::nullopt;
}

std::string InvalidMessage(std::string_view reason) { return fmt::format("InvalidMessage: {}", reason); }

}  // namespace opstream::session
