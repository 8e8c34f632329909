// Reads every file in deploy/ and checks what ties them together: each flag they pass to an hpo
// binary exists in its --help, the ports and names agree between a server's flags, its
// container, its Service and its clients, every secret a pod or service mounts is made by
// make-secrets.sh and named where the flags look for it, and the secrets that script makes
// start a coordinator that serves beyond loopback with TLS and tokens.
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "backend/backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator_server.h"
#include "tests/test_util.h"
#include "worker/test_util.h"
#include "yaml-cpp/yaml.h"

namespace hpo {
namespace {

using ::hpo::worker::test_util::ReadFile;
using ::testing::HasSubstr;

const std::string kDeploy = std::string(HPO_SOURCE_DIR) + "/deploy";

// stdout of a shell command.
std::string Shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  ::pclose(pipe);
  return out;
}

// One command line that starts an hpo binary, and where it was found.
struct Invocation {
  std::string where;
  std::vector<std::string> argv;  // argv[0] is the binary's base name

  // The value of --name (as --name=value or --name value); "" when absent.
  std::string Flag(const std::string& name) const {
    for (size_t i = 1; i < argv.size(); ++i) {
      if (absl::StartsWith(argv[i], name + "=")) return argv[i].substr(name.size() + 1);
      if (argv[i] == name && i + 1 < argv.size()) return argv[i + 1];
    }
    return "";
  }
};

// The packages `install-deps.sh --runtime` installs (empty when the list is not found).
std::set<std::string> RuntimePackages() {
  const std::string deps = ReadFile(kDeploy + "/install-deps.sh");
  const size_t at = deps.find("--runtime\" ]; then");
  std::set<std::string> packages;
  if (at == std::string::npos) return packages;
  const size_t open = deps.find('(', at);
  const std::string list = deps.substr(open + 1, deps.find(')', open) - open - 1);
  for (absl::string_view word : absl::StrSplit(list, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    packages.insert(std::string(word));
  }
  return packages;
}

// Runs deploy/make-secrets.sh into `dir`; its exit status.
int MakeSecrets(const std::string& dir) {
  return std::system(
      absl::StrCat("bash ", kDeploy, "/make-secrets.sh ", dir, " > /dev/null 2>&1").c_str());
}

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

bool IsHpoBinary(const std::string& word) {
  const std::string base = BaseName(word);
  return base == "hpo" || base == "hpo-coordinator" || base == "hpo-worker";
}

std::vector<std::string> Strings(const YAML::Node& list) {
  std::vector<std::string> out;
  for (const auto& item : list) out.push_back(item.as<std::string>());
  return out;
}

void Add(std::vector<Invocation>* out, const std::string& where, std::vector<std::string> argv) {
  if (argv.empty() || !IsHpoBinary(argv[0])) return;
  argv[0] = BaseName(argv[0]);
  out->push_back({where, std::move(argv)});
}

int PortOf(const std::string& address) {
  int port = 0;
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) return -1;
  return port;
}

std::vector<YAML::Node> LoadAll(const std::string& path) { return YAML::LoadAllFromFile(path); }

// Every pod template's containers in a Kubernetes file, with its pod spec.
std::vector<std::pair<YAML::Node, YAML::Node>> Containers(const std::vector<YAML::Node>& docs) {
  std::vector<std::pair<YAML::Node, YAML::Node>> out;
  for (const auto& doc : docs) {
    const YAML::Node spec = doc["spec"];
    if (!spec || !spec["template"] || !spec["template"]["spec"]) continue;  // e.g. a Service
    const YAML::Node pod = spec["template"]["spec"];
    for (const auto& c : pod["containers"]) out.emplace_back(c, pod);
  }
  return out;
}

// The JSON-array CMD of a Dockerfile, continuation lines joined.
std::vector<std::string> DockerCmd(const std::string& path) {
  const std::string text = ReadFile(path);
  const size_t at = text.find("\nCMD [");
  if (at == std::string::npos) return {};
  std::string json = text.substr(at + 5);
  json = json.substr(0, json.find(']') + 1);
  std::vector<std::string> argv;
  std::regex quoted("\"([^\"]*)\"");
  for (std::sregex_iterator it(json.begin(), json.end(), quoted), end; it != end; ++it) {
    argv.push_back((*it)[1]);
  }
  return argv;
}

std::vector<Invocation> AllInvocations() {
  std::vector<Invocation> all;
  for (const auto& [c, pod] : Containers(LoadAll(kDeploy + "/k8s/coordinator.yaml"))) {
    Add(&all, "k8s/coordinator.yaml", Strings(c["args"]));
    if (c["readinessProbe"]["exec"]) {
      Add(&all, "k8s/coordinator.yaml probe", Strings(c["readinessProbe"]["exec"]["command"]));
    }
  }
  for (const auto& [c, pod] : Containers(LoadAll(kDeploy + "/k8s/worker.yaml"))) {
    Add(&all, "k8s/worker.yaml", Strings(c["args"]));
  }
  const YAML::Node compose = YAML::LoadFile(kDeploy + "/compose.yaml");
  for (const auto& service : compose["services"]) {
    Add(&all, "compose.yaml " + service.first.as<std::string>(),
        Strings(service.second["command"]));
  }
  for (const char* file : {"Dockerfile", "Dockerfile.cuda-worker"}) {
    Add(&all, file, DockerCmd(kDeploy + "/" + file));
  }
  for (const char* unit : {"hpo-coordinator.service", "hpo-worker.service"}) {
    for (absl::string_view line : absl::StrSplit(ReadFile(kDeploy + "/systemd/" + unit), '\n')) {
      if (absl::ConsumePrefix(&line, "ExecStart=")) {
        Add(&all, unit, absl::StrSplit(line, ' ', absl::SkipEmpty()));
      }
    }
  }
  // The Slurm script's worker: the exec line and its continuation lines.
  const std::string sbatch = ReadFile(kDeploy + "/slurm/hpo-worker.sbatch");
  const size_t exec = sbatch.find("exec \"$0/hpo-worker\"");
  EXPECT_NE(exec, std::string::npos) << "no hpo-worker in the Slurm script";
  if (exec != std::string::npos) {
    const std::string block = sbatch.substr(exec, sbatch.find("\n'", exec) - exec);
    std::vector<std::string> argv = {"hpo-worker"};
    std::regex flag("(--[a-z-]+)");
    for (std::sregex_iterator it(block.begin(), block.end(), flag), end; it != end; ++it) {
      argv.push_back((*it)[1]);
      argv.push_back("x");
    }
    Add(&all, "slurm/hpo-worker.sbatch", argv);
  }
  return all;
}

TEST(DeployTest, EveryFlagTheDeployFilesPassExists) {
  const std::map<std::string, std::string> help = {
      {"hpo", Shell(std::string(HPO_CLI_BIN) + " --help 2>&1")},
      {"hpo-coordinator", Shell(std::string(HPO_COORDINATOR_BIN) + " --help 2>&1")},
      {"hpo-worker", Shell(std::string(HPO_WORKER_BIN) + " --help 2>&1")}};
  const std::vector<Invocation> all = AllInvocations();
  std::set<std::string> places;
  for (const Invocation& inv : all) places.insert(inv.where.substr(0, inv.where.find(' ')));
  // Each kind of file has its hpo command lines found (a parse that finds none checks nothing).
  EXPECT_EQ(places, (std::set<std::string>{"Dockerfile", "Dockerfile.cuda-worker", "compose.yaml",
                                           "hpo-coordinator.service", "hpo-worker.service",
                                           "k8s/coordinator.yaml", "k8s/worker.yaml",
                                           "slurm/hpo-worker.sbatch"}));
  int checked = 0;
  for (const Invocation& inv : all) {
    const std::string& text = help.at(inv.argv[0]);
    for (const std::string& arg : inv.argv) {
      if (!absl::StartsWith(arg, "--")) {
        if (inv.argv[0] == "hpo" && arg == "health") {
          EXPECT_THAT(text, HasSubstr("health")) << inv.where;
        }
        continue;
      }
      const std::string flag = arg.substr(0, arg.find('='));
      EXPECT_THAT(text, HasSubstr(flag + " "))
          << inv.where << ": " << inv.argv[0] << " has no " << flag;
      ++checked;
    }
  }
  EXPECT_GT(checked, 40);
}

TEST(DeployTest, EveryBinaryHasAVersion) {
  for (const char* bin : {HPO_CLI_BIN, HPO_COORDINATOR_BIN, HPO_WORKER_BIN, HPO_TASK_BIN}) {
    const std::string out = Shell(std::string(bin) + " --version");
    EXPECT_EQ(out, absl::StrCat(BaseName(bin), " ", HPO_VERSION, "\n"));
  }
}

TEST(DeployTest, KubernetesPortsNamesAndSecretsAgree) {
  const YAML::Node kustomization = YAML::LoadFile(kDeploy + "/k8s/kustomization.yaml");
  std::map<std::string, std::set<std::string>> generated;  // secret -> keys
  std::set<std::string> secret_files;                      // what make-secrets.sh must make
  for (const auto& gen : kustomization["secretGenerator"]) {
    for (const auto& file : gen["files"]) {
      const std::vector<std::string> kv = absl::StrSplit(file.as<std::string>(), '=');
      ASSERT_EQ(kv.size(), 2u);
      generated[gen["name"].as<std::string>()].insert(kv[0]);
      secret_files.insert(BaseName(kv[1]));
    }
  }
  std::set<std::string> resources;
  for (const auto& r : kustomization["resources"]) resources.insert(r.as<std::string>());
  EXPECT_EQ(resources,
            (std::set<std::string>{"namespace.yaml", "coordinator.yaml", "worker.yaml"}));

  // Each flag naming a file points into a mounted secret that holds that key.
  auto check_files = [&](const YAML::Node& container, const YAML::Node& pod,
                         const Invocation& inv) {
    std::map<std::string, std::string> mount_secret;  // mount path -> secret
    for (const auto& m : container["volumeMounts"]) {
      for (const auto& v : pod["volumes"]) {
        if (v["name"].as<std::string>() == m["name"].as<std::string>() && v["secret"]) {
          mount_secret[m["mountPath"].as<std::string>()] =
              v["secret"]["secretName"].as<std::string>();
          // A secret readable by others would be refused by the binaries; items must exist.
          for (const auto& item : v["secret"]["items"]) {
            EXPECT_TRUE(generated[v["secret"]["secretName"].as<std::string>()].count(
                item["key"].as<std::string>()))
                << inv.where << ": " << item["key"];
          }
        }
      }
    }
    for (const char* flag : {"--token-file", "--tls-cert", "--tls-key", "--tls-ca"}) {
      const std::string path = inv.Flag(flag);
      if (path.empty()) continue;
      const std::string dir = path.substr(0, path.rfind('/'));
      ASSERT_TRUE(mount_secret.count(dir))
          << inv.where << ": " << flag << " " << path << " is not in a mounted secret";
      const std::string& secret = mount_secret[dir];
      ASSERT_TRUE(generated.count(secret))
          << inv.where << ": secret " << secret << " is not generated";
      EXPECT_TRUE(generated[secret].count(BaseName(path)))
          << inv.where << ": secret " << secret << " has no key " << BaseName(path);
    }
  };

  const std::vector<YAML::Node> coordinator_docs = LoadAll(kDeploy + "/k8s/coordinator.yaml");
  YAML::Node service;
  for (const auto& doc : coordinator_docs) {
    if (doc["kind"].as<std::string>() == "Service") service = doc;
  }
  ASSERT_TRUE(service);
  const std::string service_name = service["metadata"]["name"].as<std::string>();
  std::map<std::string, int> service_ports;  // target port name -> service port
  for (const auto& p : service["spec"]["ports"]) {
    service_ports[p["targetPort"].as<std::string>()] = p["port"].as<int>();
  }
  const auto coordinator = Containers(coordinator_docs);
  ASSERT_EQ(coordinator.size(), 1u);
  const auto& [c, pod] = coordinator[0];
  Invocation inv{"k8s/coordinator.yaml", Strings(c["args"])};
  std::map<std::string, int> container_ports;
  for (const auto& p : c["ports"]) {
    container_ports[p["name"].as<std::string>()] = p["containerPort"].as<int>();
  }
  EXPECT_EQ(container_ports["grpc"], PortOf(inv.Flag("--listen")));
  EXPECT_EQ(container_ports["metrics"], PortOf(inv.Flag("--metrics-listen")));
  for (const auto& [name, port] : service_ports) {
    EXPECT_TRUE(container_ports.count(name)) << "Service targets port " << name;
  }
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["port"].as<std::string>(), "metrics");
  check_files(c, pod, inv);
  // The readiness probe reaches the same port over TLS with the mounted CA.
  Invocation probe{"probe", Strings(c["readinessProbe"]["exec"]["command"])};
  EXPECT_EQ(PortOf(probe.Flag("--coordinator")), container_ports["grpc"]);

