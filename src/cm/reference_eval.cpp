#include "neurocore/cm/reference_eval.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "neurocore/cm/spiking.h"
#include "neurocore/core/error.h"

namespace nc::cm {

namespace {

using Tensor = std::vector<float>;

[[noreturn]] void bad(const Node& n, const std::string& what) {
  throw UserError("evaluate: node '" + n.name + "' (" + op_name(n.kind) + "): " + what);
}

void need_params(const Node& n, const std::vector<float>& v, int64_t size, const char* what) {
  if (static_cast<int64_t>(v.size()) != size) {
    bad(n, std::string(what) + " has " + std::to_string(v.size()) + " values, expected " +
               std::to_string(size) + " (fill the weights before evaluating)");
  }
}

Tensor conv2d(const Node& n, const Tensor& x, const Shape& in, const Shape& out) {
  const auto& o = n.conv();
  const int64_t C = in[0], H = in[1], W = in[2], K = out[0], OH = out[1], OW = out[2];
  const int64_t kh = o.kernel_size().h, kw = o.kernel_size().w, g = o.groups();
  const int64_t cg = C / g, kg = K / g;
  need_params(n, n.weight, K * cg * kh * kw, "weight");
  if (o.bias()) need_params(n, n.bias, K, "bias");
  Tensor y(static_cast<std::size_t>(K * OH * OW));
  for (int64_t k = 0; k < K; ++k) {
    const int64_t grp = k / kg;
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        double acc = o.bias() ? n.bias[static_cast<std::size_t>(k)] : 0.0;
        for (int64_t c = 0; c < cg; ++c) {
          for (int64_t i = 0; i < kh; ++i) {
            const int64_t h = o.stride().h * oh + o.dilation().h * i - o.padding().top;
            if (h < 0 || h >= H) continue;
            for (int64_t j = 0; j < kw; ++j) {
              const int64_t w = o.stride().w * ow + o.dilation().w * j - o.padding().left;
              if (w < 0 || w >= W) continue;
              acc += static_cast<double>(n.weight[static_cast<std::size_t>(((k * cg + c) * kh + i) * kw + j)]) *
                     x[static_cast<std::size_t>(((grp * cg + c) * H + h) * W + w)];
            }
          }
        }
        y[static_cast<std::size_t>((k * OH + oh) * OW + ow)] = static_cast<float>(acc);
      }
    }
  }
  return y;
}

// A matrix node's input after the node's quantizer (a quantized model), else unchanged.
Tensor quantized_input(const Node& n, Tensor x) {
  if (n.input_quant) n.input_quant->apply(x);
  return x;
}

Tensor linear(const Node& n, const Tensor& x) {
  const auto& o = n.linear();
  const int64_t I = o.in_features(), O = o.out_features();
  need_params(n, n.weight, I * O, "weight");
  if (o.bias()) need_params(n, n.bias, O, "bias");
  Tensor y(static_cast<std::size_t>(O));
  for (int64_t k = 0; k < O; ++k) {
    double acc = o.bias() ? n.bias[static_cast<std::size_t>(k)] : 0.0;
    for (int64_t i = 0; i < I; ++i) {
      acc += static_cast<double>(n.weight[static_cast<std::size_t>(k * I + i)]) * x[static_cast<std::size_t>(i)];
    }
    y[static_cast<std::size_t>(k)] = static_cast<float>(acc);
  }
  return y;
}

float activate(const ActivationOptions& a, float v) {
  switch (a.kind()) {
    case ActKind::kReLU: return std::max(v, 0.0f);
    case ActKind::kReLU6: return std::min(std::max(v, 0.0f), 6.0f);
    case ActKind::kLeakyReLU: return v >= 0 ? v : static_cast<float>(a.alpha() * v);
    case ActKind::kSigmoid: return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(v))));
    case ActKind::kTanh: return std::tanh(v);
    case ActKind::kClip:
      return static_cast<float>(std::min(std::max(static_cast<double>(v), a.min()), a.max()));
    case ActKind::kIdentity: return v;
  }
  return v;
}

