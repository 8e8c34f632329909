#include "tasks/fmnist_data.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "tasks/space_builder.h"

namespace hpo::tasks {
namespace {

using hpo::v1::ParamSpec;
using hpo::v1::SearchSpace;

constexpr uint8_t kUnsignedByte = 0x08;
constexpr int64_t kImageSide = 28;
constexpr int kClasses = 10;

absl::Status Malformed(const std::string& path, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(path, ": not an IDX file of bytes: ", why));
}

// The whole (decompressed) content of `path`.
absl::StatusOr<std::vector<uint8_t>> ReadAll(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("cannot open ", path));
  }
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof(buffer))) > 0)
    bytes.insert(bytes.end(), buffer, buffer + n);
  int code = Z_OK;
  const std::string error = n < 0 ? gzerror(file, &code) : "";
  gzclose(file);
  if (n < 0) return Malformed(path, absl::StrCat("decompression failed (", error, ")"));
  return bytes;
}

// <dir>/<base>, or <dir>/<base>.gz when only that exists; empty when neither does.
std::string FindFile(const std::string& dir, const std::string& base) {
  std::error_code ec;
  for (const std::string& name : {base + ".gz", base}) {
    const std::filesystem::path path = std::filesystem::path(dir) / name;
    if (std::filesystem::is_regular_file(path, ec)) return path.string();
  }
  return "";
}

// Where decoded copies of gzip-compressed IDX files are kept: $HPO_FMNIST_CACHE ("off": none),
// else $XDG_CACHE_HOME/hpo, else $HOME/.cache/hpo; empty when none applies.
std::string CacheDir() {
  if (const char* dir = std::getenv("HPO_FMNIST_CACHE"); dir != nullptr && *dir != '\0') {
    return std::string(dir) == "off" ? "" : dir;
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return (std::filesystem::path(xdg) / "hpo").string();
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return (std::filesystem::path(home) / ".cache" / "hpo").string();
  }
  return "";
}

// Reads `path`; a .gz file is read from its decoded copy in the cache when one exists for the
// file's size and modification time, and leaves one there otherwise (best effort: a cache that
// cannot be written only costs the next reader the decompression).
absl::StatusOr<IdxArray> ReadCachedIdxFile(const std::string& path) {
  const std::filesystem::path source(path);
  const std::string dir = CacheDir();
  std::error_code ec;
  if (dir.empty() || source.extension() != ".gz") return ReadIdxFile(path);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ReadIdxFile(path);
  const std::filesystem::path cached =
      std::filesystem::path(dir) / absl::StrCat(source.stem().string(), ".", st.st_size, "-",
                                                st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ".idx");
  if (std::filesystem::is_regular_file(cached, ec)) {
    absl::StatusOr<IdxArray> array = ReadIdxFile(cached.string());
    if (array.ok()) return array;
  }
  HPO_ASSIGN_OR_RETURN(const std::vector<uint8_t> bytes, ReadAll(path));
  HPO_ASSIGN_OR_RETURN(IdxArray array, ParseIdx(path, bytes));
  // The decoded bytes as they are: a raw IDX file.
  std::filesystem::create_directories(dir, ec);
  const std::string tmp = absl::StrCat(cached.string(), ".tmp.", ::getpid());
  if (FILE* out = std::fopen(tmp.c_str(), "wb"); out != nullptr) {
    const bool written = std::fwrite(bytes.data(), 1, bytes.size(), out) == bytes.size();
    if (std::fclose(out) == 0 && written) std::filesystem::rename(tmp, cached, ec);
    std::filesystem::remove(tmp, ec);
  }
  return array;
}

}  // namespace

std::vector<std::string> FmnistTaskNames() {
  return {std::string(kFmnistCnn), std::string(kFmnistMlp)};
}

std::string DefaultFmnistDir() {
  const char* env = std::getenv("HPO_FMNIST_DIR");
  if (env != nullptr && *env != '\0') return env;
  return "/usr/share/datasets/fashion-mnist";
}

absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path) {
  HPO_ASSIGN_OR_RETURN(const std::vector<uint8_t> bytes, ReadAll(path));
  return ParseIdx(path, bytes);
}

