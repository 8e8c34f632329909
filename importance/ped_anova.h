// PED-ANOVA importance (Watanabe, Bansal & Hutter 2023) on TPE's Parzen estimator.
#ifndef HPO_IMPORTANCE_PED_ANOVA_H_
#define HPO_IMPORTANCE_PED_ANOVA_H_

#include <vector>

#include "importance/dataset.h"
#include "importance/importance.h"

namespace hpo::importance {

// The rows of the best max(min_top, ceil(quantile n_rows)) losses, and every row whose loss
// ties the last of them; in row order.
std::vector<int> TopRows(const Dataset& data, const PedAnovaOptions& options);

// Per column: the column's values binned on a grid of [0, 1] (one cell per value of a
// categorical or a linear int with at most n_steps values, else n_steps cells), a 1-D Parzen
// estimator (tpe::ParzenEstimator: discretized Gaussian kernels with Scott's bandwidth, or
// TPE's categorical kernel, plus a uniform-ish prior) of the top rows' cells, and the reference:
// the uniform distribution over the cells, or with options.local an estimator of all rows'
// cells; both as probabilities p_top, p_all over the cells. The column's raw importance is the
// Pearson divergence sum_k p_all[k] (p_top[k] / p_all[k] - 1)^2. The raw importances are
// normalized to sum 1 (equal shares when all are 0, e.g. every row is a top row with
// options.local). Pure;
// thread-safe.
std::vector<double> PedAnovaImportance(const Dataset& data, const PedAnovaOptions& options);

}  // namespace hpo::importance

#endif  // HPO_IMPORTANCE_PED_ANOVA_H_
