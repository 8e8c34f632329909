// Closed-form benchmark functions with known optima: the synthetic suite
// (SuiteTaskNames() in task.h). Optima given with 17 digits were refined from the
// published ones by Newton's method in 40-digit arithmetic (mpmath); the
// formulas are in synthetic_tasks.cc.
#ifndef HPO_TASKS_SYNTHETIC_TASKS_H_
#define HPO_TASKS_SYNTHETIC_TASKS_H_

#include <memory>

#include "tasks/task.h"

namespace hpo::tasks {

// Branin-Hoo on x1 in [-5, 10], x2 in [0, 15]; optimum 0.39788735772973834 at
// (pi, 2.275) and two more.
std::unique_ptr<SyntheticTask> MakeBranin();
// Hartmann-6 on [0, 1]^6; optimum -3.3223680114155148 (published -3.32237).
std::unique_ptr<SyntheticTask> MakeHartmann6();
// Rosenbrock on [-5, 10]^4 (x1..x4); optimum 0 at all ones.
std::unique_ptr<SyntheticTask> MakeRosenbrock();
// x float [-5, 5], n int [1, 10], kind categorical {a, b, c}, y float [0, 1]
// active only when kind == b; value = (x-1)^2 + 0.1 (n-3)^2 + {a: 1, b: 4
// (y-0.3)^2, c: 0.5}; optimum 0.
std::unique_ptr<SyntheticTask> MakeMixed();

// Hartmann-3 on [0, 1]^3; optimum -3.8627797873326627 (published -3.86278) near
// (0.114614, 0.555649, 0.852547).
std::unique_ptr<SyntheticTask> MakeHartmann3();
// Levy on [-10, 10]^5; optimum 0 at all ones.
std::unique_ptr<SyntheticTask> MakeLevy5();
// Ackley (a=20, b=0.2, c=2 pi) on [-32.768, 32.768]^5; optimum 0 at the origin.
std::unique_ptr<SyntheticTask> MakeAckley5();
// Styblinski-Tang on [-5, 5]^4; optimum -156.66466281508566 (= 4 x -39.16617)
// at x_i = -2.903534.
std::unique_ptr<SyntheticTask> MakeStyblinskiTang4();
// Michalewicz (m = 10) on [0, pi]^5; optimum -4.6876581790881463 (published
// -4.687658).
std::unique_ptr<SyntheticTask> MakeMichalewicz5();
// Shekel (m = 10) on [0, 10]^4; optimum -10.536443153483528 near (4, 4, 4, 4)
// (published -10.5364).
std::unique_ptr<SyntheticTask> MakeShekel4();
// Six-hump camel on x1 in [-3, 3], x2 in [-2, 2]; optimum -1.0316284534898774
// at +-(0.0898, -0.7126).
std::unique_ptr<SyntheticTask> MakeSixHumpCamel();
// lr float log [1e-4, 1], units int log [16, 1024], layers int [1, 6],
// optimizer categorical {sgd, adam, rmsprop}, momentum float [0, 1] active only
// when optimizer == sgd, dropout float [0, 0.8] active only when layers >= 3
// (an int parent); optimum 0 at lr=0.01, units=128, layers=4, sgd, momentum=0.9,
// dropout=0.2 (formula and proof in synthetic_tasks.cc).
std::unique_ptr<SyntheticTask> MakeMixed2();

}  // namespace hpo::tasks

#endif  // HPO_TASKS_SYNTHETIC_TASKS_H_
