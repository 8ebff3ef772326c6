#include "neurocore/data/encoder.h"

#include <torch/torch.h>

#include <sstream>

#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"

namespace nc::data {

namespace {
const std::vector<std::string> kCodings = {"rate", "latency", "direct", "frames"};

void check(const torch::Tensor& x, const EncoderOptions& o) {
  if (std::find(kCodings.begin(), kCodings.end(), o.coding) == kCodings.end()) {
    const auto hint = closest_match(o.coding, kCodings);
    throw UserError("encoder.coding '" + o.coding + "' is unknown, expected one of " +
                    join(kCodings) + (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
  if (o.steps < 1) {
    throw UserError("encoder.steps must be an integer >= 1, got " + std::to_string(o.steps));
  }
  if (!(o.gain >= 0.0)) {
    std::ostringstream m;
    m << "encoder.gain must be a number >= 0, got " << o.gain;
    throw UserError(m.str());
  }
  if (!x.defined() || x.dim() < 1 || !x.is_floating_point()) {
    throw UserError("encode: input must be a floating-point tensor [B, ...] of intensities, got " +
                    (x.defined() ? std::string(c10::toString(x.scalar_type())) + " tensor of " +
                                       std::to_string(x.dim()) + " dimensions"
                                 : std::string("an undefined tensor")));
  }
  if (x.numel() > 0) {
    const double lo = x.min().item<double>(), hi = x.max().item<double>();
    if (!(lo >= 0.0 && hi <= 1.0)) {
      std::ostringstream m;
      m << "encode: input values must lie in [0,1] (pixel intensities), got [" << lo << ", "
        << hi << "]; encode before normalising the inputs";
      throw UserError(m.str());
    }
  }
}
}  // namespace

EncoderOptions EncoderOptions::from_config(nc::ConfigSection section) {
  EncoderOptions o;
  o.coding = section.choice("coding", o.coding, kCodings);
  o.steps = section.integer("steps", o.steps, 1);
  o.gain = section.number("gain", o.gain, 0.0);
  section.finish();
  return o;
}

torch::Tensor encode(const torch::Tensor& x, const EncoderOptions& options, at::Generator gen) {
  check(x, options);
  torch::NoGradGuard no_grad;
  if (options.coding == "frames") {
    // Already a sequence: dimension 1 is time (e.g. OMNIST videos with data.omnist.sequences).
    if (x.dim() < 2) {
      throw UserError("encode: coding 'frames' needs inputs [B, K, ...] (K frames per example), got " +
                      std::to_string(x.dim()) + " dimension(s)");
    }
    return x.transpose(0, 1).unsqueeze(2).contiguous();
  }
  const int64_t T = options.steps;
  std::vector<int64_t> shape = x.sizes().vec();
  shape.insert(shape.begin(), T);
  if (options.coding == "direct") return x.unsqueeze(0).expand(shape).contiguous();
  if (options.coding == "rate") {
    const auto p = (x * (options.gain / static_cast<double>(T))).clamp_max_(1.0);
    return torch::bernoulli(p.unsqueeze(0).expand(shape).contiguous(), gen);
  }
  // latency: the step index of each pixel's single spike; p = 0 never spikes.
  const auto t = ((1.0 - x.to(torch::kDouble)) * static_cast<double>(T - 1)).round().to(torch::kLong);
  std::vector<int64_t> step_shape(shape.size(), 1);
  step_shape[0] = T;
  const auto steps = torch::arange(T, torch::kLong).view(step_shape);
  return (steps.eq(t.unsqueeze(0)) & x.gt(0).unsqueeze(0)).to(x.scalar_type());
}

}  // namespace nc::data
