#include "neurocore/cm/onnx_import.h"

// Debian's libonnx-dev ships the ONNX-ML variant of the protobuf classes (onnx-ml.pb.h).
#ifndef ONNX_ML
#define ONNX_ML 1
#endif
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <map>
#include <set>
#include <sstream>

#include "neurocore/core/error.h"

namespace nc::cm {

namespace {

// Ops that only compute shapes (folded while importing); the tensor ops are Importer::converters().
const std::set<std::string> kShapeOps = {"Constant", "Shape", "Gather", "Unsqueeze", "Concat",
                                         "Cast", "Squeeze", "Identity"};

std::string node_label(const onnx::NodeProto& n) {
  if (!n.name().empty()) return "node '" + n.name() + "'";
  return "node with output '" + (n.output_size() ? n.output(0) : std::string("?")) + "'";
}

// A constant tensor (initializer, Constant, or shape arithmetic), as doubles.
struct Const {
  std::vector<int64_t> dims;
  std::vector<double> v;
  bool is_float = false;
};

Const read_tensor(const onnx::TensorProto& t, const std::string& where) {
  Const c;
  for (auto d : t.dims()) c.dims.push_back(d);
  int64_t n = 1;
  for (auto d : c.dims) n *= d;
  const std::string& raw = t.raw_data();
  auto from_raw = [&](auto tag) {
    using T = decltype(tag);
    if (raw.size() != static_cast<std::size_t>(n) * sizeof(T)) {
      throw UserError(where + ": tensor '" + t.name() + "' has " + std::to_string(raw.size()) +
                      " bytes of raw data, expected " + std::to_string(n * sizeof(T)));
    }
    for (int64_t i = 0; i < n; ++i) {
      T x;
      std::memcpy(&x, raw.data() + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
      c.v.push_back(static_cast<double>(x));
    }
  };
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      c.is_float = true;
      if (!raw.empty()) from_raw(float{});
      else for (float x : t.float_data()) c.v.push_back(x);
      break;
    case onnx::TensorProto::DOUBLE:
      c.is_float = true;
      if (!raw.empty()) from_raw(double{});
      else for (double x : t.double_data()) c.v.push_back(x);
      break;
    case onnx::TensorProto::INT64:
      if (!raw.empty()) from_raw(int64_t{});
      else for (auto x : t.int64_data()) c.v.push_back(static_cast<double>(x));
      break;
    case onnx::TensorProto::INT32:
      if (!raw.empty()) from_raw(int32_t{});
      else for (auto x : t.int32_data()) c.v.push_back(x);
      break;
    default:
      throw UserError(where + ": tensor '" + t.name() + "' has data type " +
                      std::to_string(t.data_type()) + ", expected FLOAT, DOUBLE, INT32 or INT64");
  }
  if (static_cast<int64_t>(c.v.size()) != n) {
    throw UserError(where + ": tensor '" + t.name() + "' holds " + std::to_string(c.v.size()) +
                    " values for dims of " + std::to_string(n));
  }
  return c;
}

class Importer {
 public:
  Importer(const onnx::ModelProto& m, std::string origin) : m_(m), origin_(std::move(origin)) {}

