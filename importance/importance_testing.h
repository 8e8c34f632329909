// Datasets for the importance tests.
#ifndef HPO_IMPORTANCE_IMPORTANCE_TESTING_H_
#define HPO_IMPORTANCE_IMPORTANCE_TESTING_H_

#include <random>
#include <string>

#include "core/search_space.h"
#include "importance/dataset.h"

namespace hpo::importance::testing {

// n_rows rows of n_cols continuous columns drawn uniformly from [0, 1] with `seed`; loss f(row).
template <typename F>
Dataset RandomDataset(int n_rows, int n_cols, uint64_t seed, F f) {
  Dataset data;
  data.n_rows = n_rows;
  data.n_cols = n_cols;
  data.levels.assign(n_cols, 0);
  data.categorical.assign(n_cols, false);
  for (int j = 0; j < n_cols; ++j) data.names.push_back("x" + std::to_string(j));
  core::Rng rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  for (int r = 0; r < n_rows; ++r) {
    for (int j = 0; j < n_cols; ++j) data.x.push_back(u(rng));
    data.loss.push_back(f(&data.x[static_cast<size_t>(r) * n_cols]));
  }
  return data;
}

}  // namespace hpo::importance::testing

#endif  // HPO_IMPORTANCE_IMPORTANCE_TESTING_H_
