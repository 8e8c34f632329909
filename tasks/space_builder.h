// Building a built-in task's search space in code: the synthetic tasks, LCBench and the
// Fashion-MNIST trainers share these.
#ifndef HPO_TASKS_SPACE_BUILDER_H_
#define HPO_TASKS_SPACE_BUILDER_H_

#include <cstdint>
#include <string>

#include "hpo/v1/hpo.pb.h"

namespace hpo::tasks {

// Appends a float parameter in [low, high] (log scale when `log`); returns it, for a condition.
inline hpo::v1::ParamSpec* AddFloat(hpo::v1::SearchSpace& space, const std::string& name,
                                    double low, double high, bool log = false) {
  hpo::v1::ParamSpec* p = space.add_params();
  p->set_name(name);
  p->mutable_float_domain()->set_low(low);
  p->mutable_float_domain()->set_high(high);
  p->mutable_float_domain()->set_log(log);
  return p;
}

// Appends an int parameter in [low, high] (log scale when `log`); returns it.
inline hpo::v1::ParamSpec* AddInt(hpo::v1::SearchSpace& space, const std::string& name, int64_t low,
                                  int64_t high, bool log = false) {
  hpo::v1::ParamSpec* p = space.add_params();
  p->set_name(name);
  p->mutable_int_domain()->set_low(low);
  p->mutable_int_domain()->set_high(high);
  p->mutable_int_domain()->set_log(log);
  return p;
}

}  // namespace hpo::tasks

#endif  // HPO_TASKS_SPACE_BUILDER_H_
