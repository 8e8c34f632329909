// Who may call what: the roles, the coordinator's token table, and the token a client sends.
// gRPC-free; auth/grpc_security.h applies it to calls.
#ifndef HPO_AUTH_TOKENS_H_
#define HPO_AUTH_TOKENS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hpo::auth {

// admin may call everything; client the StudyService (studies and trials); worker the
// WorkerService only.
enum class Role { kAdmin, kClient, kWorker };
// The two services a role is checked against.
enum class Service { kStudy, kWorker };

absl::string_view RoleName(Role role);
absl::string_view ServiceName(Service service);
// INVALID_ARGUMENT naming the three roles for anything else.
absl::StatusOr<Role> ParseRole(absl::string_view name);

// OK when `role` may call `service`; PERMISSION_DENIED naming both otherwise.
absl::Status Authorize(Role role, Service service);

// Tokens are at least this long, so that one cannot be guessed.
inline constexpr size_t kMinTokenLength = 16;

// Whether `a` equals `b`, in a time that depends on their lengths only, never on where they first
// differ. Thread-safe.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// The tokens a coordinator accepts, each with its role. Immutable once made; thread-safe.
class TokenTable {
 public:
  // `text` holds one `role token` per line; blank lines and lines starting with '#' are skipped.
  // INVALID_ARGUMENT naming `origin` and the line for an unknown role, a token shorter than
  // kMinTokenLength or with characters outside printable ASCII, a token given twice, or no
  // token at all.
  static absl::StatusOr<TokenTable> Parse(absl::string_view text, absl::string_view origin);
  // Reads and parses `path`. FAILED_PRECONDITION when group or others may read or write it
  // (chmod 600 fixes it), NOT_FOUND when it cannot be read.
  static absl::StatusOr<TokenTable> Load(const std::string& path);

  // The role of `token`. Every stored token is compared in constant time, whatever matches.
  // UNAUTHENTICATED when none does.
  absl::StatusOr<Role> Authenticate(absl::string_view token) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Role role;
    std::string token;
  };
  std::vector<Entry> entries_;
};

// Reads a secret file that must be private to its owner (mode 0600 or less; when root owns it
// and this process is not root, 0640 or less, as in a Kubernetes secret volume with an
// fsGroup): FAILED_PRECONDITION naming `flag`, the path and its mode otherwise; NOT_FOUND when
// it cannot be read.
absl::StatusOr<std::string> ReadPrivateFile(absl::string_view flag, const std::string& path);

// The whole file named by `flag`; NOT_FOUND naming both when it cannot be read.
absl::StatusOr<std::string> ReadTextFile(absl::string_view flag, const std::string& path);

// The token a client (hpo, hpo-worker) sends: the one in `token_file` when given (the file holds
// the token alone, surrounding whitespace ignored), else $HPO_TOKEN, else "" (send none).
absl::StatusOr<std::string> ClientToken(const std::string& token_file);

}  // namespace hpo::auth

#endif  // HPO_AUTH_TOKENS_H_
