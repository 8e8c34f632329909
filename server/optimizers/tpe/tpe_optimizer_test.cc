#include "server/optimizers/tpe/tpe_optimizer.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/search_space.h"
#include "core/study_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/optimizers/optimizer_testing.h"
#include "server/optimizers/random_optimizer.h"
#include "tasks/task.h"

namespace hpo::server {
namespace {

using hpo::v1::ParamMap;
using hpo::v1::ParamSpec;
using hpo::v1::ParamValue;
using hpo::v1::SearchSpace;
using hpo::v1::Trial;

hpo::v1::OptimizerSpec TpeSpec(int64_t seed, std::map<std::string, std::string> options = {}) {
  hpo::v1::OptimizerSpec spec;
  spec.set_name("tpe");
  spec.set_seed(seed);
  for (const auto& [k, v] : options) (*spec.mutable_options())[k] = v;
  return spec;
}

hpo::v1::StudySpec Study(const SearchSpace& space, hpo::v1::Direction direction) {
  hpo::v1::StudySpec spec;
  spec.set_name("s");
  spec.mutable_objective()->set_metric("value");
  spec.mutable_objective()->set_direction(direction);
  *spec.mutable_space() = space;
  return spec;
}

using optimizer_testing::MakeTrial;

double Uniform01ForTest(core::Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

std::unique_ptr<Optimizer> MustCreate(const hpo::v1::OptimizerSpec& spec,
                                      const SearchSpace& space) {
  auto opt = TpeOptimizer::Create(spec, space);
  EXPECT_TRUE(opt.ok()) << opt.status();
  return std::move(*opt);
}

ParamMap SuggestOne(Optimizer& opt, const StudyView& view, int number) {
  auto p = opt.Suggest(view, {number});
  EXPECT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->size(), 1u);
  return p->empty() ? ParamMap() : (*p)[0];
}

double Get(const ParamMap& p, const std::string& name) {
  const ParamValue& v = p.values().at(name);
  return v.kind_case() == ParamValue::kIntValue ? static_cast<double>(v.int_value())
                                                : v.float_value();
}

SearchSpace OneFloat(double low, double high) {
  SearchSpace s;
  ParamSpec* p = s.add_params();
  p->set_name("x");
  p->mutable_float_domain()->set_low(low);
  p->mutable_float_domain()->set_high(high);
  return s;
}

ParamMap X(double x) {
  ParamMap p;
  (*p.mutable_values())["x"].set_float_value(x);
  return p;
}

// ------------------------------------------------------------------ random spaces

ParamValue RandomChoice(int kind, int i) {
  ParamValue v;
  switch (kind) {
    case 0:
      v.set_string_value(absl::StrCat("c", i));
      break;
    case 1:
      v.set_int_value(i * 3 - 4);
      break;
    case 2:
      v.set_float_value(0.25 * i - 1);
      break;
    default:
      v.set_bool_value(i == 1);
      break;
  }
  return v;
}

SearchSpace RandomSpace(std::mt19937_64& rng) {
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  SearchSpace s;
  const int n = 1 + pick(7);
  for (int i = 0; i < n; ++i) {
    ParamSpec* p = s.add_params();
    p->set_name(absl::StrCat("p", i));
    switch (pick(7)) {
      case 0:  // continuous float
        p->mutable_float_domain()->set_low(uni(-100, 100));
        p->mutable_float_domain()->set_high(p->float_domain().low() + std::pow(10, uni(-3, 3)));
        break;
      case 1:  // log float
        p->mutable_float_domain()->set_low(std::pow(10, uni(-6, 1)));
        p->mutable_float_domain()->set_high(p->float_domain().low() * std::pow(10, uni(0.1, 6)));
        p->mutable_float_domain()->set_log(true);
        break;
      case 2: {  // stepped float, the top not necessarily on the grid
        const double low = uni(-10, 10), width = uni(0.1, 20);
        p->mutable_float_domain()->set_low(low);
        p->mutable_float_domain()->set_high(low + width);
        p->mutable_float_domain()->set_step(width / (1 + pick(20)) * (pick(2) ? 1 : 0.77));
        break;
      }
      case 3: {  // int, maybe stepped, sometimes a single value or a huge range
        auto* d = p->mutable_int_domain();
        if (pick(10) == 0) {
          d->set_low(std::numeric_limits<int64_t>::min() / 2);
          d->set_high(std::numeric_limits<int64_t>::max() / 2);
        } else {
          d->set_low(pick(100) - 50);
          d->set_high(d->low() + pick(4) * pick(300));
        }
        if (pick(2)) d->set_step(1 + pick(5));
        break;
      }
      case 4: {  // log int
        auto* d = p->mutable_int_domain();
        d->set_low(1 + pick(100));
        d->set_high(d->low() + pick(100000));
        d->set_log(true);
        break;
      }
      default: {  // categorical of one kind
        const int kind = pick(4);
        const int choices = kind == 3 ? 1 + pick(2) : 1 + pick(5);
        for (int c = 0; c < choices; ++c) {
          *p->mutable_categorical()->add_choices() = RandomChoice(kind, c);
        }
        break;
      }
    }
    // Maybe a condition on an earlier categorical or int parameter.
    if (i > 0 && pick(100) < 45) {
      const ParamSpec& parent = s.params(pick(i));
      auto* cond = p->mutable_condition();
      if (parent.has_categorical()) {
        cond->set_parent(parent.name());
        for (const ParamValue& c : parent.categorical().choices()) {
          if (pick(2) || cond->values().empty()) *cond->add_values() = c;
        }
      } else if (parent.has_int_domain()) {
        cond->set_parent(parent.name());
        const auto& d = parent.int_domain();
        cond->add_values()->set_int_value(d.low());
        const int64_t step = d.step() > 0 ? d.step() : 1;
        if (d.high() - d.low() >= step) cond->add_values()->set_int_value(d.low() + step);
      } else {
        p->clear_condition();
      }
    }
  }
  return s;
}

// A history for `space`: valid assignments in every state, plus a few malformed ones that a
// robust optimizer must skip or clamp.
std::vector<Trial> RandomHistory(const SearchSpace& space, std::mt19937_64& rng, int n) {
  std::vector<Trial> trials;
  core::Rng sampler(rng());
  for (int i = 0; i < n; ++i) {
    ParamMap params = core::SampleUniform(space, sampler);
    const int r = static_cast<int>(rng() % 100);
    hpo::v1::TrialState state = r < 60   ? hpo::v1::COMPLETED
                                : r < 70 ? hpo::v1::PRUNED
                                : r < 80 ? hpo::v1::RUNNING
                                : r < 85 ? hpo::v1::PENDING
                                : r < 95 ? hpo::v1::FAILED
                                         : hpo::v1::LOST;
    if (rng() % 25 == 0) {  // malformed: unknown name, wrong kind, out of range
      (*params.mutable_values())["zzz"].set_float_value(1);
      for (auto& [name, value] : *params.mutable_values()) {
        if (rng() % 2)
          value.set_string_value("bogus");
        else if (value.kind_case() == ParamValue::kFloatValue)
          value.set_float_value(1e300);
      }
    }
    Trial t = MakeTrial(i, state, params, std::uniform_real_distribution<double>(-5, 5)(rng));
    if (state == hpo::v1::COMPLETED && rng() % 20 == 0) t.set_has_value(false);
    if (state == hpo::v1::PRUNED && rng() % 3 != 0) {
      for (int step = 0; step < 3; ++step) {
        hpo::v1::Measurement* m = t.add_measurements();
        m->set_step(step);
        (*m->mutable_metrics())["value"] = static_cast<double>(rng() % 10);
      }
    }
    trials.push_back(std::move(t));
  }
  return trials;
}

std::map<std::string, std::string> RandomOptions(std::mt19937_64& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const char* startup[] = {"0", "1", "5", "10"};
  const char* prior[] = {"0.5", "1", "3"};
  const char* gamma[] = {"optuna", "sqrt", "0.15", "1"};
  const char* bandwidth[] = {"gaps", "scott", "0.5"};
  return {
      {"multivariate", pick(2) ? "true" : "false"},
      {"bandwidth", bandwidth[pick(3)]},
      {"kernel_normalization", pick(2) ? "exact" : "optuna31"},
      {"constant_liar", pick(2) ? "true" : "false"},
      {"n_startup_trials", startup[pick(4)]},
      {"n_ei_candidates", pick(4) ? "24" : "1"},
      {"gamma", gamma[pick(4)]},
      {"weights", pick(2) ? "optuna" : "uniform"},
      {"consider_endpoints", pick(2) ? "true" : "false"},
      {"consider_magic_clip", pick(2) ? "true" : "false"},
      {"prior_weight", prior[pick(3)]},
  };
}

TEST(TpeOptimizerTest, ProposalsAreValidOverRandomSpacesAndHistories) {
  int proposals = 0, with_tpe = 0;
  for (int s = 0; s < 60; ++s) {
    std::mt19937_64 rng(1000 + s);
    const SearchSpace space = RandomSpace(rng);
    ASSERT_TRUE(core::ValidateSearchSpace(space).ok())
        << core::ValidateSearchSpace(space) << space.DebugString();
    const int n = static_cast<int>(rng() % 60);
    const std::vector<Trial> trials = RandomHistory(space, rng, n);
    const auto options = RandomOptions(rng);
    const hpo::v1::StudySpec study =
        Study(space, rng() % 2 ? hpo::v1::MINIMIZE : hpo::v1::MAXIMIZE);
    const StudyView view{&study, &trials};
    auto a = MustCreate(TpeSpec(s, options), space);
    auto b = MustCreate(TpeSpec(s, options), space);
    auto pa = a->Suggest(view, {n, n + 1, n + 2});
    ASSERT_TRUE(pa.ok()) << pa.status();
    ASSERT_EQ(pa->size(), 3u);
    auto pb = b->Suggest(view, {n, n + 1, n + 2});
    ASSERT_TRUE(pb.ok()) << pb.status();
    for (int k = 0; k < 3; ++k) {
      const absl::Status valid = core::ValidateParams(space, (*pa)[k]);
      EXPECT_TRUE(valid.ok()) << "space " << s << ": " << valid << "\n"
                              << space.DebugString() << core::ParamsToJson((*pa)[k]);
      // Same seed, options and history: the very same proposal.
      EXPECT_EQ(core::ParamsToJson((*pa)[k]), core::ParamsToJson((*pb)[k])) << "space " << s;
      ++proposals;
    }
    with_tpe += n >= std::stoi(options.at("n_startup_trials"));
    // Asking again on the same instance gives the same answer (no hidden state).
    auto again = a->Suggest(view, {n, n + 1, n + 2});
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(core::ParamsToJson((*again)[2]), core::ParamsToJson((*pa)[2]));
  }
  EXPECT_EQ(proposals, 180);
  EXPECT_GT(with_tpe, 30);  // most cases exercise the model, not the startup phase
}

// ------------------------------------------------------------------ determinism, startup

class BraninHistory : public ::testing::Test {
 protected:
  void SetUp() override {
    auto task = tasks::MakeTask("branin");
    ASSERT_TRUE(task.ok()) << task.status();
    task_.reset(static_cast<tasks::SyntheticTask*>(task->release()));
    space_ = task_->space();
    study_ = Study(space_, hpo::v1::MINIMIZE);
  }
  // n trials drawn uniformly (seed 99), completed with their Branin values.
  std::vector<Trial> History(int n) {
    std::vector<Trial> trials;
    core::Rng rng(99);
    for (int i = 0; i < n; ++i) {
      ParamMap p = core::SampleUniform(space_, rng);
      trials.push_back(MakeTrial(i, hpo::v1::COMPLETED, p, task_->Value(p)));
    }
    return trials;
  }
  std::unique_ptr<tasks::SyntheticTask> task_;
  SearchSpace space_;
  hpo::v1::StudySpec study_;
};

TEST_F(BraninHistory, SameSeedAndHistoryGiveTheSameProposalOtherSeedsDiffer) {
  const std::vector<Trial> trials = History(30);
  const StudyView view{&study_, &trials};
  for (const char* mv : {"true", "false"}) {
    auto a = MustCreate(TpeSpec(5, {{"multivariate", mv}}), space_);
    auto b = MustCreate(TpeSpec(5, {{"multivariate", mv}}), space_);
    auto c = MustCreate(TpeSpec(6, {{"multivariate", mv}}), space_);
    const ParamMap pa = SuggestOne(*a, view, 30);
    EXPECT_EQ(core::ParamsToJson(pa), core::ParamsToJson(SuggestOne(*b, view, 30)));
    EXPECT_NE(core::ParamsToJson(pa), core::ParamsToJson(SuggestOne(*c, view, 30)));
    // Another trial number is another stream.
    EXPECT_NE(core::ParamsToJson(pa), core::ParamsToJson(SuggestOne(*a, view, 31)));
    // The order trials are asked for in does not matter without constant_liar.
    auto d = MustCreate(TpeSpec(5, {{"multivariate", mv}, {"constant_liar", "false"}}), space_);
    auto both = d->Suggest(view, {31, 30});
    ASSERT_TRUE(both.ok());
    EXPECT_EQ(core::ParamsToJson((*both)[1]), core::ParamsToJson(pa));
  }
}

TEST_F(BraninHistory, StartupPhaseIsExactlyRandomSearch) {
  const std::vector<Trial> trials = History(9);
  const StudyView view{&study_, &trials};
  hpo::v1::OptimizerSpec random_spec;
  random_spec.set_name("random");
  random_spec.set_seed(17);
  auto random = RandomOptimizer::Create(random_spec, space_);
  ASSERT_TRUE(random.ok());
  auto tpe = MustCreate(TpeSpec(17), space_);
  auto pr = (*random)->Suggest(view, {9, 10, 11});
  auto pt = tpe->Suggest(view, {9, 10, 11});
  ASSERT_TRUE(pr.ok() && pt.ok());
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(core::ParamsToJson((*pr)[k]), core::ParamsToJson((*pt)[k]));
  }
  // At 10 finished trials (the default n_startup_trials) the model takes over.
  const std::vector<Trial> ten = History(10);
  const StudyView view10{&study_, &ten};
  EXPECT_NE(core::ParamsToJson(SuggestOne(*tpe, view10, 10)),
            core::ParamsToJson((*(*random)->Suggest(view10, {10}))[0]));
  // Failed and running trials do not count towards the startup phase.
  std::vector<Trial> mixed = History(9);
  mixed.push_back(MakeTrial(9, hpo::v1::FAILED, mixed[0].params(), 0));
  mixed.push_back(MakeTrial(10, hpo::v1::RUNNING, mixed[1].params(), 0));
  const StudyView view_mixed{&study_, &mixed};
  EXPECT_EQ(core::ParamsToJson(SuggestOne(*tpe, view_mixed, 11)),
            core::ParamsToJson((*(*random)->Suggest(view_mixed, {11}))[0]));
}

// ------------------------------------------------------------------ constant liar

TEST_F(BraninHistory, InCallProposalsActLikeRunningTrials) {
  std::vector<Trial> trials = History(20);
  auto opt = MustCreate(TpeSpec(3), space_);
  StudyView view{&study_, &trials};
  auto batch = opt->Suggest(view, {20, 21, 22});
  ASSERT_TRUE(batch.ok());
  // Asking one at a time, with the earlier proposals running, gives the same three.
  EXPECT_EQ(core::ParamsToJson(SuggestOne(*opt, view, 20)), core::ParamsToJson((*batch)[0]));
  trials.push_back(MakeTrial(20, hpo::v1::RUNNING, (*batch)[0], 0));
  EXPECT_EQ(core::ParamsToJson(SuggestOne(*opt, view, 21)), core::ParamsToJson((*batch)[1]));
  trials.push_back(MakeTrial(21, hpo::v1::PENDING, (*batch)[1], 0));
  EXPECT_EQ(core::ParamsToJson(SuggestOne(*opt, view, 22)), core::ParamsToJson((*batch)[2]));
}

TEST(TpeOptimizerTest, ConstantLiarSpreadsParallelProposals) {
  // f(x) = (x - 0.3)^2 on [0, 1]; 30 trials done, then 40 running at the best point so far.
  const SearchSpace space = OneFloat(0, 1);
  const hpo::v1::StudySpec study = Study(space, hpo::v1::MINIMIZE);
  std::vector<Trial> done;
  for (int i = 0; i < 30; ++i) {
    const double x = (i + 0.5) / 30;
    done.push_back(MakeTrial(i, hpo::v1::COMPLETED, X(x), (x - 0.3) * (x - 0.3)));
  }
  std::vector<Trial> busy = done;
  for (int i = 30; i < 70; ++i) busy.push_back(MakeTrial(i, hpo::v1::RUNNING, X(0.3), 0));
  const StudyView done_view{&study, &done};
  const StudyView busy_view{&study, &busy};
  auto liar = MustCreate(TpeSpec(1), space);
  auto honest = MustCreate(TpeSpec(1, {{"constant_liar", "false"}}), space);
  double liar_dist = 0, honest_dist = 0;
  for (int k = 70; k < 90; ++k) {
    liar_dist += std::fabs(Get(SuggestOne(*liar, busy_view, k), "x") - 0.3);
    const std::string h = core::ParamsToJson(SuggestOne(*honest, busy_view, k));
    // Without constant_liar running trials are ignored entirely.
    EXPECT_EQ(h, core::ParamsToJson(SuggestOne(*honest, done_view, k)));
    honest_dist += std::fabs(Get(SuggestOne(*honest, busy_view, k), "x") - 0.3);
  }
  EXPECT_GT(liar_dist, 1.5 * honest_dist) << liar_dist << " vs " << honest_dist;
}

// ------------------------------------------------------------------ ranking

TEST(TpeOptimizerTest, DirectionDecidesWhichTrialsAreGood) {
  const SearchSpace space = OneFloat(0, 1);
  std::vector<Trial> trials;
  for (int i = 0; i < 40; ++i) {
    const double x = (i * 0.618034) - std::floor(i * 0.618034);
    trials.push_back(MakeTrial(i, hpo::v1::COMPLETED, X(x), x));  // f(x) = x
  }
  for (hpo::v1::Direction dir : {hpo::v1::MINIMIZE, hpo::v1::MAXIMIZE}) {
    const hpo::v1::StudySpec study = Study(space, dir);
    const StudyView view{&study, &trials};
    auto opt = MustCreate(TpeSpec(2), space);
    double mean = 0;
    for (int k = 40; k < 60; ++k) mean += Get(SuggestOne(*opt, view, k), "x") / 20;
    if (dir == hpo::v1::MINIMIZE) {
      EXPECT_LT(mean, 0.25);
    } else {
      EXPECT_GT(mean, 0.75);
    }
  }
}

TEST(TpeOptimizerTest, PrunedTrialsRankBehindCompletedOnes) {
  // Completed trials are good near x = 0; pruned ones near x = 1 reported excellent
  // intermediate values, but a pruned trial never outranks a completed one.
  const SearchSpace space = OneFloat(0, 1);
  const hpo::v1::StudySpec study = Study(space, hpo::v1::MINIMIZE);
  std::vector<Trial> trials, as_completed;
  for (int i = 0; i < 20; ++i) {
    const double x = 0.5 * (i + 0.5) / 20;
    trials.push_back(MakeTrial(i, hpo::v1::COMPLETED, X(x), x));
  }
  as_completed = trials;
  for (int i = 20; i < 40; ++i) {
    const double x = 0.8 + 0.2 * (i - 20) / 20;
    Trial t = MakeTrial(i, hpo::v1::PRUNED, X(x), 0);
    hpo::v1::Measurement* m = t.add_measurements();
    m->set_step(3);
    (*m->mutable_metrics())["value"] = -100;
    trials.push_back(t);
    as_completed.push_back(MakeTrial(i, hpo::v1::COMPLETED, X(x), -100));
  }
  auto opt = MustCreate(TpeSpec(4), space);
  const StudyView view{&study, &trials};
  const StudyView view_completed{&study, &as_completed};
  double mean = 0, mean_completed = 0;
  for (int k = 40; k < 60; ++k) {
    mean += Get(SuggestOne(*opt, view, k), "x") / 20;
    mean_completed += Get(SuggestOne(*opt, view_completed, k), "x") / 20;
  }
  EXPECT_LT(mean, 0.3);
  EXPECT_GT(mean_completed, mean + 0.3);
}

// `completed` completed trials near x = 0 (values x), then pruned ones near x = 1 with a step-3
// report of -100 + slope * i and a forecast of the final value.
std::vector<Trial> CompletedNearZeroPrunedNearOne(int completed, double slope, double forecast) {
  std::vector<Trial> trials;
  for (int i = 0; i < completed; ++i) {
    const double x = 0.5 * (i + 0.5) / completed;
    trials.push_back(MakeTrial(i, hpo::v1::COMPLETED, X(x), x));
  }
  for (int i = completed; i < 40; ++i) {
    const double x = 0.6 + 0.4 * (i - completed) / (40 - completed);
    Trial t = MakeTrial(i, hpo::v1::PRUNED, X(x), 0);
    hpo::v1::Measurement* m = t.add_measurements();
    m->set_step(3);
    (*m->mutable_metrics())["value"] = -100 + slope * i;
    t.mutable_prediction()->set_mean(forecast);
    trials.push_back(t);
  }
  return trials;
}

TEST(TpeOptimizerTest, PrunedOptionRanksByForecastOrAllAlike) {
  const SearchSpace space = OneFloat(0, 1);
  const hpo::v1::StudySpec study = Study(space, hpo::v1::MINIMIZE);
  auto mean_x = [&](const std::map<std::string, std::string>& options,
                    const std::vector<Trial>& trials) {
    auto opt = MustCreate(TpeSpec(4, options), space);
    const StudyView view{&study, &trials};
    double mean = 0;
    for (int k = 40; k < 60; ++k) mean += Get(SuggestOne(*opt, view, k), "x") / 20;
    return mean;
  };
  // The forecasts say the pruned trials near x = 1 would have ended best (-1 < every completed
  // value): `predicted` ranks them among the completed ones, first; `last` ignores forecasts.
  const std::vector<Trial> trials = CompletedNearZeroPrunedNearOne(20, 1, -1);
  EXPECT_GT(mean_x({{"pruned", "predicted"}}, trials), 0.6);
  EXPECT_LT(mean_x({{"pruned", "last"}}, trials), 0.3);
  EXPECT_EQ(mean_x({}, trials), mean_x({{"pruned", "predicted"}}, trials));  // the default
  // With 2 completed trials the good group reaches into the pruned ones: under `last` which of
  // them join it (the low-x or the high-x end, as the slope says) moves the proposals; under
  // `worst` their values do not matter.
  const std::vector<Trial> up = CompletedNearZeroPrunedNearOne(2, 1, -1);
  const std::vector<Trial> down = CompletedNearZeroPrunedNearOne(2, -1, -1);
  EXPECT_GT(std::abs(mean_x({{"pruned", "last"}}, down) - mean_x({{"pruned", "last"}}, up)), 0.2);
  EXPECT_EQ(mean_x({{"pruned", "worst"}}, up), mean_x({{"pruned", "worst"}}, down));
  EXPECT_EQ(TpeOptimizer::ParseOptions(TpeSpec(1, {{"pruned", "best"}})).status().message(),
            "optimizer.options.pruned: 'best' is not one of last, worst, predicted");
}

// A long history takes the estimators' pruned log-density path (64 or more components): the
// proposals still concentrate on the good region and repeat for the same seed and history.
TEST(TpeOptimizerTest, LongHistoryProposalsFindTheGoodRegion) {
  const SearchSpace space = OneFloat(0, 1);
  const hpo::v1::StudySpec study = Study(space, hpo::v1::MINIMIZE);
  std::vector<Trial> trials;
  core::Rng rng(3);
  for (int i = 0; i < 300; ++i) {
    const double x = Uniform01ForTest(rng);
    trials.push_back(MakeTrial(i, hpo::v1::COMPLETED, X(x), (x - 0.3) * (x - 0.3)));
  }
  const StudyView view{&study, &trials};
  for (const char* mv : {"false", "true"}) {
    auto a = MustCreate(TpeSpec(2, {{"multivariate", mv}}), space);
    auto b = MustCreate(TpeSpec(2, {{"multivariate", mv}}), space);
    double mean_error = 0;
    for (int k = 300; k < 320; ++k) {
      const ParamMap p = SuggestOne(*a, view, k);
      EXPECT_EQ(core::ParamsToJson(p), core::ParamsToJson(SuggestOne(*b, view, k)));
      mean_error += std::fabs(Get(p, "x") - 0.3) / 20;
    }
    // Uniform proposals would be 0.29 away on average.
    EXPECT_LT(mean_error, 0.05) << "multivariate=" << mv;
  }
}

TEST(TpeOptimizerTest, BandwidthAndGammaOptions) {
  auto parse = [](const std::map<std::string, std::string>& options) {
    auto o = TpeOptimizer::ParseOptions(TpeSpec(1, options));
    EXPECT_TRUE(o.ok()) << o.status();
    return *o;
  };
  EXPECT_EQ(parse({{"bandwidth", "0.3"}}).gap_weight, 0.3);
  EXPECT_FALSE(parse({{"bandwidth", "0.3"}}).scott_bandwidth);
  EXPECT_EQ(parse({{"bandwidth", "gaps"}}).gap_weight, 1.0);
  EXPECT_TRUE(parse({{"bandwidth", "scott"}}).scott_bandwidth);
  EXPECT_EQ(parse({{"bandwidth", "scott"}}).gap_weight, 1.0);
  EXPECT_EQ(parse({{"gamma", "0.25"}}).gamma_fraction, 0.25);
  EXPECT_FALSE(parse({{"gamma", "0.25"}}).sqrt_gamma);
  EXPECT_EQ(parse({{"gamma", "optuna"}}).gamma_fraction, 0.1);
  EXPECT_TRUE(parse({{"gamma", "sqrt"}}).sqrt_gamma);
}

TEST(TpeOptimizerTest, ConditionalParametersFollowTheirParent) {
  auto spec = core::ParseStudyYaml(R"(
name: cond
objective: {metric: value, direction: minimize}
optimizer: {name: tpe, seed: 8, options: {n_startup_trials: 5}}
budget: {max_trials: 10}
space:
  opt: {type: categorical, choices: [sgd, adam]}
  momentum: {type: float, low: 0, high: 0.99, condition: {parent: opt, values: [sgd]}}
  beta: {type: float, low: 0.5, high: 0.999, condition: {parent: opt, values: [adam]}}
  lr: {type: float, low: 1.0e-5, high: 1.0, log: true}
task: {builtin: mixed}
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto opt = TpeOptimizer::Create(spec->optimizer(), spec->space());
  ASSERT_TRUE(opt.ok()) << opt.status();
  // adam with beta near 0.9 is best; sgd is bad whatever its momentum.
  std::vector<Trial> trials;
  core::Rng rng(5);
  for (int i = 0; i < 40; ++i) {
    ParamMap p = core::SampleUniform(spec->space(), rng);
    const bool adam = p.values().at("opt").string_value() == "adam";
    const double v = adam ? std::fabs(Get(p, "beta") - 0.9) : 1 + Get(p, "momentum");
    trials.push_back(MakeTrial(i, hpo::v1::COMPLETED, p, v));
  }
  const StudyView view{&*spec, &trials};
  std::vector<int> numbers;
  for (int k = 40; k < 70; ++k) numbers.push_back(k);
  auto proposals = (*opt)->Suggest(view, numbers);
  ASSERT_TRUE(proposals.ok());
  int adam = 0;
  double beta_error = 0;
  for (const ParamMap& p : *proposals) {
    ASSERT_TRUE(core::ValidateParams(spec->space(), p).ok()) << core::ParamsToJson(p);
    if (p.values().at("opt").string_value() == "adam") {
      ++adam;
      beta_error += std::fabs(Get(p, "beta") - 0.9);
    }
  }
  // Uniform proposals would give about 15 adams and a mean beta error near 0.17.
  EXPECT_GE(adam, 21);
  EXPECT_LT(beta_error / adam, 0.08);
}

// ------------------------------------------------------------------ optimization quality

// Best Branin value after 100 sequential trials.
double BestAfter(Optimizer& opt, const tasks::SyntheticTask& task, const hpo::v1::StudySpec& study,
                 int n) {
  std::vector<Trial> trials;
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < n; ++i) {
    const StudyView view{&study, &trials};
    const ParamMap p = SuggestOne(opt, view, i);
    const double v = task.Value(p);
    best = std::min(best, v);
    trials.push_back(MakeTrial(i, hpo::v1::COMPLETED, p, v));
  }
  return best;
}

TEST_F(BraninHistory, TpeBeatsRandomSearchOnBranin) {
  // The default (multivariate) and the univariate sampler, each against random search.
  double tpe_sum = 0, univariate_sum = 0, random_sum = 0;
  int tpe_wins = 0, univariate_wins = 0;
  for (int seed = 0; seed < 10; ++seed) {
    auto tpe = MustCreate(TpeSpec(seed), space_);
    auto univariate = MustCreate(TpeSpec(seed, {{"multivariate", "false"}}), space_);
    auto random = MustCreate(TpeSpec(seed, {{"n_startup_trials", "1000"}}), space_);
    const double t = BestAfter(*tpe, *task_, study_, 100);
    const double u = BestAfter(*univariate, *task_, study_, 100);
    const double r = BestAfter(*random, *task_, study_, 100);
    tpe_sum += t;
    univariate_sum += u;
    random_sum += r;
    tpe_wins += t < r;
    univariate_wins += u < r;
  }
  std::printf(
      "Branin, best after 100 trials, mean of 10 seeds (optimum 0.397887): "
      "tpe %.5f, tpe univariate %.5f, random %.5f; better than random on %d and %d of 10\n",
      tpe_sum / 10, univariate_sum / 10, random_sum / 10, tpe_wins, univariate_wins);
  EXPECT_LT(tpe_sum, random_sum);
  EXPECT_LT(univariate_sum, random_sum);
  EXPECT_GE(tpe_wins, 7);
  EXPECT_GE(univariate_wins, 7);
}

// ------------------------------------------------------------------ options

TEST(TpeOptimizerTest, OptionsFromAStudyFile) {
  auto spec = core::ParseStudyYaml(R"(
name: opts
objective: {metric: value, direction: minimize}
optimizer:
  name: tpe
  seed: 3
  options: {n_startup_trials: 4, n_ei_candidates: 12, gamma: sqrt, prior_weight: 2.5,
            multivariate: true, constant_liar: False, consider_magic_clip: false,
            consider_endpoints: true, weights: uniform, kernel_normalization: optuna31,
            bandwidth: scott}
budget: {max_trials: 10}
space:
  x: {type: float, low: 0, high: 1}
task: {builtin: branin}
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto o = TpeOptimizer::ParseOptions(spec->optimizer());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->n_startup_trials, 4);
  EXPECT_EQ(o->n_ei_candidates, 12);
  EXPECT_TRUE(o->sqrt_gamma);
  EXPECT_EQ(o->prior_weight, 2.5);
  EXPECT_TRUE(o->multivariate);
  EXPECT_TRUE(o->scott_bandwidth);
  EXPECT_TRUE(o->optuna31_kernel);
  EXPECT_FALSE(o->constant_liar);
  EXPECT_FALSE(o->consider_magic_clip);
  EXPECT_TRUE(o->consider_endpoints);
  EXPECT_FALSE(o->ramp_weights);
  auto defaults = TpeOptimizer::ParseOptions(TpeSpec(1));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->n_startup_trials, 10);
  EXPECT_EQ(defaults->n_ei_candidates, 24);
  EXPECT_FALSE(defaults->sqrt_gamma);
  EXPECT_EQ(defaults->gamma_fraction, 0.15);
  EXPECT_EQ(defaults->prior_weight, 1.0);
  EXPECT_TRUE(defaults->multivariate);
  EXPECT_FALSE(defaults->scott_bandwidth);
  EXPECT_EQ(defaults->gap_weight, 0.5);
  EXPECT_FALSE(defaults->optuna31_kernel);
  EXPECT_TRUE(defaults->constant_liar);
  EXPECT_TRUE(defaults->consider_magic_clip);
  EXPECT_FALSE(defaults->consider_endpoints);
  EXPECT_TRUE(defaults->ramp_weights);
}

