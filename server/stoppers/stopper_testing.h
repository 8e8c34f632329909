// Helpers for the stoppers' tests: trials with given curves and a study view over them.
#ifndef HPO_SERVER_STOPPERS_STOPPER_TESTING_H_
#define HPO_SERVER_STOPPERS_STOPPER_TESTING_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "hpo/v1/hpo.pb.h"
#include "server/stoppers/early_stopper.h"

namespace hpo::server::testing {

// A trial whose objective "value" is values[i] at step steps[i] (steps 1, 2, ... when empty).
inline hpo::v1::Trial WithCurve(int64_t id, hpo::v1::TrialState state, std::vector<double> values,
                                std::vector<int64_t> steps = {}) {
  hpo::v1::Trial t;
  t.set_id(id);
  t.set_number(static_cast<int32_t>(id));
  t.set_state(state);
  for (size_t i = 0; i < values.size(); ++i) {
    auto* m = t.add_measurements();
    m->set_step(steps.empty() ? static_cast<int64_t>(i + 1) : steps[i]);
    (*m->mutable_metrics())["value"] = values[i];
  }
  return t;
}

inline std::unique_ptr<EarlyStopper> MakeStopper(const std::string& name,
                                                 std::map<std::string, std::string> options) {
  hpo::v1::EarlyStoppingSpec spec;
  spec.set_name(name);
  for (auto& [k, v] : options) (*spec.mutable_options())[k] = v;
  auto s = MakeEarlyStopper(spec);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(s).value() : nullptr;
}

inline std::string StopperError(const std::string& name,
                                std::map<std::string, std::string> options) {
  hpo::v1::EarlyStoppingSpec spec;
  spec.set_name(name);
  for (auto& [k, v] : options) (*spec.mutable_options())[k] = v;
  auto s = MakeEarlyStopper(spec);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(s.status().message());
}

// A study of `trials` whose objective is "value", minimized unless said otherwise.
class StudyFixture {
 public:
  explicit StudyFixture(hpo::v1::Direction direction = hpo::v1::MINIMIZE) {
    spec_.mutable_objective()->set_metric("value");
    spec_.mutable_objective()->set_direction(direction);
  }
  std::vector<hpo::v1::Trial>& trials() { return trials_; }
  hpo::v1::StudySpec& spec() { return spec_; }
  // Judges `trial` as if all of its measurements from `first_new` on had just arrived (by
  // default only the last one).
  hpo::v1::StopJudgement Judge(EarlyStopper& s, const hpo::v1::Trial& trial, int first_new = -1) {
    StudyView view{&spec_, &trials_};
    return s.Decide(view, trial, first_new < 0 ? trial.measurements_size() - 1 : first_new);
  }

 private:
  hpo::v1::StudySpec spec_;
  std::vector<hpo::v1::Trial> trials_;
};

}  // namespace hpo::server::testing

#endif  // HPO_SERVER_STOPPERS_STOPPER_TESTING_H_
