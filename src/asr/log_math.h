#pragma once
// log(exp(a) + exp(b)) with -inf as the log of zero: shared by the RNN-T loss and beam search.
#include <cmath>
#include <limits>

namespace nc::asr::detail {

inline constexpr double kNegInf = -std::numeric_limits<double>::infinity();

inline double log_add(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  return a > b ? a + std::log1p(std::exp(b - a)) : b + std::log1p(std::exp(a - b));
}

}  // namespace nc::asr::detail
