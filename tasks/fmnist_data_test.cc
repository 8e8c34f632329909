#include "tasks/fmnist_data.h"

#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/search_space.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tasks/task.h"

namespace hpo::tasks {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

// An IDX file of bytes: the header for `dims`, then `data`.
std::vector<uint8_t> Idx(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data,
                         uint8_t type = 0x08) {
  std::vector<uint8_t> out = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(d >> shift));
  }
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

class FmnistDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("fmnist_data_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    cache_ = dir_ / "cache";
    ::setenv("HPO_FMNIST_CACHE", cache_.c_str(), 1);  // not the user's ~/.cache
  }
  void TearDown() override {
    ::unsetenv("HPO_FMNIST_CACHE");
    fs::remove_all(dir_);
  }

  // The files in the cache folder.
  std::vector<fs::path> Cached() const {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(cache_, ec)) files.push_back(e.path());
    return files;
  }

  std::string WriteRaw(const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  std::string WriteGz(const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = (dir_ / name).string();
    gzFile f = gzopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    gzclose(f);
    return path;
  }

  // A split of `n` images of 28 x 28 (image i filled with i) with the given labels.
  void WriteSplit(const std::string& split, const std::vector<uint8_t>& labels, int n) {
    std::vector<uint8_t> pixels;
    for (int i = 0; i < n; ++i) pixels.insert(pixels.end(), 28 * 28, static_cast<uint8_t>(i));
    WriteGz(split + "-images-idx3-ubyte.gz", Idx({static_cast<uint32_t>(n), 28, 28}, pixels));
    WriteRaw(split + "-labels-idx1-ubyte", Idx({static_cast<uint32_t>(labels.size())}, labels));
  }

  fs::path dir_;
  fs::path cache_;
};

TEST_F(FmnistDataTest, ReadsRawAndGzipFilesAlike) {
  const std::vector<uint8_t> data = {1, 2, 3, 4, 5, 6};
  for (const std::string& path : {WriteRaw("a-idx2-ubyte", Idx({2, 3}, data)),
                                  WriteGz("b-idx2-ubyte.gz", Idx({2, 3}, data))}) {
    absl::StatusOr<IdxArray> a = ReadIdxFile(path);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_THAT(a->dims, ElementsAre(2, 3));
    EXPECT_EQ(a->data, data);
  }
}

TEST_F(FmnistDataTest, MalformedFilesAreRefusedNamingThePathAndTheFault) {
  struct Case {
    std::vector<uint8_t> bytes;
    std::string why;
  } cases[] = {
      {{0, 0}, "shorter than its 4-byte magic number"},
      {{1, 0, 8, 1, 0, 0, 0, 1, 7}, "bad magic number"},
      {Idx({1}, {0, 0, 0, 0}, 0x0D), "element type 0xd"},
      {{0, 0, 8, 2, 0, 0, 0, 1}, "truncated header"},
      {Idx({2, 3}, {1, 2, 3, 4, 5}), "need 6 bytes of data, it has 5"},
      {Idx({2, 3}, {1, 2, 3, 4, 5, 6, 7}), "need 6 bytes of data, it has 7"},
  };
  int i = 0;
  for (const Case& c : cases) {
    const std::string path = WriteRaw("bad" + std::to_string(i++), c.bytes);
    absl::StatusOr<IdxArray> a = ReadIdxFile(path);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kFailedPrecondition) << c.why;
    EXPECT_THAT(a.status().message(), HasSubstr(path)) << c.why;
    EXPECT_THAT(a.status().message(), HasSubstr(c.why));
  }
  absl::StatusOr<IdxArray> missing = ReadIdxFile((dir_ / "absent").string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.status().message(), HasSubstr("cannot open " + (dir_ / "absent").string()));
}

TEST_F(FmnistDataTest, ASplitPairsImagesWithLabels) {
  WriteSplit("t10k", {3, 0, 9}, 3);
  absl::StatusOr<FmnistSplit> s = ReadFmnistSplit("t10k", dir_.string());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->images.dims, ElementsAre(3, 28, 28));
  EXPECT_EQ(s->images.data[2 * 784 + 5], 2);
  EXPECT_THAT(s->labels.data, ElementsAre(3, 0, 9));
}

TEST_F(FmnistDataTest, AGzipFileIsDecodedOnceAndReadFromTheCacheAfter) {
  WriteSplit("t10k", {3, 0}, 2);
  ASSERT_TRUE(ReadFmnistSplit("t10k", dir_.string()).ok());
  // The images (gzip) got a decoded copy; the labels (raw) did not need one.
  std::vector<fs::path> cached = Cached();
  ASSERT_EQ(cached.size(), 1u);
  EXPECT_EQ(cached[0].filename().string().rfind("t10k-images-idx3-ubyte.", 0), 0u);
  // Later reads take the copy: one with other pixels shows through.
  {
    std::vector<uint8_t> pixels(2 * 784, 77);
    const std::vector<uint8_t> bytes = Idx({2, 28, 28}, pixels);
    std::ofstream(cached[0], std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  }
  absl::StatusOr<FmnistSplit> s = ReadFmnistSplit("t10k", dir_.string());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->images.data[0], 77);
  // A changed source file is read afresh (the copy is named by its size and time).
  fs::remove(dir_ / "t10k-images-idx3-ubyte.gz");
  WriteSplit("t10k", {3, 0, 1}, 3);
  s = ReadFmnistSplit("t10k", dir_.string());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->images.dims[0], 3);
  EXPECT_EQ(s->images.data[2 * 784], 2);
  // HPO_FMNIST_CACHE=off keeps no copies.
  fs::remove_all(cache_);
  ::setenv("HPO_FMNIST_CACHE", "off", 1);
  ASSERT_TRUE(ReadFmnistSplit("t10k", dir_.string()).ok());
  EXPECT_FALSE(fs::exists(cache_));
  EXPECT_FALSE(fs::exists("off"));
}

