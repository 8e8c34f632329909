// Maps assignments of a search space to GP feature vectors and back.
#ifndef HPO_SERVER_OPTIMIZERS_GP_SPACE_ENCODER_H_
#define HPO_SERVER_OPTIMIZERS_GP_SPACE_ENCODER_H_

#include <vector>

#include "Eigen/Dense"
#include "hpo/v1/hpo.pb.h"
#include "server/optimizers/gp/gaussian_process.h"

namespace hpo::server::gp {

// A point is first a "raw" vector with one number in [0,1] per parameter (core::Encode's
// position; for a categorical (index + 0.5) / n; 0.5 for an inactive parameter), and from it a
// feature vector for the kernel, one lengthscale group per parameter:
//   - float and int parameters: one column holding the raw value (log scale and the int grid
//     are handled by core::Encode/Decode); a conditional one gets a second column, an
//     "inactive" flag: active (u, 0), inactive (0.5, 1). So an inactive value is at squared
//     distance 0 from another inactive one and between 1 and 1.25 from every active one.
//   - categoricals: a one-hot block scaled by 1/sqrt2 (different choices at squared distance
//     exactly 1, i.e. Hamming distance), plus one "inactive" category when conditional.
// Immutable after construction: thread-safe.
class SpaceEncoder {
 public:
  enum class Kind { kContinuous, kDiscrete, kCategorical };  // discrete: int or stepped float

  // `space` must have passed core::ValidateSearchSpace.
  explicit SpaceEncoder(const hpo::v1::SearchSpace& space);

  int num_params() const { return static_cast<int>(params_.size()); }
  int num_features() const { return num_features_; }
  const FeatureGroups& groups() const { return groups_; }
  Kind kind(int i) const { return params_[i].kind; }
  // The feature column that holds parameter i's raw value (numeric parameters only).
  int value_column(int i) const { return params_[i].first_column; }

  // Raw vector of an assignment that passed core::ValidateParams.
  std::vector<double> Raw(const hpo::v1::ParamMap& params) const;

  // Snaps discrete parameters of `raw` onto their grid (in place), works out which parameters
  // are active (conditions are checked against the snapped parent values) and writes the
  // features into `features` (size num_features()).
  void Canonicalize(std::vector<double>* raw, std::vector<char>* active,
                    Eigen::Ref<Eigen::VectorXd> features) const;

  // The assignment of a canonical raw vector: active parameters only, via core::Decode.
  hpo::v1::ParamMap Decode(const std::vector<double>& raw, const std::vector<char>& active) const;

  // Other raw values to try for discrete or categorical parameter i during local search: every
  // other choice of a categorical; the grid values 1 and 2 steps away and the snapped values
  // 0.05 and 0.2 away in [0,1] for an int or stepped float. Excludes the current value.
  std::vector<double> Neighbors(int i, double u) const;

 private:
  struct Param {
    hpo::v1::ParamSpec spec;
    Kind kind = Kind::kContinuous;
    int first_column = 0;
    int num_choices = 0;                // categoricals
    int parent = -1;                    // index of the condition's parent, -1 when unconditional
    std::vector<double> parent_values;  // snapped raw values of the parent that activate it
  };

  double Snap(const Param& p, double u) const;

  std::vector<Param> params_;
  FeatureGroups groups_;
  int num_features_ = 0;
};

}  // namespace hpo::server::gp

#endif  // HPO_SERVER_OPTIMIZERS_GP_SPACE_ENCODER_H_