  const auto workers = Containers(LoadAll(kDeploy + "/k8s/worker.yaml"));
  ASSERT_EQ(workers.size(), 1u);
  const auto& [w, wpod] = workers[0];
  Invocation winv{"k8s/worker.yaml", Strings(w["args"])};
  EXPECT_EQ(winv.Flag("--coordinator"), absl::StrCat(service_name, ":", service_ports["grpc"]));
  EXPECT_TRUE(w["resources"]["limits"]["nvidia.com/gpu"]) << "a GPU worker asks for a GPU";
  EXPECT_EQ(w["livenessProbe"]["httpGet"]["port"].as<std::string>(), "metrics");
  EXPECT_EQ(w["ports"][0]["containerPort"].as<int>(), PortOf(winv.Flag("--metrics-listen")));
  check_files(w, wpod, winv);

  // make-secrets.sh makes every file the kustomization reads.
  testing::TempDir dir;
  const std::string out = dir.File("secrets");
  ASSERT_EQ(MakeSecrets(out), 0);
  for (const std::string& file : secret_files) {
    struct stat st;
    ASSERT_EQ(::stat((out + "/" + file).c_str(), &st), 0) << file;
    EXPECT_EQ(st.st_mode & 077, 0u) << file << " is readable by others";
  }
}