  OnnxImport run() {
    for (const auto& op : m_.opset_import()) {
      if (op.domain().empty() || op.domain() == "ai.onnx") out_.opset = op.version();
    }
    if (out_.opset < 9 || out_.opset > 17) {
      throw UserError(origin_ + ": opset " + std::to_string(out_.opset) +
                      " of the default domain is not supported, expected 9 to 17");
    }
    const auto& g = m_.graph();
    for (const auto& t : g.initializer()) consts_[t.name()] = read_tensor(t, origin_);
    // Unsupported ops first, all of them in one message.
    std::string unsupported;
    for (const auto& n : g.node()) {
      ++out_.op_counts[n.op_type()];
      if (!(n.domain().empty() || n.domain() == "ai.onnx") ||
          (!converters().count(n.op_type()) && !kShapeOps.count(n.op_type()))) {
        unsupported += (unsupported.empty() ? "" : ", ") + n.op_type() + " (" + node_label(n) + ")";
      }
    }
    if (!unsupported.empty()) throw UserError(origin_ + ": unsupported ONNX ops: " + unsupported);
    for (const auto& in : g.input()) {
      if (consts_.count(in.name())) continue;
      Shape s;
      const auto& shp = in.type().tensor_type().shape();
      for (int i = 1; i < shp.dim_size(); ++i) {
        if (!shp.dim(i).has_dim_value()) {
          throw UserError(origin_ + ": input '" + in.name() + "' dimension " + std::to_string(i) +
                          " is symbolic, expected a fixed size");
        }
        s.push_back(shp.dim(i).dim_value());
      }
      if (s.size() != 3 && s.size() != 1) {
        throw UserError(origin_ + ": input '" + in.name() + "' has rank " +
                        std::to_string(shp.dim_size()) + ", expected [N, C, H, W] or [N, F]");
      }
      values_[in.name()] = out_.graph.input(in.name(), s);
    }
    for (const auto& n : g.node()) node(n);
    for (const auto& o : g.output()) {
      auto it = values_.find(o.name());
      if (it == values_.end()) {
        throw UserError(origin_ + ": graph output '" + o.name() + "' is not a tensor computed by the graph");
      }
      out_.graph.mark_output(it->second);
    }
    out_.graph.fold_batch_norms();
    return std::move(out_);
  }

 private:
  std::string where(const onnx::NodeProto& n) const {
    return origin_ + ": " + n.op_type() + " " + node_label(n);
  }
  std::string name_of(const onnx::NodeProto& n) const {
    return n.name().empty() ? n.output(0) : n.name();
  }
  const onnx::AttributeProto* attr(const onnx::NodeProto& n, const std::string& key) const {
    for (const auto& a : n.attribute())
      if (a.name() == key) return &a;
    return nullptr;
  }
  int64_t attr_i(const onnx::NodeProto& n, const std::string& key, int64_t def) const {
    const auto* a = attr(n, key);
    return a ? a->i() : def;
  }
  double attr_f(const onnx::NodeProto& n, const std::string& key, double def) const {
    const auto* a = attr(n, key);
    return a ? a->f() : def;
  }
  std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const std::string& key,
                                 std::vector<int64_t> def = {}) const {
    const auto* a = attr(n, key);
    if (!a) return def;
    return {a->ints().begin(), a->ints().end()};
  }
  bool has_input(const onnx::NodeProto& n, int i) const {
    return n.input_size() > i && !n.input(i).empty();
  }
  const Const* constant(const std::string& name) const {
    auto it = consts_.find(name);
    return it == consts_.end() ? nullptr : &it->second;
  }
  const Const& need_const(const onnx::NodeProto& n, int i) const {
    const Const* c = has_input(n, i) ? constant(n.input(i)) : nullptr;
    if (!c) {
      throw UserError(where(n) + ": input " + std::to_string(i) +
                      " must be a constant (an initializer or computable at import)");
    }
    return *c;
  }
  std::vector<int64_t> ints_of(const Const& c) const {
    std::vector<int64_t> r;
    for (double x : c.v) r.push_back(static_cast<int64_t>(x));
    return r;
  }
  std::vector<float> floats_of(const Const& c) const { return {c.v.begin(), c.v.end()}; }
  ValueId tensor(const onnx::NodeProto& n, int i) const {
    auto it = values_.find(n.input(i));
    if (it == values_.end()) {
      throw UserError(where(n) + ": input '" + n.input(i) +
                      "' must be a tensor computed by the graph (constant tensors are only "
                      "supported as weights and shapes)");
    }
    return it->second;
  }
  const Shape& shape(ValueId v) const { return out_.graph.value(v).shape; }
  // ONNX [N, ...] shape of an IR value (batch 1).
  std::vector<int64_t> onnx_shape(ValueId v) const {
    std::vector<int64_t> s{1};
    for (auto d : shape(v)) s.push_back(d);
    return s;
  }
  void set(const onnx::NodeProto& n, ValueId v) { values_[n.output(0)] = v; }

