#include "harness/curve_families.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "harness/served_task.h"
#include "tasks/lcbench_data.h"
#include "tasks/task.h"

namespace hpo::harness {
namespace {

constexpr int kEpochs = 52;
constexpr int kReferenceSample = 10000;
constexpr uint64_t kReferenceSeed = 0x5EEDBE57ULL;
constexpr int kBlock = 32;  // configurations read at once from a task

enum class Family { kExp, kCrossing, kPlateau };

class FamilySource final : public CurveSource {
 public:
  FamilySource(std::string name, Family family) : name_(std::move(name)), family_(family) {
    for (const char* p : {"a", "b", "c"}) {
      auto* spec = space_.add_params();
      spec->set_name(p);
      spec->mutable_float_domain()->set_low(0);
      spec->mutable_float_domain()->set_high(1);
    }
  }
  std::string name() const override { return name_; }
  hpo::v1::SearchSpace space() const override { return space_; }
  int epochs() const override { return kEpochs; }

  absl::StatusOr<std::vector<double>> Values(uint64_t seed, int index,
                                             const std::vector<int>& epochs) const override {
    core::Rng rng(StreamSeed(seed, index));
    const hpo::v1::ParamMap params = core::SampleUniform(space_, rng);  // the noise comes next
    return Pick(CurveOf(params, rng), epochs);
  }

  // A proposed configuration's noise is seeded by its parameters' text.
  absl::StatusOr<std::vector<double>> ValuesOf(const hpo::v1::ParamMap& params,
                                               const std::vector<int>& epochs) const override {
    HPO_RETURN_IF_ERROR(core::ValidateParams(space_, params));
    const std::string text = core::ParamsToJson(params);
    uint64_t hash = 1469598103934665603ULL;  // FNV-1a
    for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ULL;
    core::Rng rng(hash);
    return Pick(CurveOf(params, rng), epochs);
  }

  absl::StatusOr<std::vector<double>> Pick(const std::vector<double>& curve,
                                           const std::vector<int>& epochs) const {
    std::vector<double> values;
    for (int e : epochs) {
      if (e < 1 || e > kEpochs) {
        return absl::InvalidArgumentError(absl::StrCat(name_, ": no epoch ", e));
      }
      values.push_back(curve[e - 1]);
    }
    return values;
  }

  absl::StatusOr<double> ReferenceBest() const override {
    std::call_once(reference_once_, [this] {
      reference_ = std::numeric_limits<double>::infinity();
      for (int i = 0; i < kReferenceSample; ++i) {
        core::Rng rng(StreamSeed(kReferenceSeed, i));
        const hpo::v1::ParamMap params = core::SampleUniform(space_, rng);
        reference_ = std::min(reference_, CurveOf(params, rng).back());
      }
    });
    return reference_;
  }

 private:
  // The whole curve of `params`, its noise drawn from `rng` epoch by epoch (for a stream's
  // configuration, the same rng drew the parameters first).
  std::vector<double> CurveOf(const hpo::v1::ParamMap& params, core::Rng& rng) const {
    const double a = params.values().at("a").float_value();
    const double b = params.values().at("b").float_value();
    std::normal_distribution<double> noise(0, 0.004);
    std::vector<double> curve;
    for (int t = 1; t <= kEpochs; ++t) curve.push_back(Loss(a, b, t) + noise(rng));
    return curve;
  }

  // The noiseless curve of (a, b) at epoch t; c does nothing.
  double Loss(double a, double b, int t) const {
    switch (family_) {
      case Family::kExp: {
        const double f = 0.1 + 0.5 * (a - 0.7) * (a - 0.7);
        const double rate = 0.04 + 0.3 * b;
        return f + 0.8 * std::exp(-rate * t);
      }
      case Family::kCrossing: {
        // b speeds the curve up and raises its end: fast starters end worse.
        const double f = 0.1 + 0.4 * (1 - a) * (1 - a) + 0.3 * b;
        const double rate = 0.02 + 0.5 * b;
        return f + (1 - f) * std::exp(-rate * t);
      }
      case Family::kPlateau: {
        // Curves hold at 0.9 until epoch 5 + 30·b, then fall towards their end.
        const double f = 0.1 + 0.5 * (a - 0.3) * (a - 0.3);
        const double start = 5 + 30 * b;
        return t <= start ? 0.9 : f + (0.9 - f) * std::exp(-0.3 * (t - start));
      }
    }
    return 0;
  }

  const std::string name_;
  const Family family_;
  hpo::v1::SearchSpace space_;
  mutable std::once_flag reference_once_;
  mutable double reference_ = 0;  // set once, under reference_once_
};

// A task's learning curves, drawn through Task::Evaluate with `epochs` steps; configurations
// sampled uniformly from its space. Thread-safe (tasks are).
class TaskCurveSource final : public CurveSource {
 public:
  TaskCurveSource(std::unique_ptr<tasks::Task> task, int epochs)
      : task_(std::move(task)), space_(task_->space()), epochs_(epochs) {}
  std::string name() const override { return task_->name(); }
  hpo::v1::SearchSpace space() const override { return space_; }
  int epochs() const override { return epochs_; }

