#pragma once
// The management operations of wire-protocol §6.1 behind one interface, so that every transport's
// management surface routes through the same authorization and execution. This build offers the
// reference default only: the deny-all authorizer (server.md §5.2), so every call is refused with
// `Forbidden: Insufficient permissions for this operation.` before anything is looked up.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace opstream::transports::signalr {

// Command discriminators in declaration order (server.md §5.2).
enum class ManagementCommand : int {
  kListDocuments = 0,
  kGetDocumentInfo = 1,
  kGetSnapshot = 2,
  kDeleteDocument = 3,
  kCompactDocument = 4,
  kListMilestones = 5,
  kPurgeHistory = 6,
  kPurgeTenant = 7,
};

struct ManagementRequest {
  ManagementCommand command = ManagementCommand::kListDocuments;
  std::optional<std::string> document_id;  // local id
  std::optional<int32_t> skip, take;
  std::optional<int64_t> up_to_revision;
};

// Either an error text (§2.11) or the result as JSON (`null` for void commands).
struct ManagementResult {
  std::optional<std::string> error;
  std::string result_json = "null";
};

class ManagementService {
 public:
  virtual ~ManagementService() = default;
  // `done` may run on any thread, exactly once.
  virtual void Execute(ManagementRequest request, std::function<void(ManagementResult)> done) = 0;
};

inline constexpr std::string_view kForbidden = "Forbidden: Insufficient permissions for this operation.";

// The reference host's management: the authorizer denies every command.
class DenyAllManagementService final : public ManagementService {
 public:
  void Execute(ManagementRequest, std::function<void(ManagementResult)> done) override {
    done(ManagementResult{std::string(kForbidden), "null"});
  }
};

}  // namespace opstream::transports::signalr