  // Shape arithmetic on constants. Returns true when handled.
  bool shape_node(const onnx::NodeProto& n) {
    const std::string& op = n.op_type();
    auto all_const = [&] {
      for (int i = 0; i < n.input_size(); ++i)
        if (has_input(n, i) && !constant(n.input(i))) return false;
      return true;
    };
    if (op == "Constant") {
      const auto* a = attr(n, "value");
      if (!a) throw UserError(where(n) + ": only the 'value' attribute is supported");
      consts_[n.output(0)] = read_tensor(a->t(), where(n));
      return true;
    }
    if (op == "Shape" && values_.count(n.input(0))) {
      Const c;
      for (auto d : onnx_shape(values_.at(n.input(0)))) c.v.push_back(static_cast<double>(d));
      c.dims = {static_cast<int64_t>(c.v.size())};
      consts_[n.output(0)] = c;
      return true;
    }
    if (!all_const() || n.input_size() == 0) return false;
    if (op == "Identity" || op == "Cast") {
      consts_[n.output(0)] = *constant(n.input(0));
      return true;
    }
    if (op == "Gather") {
      const Const& data = *constant(n.input(0));
      const Const& idx = *constant(n.input(1));
      if (data.dims.size() != 1 || attr_i(n, "axis", 0) != 0) {
        throw UserError(where(n) + ": constant Gather is supported on 1-D data along axis 0");
      }
      Const c;
      c.dims = idx.dims;
      for (double i : idx.v) {
        auto k = static_cast<int64_t>(i);
        if (k < 0) k += static_cast<int64_t>(data.v.size());
        c.v.push_back(data.v.at(static_cast<std::size_t>(k)));
      }
      consts_[n.output(0)] = c;
      return true;
    }
    if (op == "Unsqueeze" || op == "Squeeze") {
      Const c = *constant(n.input(0));
      std::vector<int64_t> axes =
          has_input(n, 1) ? ints_of(*constant(n.input(1))) : attr_ints(n, "axes");
      if (op == "Unsqueeze") {
        const auto rank = static_cast<int64_t>(c.dims.size() + axes.size());
        for (auto& a : axes) if (a < 0) a += rank;
        std::sort(axes.begin(), axes.end());
        for (auto a : axes) c.dims.insert(c.dims.begin() + a, 1);
      } else {
        std::vector<int64_t> d;
        for (auto x : c.dims) if (x != 1) d.push_back(x);
        c.dims = d;
      }
      consts_[n.output(0)] = c;
      return true;
    }
    if (op == "Concat") {
      Const c;
      for (int i = 0; i < n.input_size(); ++i) {
        const Const& p = *constant(n.input(i));
        if (p.dims.size() > 1) throw UserError(where(n) + ": constant Concat of 1-D tensors only");
        c.v.insert(c.v.end(), p.v.begin(), p.v.end());
      }
      c.dims = {static_cast<int64_t>(c.v.size())};
      consts_[n.output(0)] = c;
      return true;
    }
    return false;
  }

  // Reads 2-D spatial attributes (kernel_shape, strides, pads, dilations) of Conv / pooling.
  struct Window {
    Pair k, s{1}, d{1};
    Pads p{0};
  };
  Window window(const onnx::NodeProto& n, const Shape& in, std::vector<int64_t> kernel) {
    Window w;
    if (kernel.size() != 2) throw UserError(where(n) + ": only 2-D kernels are supported");
    w.k = Pair(kernel[0], kernel[1]);
    const auto s = attr_ints(n, "strides", {1, 1}), d = attr_ints(n, "dilations", {1, 1});
    const auto p = attr_ints(n, "pads", {0, 0, 0, 0});
    if (s.size() != 2 || d.size() != 2 || p.size() != 4) {
      throw UserError(where(n) + ": strides, dilations and pads must be 2-D");
    }
    w.s = Pair(s[0], s[1]);
    w.d = Pair(d[0], d[1]);
    w.p = Pads(p[0], p[1], p[2], p[3]);
    const auto* ap = attr(n, "auto_pad");
    const std::string mode = ap ? ap->s() : "NOTSET";
    if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
      auto total = [&](int64_t size, int64_t k, int64_t st, int64_t dil) {
        const int64_t out = (size + st - 1) / st;
        return std::max<int64_t>(0, (out - 1) * st + (k - 1) * dil + 1 - size);
      };
      const int64_t th = total(in[1], w.k.h, w.s.h, w.d.h), tw = total(in[2], w.k.w, w.s.w, w.d.w);
      if (mode == "SAME_UPPER") w.p = Pads(th / 2, tw / 2, th - th / 2, tw - tw / 2);
      else w.p = Pads(th - th / 2, tw - tw / 2, th / 2, tw / 2);
    } else if (mode != "NOTSET" && mode != "VALID") {
      throw UserError(where(n) + ": auto_pad '" + mode + "' is not supported");
    }
    return w;
  }

