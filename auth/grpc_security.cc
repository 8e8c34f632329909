#include "auth/grpc_security.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"
#include "proto/status_convert.h"

namespace hpo::auth {
namespace {

constexpr char kAuthorization[] = "authorization";
constexpr char kBearer[] = "Bearer ";

// Reads a PEM file that must hold `kind` ("CERTIFICATE", "PRIVATE KEY"); a key must also be
// private to its owner.
absl::StatusOr<std::string> ReadPem(absl::string_view flag, const std::string& path,
                                    absl::string_view kind) {
  absl::StatusOr<std::string> read =
      kind == "PRIVATE KEY" ? ReadPrivateFile(flag, path) : ReadTextFile(flag, path);
  if (!read.ok()) return read.status();
  const std::string& text = *read;
  if (!absl::StrContains(text, "-----BEGIN") || !absl::StrContains(text, kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": not a PEM file holding a ", kind));
  }
  return *std::move(read);
}

// Adds the bearer token to every call's initial metadata.
class TokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace(kAuthorization, *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

// Thread-safe: holds the header, immutable.
class TokenInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(std::string token) : header_(absl::StrCat(kBearer, token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new TokenInterceptor(&header_);
  }

 private:
  const std::string header_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& tls) {
  if (tls.cert.empty() != tls.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together: give both or neither");
  }
  if (tls.cert.empty()) {
    if (!tls.ca.empty()) {
      return absl::InvalidArgumentError(
          "--tls-ca on the coordinator verifies client certificates, which needs TLS: add "
          "--tls-cert and --tls-key");
    }
    return grpc::InsecureServerCredentials();
  }
  absl::StatusOr<std::string> cert = ReadPem("--tls-cert", tls.cert, "CERTIFICATE");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem("--tls-key", tls.key, "PRIVATE KEY");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options(
      tls.ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                     : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!tls.ca.empty()) {
    absl::StatusOr<std::string> ca = ReadPem("--tls-ca", tls.ca, "CERTIFICATE");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
  }
  options.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  return grpc::SslServerCredentials(options);
}

grpc::Status CallAuthenticator::Check(const grpc::ServerContext& context, Service service) const {
  if (!tokens_.has_value()) return grpc::Status::OK;
  absl::string_view token;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find(kAuthorization); it != metadata.end()) {
    absl::string_view value(it->second.data(), it->second.size());
    if (absl::ConsumePrefix(&value, kBearer)) token = value;
  }
  return rpc::ToGrpcStatus(CheckToken(token, service));
}

absl::Status CallAuthenticator::CheckToken(absl::string_view token, Service service) const {
  if (!tokens_.has_value()) return absl::OkStatus();
  absl::StatusOr<Role> role = tokens_->Authenticate(token);
  if (!role.ok()) return role.status();
  return Authorize(*role, service);
}

absl::StatusOr<ClientSecurity> ClientSecurity::FromFlags(const std::string& token_file,
                                                         const TlsFiles& tls) {
  ClientSecurity security;
  absl::StatusOr<std::string> token = ClientToken(token_file);
  if (!token.ok()) return token.status();
  security.token = *std::move(token);
  if (tls.cert.empty() != tls.key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key (a client certificate) go together: give both or neither");
  }
  if (!tls.cert.empty() && tls.ca.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert needs --tls-ca, the CA that signed the coordinator's certificate");
  }
  security.tls = tls;
  return security;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const std::string& address,
                                                       const ClientSecurity& security,
                                                       const grpc::ChannelArguments& args) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (security.tls.ca.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions options;
    absl::StatusOr<std::string> ca = ReadPem("--tls-ca", security.tls.ca, "CERTIFICATE");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
    if (!security.tls.cert.empty()) {
      absl::StatusOr<std::string> cert = ReadPem("--tls-cert", security.tls.cert, "CERTIFICATE");
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadPem("--tls-key", security.tls.key, "PRIVATE KEY");
      if (!key.ok()) return key.status();
      options.pem_cert_chain = *std::move(cert);
      options.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(options);
  }
  if (security.token.empty()) return grpc::CreateCustomChannel(address, credentials, args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<TokenInterceptorFactory>(security.token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(address, credentials, args,
                                                                 std::move(interceptors));
}

}  // namespace hpo::auth
