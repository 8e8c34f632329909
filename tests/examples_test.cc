// Every study file in examples/ loads, names a known optimizer, stopper and task.
#include <dirent.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/search_space.h"
#include "core/study_spec.h"
#include "gtest/gtest.h"
#include "server/optimizers/optimizer.h"
#include "server/stoppers/early_stopper.h"
#include "tasks/task.h"

namespace hpo {
namespace {

std::vector<std::string> ExampleFiles() {
  std::vector<std::string> files;
  const std::string dir = std::string(HPO_SOURCE_DIR) + "/examples";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > 5 && name.substr(name.size() - 5) == ".yaml") {
        files.push_back(dir + "/" + name);
      }
    }
    ::closedir(d);
  }
  return files;
}

TEST(ExamplesTest, EveryExampleIsAValidStudy) {
  const auto files = ExampleFiles();
  ASSERT_GE(files.size(), 4u);
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    auto spec = core::LoadStudyFile(file);
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_TRUE(server::MakeOptimizer(spec->optimizer(), spec->space()).ok());
    EXPECT_TRUE(server::MakeEarlyStopper(spec->early_stopping()).ok());
    if (spec->task().has_builtin()) {
      // The study's space must be one the task accepts (checked without LibTorch, as `hpo` does).
      const absl::Status checked = tasks::CheckBuiltinStudy(spec->task().builtin(), spec->space());
      EXPECT_TRUE(checked.ok()) << checked;
      // A closed-form task's optimum validates against the study's space.
      auto task = tasks::MakeTask(spec->task().builtin());
      if (task.ok() && !std::isnan((*task)->optimum())) {
        EXPECT_TRUE(core::ValidateParams(spec->space(), (*task)->optimum_params()).ok());
      }
    }
  }
}

}  // namespace
}  // namespace hpo
