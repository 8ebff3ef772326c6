#include "neurocore/nn/surrogate.h"

#include <torch/torch.h>

#include <cmath>

#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"

namespace nc::nn {

std::vector<std::string> surrogate_names() {
  return {"tanh", "fast_sigmoid", "arctan", "sigmoid", "triangle", "straight_through"};
}

Surrogate parse_surrogate(const std::string& name, double param) {
  const auto names = surrogate_names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] != name) continue;
    if (!(param >= 0) || !std::isfinite(param)) {
      throw UserError("surrogate parameter of '" + name +
                      "' must be a finite number >= 0 (0: default), got " +
                      std::to_string(param));
    }
    return Surrogate{static_cast<SurrogateKind>(i), param};
  }
  const auto hint = closest_match(name, names);
  throw UserError("unknown surrogate '" + name + "': expected one of " + join(names) +
                  (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
}

std::string surrogate_name(const Surrogate& s) {
  return surrogate_names().at(static_cast<std::size_t>(s.kind));
}

double surrogate_param(const Surrogate& s) {
  if (s.param != 0) return s.param;
  switch (s.kind) {
    case SurrogateKind::fast_sigmoid: return 25;
    case SurrogateKind::arctan: return 2;
    case SurrogateKind::sigmoid: return 4;
    case SurrogateKind::triangle: return 1;
    case SurrogateKind::tanh:
    case SurrogateKind::straight_through: return 0;
  }
  return 0;
}

torch::Tensor surrogate_derivative(const torch::Tensor& z, const Surrogate& s) {
  const double p = surrogate_param(s);
  switch (s.kind) {
    case SurrogateKind::tanh: {
      auto t = torch::tanh(z);
      return 1 - t * t;
    }
    case SurrogateKind::fast_sigmoid: {
      auto d = 1 + p * z.abs();
      return 1 / (d * d);
    }
    case SurrogateKind::arctan: {
      auto a = (M_PI * p / 2) * z;
      return (p / 2) / (1 + a * a);
    }
    case SurrogateKind::sigmoid: {
      auto sg = torch::sigmoid(p * z);
      return p * sg * (1 - sg);
    }
    case SurrogateKind::triangle:
      return torch::clamp_min(1 - z.abs() / p, 0) / p;
    case SurrogateKind::straight_through:
      return torch::ones_like(z);
  }
  throw InternalError("surrogate_derivative: unhandled SurrogateKind");
}

namespace {

struct SpikeFunction : torch::autograd::Function<SpikeFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& z,
                               int64_t kind, double param) {
    ctx->save_for_backward({z});
    ctx->saved_data["kind"] = kind;
    ctx->saved_data["param"] = param;
    return (z > 0).to(z.scalar_type());
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grad) {
    const auto z = ctx->get_saved_variables()[0];
    const Surrogate s{static_cast<SurrogateKind>(ctx->saved_data["kind"].toInt()),
                      ctx->saved_data["param"].toDouble()};
    return {grad[0] * surrogate_derivative(z, s), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor spike(const torch::Tensor& z, const Surrogate& s) {
  return SpikeFunction::apply(z, static_cast<int64_t>(s.kind), s.param);
}

}  // namespace nc::nn