absl::StatusOr<IdxArray> ParseIdx(const std::string& path, const std::vector<uint8_t>& bytes) {
  if (bytes.size() < 4) return Malformed(path, "shorter than its 4-byte magic number");
  if (bytes[0] != 0 || bytes[1] != 0) return Malformed(path, "bad magic number");
  if (bytes[2] != kUnsignedByte) {
    return Malformed(path, absl::StrCat("element type 0x", absl::Hex(bytes[2]),
                                        " (only 0x08, unsigned byte, is read)"));
  }
  const int rank = bytes[3];
  if (rank < 1) return Malformed(path, "no dimensions");
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  if (bytes.size() < header) return Malformed(path, "truncated header");
  IdxArray array;
  uint64_t count = 1;
  for (int d = 0; d < rank; ++d) {
    const uint8_t* p = &bytes[4 + 4 * d];
    const uint32_t dim =
        (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
    array.dims.push_back(dim);
    count *= dim;
    if (count > (uint64_t{1} << 34)) return Malformed(path, "dimensions too large");
  }
  if (bytes.size() - header != count) {
    return Malformed(path, absl::StrCat("its dimensions need ", count, " bytes of data, it has ",
                                        bytes.size() - header));
  }
  array.data.assign(bytes.begin() + header, bytes.end());
  return array;
}

absl::StatusOr<FmnistSplit> ReadFmnistSplit(absl::string_view split, const std::string& dir) {
  if (split != "train" && split != "t10k") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown Fashion-MNIST split '", split, "' (train or t10k)"));
  }
  const std::string root = dir.empty() ? DefaultFmnistDir() : dir;
  FmnistSplit out;
  std::string paths[2];
  int i = 0;
  for (const char* kind : {"images-idx3-ubyte", "labels-idx1-ubyte"}) {
    const std::string base = absl::StrCat(split, "-", kind);
    paths[i] = FindFile(root, base);
    if (paths[i].empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("Fashion-MNIST not found at ", (std::filesystem::path(root) / base).string(),
                       "[.gz]: install dataset-fashion-mnist or set HPO_FMNIST_DIR"));
    }
    HPO_ASSIGN_OR_RETURN(IdxArray array, ReadCachedIdxFile(paths[i]));
    (i == 0 ? out.images : out.labels) = std::move(array);
    ++i;
  }
  const std::vector<int64_t>& d = out.images.dims;
  if (d.size() != 3 || d[1] != kImageSide || d[2] != kImageSide) {
    return absl::FailedPreconditionError(absl::StrCat(paths[0], ": expected N x 28 x 28 images"));
  }
  if (out.labels.dims.size() != 1 || out.labels.dims[0] != d[0]) {
    return absl::FailedPreconditionError(
        absl::StrCat(paths[1], ": expected ", d[0], " labels, one per image of ", paths[0]));
  }
  for (size_t k = 0; k < out.labels.data.size(); ++k) {
    if (out.labels.data[k] >= kClasses) {
      return absl::FailedPreconditionError(absl::StrCat(
          paths[1], ": label ", int{out.labels.data[k]}, " of item ", k, " is not in [0, 9]"));
    }
  }
  return out;
}

absl::StatusOr<SearchSpace> FmnistSpace(absl::string_view name) {
  if (name != kFmnistMlp && name != kFmnistCnn) {
    return absl::NotFoundError(absl::StrCat("unknown Fashion-MNIST trainer '", name, "' (",
                                            kFmnistMlp, " or ", kFmnistCnn, ")"));
  }
  SearchSpace s;
  AddFloat(s, "lr", 1e-4, 0.3, /*log=*/true);
  AddInt(s, "batch_size", 16, 512, /*log=*/true);
  AddInt(s, "width", 32, 1024, /*log=*/true);
  if (name == kFmnistMlp) AddInt(s, "depth", 1, 4, /*log=*/false);
  AddFloat(s, "dropout", 0, 0.6, /*log=*/false);
  AddFloat(s, "weight_decay", 1e-6, 1e-2, /*log=*/true);
  ParamSpec* optimizer = s.add_params();
  optimizer->set_name("optimizer");
  optimizer->mutable_categorical()->add_choices()->set_string_value("sgd");
  optimizer->mutable_categorical()->add_choices()->set_string_value("adam");
  ParamSpec* momentum = AddFloat(s, "momentum", 0, 0.99, /*log=*/false);
  momentum->mutable_condition()->set_parent("optimizer");
  momentum->mutable_condition()->add_values()->set_string_value("sgd");
  return s;
}

}  // namespace hpo::tasks
