// The LibTorch-free half of the Fashion-MNIST trainers (fmnist_task.h): where the IDX files are,
// how to read them, and the trainers' names and search spaces. It lives in hpo_tasks, so the
// `hpo` CLI can check a study of fmnist-mlp or fmnist-cnn without linking LibTorch; training one
// needs hpo_fmnist (or the hpo-task-train process that hpo-task hands such names to).
#ifndef HPO_TASKS_FMNIST_DATA_H_
#define HPO_TASKS_FMNIST_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::tasks {

inline constexpr absl::string_view kFmnistPrefix = "fmnist-";
inline constexpr absl::string_view kFmnistMlp = "fmnist-mlp";
inline constexpr absl::string_view kFmnistCnn = "fmnist-cnn";

// The trainers' names, sorted: fmnist-cnn, fmnist-mlp.
std::vector<std::string> FmnistTaskNames();

// $HPO_FMNIST_DIR when set (even if it does not exist, so that errors name it), else
// /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist).
std::string DefaultFmnistDir();

// An IDX array of unsigned bytes (type code 0x08): dims[0] items of dims[1] x ... bytes each,
// row-major.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Reads an IDX file, gzip-compressed or not (zlib tells them apart). FAILED_PRECONDITION naming
// the path when it cannot be opened, is truncated, has a bad magic number, holds another type
// than unsigned bytes, or has more or fewer bytes than its dimensions say.
absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path);
// The same checks on an IDX file's (decompressed) bytes; `path` names it in errors.
absl::StatusOr<IdxArray> ParseIdx(const std::string& path, const std::vector<uint8_t>& bytes);

// One split of Fashion-MNIST: `images` is N x 28 x 28, `labels` N values in [0, 9].
struct FmnistSplit {
  IdxArray images;
  IdxArray labels;
};

// The split "train" (60,000 images) or "t10k" (10,000) from `dir` (empty: DefaultFmnistDir()),
// from <split>-images-idx3-ubyte[.gz] and <split>-labels-idx1-ubyte[.gz].
// FAILED_PRECONDITION "Fashion-MNIST not found at <path>: install dataset-fashion-mnist or set
// HPO_FMNIST_DIR" when a file is absent; FAILED_PRECONDITION naming the file when the two files
// disagree (counts, image size, a label outside [0, 9]) or one is malformed (ReadIdxFile);
// INVALID_ARGUMENT for another split name. A .gz file's decoded copy is kept in a cache folder
// ($HPO_FMNIST_CACHE, "off" for none; else $XDG_CACHE_HOME/hpo or ~/.cache/hpo), named by the
// file's size and modification time, so that later trials on the host skip the decompression.
// Thread-safe; several processes may fill the cache at once (each renames a whole file in).
absl::StatusOr<FmnistSplit> ReadFmnistSplit(absl::string_view split, const std::string& dir = "");

// The search space of fmnist-mlp or fmnist-cnn (NOT_FOUND for another name):
//   lr            float [1e-4, 0.3]   log
//   batch_size    int   [16, 512]     log
//   width         int   [32, 1024]    log   (hidden units of each linear layer but the last)
//   depth         int   [1, 4]              (hidden layers; fmnist-mlp only)
//   dropout       float [0, 0.6]            (after each hidden linear layer)
//   weight_decay  float [1e-6, 1e-2]  log   (L2, added to the gradient)
//   optimizer     categorical sgd | adam
//   momentum      float [0, 0.99]           (active only when optimizer = sgd)
absl::StatusOr<hpo::v1::SearchSpace> FmnistSpace(absl::string_view name);

}  // namespace hpo::tasks

#endif  // HPO_TASKS_FMNIST_DATA_H_
