#include "auth/tokens.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hpo::auth {
namespace {

using ::testing::HasSubstr;

constexpr char kAdmin[] = "admin-token-0123456789";
constexpr char kClient[] = "client-token-0123456789";
constexpr char kWorker[] = "worker-token-0123456789";

std::string WriteFile(const std::string& name, const std::string& text, mode_t mode) {
  const std::string path = testing::TempDir() + "/" + name;
  std::remove(path.c_str());
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
  return path;
}

TEST(TokenTableTest, AuthenticatesEachRoleAndRefusesOthers) {
  auto table = TokenTable::Parse(absl::StrCat("# ops tokens\n\nadmin ", kAdmin, "\n  client\t",
                                              kClient, "  \nworker ", kWorker, "\n"),
                                 "tokens");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 3u);
  EXPECT_EQ(table->Authenticate(kAdmin).value(), Role::kAdmin);
  EXPECT_EQ(table->Authenticate(kClient).value(), Role::kClient);
  EXPECT_EQ(table->Authenticate(kWorker).value(), Role::kWorker);
  auto none = table->Authenticate("");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(none.status().message(), HasSubstr("--token-file"));
  // A prefix, an extension and a one-character change are all strangers.
  for (const std::string& wrong : {std::string(kAdmin).substr(0, 20), std::string(kAdmin) + "x",
                                   std::string("bdmin-token-0123456789")}) {
    EXPECT_EQ(table->Authenticate(wrong).status().code(), absl::StatusCode::kUnauthenticated)
        << wrong;
  }
}

TEST(TokenTableTest, RefusesBadLinesByNameAndLine) {
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {"", "no tokens"},
      {"# only a comment\n", "no tokens"},
      {"admin\n", "tokens:1: expected 'ROLE TOKEN'"},
      {absl::StrCat("root ", kAdmin), "tokens:1: unknown role 'root'"},
      {"admin short", "at least 16 characters"},
      {absl::StrCat("\nadmin ", kAdmin, " extra"), "tokens:2: expected"},
      {absl::StrCat("admin ", kAdmin, "\nclient ", kAdmin), "tokens:2: this token is already"},
      {"admin token\x01withcontrolchar", "printable ASCII"},
  };
  for (const Case& c : cases) {
    auto table = TokenTable::Parse(c.text, "tokens");
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(table.status().message(), HasSubstr(c.message)) << c.text;
  }
}

TEST(TokenTableTest, LoadRefusesAFileOthersCanRead) {
  const std::string text = absl::StrCat("admin ", kAdmin, "\n");
  const std::string open = WriteFile("tokens-open", text, 0644);
  auto refused = TokenTable::Load(open);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("mode 0644"));
  EXPECT_THAT(refused.status().message(), HasSubstr("chmod 600 " + open));

  const std::string private_file = WriteFile("tokens-private", text, 0400);
  auto loaded = TokenTable::Load(private_file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->Authenticate(kAdmin).value(), Role::kAdmin);

  EXPECT_EQ(TokenTable::Load(testing::TempDir() + "/no-such-file").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(AuthorizeTest, RolesMapToServices) {
  EXPECT_TRUE(Authorize(Role::kAdmin, Service::kStudy).ok());
  EXPECT_TRUE(Authorize(Role::kAdmin, Service::kWorker).ok());
  EXPECT_TRUE(Authorize(Role::kClient, Service::kStudy).ok());
  EXPECT_TRUE(Authorize(Role::kWorker, Service::kWorker).ok());
  absl::Status denied = Authorize(Role::kClient, Service::kWorker);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.message(), HasSubstr("a client token may not call the WorkerService"));
  EXPECT_EQ(Authorize(Role::kWorker, Service::kStudy).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ParseRole("worker").value(), Role::kWorker);
  EXPECT_EQ(ParseRole("Admin").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConstantTimeEqualsTest, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("ab", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  // A string padded with NULs to the other's length is still different.
  EXPECT_FALSE(ConstantTimeEquals(absl::string_view("ab\0", 3), "ab"));
}

TEST(ClientTokenTest, FileThenEnvironmentThenNone) {
  unsetenv("HPO_TOKEN");
  EXPECT_EQ(ClientToken("").value(), "");
  setenv("HPO_TOKEN", kClient, 1);
  EXPECT_EQ(ClientToken("").value(), kClient);
  const std::string file = WriteFile("client-token", absl::StrCat("  ", kWorker, "\n"), 0600);
  EXPECT_EQ(ClientToken(file).value(), kWorker);  // the file wins over the environment
  setenv("HPO_TOKEN", "short", 1);
  auto weak = ClientToken("");
  EXPECT_EQ(weak.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(weak.status().message(), HasSubstr("$HPO_TOKEN"));
  unsetenv("HPO_TOKEN");
  const std::string open = WriteFile("client-token-open", kWorker, 0640);
  EXPECT_EQ(ClientToken(open).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace hpo::auth