TEST(DeployTest, ComposeServicesAgree) {
  const YAML::Node compose = YAML::LoadFile(kDeploy + "/compose.yaml");
  std::set<std::string> defined;
  for (const auto& s : compose["secrets"]) defined.insert(s.first.as<std::string>());
  const YAML::Node coordinator = compose["services"]["coordinator"];
  const YAML::Node worker = compose["services"]["worker"];
  Invocation c{"coordinator", Strings(coordinator["command"])};
  Invocation w{"worker", Strings(worker["command"])};
  // The worker reaches the coordinator by its link alias, on the port it listens on.
  std::string alias;
  for (const auto& link : worker["links"]) {
    const std::vector<std::string> parts = absl::StrSplit(link.as<std::string>(), ':');
    if (parts[0] == "coordinator") alias = parts.back();
  }
  EXPECT_EQ(w.Flag("--coordinator"), absl::StrCat(alias, ":", PortOf(c.Flag("--listen"))));
  // Published ports are the ones served, on the host's loopback only.
  for (const auto& p : coordinator["ports"]) {
    const std::string mapping = p.as<std::string>();
    EXPECT_TRUE(absl::StartsWith(mapping, "127.0.0.1:")) << mapping;
    const int port = PortOf(mapping);
    EXPECT_TRUE(port == PortOf(c.Flag("--listen")) || port == PortOf(c.Flag("--metrics-listen")))
        << mapping;
  }
  // Every /run/secrets/NAME a flag names is mounted by that service and defined.
  for (const auto& [service, inv] : {std::pair{coordinator, c}, std::pair{worker, w}}) {
    std::set<std::string> mounted;
    for (const auto& s : service["secrets"]) mounted.insert(s["source"].as<std::string>());
    for (const std::string& arg : inv.argv) {
      const size_t at = arg.find("/run/secrets/");
      if (at == std::string::npos) continue;
      const std::string name = arg.substr(at + std::string("/run/secrets/").size());
      EXPECT_TRUE(mounted.count(name)) << inv.where << " does not mount " << name;
      EXPECT_TRUE(defined.count(name)) << name << " is not defined";
    }
  }
}

