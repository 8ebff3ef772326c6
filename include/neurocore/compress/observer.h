#pragma once
// Range setting (efqat.md §4): min-max, percentile and MSE grid search, for weights (one
// range per output channel, from the tensor itself) and activations (one range per tensor,
// accumulated over calibration batches).
#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

#include "neurocore/compress/fake_quant.h"

namespace nc::compress {

enum class RangeMethod { minmax, percentile, mse };

/// "minmax", "percentile" or "mse"; throws UserError naming `field` otherwise.
RangeMethod parse_range_method(const std::string& name, const std::string& field);
std::string to_string(RangeMethod m);

/// Scale and zero point ([C] each, C = 1 per-tensor) for `x` under `spec`:
///   minmax: the full range; percentile: |x| (or x) clipped at the `percentile` quantile;
///   mse: α = max·(1 − 0.01 i), i = 0..79, minimising ‖x − x̂‖² (per channel when
///   spec.per_channel). Symmetric: s = α / Qp; asymmetric (unsigned grid): s = (hi − lo) /
///   (Qp − Qn), z = round(Qn − lo / s) clamped to the grid; lo is min(x, 0), hi max(x, 0).
std::pair<torch::Tensor, torch::Tensor> compute_range(const torch::Tensor& x,
                                                      const QuantSpec& spec, RangeMethod method,
                                                      double percentile = 99.99);

/// Collects a per-tensor activation statistic over calibration batches: the exact min and
/// max, and a strided sample (at most `sample_per_batch` values a batch) for percentile and
/// MSE search.
class ActivationObserver {
 public:
  explicit ActivationObserver(int64_t sample_per_batch = 1 << 16)
      : sample_per_batch_(sample_per_batch) {}
  void observe(const torch::Tensor& x);
  bool empty() const { return samples_.empty(); }
  double min() const { return min_; }
  double max() const { return max_; }
  /// The range under `spec`; minmax uses the exact extremes.
  std::pair<torch::Tensor, torch::Tensor> range(const QuantSpec& spec, RangeMethod method,
                                                double percentile = 99.99) const;

 private:
  int64_t sample_per_batch_;
  double min_ = 0, max_ = 0;
  std::vector<torch::Tensor> samples_;
};

}  // namespace nc::compress
