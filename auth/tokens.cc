#include "auth/tokens.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace hpo::auth {

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kClient:
      return "client";
    case Role::kWorker:
      return "worker";
  }
  return "?";
}

absl::string_view ServiceName(Service service) {
  return service == Service::kStudy ? "StudyService" : "WorkerService";
}

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  for (Role role : {Role::kAdmin, Role::kClient, Role::kWorker}) {
    if (name == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role '", name, "' (roles: admin, client, worker)"));
}

absl::Status Authorize(Role role, Service service) {
  const bool allowed = role == Role::kAdmin ||
                       (role == Role::kClient && service == Service::kStudy) ||
                       (role == Role::kWorker && service == Service::kWorker);
  if (allowed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "a ", RoleName(role), " token may not call the ", ServiceName(service), " (",
      service == Service::kStudy ? "a client or admin token may" : "a worker or admin token may",
      ")"));
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // Walk the longer length whatever the contents, folding every difference into one value.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  // Keep the compiler from turning the loop into an early exit.
  volatile unsigned char result = diff;
  return result == 0;
}

namespace {

absl::Status CheckToken(absl::string_view token, absl::string_view where) {
  if (token.size() < kMinTokenLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": a token must be at least ", kMinTokenLength,
                     " characters long (e.g. the output of: openssl rand -hex 32)"));
  }
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": a token may hold only printable ASCII without spaces"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text, absl::string_view origin) {
  TokenTable table;
  absl::flat_hash_set<std::string> seen;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = absl::StrCat(origin, ":", line_number);
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": expected 'ROLE TOKEN' (ROLE is admin, client or worker)"));
    }
    absl::StatusOr<Role> role = ParseRole(fields[0]);
    if (!role.ok())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", role.status().message()));
    if (absl::Status s = CheckToken(fields[1], where); !s.ok()) return s;
    if (!seen.insert(std::string(fields[1])).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": this token is already listed; give each role its own token"));
    }
    table.entries_.push_back({*role, std::string(fields[1])});
  }
  if (table.entries_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": no tokens (one 'ROLE TOKEN' per line, ROLE is admin, client or worker)"));
  }
  return table;
}

absl::StatusOr<TokenTable> TokenTable::Load(const std::string& path) {
  absl::StatusOr<std::string> text = ReadPrivateFile("--token-file", path);
  if (!text.ok()) return text.status();
  return Parse(*text, absl::StrCat("--token-file ", path));
}

absl::StatusOr<Role> TokenTable::Authenticate(absl::string_view token) const {
  // Compare against every entry, so the time taken does not say which one matched.
  int match = -1;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (ConstantTimeEquals(entries_[i].token, token)) match = static_cast<int>(i);
  }
  if (match < 0) {
    return absl::UnauthenticatedError(
        token.empty()
            ? "this coordinator requires a token: pass --token-file FILE or set $HPO_TOKEN"
            : "the token is not one this coordinator accepts");
  }
  return entries_[match].role;
}

absl::StatusOr<std::string> ReadPrivateFile(absl::string_view flag, const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat(flag, " ", path, ": cannot read it"));
  }
  // PostgreSQL's rule for its key: private to its owner (0600 or less), or, when root owns it
  // and another user reads it, readable by its group too (0640 or less), as a Kubernetes
  // secret volume with an fsGroup is.
  const bool root_owned_for_us = st.st_uid == 0 && ::geteuid() != 0;
  const mode_t forbidden = root_owned_for_us ? 037 : 077;
  if ((st.st_mode & forbidden) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s %s: mode %04o lets other users read or change this secret; run: chmod 600 %s", flag,
        path, st.st_mode & 07777, path));
  }
  return ReadTextFile(flag, path);
}

absl::StatusOr<std::string> ReadTextFile(absl::string_view flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, " ", path, ": cannot read it"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<std::string> ClientToken(const std::string& token_file) {
  std::string token;
  std::string where;
  if (!token_file.empty()) {
    absl::StatusOr<std::string> text = ReadPrivateFile("--token-file", token_file);
    if (!text.ok()) return text.status();
    token = std::string(absl::StripAsciiWhitespace(*text));
    where = absl::StrCat("--token-file ", token_file);
  } else if (const char* env = std::getenv("HPO_TOKEN"); env != nullptr && *env != '\0') {
    token = std::string(absl::StripAsciiWhitespace(env));
    where = "$HPO_TOKEN";
  } else {
    return std::string();
  }
  if (absl::Status s = CheckToken(token, where); !s.ok()) return s;
  return token;
}

}  // namespace hpo::auth