  // One converter per ONNX op type (several types may share one): the table below.
  using Converter = void (Importer::*)(const onnx::NodeProto&, const std::string&, const std::string&);
  static const std::map<std::string, Converter>& converters() {
    static const std::map<std::string, Converter> table{
        {"Conv", &Importer::convert_conv},
        {"Gemm", &Importer::convert_gemm},
        {"MatMul", &Importer::convert_gemm},
        {"BatchNormalization", &Importer::convert_batch_norm},
        {"Relu", &Importer::convert_activation},
        {"LeakyRelu", &Importer::convert_activation},
        {"Sigmoid", &Importer::convert_activation},
        {"Tanh", &Importer::convert_activation},
        {"Clip", &Importer::convert_activation},
        {"Identity", &Importer::convert_activation},
        {"Dropout", &Importer::convert_activation},
        {"Add", &Importer::convert_add},
        {"Sum", &Importer::convert_add},
        {"Concat", &Importer::convert_concat},
        {"MaxPool", &Importer::convert_pool},
        {"AveragePool", &Importer::convert_pool},
        {"GlobalAveragePool", &Importer::convert_global_pool},
        {"Flatten", &Importer::convert_reshape},
        {"Squeeze", &Importer::convert_reshape},
        {"Reshape", &Importer::convert_reshape},
        {"Unsqueeze", &Importer::convert_reshape},
        {"Pad", &Importer::convert_pad},
        {"Slice", &Importer::convert_slice},
    };
    return table;
  }

  void node(const onnx::NodeProto& n) {
    const std::string& op = n.op_type();
    if (shape_node(n)) return;
    const auto it = converters().find(op);
    if (it == converters().end()) throw UserError(where(n) + ": its inputs must be constants (shape arithmetic)");
    (this->*it->second)(n, op, name_of(n));
  }

  void convert_conv(const onnx::NodeProto& n, const std::string& /*op*/, const std::string& name) {
    Graph& g = out_.graph;
    const ValueId x = tensor(n, 0);
    const Const& w = need_const(n, 1);
    if (w.dims.size() != 4) throw UserError(where(n) + ": weight must be 4-D (2-D convolution)");
    const int64_t groups = attr_i(n, "group", 1);
    const Window win = window(n, shape(x), attr_ints(n, "kernel_shape", {w.dims[2], w.dims[3]}));
    const bool bias = has_input(n, 2);
    set(n, g.conv2d(x,
                    Conv2dOptions(shape(x).at(0), w.dims[0], win.k)
                        .stride(win.s).padding(win.p).dilation(win.d).groups(groups).bias(bias),
                    name, floats_of(w), bias ? floats_of(need_const(n, 2)) : std::vector<float>{}));
  }