// The good trials crowd the lower bound of x (value = x): the candidates drawn near it compete
// with copies moved onto it, and a copy on the bound wins. Without the copies no proposal lands
// exactly on the bound (the kernels are continuous).
TEST(TpeOptimizerTest, BoundCandidatesLetProposalsLandOnABound) {
  const SearchSpace space = OneFloat(0, 1);
  const hpo::v1::StudySpec study = Study(space, hpo::v1::MINIMIZE);
  std::vector<Trial> trials;
  for (int i = 0; i < 40; ++i) {
    const double x = 0.01 + 0.98 * ((i * 37) % 40) / 39.0;  // a spread of distinct points
    trials.push_back(MakeTrial(i, hpo::v1::COMPLETED, X(x), x));
  }
  const StudyView view{&study, &trials};
  int on_bound_default = 0, on_bound_off = 0;
  for (int seed = 1; seed <= 10; ++seed) {
    auto with = MustCreate(TpeSpec(seed), space);
    auto without = MustCreate(TpeSpec(seed, {{"bound_candidates", "0"}}), space);
    on_bound_default += Get(SuggestOne(*with, view, 40), "x") == 0.0;
    on_bound_off += Get(SuggestOne(*without, view, 40), "x") == 0.0;
  }
  EXPECT_GE(on_bound_default, 8);
  EXPECT_EQ(on_bound_off, 0);
}

