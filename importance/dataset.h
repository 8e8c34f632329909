// The numbers both importance methods work on: one row per usable trial, each parameter encoded
// into [0, 1] by core::Encode, and the objective as a loss (lower is better).
#ifndef HPO_IMPORTANCE_DATASET_H_
#define HPO_IMPORTANCE_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::importance {

// A plain value; thread-compatible.
struct Dataset {
  int n_rows = 0;
  int n_cols = 0;
  std::vector<std::string> names;  // n_cols, in space order
  // Per column: the number of equally wide cells of [0, 1] its values sit in the middle of
  // (a categorical's choices, a linear int's grid values), or 0 when it is continuous or its
  // encoding is not one value per equal cell (floats, log ints).
  std::vector<int> levels;
  std::vector<bool> categorical;  // n_cols: the column is a categorical's choice
  std::vector<double> x;          // n_rows x n_cols, row-major, each in [0, 1]
  std::vector<double> loss;       // n_rows: the value, negated when the objective is maximized

  double at(int row, int col) const { return x[static_cast<size_t>(row) * n_cols + col]; }
};

// Rows from the COMPLETED trials with a finite value, in the order given. An inactive
// conditional parameter gets core::Encode of core::SampleParam drawn with an Rng seeded by
// `seed`. Errors as ComputeImportance (importance.h) lists them.
absl::StatusOr<Dataset> BuildDataset(const hpo::v1::StudySpec& spec,
                                     const std::vector<hpo::v1::Trial>& trials, int min_trials,
                                     uint64_t seed);

}  // namespace hpo::importance

#endif  // HPO_IMPORTANCE_DATASET_H_