  void convert_gemm(const onnx::NodeProto& n, const std::string& op, const std::string& name) {
    Graph& g = out_.graph;
    const ValueId x = tensor(n, 0);
    const Const& b = need_const(n, 1);
    if (b.dims.size() != 2) throw UserError(where(n) + ": B must be a 2-D constant");
    if (attr_i(n, "transA", 0) != 0) throw UserError(where(n) + ": transA = 1 is not supported");
    const bool trans_b = op == "Gemm" && attr_i(n, "transB", 0) != 0;
    const int64_t in = trans_b ? b.dims[1] : b.dims[0], outf = trans_b ? b.dims[0] : b.dims[1];
    const double alpha = op == "Gemm" ? attr_f(n, "alpha", 1.0) : 1.0;
    const double beta = op == "Gemm" ? attr_f(n, "beta", 1.0) : 1.0;
    std::vector<float> w(static_cast<std::size_t>(in * outf));  // [out, in]
    for (int64_t o = 0; o < outf; ++o)
      for (int64_t i = 0; i < in; ++i) {
        const double v = trans_b ? b.v[static_cast<std::size_t>(o * in + i)]
                                 : b.v[static_cast<std::size_t>(i * outf + o)];
        w[static_cast<std::size_t>(o * in + i)] = static_cast<float>(alpha * v);
      }
    std::vector<float> bias;
    if (op == "Gemm" && has_input(n, 2)) {
      const Const& c = need_const(n, 2);
      if (static_cast<int64_t>(c.v.size()) != outf && c.v.size() != 1) {
        throw UserError(where(n) + ": C must have " + std::to_string(outf) + " values");
      }
      for (int64_t o = 0; o < outf; ++o) {
        bias.push_back(static_cast<float>(beta * c.v[c.v.size() == 1 ? 0 : static_cast<std::size_t>(o)]));
      }
    }
    const bool has_bias = !bias.empty();
    set(n, g.linear(x, LinearOptions(in, outf).bias(has_bias), name, w, bias));
  }

  void convert_batch_norm(const onnx::NodeProto& n, const std::string& /*op*/, const std::string& name) {
    Graph& g = out_.graph;
    const ValueId x = tensor(n, 0);
    set(n, g.batch_norm(x, BatchNormOptions(shape(x).at(0)).eps(attr_f(n, "epsilon", 1e-5)), name,
                        floats_of(need_const(n, 1)), floats_of(need_const(n, 2)),
                        floats_of(need_const(n, 3)), floats_of(need_const(n, 4))));
  }

  void convert_activation(const onnx::NodeProto& n, const std::string& op, const std::string& name) {
    Graph& g = out_.graph;
    ActivationOptions a(ActKind::kIdentity);
    if (op == "Relu") a = ActivationOptions(ActKind::kReLU);
    if (op == "LeakyRelu") a = ActivationOptions(ActKind::kLeakyReLU).alpha(attr_f(n, "alpha", 0.01));
    if (op == "Sigmoid") a = ActivationOptions(ActKind::kSigmoid);
    if (op == "Tanh") a = ActivationOptions(ActKind::kTanh);
    if (op == "Clip") {
      double lo = attr_f(n, "min", -3.4e38), hi = attr_f(n, "max", 3.4e38);
      if (has_input(n, 1)) lo = need_const(n, 1).v.at(0);
      if (has_input(n, 2)) hi = need_const(n, 2).v.at(0);
      a = (lo == 0.0 && hi == 6.0) ? ActivationOptions(ActKind::kReLU6)
                                   : ActivationOptions(ActKind::kClip).min(lo).max(hi);
    }
    set(n, g.activation(tensor(n, 0), a, name));
  }

  void convert_add(const onnx::NodeProto& n, const std::string& /*op*/, const std::string& name) {
    Graph& g = out_.graph;
    std::vector<ValueId> xs;
    for (int i = 0; i < n.input_size(); ++i) xs.push_back(tensor(n, i));
    repair_shortcut(n, xs);
    set(n, g.add(xs, name));
  }

  void convert_concat(const onnx::NodeProto& n, const std::string& /*op*/, const std::string& name) {
    Graph& g = out_.graph;
    std::vector<ValueId> xs;
    for (int i = 0; i < n.input_size(); ++i) xs.push_back(tensor(n, i));
    int64_t axis = attr_i(n, "axis", 1);
    const auto rank = static_cast<int64_t>(shape(xs[0]).size()) + 1;
    if (axis < 0) axis += rank;
    if (axis < 1) throw UserError(where(n) + ": concatenation along the batch axis is not supported");
    set(n, g.concat(xs, ConcatOptions().axis(axis - 1), name));
  }