TEST(DeployTest, DockerfileExposesWhatItServesAndInstallsRuntimeOnly) {
  const std::string text = ReadFile(kDeploy + "/Dockerfile");
  const std::vector<std::string> cmd = DockerCmd(kDeploy + "/Dockerfile");
  Invocation inv{"Dockerfile", cmd};
  const std::string expose = absl::StrCat("EXPOSE ", PortOf(inv.Flag("--listen")), " ",
                                          PortOf(inv.Flag("--metrics-listen")));
  EXPECT_THAT(text, HasSubstr(expose));
  EXPECT_THAT(text, HasSubstr("FROM debian:12 AS build"));
  EXPECT_THAT(text, HasSubstr("FROM debian:12-slim AS runtime"));
  EXPECT_THAT(text, HasSubstr("install-deps.sh --runtime"));
  // The build context leaves out build trees and every place make-secrets.sh writes to.
  const std::string ignore = ReadFile(std::string(HPO_SOURCE_DIR) + "/.dockerignore");
  for (const char* path : {"build*/", "deploy/secrets/", "deploy/k8s/secrets/", ".git/"}) {
    EXPECT_THAT(ignore, HasSubstr(std::string("\n") + path + "\n")) << path;
  }
  // --runtime lists no compiler or -dev package.
  const std::set<std::string> runtime = RuntimePackages();
  ASSERT_FALSE(runtime.empty());
  for (const std::string& package : runtime) {
    EXPECT_FALSE(absl::EndsWith(package, "-dev")) << package;
    EXPECT_NE(package, "build-essential");
  }
}