TEST(TpeOptimizerTest, BadOptionsAreRejectedWithTheirKey) {
  const SearchSpace space = OneFloat(0, 1);
  const std::vector<std::pair<std::pair<std::string, std::string>, std::string>> cases = {
      {{"n_startup", "3"},
       "optimizer.options.n_startup: unknown option (known: bandwidth, bound_candidates, "
       "consider_endpoints, "
       "consider_magic_clip, constant_liar, gamma, kernel_normalization, multivariate, "
       "n_ei_candidates, n_startup_trials, prior_weight, pruned, weights)"},
      {{"bandwidth", "silverman"},
       "optimizer.options.bandwidth: 'silverman' is not scott, gaps or a weight in [0, 1]"},
      {{"bandwidth", "1.5"},
       "optimizer.options.bandwidth: '1.5' is not scott, gaps or a weight in [0, 1]"},
      {{"kernel_normalization", "scipy"},
       "optimizer.options.kernel_normalization: 'scipy' is not one of exact, optuna31"},
      {{"n_startup_trials", "-1"},
       "optimizer.options.n_startup_trials: '-1' is not an integer >= 0"},
      {{"n_startup_trials", "ten"},
       "optimizer.options.n_startup_trials: 'ten' is not an integer >= 0"},
      {{"n_ei_candidates", "0"}, "optimizer.options.n_ei_candidates: '0' is not an integer >= 1"},
      {{"gamma", "1.5"},
       "optimizer.options.gamma: '1.5' is not optuna, sqrt or a fraction in (0, 1]"},
      {{"gamma", "lots"},
       "optimizer.options.gamma: 'lots' is not optuna, sqrt or a fraction in (0, 1]"},
      {{"weights", "flat"}, "optimizer.options.weights: 'flat' is not one of optuna, uniform"},
      {{"prior_weight", "0"}, "optimizer.options.prior_weight: '0' is not a finite number > 0"},
      {{"bound_candidates", "0.5"},
       "optimizer.options.bound_candidates: '0.5' is not a fraction in [0, 0.5)"},
      {{"bound_candidates", "-0.1"},
       "optimizer.options.bound_candidates: '-0.1' is not a fraction in [0, 0.5)"},
      {{"prior_weight", "nan"}, "optimizer.options.prior_weight: 'nan' is not a finite number > 0"},
      {{"multivariate", "yes please"},
       "optimizer.options.multivariate: 'yes please' is not true or false"},
      {{"constant_liar", "1"}, "optimizer.options.constant_liar: '1' is not true or false"},
      {{"consider_magic_clip", ""},
       "optimizer.options.consider_magic_clip: '' is not true or false"},
      {{"consider_endpoints", "no"},
       "optimizer.options.consider_endpoints: 'no' is not true or false"},
  };
  for (const auto& [kv, message] : cases) {
    auto opt = TpeOptimizer::Create(TpeSpec(1, {kv}), space);
    EXPECT_EQ(opt.status().code(), absl::StatusCode::kInvalidArgument) << kv.first;
    EXPECT_EQ(opt.status().message(), message);
  }
  SearchSpace bad = OneFloat(1, 0);
  auto opt = TpeOptimizer::Create(TpeSpec(1), bad);
  EXPECT_EQ(opt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(opt.status().message(), "space.x: low (1) must be < high (0)");
}

}  // namespace
}  // namespace hpo::server
