// Test helpers shared by the optimizer tests: not for production code.
#ifndef HPO_SERVER_OPTIMIZERS_OPTIMIZER_TESTING_H_
#define HPO_SERVER_OPTIMIZERS_OPTIMIZER_TESTING_H_

#include "hpo/v1/hpo.pb.h"

namespace hpo::server::optimizer_testing {

// A history entry: trial `number` (id number + 1) in `state`; COMPLETED trials carry `value`.
inline hpo::v1::Trial MakeTrial(int number, hpo::v1::TrialState state,
                                const hpo::v1::ParamMap& params, double value = 0) {
  hpo::v1::Trial t;
  t.set_id(number + 1);
  t.set_number(number);
  t.set_state(state);
  *t.mutable_params() = params;
  if (state == hpo::v1::COMPLETED) {
    t.set_has_value(true);
    t.set_value(value);
  }
  return t;
}

}  // namespace hpo::server::optimizer_testing

#endif  // HPO_SERVER_OPTIMIZERS_OPTIMIZER_TESTING_H_