// PyTorch's max_pool2d / avg_pool2d (avg: divisor from the window clipped to input + pads,
// or to the input alone without count_include_pad).
Tensor pool(const Node& n, const Tensor& x, const Shape& in, const Shape& out, bool is_max) {
  const auto& o = n.pool();
  const int64_t C = in[0], H = in[1], W = in[2], OH = out[1], OW = out[2];
  const auto k = o.kernel_size(), s = o.stride(), d = o.dilation();
  const auto p = o.padding();
  Tensor y(static_cast<std::size_t>(C * OH * OW));
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
        for (int64_t i = 0; i < k.h; ++i) {
          const int64_t h = s.h * oh + d.h * i - p.top;
          if (h < 0 || h >= H) continue;
          for (int64_t j = 0; j < k.w; ++j) {
            const int64_t w = s.w * ow + d.w * j - p.left;
            if (w < 0 || w >= W) continue;
            const double v = x[static_cast<std::size_t>((c * H + h) * W + w)];
            acc = is_max ? std::max(acc, v) : acc + v;
          }
        }
        if (!is_max) {
          const int64_t h0 = s.h * oh - p.top, w0 = s.w * ow - p.left;
          int64_t h1 = std::min(h0 + k.h, H + p.bottom), w1 = std::min(w0 + k.w, W + p.right);
          int64_t count = (h1 - h0) * (w1 - w0);
          if (!o.count_include_pad()) {
            h1 = std::min(h1, H);
            w1 = std::min(w1, W);
            count = (h1 - std::max<int64_t>(h0, 0)) * (w1 - std::max<int64_t>(w0, 0));
          }
          acc /= static_cast<double>(count);
        }
        y[static_cast<std::size_t>((c * OH + oh) * OW + ow)] = static_cast<float>(acc);
      }
    }
  }
  return y;
}

// The state (s, y) of one Spiking node's units between the frames of one sample (empty: the
// zero state); the evaluators keep one per node, indexed by NodeId.
struct SpikeState {
  Tensor s, y;
};

// One frame: `input` is [begin, end) of the caller's vector.
std::vector<Tensor> evaluate_frame(const Graph& g, std::vector<float>::const_iterator input,
                                   std::vector<SpikeState>& state) {
  std::vector<Tensor> v(g.values().size());
  std::size_t offset = 0;
  for (const Node& n : g.nodes()) {
    const Shape& out = g.value(n.output).shape;
    auto in = [&](std::size_t k) -> const Tensor& { return v[static_cast<std::size_t>(n.inputs[k])]; };
    auto in_shape = [&](std::size_t k) -> const Shape& { return g.value(n.inputs[k]).shape; };
    Tensor y;
    switch (n.kind) {
      case OpKind::kInput: {
        const auto size = static_cast<std::size_t>(numel(out));
        y.assign(input + static_cast<std::ptrdiff_t>(offset),
                 input + static_cast<std::ptrdiff_t>(offset + size));
        offset += size;
        break;
      }
      case OpKind::kConv2d: y = conv2d(n, quantized_input(n, in(0)), in_shape(0), out); break;
      case OpKind::kLinear: y = linear(n, quantized_input(n, in(0))); break;
      case OpKind::kBatchNorm: {
        const int64_t C = out[0], per = numel(out) / C;
        for (const auto* p : {&n.weight, &n.bias, &n.running_mean, &n.running_var}) {
          need_params(n, *p, C, "a batch-norm parameter");
        }
        y = in(0);
        for (int64_t c = 0; c < C; ++c) {
          const auto i = static_cast<std::size_t>(c);
          const double sc = n.weight[i] / std::sqrt(static_cast<double>(n.running_var[i]) + n.batch_norm().eps());
          for (int64_t e = 0; e < per; ++e) {
            float& t = y[static_cast<std::size_t>(c * per + e)];
            t = static_cast<float>(sc * (t - n.running_mean[i]) + n.bias[i]);
          }
        }
        break;
      }
      case OpKind::kActivation:
        y = in(0);
        for (float& t : y) t = activate(n.activation(), t);
        break;
      case OpKind::kSpiking: {
        const int64_t C = out.size() == 3 ? out[0] : numel(out);
        need_params(n, n.weight, C, "decay");
        need_params(n, n.bias, C, "threshold");
        SpikeState& st = state[static_cast<std::size_t>(&n - g.nodes().data())];
        y = in(0);
        st.s.resize(y.size(), 0.0f);
        st.y.resize(y.size(), 0.0f);
        for (std::size_t i = 0; i < y.size(); ++i) {
          const auto c = static_cast<std::size_t>(spiking_channel(out, static_cast<int64_t>(i)));
          y[i] = spiking_step(n.spiking(), y[i], n.weight[c], n.bias[c], st.s[i], st.y[i]);
        }
        break;
      }
      case OpKind::kAdd: {
        std::vector<double> acc(in(0).begin(), in(0).end());
        for (std::size_t k = 1; k < n.inputs.size(); ++k) {
          for (std::size_t e = 0; e < acc.size(); ++e) acc[e] += in(k)[e];
        }
        y.assign(acc.begin(), acc.end());
        break;
      }
      case OpKind::kConcat: {
        const auto axis = static_cast<std::size_t>(n.concat().axis());
        int64_t outer = 1;
        for (std::size_t d = 0; d < axis; ++d) outer *= out[d];
        y.reserve(static_cast<std::size_t>(numel(out)));
        for (int64_t o = 0; o < outer; ++o) {
          for (std::size_t k = 0; k < n.inputs.size(); ++k) {
            const int64_t block = numel(in_shape(k)) / outer;
            y.insert(y.end(), in(k).begin() + o * block, in(k).begin() + (o + 1) * block);
          }
        }
        break;
      }
      case OpKind::kMaxPool: y = pool(n, in(0), in_shape(0), out, true); break;
      case OpKind::kAvgPool: y = pool(n, in(0), in_shape(0), out, false); break;
      case OpKind::kGlobalAvgPool: {
        const int64_t C = out[0], per = numel(in_shape(0)) / C;
        for (int64_t c = 0; c < C; ++c) {
          double acc = 0;
          for (int64_t e = 0; e < per; ++e) acc += in(0)[static_cast<std::size_t>(c * per + e)];
          y.push_back(static_cast<float>(acc / static_cast<double>(per)));
        }
        break;
      }
      case OpKind::kFlatten: y = in(0); break;
      case OpKind::kPad: {
        const auto& o = n.pad();
        const Shape& is = in_shape(0);
        y.assign(static_cast<std::size_t>(numel(out)), static_cast<float>(o.value()));
        for (int64_t c = 0; c < is[0]; ++c) {
          for (int64_t h = 0; h < is[1]; ++h) {
            for (int64_t w = 0; w < is[2]; ++w) {
              const int64_t oc = c + o.channels_before(), oh = h + o.spatial().top,
                            ow = w + o.spatial().left;
              if (oc < 0 || oc >= out[0] || oh < 0 || oh >= out[1] || ow < 0 || ow >= out[2]) continue;
              y[static_cast<std::size_t>((oc * out[1] + oh) * out[2] + ow)] =
                  in(0)[static_cast<std::size_t>((c * is[1] + h) * is[2] + w)];
            }
          }
        }
        break;
      }
      case OpKind::kSlice: {
        const auto& o = n.slice();
        const Shape& is = in_shape(0);
        for (int64_t c = 0; c < out[0]; ++c) {
          for (int64_t h = 0; h < out[1]; ++h) {
            for (int64_t w = 0; w < out[2]; ++w) {
              const int64_t ic = o.start()[0] + o.step()[0] * c, ih = o.start()[1] + o.step()[1] * h,
                            iw = o.start()[2] + o.step()[2] * w;
              y.push_back(in(0)[static_cast<std::size_t>((ic * is[1] + ih) * is[2] + iw)]);
            }
          }
        }
        break;
      }
    }
    if (static_cast<int64_t>(y.size()) != numel(out)) {
      bad(n, "evaluated " + std::to_string(y.size()) + " values, the shape " + shape_str(out) +
                 " needs " + std::to_string(numel(out)));
    }
    v[static_cast<std::size_t>(n.output)] = std::move(y);
  }
  return v;
}