TEST_F(FmnistDataTest, AnAbsentOrInconsistentSplitSaysWhatToDo) {
  absl::StatusOr<FmnistSplit> s = ReadFmnistSplit("train", dir_.string());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(
      s.status().message(),
      HasSubstr("Fashion-MNIST not found at " + (dir_ / "train-images-idx3-ubyte").string() +
                "[.gz]: install dataset-fashion-mnist or set HPO_FMNIST_DIR"));

  WriteSplit("train", {1, 2}, 3);
  s = ReadFmnistSplit("train", dir_.string());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("expected 3 labels, one per image"));

  WriteSplit("train", {1, 10, 2}, 3);
  s = ReadFmnistSplit("train", dir_.string());
  EXPECT_THAT(s.status().message(), HasSubstr("label 10 of item 1 is not in [0, 9]"));

  EXPECT_EQ(ReadFmnistSplit("test", dir_.string()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The real files of Debian's dataset-fashion-mnist.
TEST(FmnistRealDataTest, TheInstalledDatasetHasItsPublishedShape) {
  ::setenv("HPO_FMNIST_CACHE", (fs::path(::testing::TempDir()) / "fmnist-real-cache").c_str(), 1);
  const std::string dir = DefaultFmnistDir();
  if (!fs::exists(fs::path(dir) / "train-images-idx3-ubyte.gz") &&
      !fs::exists(fs::path(dir) / "train-images-idx3-ubyte")) {
    GTEST_SKIP() << "Fashion-MNIST not found in " << dir
                 << ": install dataset-fashion-mnist or set HPO_FMNIST_DIR";
  }
  for (const auto& [split, n] :
       {std::pair<std::string, int64_t>{"train", 60000}, {"t10k", 10000}}) {
    absl::StatusOr<FmnistSplit> s = ReadFmnistSplit(split, dir);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_THAT(s->images.dims, ElementsAre(n, 28, 28)) << split;
    // Balanced: every class has a tenth of the images.
    std::vector<int64_t> per_class(10, 0);
    for (uint8_t label : s->labels.data) ++per_class[label];
    EXPECT_EQ(per_class, std::vector<int64_t>(10, n / 10)) << split;
    // Pixels span the whole byte range (the files are not blank).
    uint8_t lo = 255, hi = 0;
    for (uint8_t p : s->images.data) lo = std::min(lo, p), hi = std::max(hi, p);
    EXPECT_EQ(lo, 0);
    EXPECT_EQ(hi, 255);
  }
}

TEST(FmnistSpaceTest, TheTwoTrainersShareASpaceButDepth) {
  absl::StatusOr<hpo::v1::SearchSpace> mlp = FmnistSpace("fmnist-mlp");
  absl::StatusOr<hpo::v1::SearchSpace> cnn = FmnistSpace("fmnist-cnn");
  ASSERT_TRUE(mlp.ok() && cnn.ok());
  std::vector<std::string> names;
  for (const auto& p : mlp->params()) names.push_back(p.name());
  EXPECT_THAT(names, ElementsAre("lr", "batch_size", "width", "depth", "dropout", "weight_decay",
                                 "optimizer", "momentum"));
  EXPECT_EQ(cnn->params_size(), mlp->params_size() - 1);
  EXPECT_EQ(core::FindParam(*cnn, "depth"), nullptr);
  const hpo::v1::ParamSpec* momentum = core::FindParam(*mlp, "momentum");
  ASSERT_NE(momentum, nullptr);
  EXPECT_EQ(momentum->condition().parent(), "optimizer");
  EXPECT_EQ(momentum->condition().values(0).string_value(), "sgd");
  EXPECT_EQ(FmnistSpace("fmnist-resnet").status().code(), absl::StatusCode::kNotFound);
}

TEST(FmnistSpaceTest, AStudyOfATrainerIsCheckedWithoutLibTorch) {
  absl::StatusOr<hpo::v1::SearchSpace> mlp = FmnistSpace("fmnist-mlp");
  ASSERT_TRUE(mlp.ok());
  EXPECT_TRUE(CheckBuiltinStudy("fmnist-mlp", *mlp).ok());
  // depth is the MLP's alone.
  absl::Status s = CheckBuiltinStudy("fmnist-cnn", *mlp);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("depth"));
  EXPECT_EQ(CheckBuiltinStudy("fmnist-vit", *mlp).code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(CheckBuiltinStudy("no-such-task", *mlp).message(),
              HasSubstr("fmnist-cnn, fmnist-mlp"));
}

}  // namespace
}  // namespace hpo::tasks
