#include "server/optimizers/gp/sobol.h"

#include <algorithm>

namespace hpo::server::gp {
namespace {

// Dimensions 2..40 of Joe & Kuo's new-joe-kuo-6.21201 table: degree s of the primitive
// polynomial, its coefficients a, and the initial direction numbers m_1..m_s.
struct DirectionRow {
  int s;
  uint32_t a;
  uint32_t m[8];
};

constexpr DirectionRow kRows[SobolSequence::kMaxDims - 1] = {
    {1, 0, {1}},
    {2, 1, {1, 3}},
    {3, 1, {1, 3, 1}},
    {3, 2, {1, 1, 1}},
    {4, 1, {1, 1, 3, 3}},
    {4, 4, {1, 3, 5, 13}},
    {5, 2, {1, 1, 5, 5, 17}},
    {5, 4, {1, 1, 5, 5, 5}},
    {5, 7, {1, 1, 7, 11, 19}},
    {5, 11, {1, 1, 5, 1, 1}},
    {5, 13, {1, 1, 1, 3, 11}},
    {5, 14, {1, 3, 5, 5, 31}},
    {6, 1, {1, 3, 3, 9, 7, 49}},
    {6, 13, {1, 1, 1, 15, 21, 21}},
    {6, 16, {1, 3, 1, 13, 27, 49}},
    {6, 19, {1, 1, 1, 15, 7, 5}},
    {6, 22, {1, 3, 1, 15, 13, 25}},
    {6, 25, {1, 1, 5, 5, 19, 61}},
    {7, 1, {1, 3, 7, 11, 23, 15, 103}},
    {7, 4, {1, 3, 7, 13, 13, 15, 69}},
    {7, 7, {1, 1, 3, 13, 7, 35, 63}},
    {7, 8, {1, 3, 5, 9, 1, 25, 53}},
    {7, 14, {1, 3, 1, 13, 9, 35, 107}},
    {7, 19, {1, 3, 1, 5, 27, 61, 31}},
    {7, 21, {1, 1, 5, 11, 19, 41, 61}},
    {7, 28, {1, 3, 5, 3, 3, 13, 69}},
    {7, 31, {1, 1, 7, 13, 1, 19, 1}},
    {7, 32, {1, 3, 7, 5, 13, 19, 59}},
    {7, 37, {1, 1, 3, 9, 25, 29, 41}},
    {7, 41, {1, 3, 5, 13, 23, 1, 55}},
    {7, 42, {1, 3, 7, 3, 13, 59, 17}},
    {7, 50, {1, 3, 1, 3, 5, 53, 69}},
    {7, 55, {1, 1, 5, 5, 23, 33, 13}},
    {7, 56, {1, 1, 7, 7, 1, 61, 123}},
    {7, 59, {1, 1, 7, 9, 13, 61, 49}},
    {7, 62, {1, 3, 3, 5, 3, 55, 33}},
    {8, 14, {1, 3, 1, 15, 31, 13, 49, 245}},
    {8, 21, {1, 3, 5, 15, 31, 59, 63, 97}},
    {8, 22, {1, 3, 1, 11, 11, 11, 77, 249}},
};

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr double kTwoPowMinus32 = 1.0 / 4294967296.0;

}  // namespace

SobolSequence::SobolSequence(int dims, uint64_t seed) : dims_(std::max(dims, 0)), rng_state_(seed) {
  const int sobol_dims = std::min(dims_, kMaxDims);
  state_.assign(sobol_dims, 0);
  direction_.resize(sobol_dims);
  shift_.resize(sobol_dims);
  for (int d = 0; d < sobol_dims; ++d) {
    std::vector<uint32_t>& v = direction_[d];
    v.assign(33, 0);  // v[1..32]
    if (d == 0) {
      for (int i = 1; i <= 32; ++i) v[i] = uint32_t{1} << (32 - i);
    } else {
      const DirectionRow& row = kRows[d - 1];
      const int s = row.s;
      for (int i = 1; i <= s; ++i) v[i] = row.m[i - 1] << (32 - i);
      for (int i = s + 1; i <= 32; ++i) {
        v[i] = v[i - s] ^ (v[i - s] >> s);
        for (int k = 1; k <= s - 1; ++k) {
          if ((row.a >> (s - 1 - k)) & 1u) v[i] ^= v[i - k];
        }
      }
    }
    shift_[d] = static_cast<uint32_t>(SplitMix64(rng_state_) >> 32);
  }
}

void SobolSequence::Next(double* out) {
  const int sobol_dims = static_cast<int>(state_.size());
  // Point k (k = index_) is x_k = x_{k-1} XOR v[c], c = 1 + number of trailing ones of k-1;
  // point 0 is all zeros.
  if (index_ > 0) {
    uint32_t k = index_ - 1;
    int c = 1;
    while (k & 1u) {
      k >>= 1;
      ++c;
    }
    if (c > 32) c = 32;
    for (int d = 0; d < sobol_dims; ++d) state_[d] ^= direction_[d][c];
  }
  ++index_;
  for (int d = 0; d < sobol_dims; ++d) {
    out[d] = static_cast<double>(state_[d] ^ shift_[d]) * kTwoPowMinus32;
  }
  for (int d = sobol_dims; d < dims_; ++d) {
    out[d] = static_cast<double>(SplitMix64(rng_state_) >> 11) * 0x1.0p-53;
  }
}

std::vector<std::vector<double>> SobolSequence::Take(int count) {
  std::vector<std::vector<double>> points(std::max(count, 0), std::vector<double>(dims_));
  for (auto& p : points) Next(p.data());
  return points;
}

}  // namespace hpo::server::gp
