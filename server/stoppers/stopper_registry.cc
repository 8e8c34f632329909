// The table of early stoppers a study can name, and the helpers every stopper shares. New
// stoppers add one line to the table.
#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "server/stoppers/asha_stopper.h"
#include "server/stoppers/early_stopper.h"
#include "server/stoppers/hyperband_stopper.h"
#include "server/stoppers/learning_curve_stopper.h"
#include "server/stoppers/median_stopper.h"
#include "server/stoppers/stopper_options.h"

namespace hpo::server {
namespace {

using StopperFactory =
    std::function<absl::StatusOr<std::unique_ptr<EarlyStopper>>(const hpo::v1::EarlyStoppingSpec&)>;

absl::StatusOr<std::unique_ptr<EarlyStopper>> MakeNone(const hpo::v1::EarlyStoppingSpec& spec) {
  if (!spec.options().empty()) {
    return StopperOptionError(spec.options().begin()->first, "stopper 'none' takes no options");
  }
  return std::unique_ptr<EarlyStopper>(new NoStopper());
}

const std::map<std::string, StopperFactory>& Registry() {
  static const auto* registry = new std::map<std::string, StopperFactory>{
      {"asha", &AshaStopper::Create},
      {"hyperband", &HyperbandStopper::Create},
      {"learning_curve", &LearningCurveStopper::Create},
      {"median", &MedianStopper::Create},
      {"none", &MakeNone},
  };
  return *registry;
}

}  // namespace

std::vector<std::string> EarlyStopperNames() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : Registry()) names.push_back(name);
  return names;
}

absl::StatusOr<std::unique_ptr<EarlyStopper>> MakeEarlyStopper(
    const hpo::v1::EarlyStoppingSpec& spec) {
  const std::string name = spec.name().empty() ? "none" : spec.name();
  auto it = Registry().find(name);
  if (it == Registry().end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("early_stopping.name: unknown stopper '", name,
                     "' (known: ", absl::StrJoin(EarlyStopperNames(), ", "), ")"));
  }
  return it->second(spec);
}

std::vector<CurvePoint> ObjectiveCurve(const hpo::v1::Trial& trial, const std::string& metric,
                                       hpo::v1::Direction direction) {
  std::vector<CurvePoint> curve;
  for (int i = 0; i < trial.measurements_size(); ++i) {
    const hpo::v1::Measurement& m = trial.measurements(i);
    auto it = m.metrics().find(metric);
    if (it == m.metrics().end()) continue;
    double loss = direction == hpo::v1::MAXIMIZE ? -it->second : it->second;
    if (std::isnan(loss)) loss = std::numeric_limits<double>::infinity();
    curve.push_back({i, m.step(), loss});
  }
  return curve;
}

const CurvePoint* FirstAtOrPast(const std::vector<CurvePoint>& curve, int64_t step) {
  for (const CurvePoint& p : curve) {
    if (p.step >= step) return &p;
  }
  return nullptr;
}

std::optional<double> FirstLossAtOrPast(const hpo::v1::Trial& trial, const std::string& metric,
                                        hpo::v1::Direction direction, int64_t step) {
  for (const hpo::v1::Measurement& m : trial.measurements()) {
    if (m.step() < step) continue;
    auto it = m.metrics().find(metric);
    if (it == m.metrics().end()) continue;
    const double loss = direction == hpo::v1::MAXIMIZE ? -it->second : it->second;
    return std::isnan(loss) ? std::numeric_limits<double>::infinity() : loss;
  }
  return std::nullopt;
}

double LossToValue(double loss, hpo::v1::Direction direction) {
  return direction == hpo::v1::MAXIMIZE ? -loss : loss;
}

namespace {

// What SameTaskAndSpace compares, serialized deterministically (maps in key order).
std::string TaskAndSpaceKey(const hpo::v1::StudySpec& spec) {
  hpo::v1::StudySpec key;
  *key.mutable_task() = spec.task();
  *key.mutable_space() = spec.space();
  *key.mutable_objective() = spec.objective();
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    key.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace

bool SameTaskAndSpace(const hpo::v1::StudySpec& a, const hpo::v1::StudySpec& b) {
  return TaskAndSpaceKey(a) == TaskAndSpaceKey(b);
}

hpo::v1::StopJudgement ContinueUnjudged() {
  hpo::v1::StopJudgement j;
  j.set_decision(hpo::v1::CONTINUE);
  return j;
}

}  // namespace hpo::server
