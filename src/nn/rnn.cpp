#include "neurocore/nn/rnn.h"

#include <torch/torch.h>

#include <sstream>

#include "neurocore/core/error.h"

namespace nc::nn {

const char* cell_name(RNNCellKind cell) {
  switch (cell) {
    case RNNCellKind::lstm: return "lstm";
    case RNNCellKind::gru: return "gru";
    case RNNCellKind::rnn: return "rnn";
  }
  return "?";
}

RNNClassifierImpl::RNNClassifierImpl(RNNClassifierOptions options_) : options(options_) {
  const char* name = cell_name(options.cell());
  if (options.in() < 1 || options.classes() < 1 || options.hidden() < 1) {
    std::ostringstream os;
    os << name << ": in, classes and hidden must be >= 1, got in=" << options.in()
       << ", classes=" << options.classes() << ", hidden=" << options.hidden();
    throw UserError(os.str());
  }
  if (options.cell() == RNNCellKind::lstm) {
    lstm = register_module("cell", torch::nn::LSTMCell(options.in(), options.hidden()));
  } else if (options.cell() == RNNCellKind::gru) {
    gru = register_module("cell", torch::nn::GRUCell(options.in(), options.hidden()));
  } else {
    rnn = register_module("cell", torch::nn::RNNCell(torch::nn::RNNCellOptions(options.in(), options.hidden())
                                                         .nonlinearity(torch::kTanh)));
  }
  readout = register_module("readout", torch::nn::Linear(options.hidden(), options.classes()));
}

torch::Tensor RNNClassifierImpl::forward(const torch::Tensor& x) {
  const torch::Tensor xs = x.dim() > 2 ? x.flatten(2) : torch::Tensor();
  if (!xs.defined() || xs.size(2) != options.in()) {
    std::ostringstream os;
    os << cell_name(options.cell()) << ": input must be [T, B, C, H, W] with " << options.in()
       << " features per step, got " << x.sizes();
    throw UserError(os.str());
  }
  const int64_t T = xs.size(0), B = xs.size(1);
  torch::Tensor h = torch::zeros({B, options.hidden()}, xs.options()), c = torch::zeros_like(h);
  std::vector<torch::Tensor> out;
  out.reserve(T);
  for (int64_t t = 0; t < T; ++t) {
    if (lstm) {
      std::tie(h, c) = lstm->forward(xs[t], std::make_tuple(h, c));
    } else if (gru) {
      h = gru->forward(xs[t], h);
    } else {
      h = rnn->forward(xs[t], h);
    }
    out.push_back(readout->forward(h));
  }
  return torch::stack(out);
}

}  // namespace nc::nn
