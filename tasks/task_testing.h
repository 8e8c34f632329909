// Test helpers shared by the task tests (tasks, harness): not for production code.
#ifndef HPO_TASKS_TASK_TESTING_H_
#define HPO_TASKS_TASK_TESTING_H_

#include <vector>

#include "core/metric_line.h"
#include "hpo/v1/hpo.pb.h"
#include "tasks/task.h"

namespace hpo::tasks::task_testing {

// Records every reported line; asks to stop after `stop_after` lines when it is >= 0.
// Thread-compatible.
class RecordingReporter final : public Reporter {
 public:
  explicit RecordingReporter(int stop_after = -1) : stop_after_(stop_after) {}
  bool Report(const core::MetricLine& line) override {
    lines.push_back(line);
    return stop_after_ < 0 || static_cast<int>(lines.size()) < stop_after_;
  }
  std::vector<core::MetricLine> lines;

 private:
  int stop_after_;
};

// The configuration of the LCBench README's example (task 3945): val_accuracy 93.3497 at
// epoch 52.
inline hpo::v1::ParamMap LcbenchReadmeParams() {
  hpo::v1::ParamMap p;
  auto& v = *p.mutable_values();
  v["batch_size"].set_int_value(64);
  v["learning_rate"].set_float_value(3e-3);
  v["momentum"].set_float_value(0.9);
  v["weight_decay"].set_float_value(1e-4);
  v["num_layers"].set_int_value(3);
  v["max_units"].set_int_value(256);
  v["max_dropout"].set_float_value(0.1);
  return p;
}

}  // namespace hpo::tasks::task_testing

#endif  // HPO_TASKS_TASK_TESTING_H_