  void convert_pool(const onnx::NodeProto& n, const std::string& op, const std::string& name) {
    Graph& g = out_.graph;
    const ValueId x = tensor(n, 0);
    if (n.output_size() > 1 && !n.output(1).empty()) {
      throw UserError(where(n) + ": the Indices output of MaxPool is not supported");
    }
    const Window w = window(n, shape(x), attr_ints(n, "kernel_shape"));
    PoolOptions o(w.k);
    o.stride(w.s).padding(w.p).dilation(w.d).ceil_mode(attr_i(n, "ceil_mode", 0) != 0);
    o.count_include_pad(attr_i(n, "count_include_pad", 0) != 0);
    const Shape& s = shape(x);
    if (op == "AveragePool" && w.k.h == s[1] && w.k.w == s[2] && w.p == Pads(0) && w.d == Pair(1)) {
      set(n, g.global_avg_pool(x, name));
    } else {
      set(n, op == "MaxPool" ? g.max_pool(x, o, name) : g.avg_pool(x, o, name));
    }
  }

  void convert_global_pool(const onnx::NodeProto& n, const std::string& /*op*/, const std::string& name) {
    Graph& g = out_.graph;
    set(n, g.global_avg_pool(tensor(n, 0), name));
  }

  void convert_reshape(const onnx::NodeProto& n, const std::string& op, const std::string& name) {
    Graph& g = out_.graph;
    const ValueId x = tensor(n, 0);
    const Shape& s = shape(x);
    std::vector<int64_t> target;  // ONNX shape, batch included
    if (op == "Flatten") {
      if (attr_i(n, "axis", 1) != 1) throw UserError(where(n) + ": only axis = 1 is supported");
      target = {1, numel(s)};
    } else if (op == "Reshape") {
      target = ints_of(need_const(n, 1));
      const auto full = onnx_shape(x);
      int64_t known = 1, infer = -1;
      for (std::size_t i = 0; i < target.size(); ++i) {
        if (target[i] == 0 && attr_i(n, "allowzero", 0) == 0 && i < full.size()) target[i] = full[i];
        if (target[i] == -1) infer = static_cast<int64_t>(i);
        else known *= target[i];
      }
      if (infer >= 0) target[static_cast<std::size_t>(infer)] = numel(s) / std::max<int64_t>(known, 1);
    } else if (op == "Squeeze") {
      std::vector<int64_t> axes = has_input(n, 1) ? ints_of(need_const(n, 1)) : attr_ints(n, "axes");
      const auto full = onnx_shape(x);
      for (std::size_t i = 0; i < full.size(); ++i) {
        const bool squeeze = axes.empty() ? (full[i] == 1 && i > 0)
                                          : std::count(axes.begin(), axes.end(), static_cast<int64_t>(i)) > 0;
        if (!squeeze) target.push_back(full[i]);
      }
    } else {
      throw UserError(where(n) + ": Unsqueeze of a tensor is not supported");
    }
    const auto full = onnx_shape(x);
    if (target == full) {
      values_[n.output(0)] = x;  // no-op reshape
    } else if (target.size() == 2 && target[0] == 1 && target[1] == numel(s) && s.size() == 3) {
      set(n, g.flatten(x, name));
    } else {
      std::ostringstream t;
      for (auto v : target) t << v << " ";
      throw UserError(where(n) + ": reshaping " + shape_str(s) + " (batch 1) to [" + t.str() +
                      "] is not supported; only flattening [1, C, H, W] to [1, C*H*W]");
    }
  }

  void convert_pad(const onnx::NodeProto& n, const std::string& /*op*/, const std::string& name) {
    Graph& g = out_.graph;
    const ValueId x = tensor(n, 0);
    const auto* m = attr(n, "mode");
    if (m && m->s() != "constant") throw UserError(where(n) + ": mode '" + m->s() + "' is not supported, expected constant");
    std::vector<int64_t> pads = has_input(n, 1) ? ints_of(need_const(n, 1)) : attr_ints(n, "pads");
    double value = attr_f(n, "value", 0.0);
    if (has_input(n, 2)) value = need_const(n, 2).v.at(0);
    if (has_input(n, 3)) throw UserError(where(n) + ": the axes input is not supported");
    if (pads.size() != 8 || pads[0] != 0 || pads[4] != 0) {
      throw UserError(where(n) + ": pads must be 4-D with no batch padding");
    }
    set(n, g.pad(x, PadOptions().channels_before(pads[1]).channels_after(pads[5])
                        .spatial(Pads(pads[2], pads[3], pads[6], pads[7])).value(value), name));
  }

