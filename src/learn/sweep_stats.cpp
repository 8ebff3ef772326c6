#include "neurocore/learn/sweep_stats.h"

#include <cmath>
#include <limits>
#include <string>

#include "neurocore/core/error.h"

namespace nc::learn {

double t_quantile_975(int64_t df) {
  if (df < 1) throw UserError("t quantile: degrees of freedom must be >= 1, got " + std::to_string(df));
  // Student's t, 0.975 quantile, df = 1..30 (standard tables).
  static const double kTable[30] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                    2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                    2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                    2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  if (df <= 30) return kTable[df - 1];
  const double z = 1.959963984540054, n = static_cast<double>(df);
  const double z3 = z * z * z, z5 = z3 * z * z;
  return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n);
}

MetricSummary summarize(const std::vector<double>& values) {
  if (values.empty()) throw UserError("summarize: no values to summarise");
  MetricSummary s;
  s.n = static_cast<int64_t>(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(s.n);
  if (s.n < 2) {
    s.std = s.ci_low = s.ci_high = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  double squares = 0;
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(squares / static_cast<double>(s.n - 1));
  const double half = t_quantile_975(s.n - 1) * s.std / std::sqrt(static_cast<double>(s.n));
  s.ci_low = s.mean - half;
  s.ci_high = s.mean + half;
  return s;
}

}  // namespace nc::learn
