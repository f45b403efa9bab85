#pragma once
// Wire shapes of the backplane (server.md §4.3–§4.5), byte-compatible with reference nodes:
//
// * envelopes in Pascal-JSON, `Payload` a base64 string ("" when empty), nullable strings `null`;
// * inner payloads in OS-JSON: camelCase written, names read case-insensitively, bytes as base64.
//
// Decoders never throw: anything malformed is a Status error and the caller drops the message (a
// reference node may crash on a bad shape, a C++ node must not).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backplane/backplane.hpp"
#include "common/status.hpp"

namespace opstream::backplane {

// ---- envelopes ----
std::string EncodeMessage(const Message& message);
Status DecodeMessage(std::string_view json, Message& out);
std::string EncodeRequest(const Request& request);
Status DecodeRequest(std::string_view json, Request& out);
std::string EncodeResponse(const Response& response);
Status DecodeResponse(std::string_view json, Response& out);

// ---- channel and key names (exact case) ----
std::string DocumentChannel(std::string_view topic);
std::string RequestChannel(std::string_view node_id);
std::string ResponseChannel(std::string_view node_id);
std::string OwnerKey(std::string_view document_id);

// ---- inner payloads ----
struct WireAwareness {
  std::string peer_id;
  std::string data_json;     // compact JSON text; empty when absent (written as null)
  std::string last_updated;  // ISO-8601 as the reference writes it
};

struct OpApplied {
  std::string operation;  // op JSON bytes
  int64_t new_revision = 0;
};

struct JoinDocumentRequest {
  std::string document_id;
  std::string document_type;
  std::string peer_id;
  int64_t protocol_version = 1;
};

struct JoinDocumentResponse {
  int64_t revision = 0;
  std::string snapshot;  // state JSON bytes
  std::vector<WireAwareness> awareness;
};

struct ApplyOpRequest {
  std::string document_id;
  std::string peer_id;
  std::string payload;  // op JSON bytes
  int64_t base_revision = 0;
};

struct ApplyOpResponse {
  bool success = false;
  int64_t new_revision = 0;
  std::optional<std::string> error_message;
};

struct UpdateAwarenessRequest {
  std::string document_id;
  std::string peer_id;
  std::string data_json;
};

std::string EncodeOpApplied(const OpApplied& value);
Status DecodeOpApplied(std::string_view json, OpApplied& out);
std::string EncodeAwareness(const WireAwareness& value);
Status DecodeAwareness(std::string_view json, WireAwareness& out);
std::string EncodeJoinRequest(const JoinDocumentRequest& value);
Status DecodeJoinRequest(std::string_view json, JoinDocumentRequest& out);
std::string EncodeJoinResponse(const JoinDocumentResponse& value);
Status DecodeJoinResponse(std::string_view json, JoinDocumentResponse& out);
std::string EncodeApplyOpRequest(const ApplyOpRequest& value);
Status DecodeApplyOpRequest(std::string_view json, ApplyOpRequest& out);
std::string EncodeApplyOpResponse(const ApplyOpResponse& value);
Status DecodeApplyOpResponse(std::string_view json, ApplyOpResponse& out);
std::string EncodeAwarenessRequest(const UpdateAwarenessRequest& value);
Status DecodeAwarenessRequest(std::string_view json, UpdateAwarenessRequest& out);
// Management channel payloads are JSON strings (§4.4 evict_tenant, document_deleted).
Status DecodeJsonString(std::string_view json, std::string& out);
std::string EncodeJsonString(std::string_view value);

// DeleteDocument / CompactDocument / PurgeHistory (§4.5): `{"globalDocumentId","args"}`, where
// `args` is null or a string-to-string map (the reference's `Dictionary<string,string>?`).
struct ManagementRequestPayload {
  std::string global_document_id;
  // The raw `upToRevision` text; none when `args` is null or lacks it, or when the value is not
  // a string (the reference's dictionary holds strings only). Parsing it is the command's job,
  // so that a bad value gets the reference's argument error rather than a malformed-payload one.
  std::optional<std::string> up_to_revision;
};
std::string EncodeManagementRequest(const ManagementRequestPayload& value);
Status DecodeManagementRequest(std::string_view json, ManagementRequestPayload& out);

}  // namespace opstream::backplane