  void convert_slice(const onnx::NodeProto& n, const std::string& /*op*/, const std::string& name) {
    Graph& g = out_.graph;
    const ValueId x = tensor(n, 0);
    std::vector<int64_t> starts, ends, axes, steps;
    if (has_input(n, 1)) {
      starts = ints_of(need_const(n, 1));
      ends = ints_of(need_const(n, 2));
      if (has_input(n, 3)) axes = ints_of(need_const(n, 3));
      if (has_input(n, 4)) steps = ints_of(need_const(n, 4));
    } else {
      starts = attr_ints(n, "starts");
      ends = attr_ints(n, "ends");
      axes = attr_ints(n, "axes");
    }
    if (axes.empty()) for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (steps.empty()) steps.assign(starts.size(), 1);
    const Shape& s = shape(x);
    SliceOptions o;
    std::vector<int64_t> st{0, 0, 0}, en{s[0], s[1], s[2]}, sp{1, 1, 1};
    for (std::size_t i = 0; i < axes.size(); ++i) {
      int64_t a = axes[i] < 0 ? axes[i] + 4 : axes[i];
      if (a == 0) {
        if (starts[i] == 0 && ends[i] >= 1 && steps[i] == 1) continue;
        throw UserError(where(n) + ": slicing the batch axis is not supported");
      }
      const auto k = static_cast<std::size_t>(a - 1);
      if (steps[i] < 1) throw UserError(where(n) + ": only positive steps are supported");
      auto clampi = [&](int64_t v) {
        if (v < 0) v += s[k];
        return std::clamp<int64_t>(v, 0, s[k]);
      };
      st[k] = clampi(starts[i]);
      en[k] = clampi(ends[i]);
      sp[k] = steps[i];
    }
    set(n, g.slice(x, o.start(st).end(en).step(sp), name));
  }

  // See the header: the option-A shortcut exported without its strided slice.
  void repair_shortcut(const onnx::NodeProto& n, std::vector<ValueId>& xs) {
    if (xs.size() != 2) return;
    Graph& g = out_.graph;
    for (int big = 0; big < 2; ++big) {
      const ValueId b = xs[static_cast<std::size_t>(big)], sm = xs[static_cast<std::size_t>(1 - big)];
      const Shape &sb = shape(b), &ss = shape(sm);
      if (sb.size() != 3 || ss.size() != 3 || sb[0] != ss[0] || sb == ss) continue;
      if (g.node(g.value(b).producer).kind != OpKind::kPad) continue;
      if (sb[1] % ss[1] != 0 || sb[2] % ss[2] != 0 || sb[1] / ss[1] != sb[2] / ss[2]) continue;
      const int64_t k = sb[1] / ss[1];
      const std::string pad_name = g.node(g.value(b).producer).name;
      xs[static_cast<std::size_t>(big)] =
          g.slice(b, SliceOptions().step({1, k, k}), pad_name + ".subsample");
      out_.notes.push_back(where(n) + ": input '" + pad_name + "' is " + shape_str(sb) +
                           " but the other input is " + shape_str(ss) +
                           "; inserted the missing stride-" + std::to_string(k) +
                           " subsample of the option-A shortcut (" + pad_name + ".subsample)");
      return;
    }
  }

  const onnx::ModelProto& m_;
  std::string origin_;
  OnnxImport out_;
  std::map<std::string, Const> consts_;
  std::map<std::string, ValueId> values_;
};

}  // namespace

OnnxImport import_onnx_bytes(const std::string& bytes, const std::string& origin) {
  onnx::ModelProto m;
  if (!m.ParseFromString(bytes)) {
    throw UserError(origin + ": not a valid ONNX model (protobuf ModelProto parse failed)");
  }
  return Importer(m, origin).run();
}

OnnxImport import_onnx(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw UserError("cannot open ONNX file '" + path + "'");
  std::ostringstream s;
  s << f.rdbuf();
  return import_onnx_bytes(s.str(), path);
}

}  // namespace nc::cm
