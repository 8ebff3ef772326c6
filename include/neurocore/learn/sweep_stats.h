#pragma once
// Mean, spread and confidence interval of a metric over the seeds of one sweep setting.
#include <cstdint>
#include <vector>

namespace nc::learn {

struct MetricSummary {
  int64_t n = 0;      ///< number of values (runs)
  double mean = 0;    ///< (1/n) sum x_i
  /// Sample standard deviation s = sqrt(sum (x_i - mean)^2 / (n - 1)); NaN when n < 2.
  double std = 0;
  /// 95 % t-interval mean -/+ t_{0.975, n-1} s / sqrt(n); NaN when n < 2.
  double ci_low = 0, ci_high = 0;
};

/// Summarises `values` as above (two-pass sums in double). Throws UserError when empty.
MetricSummary summarize(const std::vector<double>& values);

/// The 0.975 quantile of Student's t distribution with `df` >= 1 degrees of freedom (the
/// two-sided 95 % critical value): exact table values (3 decimals) for df <= 30, then the
/// Cornish-Fisher expansion around 1.959964 (error < 1e-3). Throws UserError when df < 1.
double t_quantile_975(int64_t df);

}  // namespace nc::learn