// Runs every frame of one sample, handing each frame's values to `use`.
template <class F>
void evaluate_frames(const Graph& g, const std::vector<float>& input, F use) {
  std::size_t frame = 0;
  for (ValueId in : g.inputs()) frame += static_cast<std::size_t>(numel(g.value(in).shape));
  const auto frames = static_cast<std::size_t>(g.frames_per_sample());
  if (frame * frames != input.size()) {
    throw UserError("evaluate: the input has " + std::to_string(input.size()) +
                    " values, the graph inputs need " + std::to_string(frame) +
                    (g.temporal() ? " per time step, times " + std::to_string(frames) + " steps"
                                  : std::string()));
  }
  std::vector<SpikeState> state(g.nodes().size());
  for (std::size_t t = 0; t < frames; ++t) {
    use(evaluate_frame(g, input.begin() + static_cast<std::ptrdiff_t>(t * frame), state));
  }
}

}  // namespace

std::vector<std::vector<float>> evaluate_all(const Graph& g, const std::vector<float>& input) {
  std::vector<Tensor> last;
  evaluate_frames(g, input, [&](std::vector<Tensor> v) { last = std::move(v); });
  return last;
}

std::vector<float> evaluate(const Graph& g, const std::vector<float>& input) {
  std::vector<float> out;
  evaluate_frames(g, input, [&](const std::vector<Tensor>& v) {
    for (ValueId o : g.outputs()) {
      out.insert(out.end(), v[static_cast<std::size_t>(o)].begin(), v[static_cast<std::size_t>(o)].end());
    }
  });
  return out;
}

}  // namespace nc::cm
