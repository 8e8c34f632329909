// The optimizer seam: proposes parameters for new trials from the study's history.
#ifndef HPO_SERVER_OPTIMIZERS_OPTIMIZER_H_
#define HPO_SERVER_OPTIMIZERS_OPTIMIZER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hpo/v1/hpo.pb.h"
#include "server/study_view.h"

namespace hpo::server {

// Suggest is a pure function of (options, seed, history, numbers): the same inputs give the same
// proposals. Implementations are thread-compatible: the coordinator calls one instance from one
// thread at a time.
class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Proposes parameters for the trials numbered `numbers` (one proposal each, in order). The
  // history in `view` includes running and pending trials, so parallel proposals can differ.
  virtual absl::StatusOr<std::vector<hpo::v1::ParamMap>> Suggest(
      const StudyView& view, const std::vector<int>& numbers) = 0;

  // True when Suggest takes microseconds whatever the history (random search): the coordinator
  // then calls it on the RPC's own thread. Otherwise it runs on the coordinator's suggestion
  // threads, at a lower CPU priority than the threads serving RPCs.
  virtual bool cheap() const { return false; }

  // How the optimizer decides, in one line, for `hpo study show` ("" when there is nothing to
  // say beyond its name): e.g. auto's rule and what it picks for the next trial. A function of
  // the options and the view; reads nothing that Suggest writes.
  virtual std::string Describe(const StudyView& view) const {
    (void)view;
    return "";
  }
};

using OptimizerFactory = std::function<absl::StatusOr<std::unique_ptr<Optimizer>>(
    const hpo::v1::OptimizerSpec& spec, const hpo::v1::SearchSpace& space)>;

// Builds the optimizer a study names. INVALID_ARGUMENT "optimizer.name: unknown optimizer 'x'
// (known: random)" for a name not in the registry, or the factory's error for bad options.
absl::StatusOr<std::unique_ptr<Optimizer>> MakeOptimizer(const hpo::v1::OptimizerSpec& spec,
                                                         const hpo::v1::SearchSpace& space);

// Names in the registry, sorted.
std::vector<std::string> OptimizerNames();
// The implementation revision of a registered optimizer (0 for an unknown name): it changes
// whenever the optimizer's proposals for a given (options, seed, history) change.
int OptimizerRevision(const std::string& name);
// Every registered optimizer with its revision, sorted by name (GetServerInfo's answer).
hpo::v1::ServerInfo OptimizerServerInfo();

}  // namespace hpo::server

#endif  // HPO_SERVER_OPTIMIZERS_OPTIMIZER_H_
