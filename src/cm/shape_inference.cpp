// Shape inference of the graph IR: the output shape of every op from its input shapes and
// options (PyTorch's rules), with the op's own checks.
#include <string>
#include <vector>

#include "graph_internal.h"
#include "neurocore/cm/graph.h"
#include "neurocore/core/error.h"

namespace nc::cm {

int64_t window_out(int64_t n, int64_t k, int64_t stride, int64_t pad_before, int64_t pad_after,
                   int64_t dilation, bool ceil_mode) {
  const int64_t span = n + pad_before + pad_after - dilation * (k - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  // PyTorch: in ceil mode the last window must start inside the input or the leading pad.
  if (ceil_mode && (out - 1) * stride >= n + pad_before) --out;
  return out;
}

namespace {

using detail::bad;

void need_rank(const Node& n, const Shape& s, std::size_t rank, const char* what) {
  if (s.size() != rank) {
    bad(n, std::string("input must be ") + what + ", got shape " + shape_str(s));
  }
}

void need_positive(const Node& n, const char* field, int64_t v) {
  if (v <= 0) bad(n, std::string(field) + " must be positive, got " + std::to_string(v));
}

void need_nonneg(const Node& n, const char* field, int64_t v) {
  if (v < 0) bad(n, std::string(field) + " must be >= 0, got " + std::to_string(v));
}

void check_window(const Node& n, Pair k, Pair s, const Pads& p, Pair d) {
  need_positive(n, "kernel height", k.h);
  need_positive(n, "kernel width", k.w);
  need_positive(n, "stride height", s.h);
  need_positive(n, "stride width", s.w);
  need_positive(n, "dilation height", d.h);
  need_positive(n, "dilation width", d.w);
  need_nonneg(n, "padding top", p.top);
  need_nonneg(n, "padding left", p.left);
  need_nonneg(n, "padding bottom", p.bottom);
  need_nonneg(n, "padding right", p.right);
}

Shape window_shape(const Node& n, const Shape& in, int64_t c_out, Pair k, Pair s, const Pads& p,
                   Pair d, bool ceil_mode) {
  const int64_t oh = window_out(in[1], k.h, s.h, p.top, p.bottom, d.h, ceil_mode);
  const int64_t ow = window_out(in[2], k.w, s.w, p.left, p.right, d.w, ceil_mode);
  if (oh <= 0 || ow <= 0) {
    bad(n, "a " + std::to_string(k.h) + "x" + std::to_string(k.w) + " window (dilation " +
               std::to_string(d.h) + "x" + std::to_string(d.w) + ") does not fit the input " +
               shape_str(in) + " with padding (" + std::to_string(p.top) + ", " +
               std::to_string(p.left) + ", " + std::to_string(p.bottom) + ", " +
               std::to_string(p.right) + ")");
  }
  return {c_out, oh, ow};
}

}  // namespace

Shape infer_shape(const Node& n, const std::vector<Shape>& in) {
  auto need_inputs = [&](std::size_t k) {
    if (in.size() != k) {
      bad(n, "expects " + std::to_string(k) + " input(s), got " + std::to_string(in.size()));
    }
  };
  switch (n.kind) {
    case OpKind::kInput: {
      need_inputs(0);
      bad(n, "an Input node's shape is given, not inferred");
    }
    case OpKind::kConv2d: {
      need_inputs(1);
      const auto& o = n.conv();
      need_rank(n, in[0], 3, "[C, H, W]");
      need_positive(n, "in_channels", o.in_channels());
      need_positive(n, "out_channels", o.out_channels());
      need_positive(n, "groups", o.groups());
      check_window(n, o.kernel_size(), o.stride(), o.padding(), o.dilation());
      if (in[0][0] != o.in_channels()) {
        bad(n, "input has " + std::to_string(in[0][0]) + " channels (shape " + shape_str(in[0]) +
                   "), expected in_channels = " + std::to_string(o.in_channels()));
      }
      if (o.in_channels() % o.groups() != 0 || o.out_channels() % o.groups() != 0) {
        bad(n, "groups = " + std::to_string(o.groups()) + " must divide in_channels = " +
                   std::to_string(o.in_channels()) + " and out_channels = " +
                   std::to_string(o.out_channels()));
      }
      return window_shape(n, in[0], o.out_channels(), o.kernel_size(), o.stride(), o.padding(),
                          o.dilation(), false);
    }
    case OpKind::kLinear: {
      need_inputs(1);
      const auto& o = n.linear();
      need_positive(n, "in_features", o.in_features());
      need_positive(n, "out_features", o.out_features());
      // A [C, 1, 1] input (after global pooling) is accepted as [C].
      const bool flat = in[0].size() == 1 ||
                        (in[0].size() == 3 && in[0][1] == 1 && in[0][2] == 1);
      if (!flat) bad(n, "input must be [F] or [F, 1, 1], got shape " + shape_str(in[0]));
      if (in[0][0] != o.in_features()) {
        bad(n, "input has " + std::to_string(in[0][0]) + " features, expected in_features = " +
                   std::to_string(o.in_features()));
      }
      return {o.out_features()};
    }
    case OpKind::kBatchNorm: {
      need_inputs(1);
      const auto& o = n.batch_norm();
      if (in[0].empty() || in[0][0] != o.num_features()) {
        bad(n, "input shape " + shape_str(in[0]) + " does not have num_features = " +
                   std::to_string(o.num_features()) + " channels");
      }
      if (!(o.eps() >= 0)) bad(n, "eps must be >= 0, got " + std::to_string(o.eps()));
      return in[0];
    }
    case OpKind::kActivation: {
      need_inputs(1);
      const auto& o = n.activation();
      if (o.kind() == ActKind::kClip && !(o.min() <= o.max())) {
        bad(n, "Clip needs min <= max, got [" + std::to_string(o.min()) + ", " +
                   std::to_string(o.max()) + "]");
      }
      return in[0];
    }
    case OpKind::kSpiking: {
      need_inputs(1);
      const ActKind g = n.spiking().g();
      if (g != ActKind::kIdentity && g != ActKind::kReLU && g != ActKind::kLeakyReLU) {
        bad(n, std::string("the membrane function g must be Identity, ReLU or LeakyReLU, got ") +
                   act_name(g));
      }
      if (in[0].empty()) bad(n, "input must have at least one dimension");
      return in[0];
    }
    case OpKind::kAdd: {
      if (in.size() < 2) bad(n, "expects at least 2 inputs, got " + std::to_string(in.size()));
      for (std::size_t i = 1; i < in.size(); ++i) {
        if (in[i] != in[0]) {
          bad(n, "input " + std::to_string(i) + " has shape " + shape_str(in[i]) +
                     ", expected the shape of input 0, " + shape_str(in[0]));
        }
      }
      return in[0];
    }
    case OpKind::kConcat: {
      if (in.empty()) bad(n, "expects at least 1 input");
      const int64_t rank = static_cast<int64_t>(in[0].size());
      const int64_t axis = n.concat().axis();
      if (axis < 0 || axis >= rank) {
        bad(n, "axis must be in [0, " + std::to_string(rank - 1) + "], got " +
                   std::to_string(axis));
      }
      Shape out = in[0];
      for (std::size_t i = 1; i < in.size(); ++i) {
        bool ok = in[i].size() == in[0].size();
        for (int64_t d = 0; ok && d < rank; ++d) ok = d == axis || in[i][d] == in[0][d];
        if (!ok) {
          bad(n, "input " + std::to_string(i) + " has shape " + shape_str(in[i]) +
                     ", which differs from input 0, " + shape_str(in[0]) +
                     ", outside axis " + std::to_string(axis));
        }
        out[axis] += in[i][axis];
      }
      return out;
    }
    case OpKind::kMaxPool:
    case OpKind::kAvgPool: {
      need_inputs(1);
      const auto& o = n.pool();
      need_rank(n, in[0], 3, "[C, H, W]");
      check_window(n, o.kernel_size(), o.stride(), o.padding(), o.dilation());
      // PyTorch's rule: padding at most half the kernel, so no window lies in padding only.
      if (o.padding().top * 2 > o.kernel_size().h || o.padding().bottom * 2 > o.kernel_size().h ||
          o.padding().left * 2 > o.kernel_size().w || o.padding().right * 2 > o.kernel_size().w) {
        bad(n, "padding must be at most half the kernel size " +
                   std::to_string(o.kernel_size().h) + "x" + std::to_string(o.kernel_size().w));
      }
      if (n.kind == OpKind::kAvgPool && !(o.dilation() == Pair(1))) {
        bad(n, "AvgPool has no dilation, got " + std::to_string(o.dilation().h) + "x" +
                   std::to_string(o.dilation().w));
      }
      return window_shape(n, in[0], in[0][0], o.kernel_size(), o.stride(), o.padding(),
                          o.dilation(), o.ceil_mode());
    }
    case OpKind::kGlobalAvgPool:
      need_inputs(1);
      need_rank(n, in[0], 3, "[C, H, W]");
      return {in[0][0], 1, 1};
    case OpKind::kFlatten:
      need_inputs(1);
      return {numel(in[0])};
    case OpKind::kPad: {
      need_inputs(1);
      const auto& o = n.pad();
      need_rank(n, in[0], 3, "[C, H, W]");
      need_nonneg(n, "channels_before", o.channels_before());
      need_nonneg(n, "channels_after", o.channels_after());
      need_nonneg(n, "padding top", o.spatial().top);
      need_nonneg(n, "padding left", o.spatial().left);
      need_nonneg(n, "padding bottom", o.spatial().bottom);
      need_nonneg(n, "padding right", o.spatial().right);
      return {in[0][0] + o.channels_before() + o.channels_after(),
              in[0][1] + o.spatial().top + o.spatial().bottom,
              in[0][2] + o.spatial().left + o.spatial().right};
    }
    case OpKind::kSlice: {
      need_inputs(1);
      const auto& o = n.slice();
      need_rank(n, in[0], 3, "[C, H, W]");
      if (o.start().size() != 3 || o.end().size() != 3 || o.step().size() != 3) {
        bad(n, "start, end and step need 3 entries (C, H, W)");
      }
      Shape out(3);
      for (int d = 0; d < 3; ++d) {
        const int64_t end = std::min(o.end()[d], in[0][d]);
        if (o.step()[d] <= 0) bad(n, "step must be positive, got " + std::to_string(o.step()[d]));
        if (o.start()[d] < 0 || o.start()[d] >= end) {
          bad(n, "start " + std::to_string(o.start()[d]) + " on axis " + std::to_string(d) +
                     " must be in [0, " + std::to_string(end) + ")");
        }
        out[d] = (end - o.start()[d] + o.step()[d] - 1) / o.step()[d];
      }
      return out;
    }
  }
  throw InternalError("infer_shape: unknown op kind");
}

void Graph::infer_shapes() {
  for (auto& n : nodes_) {
    if (n.kind == OpKind::kInput) continue;
    std::vector<Shape> shapes;
    for (ValueId id : n.inputs) shapes.push_back(values_[static_cast<std::size_t>(id)].shape);
    values_[static_cast<std::size_t>(n.output)].shape = infer_shape(n, shapes);
    check_params(n);
  }
}

}  // namespace nc::cm