  // Values read are kept: the methods of one (task, seed) draw the same configurations, and a
  // surrogate's epoch costs time (a helper round trip). A first read of a configuration (epoch
  // 1 among the epochs asked) that misses asks for the same epochs of the next kBlock
  // configurations of the stream too, in one Task::ValuesAtMany: every method reads the first
  // chunk of configuration after configuration, and most read little more.
  absl::StatusOr<std::vector<double>> Values(uint64_t seed, int index,
                                             const std::vector<int>& epochs) const override {
    std::vector<int> block;  // the configurations to read, `index` first
    const bool first_read = std::find(epochs.begin(), epochs.end(), 1) != epochs.end();
    {
      absl::MutexLock lock(&mu_);
      for (int i = index; i < index + (first_read ? kBlock : 1); ++i) {
        const std::map<int, double>& known = cache_[{seed, i}];
        bool missing = false;
        for (int e : epochs) missing = missing || known.count(e) == 0;
        if (missing) {
          block.push_back(i);
        } else if (i == index) {
          break;  // a hit: read nothing
        }
      }
    }
    if (!block.empty()) {
      std::vector<tasks::Task::EpochQuery> queries;
      for (int i : block) queries.push_back({Params(seed, i), epochs});
      HPO_ASSIGN_OR_RETURN(std::vector<std::vector<double>> values, task_->ValuesAtMany(queries));
      absl::MutexLock lock(&mu_);
      for (size_t b = 0; b < block.size() && b < values.size(); ++b) {
        std::map<int, double>& known = cache_[{seed, block[b]}];
        for (size_t k = 0; k < epochs.size() && k < values[b].size(); ++k) {
          known[epochs[k]] = values[b][k];
        }
      }
    }
    absl::MutexLock lock(&mu_);
    const std::map<int, double>& known = cache_[{seed, index}];
    std::vector<double> out;
    for (int e : epochs) {
      auto it = known.find(e);
      if (it == known.end()) return absl::InternalError(absl::StrCat(name(), ": no epoch ", e));
      out.push_back(it->second);
    }
    return out;
  }

  absl::StatusOr<std::vector<double>> ValuesOf(const hpo::v1::ParamMap& params,
                                               const std::vector<int>& epochs) const override {
    return task_->ValuesAt(params, epochs);
  }

  // The best final value (the last epoch) of 10,000 configurations of a stream of its own.
  absl::StatusOr<double> ReferenceBest() const override {
    absl::MutexLock lock(&reference_mu_);
    if (reference_.has_value()) return *reference_;
    double best = std::numeric_limits<double>::infinity();
    for (int first = 0; first < kReferenceSample; first += 500) {
      std::vector<tasks::Task::EpochQuery> queries;
      for (int i = first; i < std::min(first + 500, kReferenceSample); ++i) {
        core::Rng rng(StreamSeed(kReferenceSeed, i));
        queries.push_back({core::SampleUniform(space_, rng), {epochs_}});
      }
      HPO_ASSIGN_OR_RETURN(std::vector<std::vector<double>> values, task_->ValuesAtMany(queries));
      for (const std::vector<double>& v : values) {
        if (!v.empty()) best = std::min(best, v[0]);
      }
    }
    reference_ = best;
    return best;
  }

 private:
  const std::unique_ptr<tasks::Task> task_;
  const hpo::v1::SearchSpace space_;
  const int epochs_;
  mutable absl::Mutex reference_mu_;  // held while the reference is computed
  mutable std::optional<double> reference_ ABSL_GUARDED_BY(reference_mu_);
  mutable absl::Mutex mu_;
  mutable std::map<std::pair<uint64_t, int>, std::map<int, double>> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::vector<std::string> CurveFamilyNames() {
  return {"curves-crossing", "curves-exp", "curves-plateau"};
}

absl::StatusOr<std::unique_ptr<CurveSource>> MakeCurveFamily(const std::string& name) {
  if (name == "curves-exp") return std::make_unique<FamilySource>(name, Family::kExp);
  if (name == "curves-crossing") return std::make_unique<FamilySource>(name, Family::kCrossing);
  if (name == "curves-plateau") return std::make_unique<FamilySource>(name, Family::kPlateau);
  return absl::NotFoundError(absl::StrCat(
      "no curve family named '", name, "' (known: ", absl::StrJoin(CurveFamilyNames(), ", "), ")"));
}

absl::StatusOr<std::vector<std::string>> ExpandCurveTasks(const std::string& list) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  for (absl::string_view raw : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    const std::string name(absl::StripAsciiWhitespace(raw));
    if (name == "curves") {
      for (const std::string& family : CurveFamilyNames()) add(family);
      continue;
    }
    if (name == "lcbench") {
      HPO_ASSIGN_OR_RETURN(const std::vector<std::string> ids, tasks::LcbenchTaskIds());
      for (const std::string& id : ids) add(absl::StrCat(tasks::kLcbenchPrefix, id));
      continue;
    }
    absl::StatusOr<std::unique_ptr<CurveSource>> source = MakeCurveTask(name);
    if (!source.ok()) return core::Annotate(source.status(), "--tasks");
    add(name);
  }
  if (out.empty()) return absl::InvalidArgumentError("--tasks: empty list");
  return out;
}

absl::StatusOr<std::unique_ptr<CurveSource>> MakeCurveTask(const std::string& name) {
  if (!absl::StartsWith(name, tasks::kLcbenchPrefix)) return MakeCurveFamily(name);
  static const TaskFactory* factory = new TaskFactory(LcbenchTaskFactory());
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<tasks::Task> task, (*factory)(name));
  return std::make_unique<TaskCurveSource>(std::move(task), tasks::kLcbenchEpochs);
}

int CurveTaskEpochs(const std::vector<std::string>&) { return kEpochs; }

}  // namespace hpo::harness
