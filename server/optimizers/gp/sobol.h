// Sobol low-discrepancy points in [0,1)^d with a random digital shift.
#ifndef HPO_SERVER_OPTIMIZERS_GP_SOBOL_H_
#define HPO_SERVER_OPTIMIZERS_GP_SOBOL_H_

#include <cstdint>
#include <vector>

namespace hpo::server::gp {

// Generates the Sobol sequence (Joe & Kuo direction numbers, "new-joe-kuo-6.21201") for up to
// kMaxDims dimensions, XOR-ed with one random 32-bit shift per dimension (a digital shift keeps
// the net structure and makes every point land in the open-ended [0,1)). Dimensions beyond
// kMaxDims are filled with independent uniform numbers from the same seeded stream.
// Deterministic for (dims, seed). Thread-compatible.
class SobolSequence {
 public:
  static constexpr int kMaxDims = 40;

  SobolSequence(int dims, uint64_t seed);

  int dims() const { return dims_; }
  // Writes the next point into out[0..dims).
  void Next(double* out);
  // `count` next points, one vector each.
  std::vector<std::vector<double>> Take(int count);

 private:
  int dims_;
  uint32_t index_ = 0;
  std::vector<uint32_t> state_;                   // current Gray-code point, one per Sobol dim
  std::vector<std::vector<uint32_t>> direction_;  // 32 direction numbers per Sobol dim
  std::vector<uint32_t> shift_;
  uint64_t rng_state_;  // splitmix64 state for the shift and for dims beyond kMaxDims
};

}  // namespace hpo::server::gp

#endif  // HPO_SERVER_OPTIMIZERS_GP_SOBOL_H_