TEST(DeployTest, MadeSecretsStartACoordinatorBeyondLoopback) {
  testing::TempDir dir;
  const std::string out = dir.File("secrets");
  ASSERT_EQ(MakeSecrets(out), 0);
  EXPECT_NE(MakeSecrets(out), 0);  // a second run refuses to overwrite them
  server::CoordinatorServerOptions options;
  options.listen = "0.0.0.0:0";
  options.db_path = dir.File("hpo.db");
  options.token_file = out + "/tokens";
  options.tls = {out + "/tls.crt", out + "/tls.key", ""};
  auto server = server::CoordinatorServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auth::ClientSecurity security;
  security.tls.ca = out + "/ca.crt";
  security.token = std::string(absl::StripAsciiWhitespace(ReadFile(out + "/client-token")));
  auto backend = backend::ConnectGrpc(absl::StrCat("localhost:", (*server)->port()), security,
                                      absl::Seconds(10));
  ASSERT_TRUE(backend.ok()) << backend.status();
  EXPECT_TRUE((*backend)->ListStudies().ok());
}

TEST(DeployTest, RuntimePackagesHoldEveryLibraryTheBinariesLoad) {
  const std::set<std::string> packages = RuntimePackages();
  ASSERT_FALSE(packages.empty());
  // Every package (other than the C and C++ runtimes every Debian image has) that owns a
  // library the binaries load.
  const std::set<std::string> base = {"libc6", "libgcc-s1", "libstdc++6"};
  // Each library once, then one dpkg query for all of them.
  std::map<std::string, std::string> loaded;  // real path -> a binary that loads it
  for (const char* bin : {HPO_CLI_BIN, HPO_COORDINATOR_BIN, HPO_WORKER_BIN, HPO_TASK_BIN}) {
    const std::string ldd = Shell(absl::StrCat("ldd ", bin));
    for (absl::string_view line : absl::StrSplit(ldd, '\n', absl::SkipEmpty())) {
      const size_t arrow = line.find("=> /");
      if (arrow == absl::string_view::npos) continue;
      std::string path(line.substr(arrow + 3));
      path = path.substr(0, path.find(' '));
      // dpkg may know a file by the name ldd prints or by its real path (merged /usr).
      loaded.emplace(path, BaseName(bin));
      char real[PATH_MAX];
      if (::realpath(path.c_str(), real) != nullptr) loaded.emplace(real, BaseName(bin));
    }
  }
  std::string query = "dpkg -S";
  for (const auto& [path, bin] : loaded) absl::StrAppend(&query, " ", path);
  int libraries = 0;
  // Lines "package:arch: /path" (or "package: /path").
  for (absl::string_view line :
       absl::StrSplit(Shell(query + " 2>/dev/null"), '\n', absl::SkipEmpty())) {
    const size_t sep = line.find(": /");
    if (sep == absl::string_view::npos) continue;
    const std::string path(line.substr(sep + 2));
    std::string owner(line.substr(0, sep));
    owner = owner.substr(0, owner.find(':'));
    if (!loaded.count(path)) continue;
    ++libraries;
    if (base.count(owner)) continue;
    EXPECT_TRUE(packages.count(owner)) << loaded[path] << " loads " << path << " from " << owner
                                       << ", which install-deps.sh --runtime lacks";
  }
  EXPECT_GT(libraries, 10);
}

}  // namespace
}  // namespace hpo
