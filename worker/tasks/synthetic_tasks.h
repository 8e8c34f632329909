// Closed-form benchmark functions with known optima (Branin, Hartmann-6,
// Rosenbrock-4 and a mixed int/categorical/conditional function).
#ifndef HPO_WORKER_TASKS_SYNTHETIC_TASKS_H_
#define HPO_WORKER_TASKS_SYNTHETIC_TASKS_H_

#include <memory>

#include "worker/tasks/task.h"

namespace hpo::worker::tasks {

// Branin-Hoo on x1 in [-5, 10], x2 in [0, 15]; optimum 0.397887 at (pi, 2.275)
// and two more.
std::unique_ptr<SyntheticTask> MakeBranin();
// Hartmann-6 on [0, 1]^6; optimum -3.32237.
std::unique_ptr<SyntheticTask> MakeHartmann6();
// Rosenbrock on [-5, 10]^4 (x1..x4); optimum 0 at all ones.
std::unique_ptr<SyntheticTask> MakeRosenbrock();
// x float [-5, 5], n int [1, 10], kind categorical {a, b, c}, y float [0, 1]
// active only when kind == b; value = (x-1)^2 + 0.1 (n-3)^2 + {a: 1, b: 4
// (y-0.3)^2, c: 0.5}; optimum 0.
std::unique_ptr<SyntheticTask> MakeMixed();

}  // namespace hpo::worker::tasks

#endif  // HPO_WORKER_TASKS_SYNTHETIC_TASKS_H_
