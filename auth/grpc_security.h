// Tokens and TLS applied to gRPC: the coordinator's server credentials and per-call check, and
// the channel every client (hpo, hpo-worker, the bench) opens to it.
#ifndef HPO_AUTH_GRPC_SECURITY_H_
#define HPO_AUTH_GRPC_SECURITY_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "auth/tokens.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/channel_arguments.h"

namespace hpo::auth {

// PEM file paths. On the coordinator: its certificate and key, and `ca` to require and verify
// client certificates (mutual TLS). On a client: `ca` to verify the coordinator (turns TLS on),
// and `cert`/`key` to present a client certificate.
struct TlsFiles {
  std::string cert;
  std::string key;
  std::string ca;
};

// Insecure credentials when `tls` is empty; TLS with cert and key; mutual TLS when ca is given
// too. INVALID_ARGUMENT naming the flag for a half-given pair or a file that holds no PEM; the key
// file must be private to its owner (FAILED_PRECONDITION otherwise).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& tls);

// The one check every coordinator RPC handler makes before it does anything. Immutable;
// thread-safe.
class CallAuthenticator {
 public:
  // Without tokens every caller may call everything (loopback, --insecure, or mutual TLS, where
  // the certificate is the credential).
  explicit CallAuthenticator(std::optional<TokenTable> tokens = std::nullopt)
      : tokens_(std::move(tokens)) {}

  // OK when the call's `authorization: Bearer TOKEN` names a token whose role may call
  // `service`; UNAUTHENTICATED without a known token, PERMISSION_DENIED for the wrong role.
  grpc::Status Check(const grpc::ServerContext& context, Service service) const;
  // The same check of a bare token (the dashboard's HTTP requests).
  absl::Status CheckToken(absl::string_view token, Service service) const;
  bool requires_token() const { return tokens_.has_value(); }

 private:
  std::optional<TokenTable> tokens_;
};

// How a client reaches the coordinator.
struct ClientSecurity {
  std::string token;  // sent with every call when not empty
  TlsFiles tls;       // TLS when tls.ca is set

  // From the usual flags: --token-file (else $HPO_TOKEN), --tls-ca, --tls-cert, --tls-key.
  // INVALID_ARGUMENT naming the flag for a client certificate without its key (or the reverse),
  // or a certificate without --tls-ca.
  static absl::StatusOr<ClientSecurity> FromFlags(const std::string& token_file,
                                                  const TlsFiles& tls);
};

// A channel to `address` with `security` applied (TLS credentials, the token on every call).
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const std::string& address,
                                                       const ClientSecurity& security,
                                                       const grpc::ChannelArguments& args = {});

}  // namespace hpo::auth

#endif  // HPO_AUTH_GRPC_SECURITY_H_
