// TorchScript file -> cm::Graph (see the header): load, eval, freeze, then one pass over the
// frozen graph's nodes. Every node either becomes graph IR, resolves to a constant / integer
// list (the scalar plumbing of shapes), or is recorded as unsupported; all unsupported nodes
// are reported together so that a user sees the whole list at once.
#include "neurocore/cm/torch/torchscript_import.h"

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/torch.h>

#include <fmt/format.h>

#include <limits>
#include <map>
#include <optional>
#include <set>

#include "neurocore/core/error.h"

namespace nc::cm {

namespace {

using JitValue = torch::jit::Value;
using JitNode = torch::jit::Node;

// Thrown for one node's unsupported op or argument; collected, not shown alone.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<float> floats(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

class Walker {
 public:
  Walker(Graph& g, std::vector<std::string>& notes) : g_(g), notes_(notes) {}

  void input(const JitValue* v, const Shape& shape) { tensors_[v] = g_.input(v->debugName(), shape); }

  // One node; throws Unsupported (with the reason) for anything it cannot express.
  void visit(const JitNode* n) {
    const std::string k = n->kind().toQualString();
    for (const JitValue* in : n->inputs()) {
      if (unknown_.count(in)) {  // downstream of an unsupported node: not reported again
        for (const JitValue* out : n->outputs()) unknown_.insert(out);
        return;
      }
    }
    if (k == "prim::Constant") return;  // read lazily through toIValue
    if (k == "prim::ListConstruct") return list(n);
    if (k == "aten::size") return size(n);
    if (k == "prim::NumToTensor" || k == "aten::Int" || k == "aten::ScalarImplicit") {
      return alias(n->input(0), n->output());
    }
    if (k == "aten::dropout" || k == "aten::dropout_" || k == "aten::feature_dropout" ||
        k == "aten::contiguous" || k == "aten::detach" || k == "aten::alpha_dropout") {
      return alias(n->input(0), n->output());
    }
    if (k == "aten::conv2d" || k == "aten::_convolution") return conv(n, k);
    if (k == "aten::linear") return linear(n, n->input(0), tensor_const(n->input(1)), n->input(2));
    if (k == "aten::addmm") return addmm(n);
    if (k == "aten::matmul" || k == "aten::mm") return matmul(n);
    if (k == "aten::batch_norm") return batch_norm(n);
    if (k == "aten::add" || k == "aten::add_") return add(n);
    if (k == "aten::cat") return cat(n);
    if (k == "aten::max_pool2d" || k == "aten::avg_pool2d") return pool(n, k == "aten::max_pool2d");
    if (k == "aten::adaptive_avg_pool2d") return adaptive_avg_pool(n);
    if (k == "aten::mean") return mean(n);
    if (k == "aten::flatten") return flatten(n);
    if (k == "aten::view" || k == "aten::reshape") return reshape(n);
    if (std::optional<ActivationOptions> a = activation(n, k)) {
      return set(n->output(), g_.activation(tensor(n->input(0)), *a, name(n, a_name(a->kind()))));
    }
    throw Unsupported("not supported");
  }

  void mark_unknown(const JitNode* n) {
    for (const JitValue* out : n->outputs()) unknown_.insert(out);
  }

  // The graph value of a forward output.
  std::vector<ValueId> outputs(const JitValue* v) {
    if (v->node()->kind().toQualString() == std::string("prim::TupleConstruct")) {
      std::vector<ValueId> out;
      for (const JitValue* e : v->node()->inputs()) out.push_back(tensor(e));
      return out;
    }
    return {tensor(v)};
  }

 private:
  static const char* a_name(ActKind k) {
    switch (k) {
      case ActKind::kReLU: return "relu";
      case ActKind::kReLU6: return "relu6";
      case ActKind::kLeakyReLU: return "leaky_relu";
      case ActKind::kSigmoid: return "sigmoid";
      case ActKind::kTanh: return "tanh";
      case ActKind::kClip: return "clamp";
      case ActKind::kIdentity: return "identity";
    }
    return "act";
  }

  // "conv2d:input.3": the op and the TorchScript value it produces, unique in the graph.
  static std::string name(const JitNode* n, const std::string& op) {
    return op + ":" + n->output()->debugName();
  }

  void set(const JitValue* v, ValueId id) { tensors_[v] = id; }
  void alias(const JitValue* from, const JitValue* to) {
    if (tensors_.count(from)) tensors_[to] = tensors_.at(from);
    if (batch_.count(from)) batch_.insert(to);
    if (ints_.count(from)) ints_[to] = ints_.at(from);
  }

  ValueId tensor(const JitValue* v) const {
    auto it = tensors_.find(v);
    if (it == tensors_.end()) {
      throw Unsupported("input %" + v->debugName() + " is not a tensor computed from the model's input");
    }
    return it->second;
  }
  const Shape& shape(const JitValue* v) const { return g_.value(tensor(v)).shape; }

  static c10::IValue constant(const JitValue* v, const char* what) {
    auto iv = torch::jit::toIValue(v);
    if (!iv) throw Unsupported(std::string(what) + " %" + v->debugName() + " is not a constant");
    return *iv;
  }
  static torch::Tensor tensor_const(const JitValue* v) {  // undefined for None
    const c10::IValue iv = constant(v, "weight");
    if (iv.isNone()) return {};
    if (!iv.isTensor()) throw Unsupported("%" + v->debugName() + " is not a constant tensor");
    return iv.toTensor();
  }
  int64_t integer(const JitValue* v) const {
    if (ints_.count(v)) return ints_.at(v);
    const c10::IValue iv = constant(v, "argument");
    if (!iv.isInt()) throw Unsupported("argument %" + v->debugName() + " is not an integer");
    return iv.toInt();
  }
  static double number(const JitValue* v) {
    const c10::IValue iv = constant(v, "argument");
    if (iv.isInt()) return static_cast<double>(iv.toInt());
    if (iv.isDouble()) return iv.toDouble();
    throw Unsupported("argument %" + v->debugName() + " is not a number");
  }
  static bool boolean(const JitValue* v) {
    const c10::IValue iv = constant(v, "argument");
    if (!iv.isBool()) throw Unsupported("argument %" + v->debugName() + " is not a boolean");
    return iv.toBool();
  }
  static bool is_none(const JitValue* v) {
    auto iv = torch::jit::toIValue(v);
    return iv && iv->isNone();
  }
  // An int[] argument; kBatch marks the batch size (aten::size(x, 0)).
  static constexpr int64_t kBatch = std::numeric_limits<int64_t>::min();
  std::vector<int64_t> int_list(const JitValue* v) const {
    if (lists_.count(v)) return lists_.at(v);
    const c10::IValue iv = constant(v, "argument");
    if (iv.isIntList()) return iv.toIntVector();
    if (iv.isInt()) return {iv.toInt()};
    throw Unsupported("argument %" + v->debugName() + " is not an integer list");
  }
  static Pair pair(const std::vector<int64_t>& v, const char* what) {
    if (v.size() == 1) return Pair(v[0]);
    if (v.size() == 2) return Pair(v[0], v[1]);
    throw Unsupported(fmt::format("{} has {} values, expected 1 or 2", what, v.size()));
  }

  void list(const JitNode* n) {
    if (n->output()->type()->kind() != c10::TypeKind::ListType) return;
    std::vector<int64_t> ints;
    std::vector<ValueId> ts;
    for (const JitValue* e : n->inputs()) {
      if (tensors_.count(e)) {
        ts.push_back(tensors_.at(e));
      } else if (batch_.count(e)) {
        ints.push_back(kBatch);
      } else {
        ints.push_back(integer(e));
      }
    }
    if (!ts.empty() && !ints.empty()) throw Unsupported("a list mixing tensors and integers");
    if (!ts.empty()) tensor_lists_[n->output()] = ts;
    else lists_[n->output()] = ints;
  }

  void size(const JitNode* n) {
    const Shape& s = shape(n->input(0));
    if (n->inputs().size() == 1) {  // x.size(): [batch, ...]
      std::vector<int64_t> l{kBatch};
      l.insert(l.end(), s.begin(), s.end());
      lists_[n->output()] = l;
      return;
    }
    int64_t d = integer(n->input(1));
    const int64_t rank = static_cast<int64_t>(s.size()) + 1;
    if (d < 0) d += rank;
    if (d == 0) batch_.insert(n->output());
    else if (d > 0 && d < rank) ints_[n->output()] = s[static_cast<std::size_t>(d - 1)];
    else throw Unsupported(fmt::format("size dimension {} of a rank-{} tensor", d, rank));
  }

  void conv(const JitNode* n, const std::string& k) {
    const auto in = n->inputs();
    const torch::Tensor w = tensor_const(in[1]), b = tensor_const(in[2]);
    if (!w.defined() || w.dim() != 4) throw Unsupported("the weight is not a constant 4-D tensor");
    const c10::IValue pad = constant(in[4], "padding");
    if (pad.isString()) throw Unsupported("padding '" + pad.toStringRef() + "' (only explicit padding)");
    int64_t groups = 1;
    if (k == "aten::_convolution") {
      if (boolean(in[6])) throw Unsupported("transposed convolution");
      groups = integer(in[8]);
    } else {
      groups = integer(in[6]);
    }
    const Pair stride = pair(int_list(in[3]), "stride"), padding = pair(int_list(in[4]), "padding"),
               dilation = pair(int_list(in[5]), "dilation");
    Conv2dOptions o(w.size(1) * groups, w.size(0), Pair(w.size(2), w.size(3)));
    o.stride(stride).padding(Pads(padding.h, padding.w)).dilation(dilation).groups(groups).bias(b.defined());
    set(n->output(), g_.conv2d(tensor(in[0]), o, name(n, "conv2d"), floats(w),
                               b.defined() ? floats(b) : std::vector<float>{}));
  }

  void linear(const JitNode* n, const JitValue* x, const torch::Tensor& w, const JitValue* bias) {
    if (!w.defined() || w.dim() != 2) throw Unsupported("the weight is not a constant 2-D tensor");
    const torch::Tensor b = bias ? tensor_const(bias) : torch::Tensor();
    LinearOptions o(w.size(1), w.size(0));
    o.bias(b.defined());
    set(n->output(), g_.linear(tensor(x), o, name(n, "linear"), floats(w),
                               b.defined() ? floats(b.reshape({-1})) : std::vector<float>{}));
  }

  void addmm(const JitNode* n) {  // beta * bias + alpha * (x @ W^T-as-stored)
    if (number(n->input(3)) != 1.0 || number(n->input(4)) != 1.0) {
      throw Unsupported("beta and alpha other than 1");
    }
    const torch::Tensor wt = tensor_const(n->input(2));
    if (!wt.defined() || wt.dim() != 2) throw Unsupported("the matrix is not a constant 2-D tensor");
    linear(n, n->input(1), wt.t(), n->input(0));
  }

  void matmul(const JitNode* n) {  // x @ M with a constant M [in, out]
    const torch::Tensor m = tensor_const(n->input(1));
    if (!m.defined() || m.dim() != 2) throw Unsupported("the right operand is not a constant 2-D tensor");
    if (shape(n->input(0)).size() != 1) throw Unsupported("matmul of a non-flat tensor");
    linear(n, n->input(0), m.t(), nullptr);
  }

  void batch_norm(const JitNode* n) {
    const auto in = n->inputs();
    if (boolean(in[5])) throw Unsupported("batch_norm in training mode");
    const torch::Tensor w = tensor_const(in[1]), b = tensor_const(in[2]),
                        mean = tensor_const(in[3]), var = tensor_const(in[4]);
    if (!mean.defined() || !var.defined()) throw Unsupported("batch_norm without running statistics");
    const int64_t c = mean.numel();
    BatchNormOptions o(c);
    o.eps(number(in[7]));
    set(n->output(), g_.batch_norm(tensor(in[0]), o, name(n, "batch_norm"),
                                   floats(w.defined() ? w : torch::ones({c})),
                                   floats(b.defined() ? b : torch::zeros({c})), floats(mean),
                                   floats(var)));
  }

  void add(const JitNode* n) {
    if (number(n->input(2)) != 1.0) throw Unsupported("add with alpha other than 1");
    const JitValue* a = n->input(0);
    const JitValue* b = n->input(1);
    if (tensors_.count(a) && tensors_.count(b)) {
      set(n->output(), g_.add({tensor(a), tensor(b)}, name(n, "add")));
      return;
    }
    // A constant bias after a bias-free Linear (matmul + add): folded into the layer.
    const JitValue* x = tensors_.count(a) ? a : b;
    const torch::Tensor c = tensor_const(x == a ? b : a);
    const NodeId p = g_.value(tensor(x)).producer;
    Node& layer = g_.node(p);
    if (!c.defined() || layer.kind != OpKind::kLinear || !layer.bias.empty() ||
        x->uses().size() != 1 || c.numel() != layer.linear().out_features()) {
      throw Unsupported("add of a constant that is not the bias of the Linear before it");
    }
    LinearOptions o = layer.linear();
    o.bias(true);
    layer.options = o;
    layer.bias = floats(c.reshape({-1}));
    set(n->output(), tensor(x));
    notes_.push_back("matmul %" + x->debugName() + " + constant: imported as one Linear with bias");
  }

  void cat(const JitNode* n) {
    auto it = tensor_lists_.find(n->input(0));
    if (it == tensor_lists_.end()) throw Unsupported("cat of a list that is not built from tensors");
    int64_t d = integer(n->input(1));
    const int64_t rank = static_cast<int64_t>(g_.value(it->second[0]).shape.size()) + 1;
    if (d < 0) d += rank;
    if (d < 1) throw Unsupported("cat along the batch dimension");
    ConcatOptions o;
    o.axis(d - 1);
    set(n->output(), g_.concat(it->second, o, name(n, "cat")));
  }

  void pool(const JitNode* n, bool is_max) {
    const auto in = n->inputs();
    const Pair kernel = pair(int_list(in[1]), "kernel_size");
    const std::vector<int64_t> s = int_list(in[2]);
    PoolOptions o(kernel);
    o.stride(s.empty() ? kernel : pair(s, "stride"));
    const Pair p = pair(int_list(in[3]), "padding");
    o.padding(Pads(p.h, p.w));
    if (is_max) {
      o.dilation(pair(int_list(in[4]), "dilation")).ceil_mode(boolean(in[5]));
      set(n->output(), g_.max_pool(tensor(in[0]), o, name(n, "max_pool2d")));
      return;
    }
    if (!is_none(in[6])) throw Unsupported("avg_pool2d with divisor_override");
    o.ceil_mode(boolean(in[4])).count_include_pad(boolean(in[5]));
    set(n->output(), g_.avg_pool(tensor(in[0]), o, name(n, "avg_pool2d")));
  }

  void adaptive_avg_pool(const JitNode* n) {
    const Shape& s = shape(n->input(0));
    const Pair out = pair(int_list(n->input(1)), "output_size");
    if (s.size() != 3) throw Unsupported("adaptive_avg_pool2d of a non-image tensor");
    if (out == Pair(1)) {
      set(n->output(), g_.global_avg_pool(tensor(n->input(0)), name(n, "adaptive_avg_pool2d")));
    } else if (out == Pair(s[1], s[2])) {
      alias(n->input(0), n->output());
    } else if (s[1] % out.h == 0 && s[2] % out.w == 0) {
      PoolOptions o(Pair(s[1] / out.h, s[2] / out.w));
      set(n->output(), g_.avg_pool(tensor(n->input(0)), o, name(n, "adaptive_avg_pool2d")));
    } else {
      throw Unsupported(fmt::format("output size {}x{} does not divide the input {}x{}", out.h,
                                    out.w, s[1], s[2]));
    }
  }

  void mean(const JitNode* n) {  // x.mean([2, 3], keepdim)
    const Shape& s = shape(n->input(0));
    if (s.size() != 3 || n->inputs().size() < 3) throw Unsupported("mean other than over H and W");
    std::set<int64_t> dims;
    for (int64_t d : int_list(n->input(1))) dims.insert(d < 0 ? d + 4 : d);
    if (dims != std::set<int64_t>{2, 3} || (n->inputs().size() > 3 && !is_none(n->input(3)))) {
      throw Unsupported("mean other than over H and W");
    }
    ValueId v = g_.global_avg_pool(tensor(n->input(0)), name(n, "mean"));
    if (!boolean(n->input(2))) v = g_.flatten(v, name(n, "mean") + ".flatten");
    set(n->output(), v);
  }

  void to_flat(const JitNode* n, const char* op) {
    const Shape& s = shape(n->input(0));
    if (s.size() == 1) return alias(n->input(0), n->output());
    set(n->output(), g_.flatten(tensor(n->input(0)), name(n, op)));
  }

  void flatten(const JitNode* n) {
    const int64_t rank = static_cast<int64_t>(shape(n->input(0)).size()) + 1;
    int64_t a = integer(n->input(1)), b = integer(n->input(2));
    if (a < 0) a += rank;
    if (b < 0) b += rank;
    if (a != 1 || b != rank - 1) throw Unsupported("flatten other than of every dimension after the batch");
    to_flat(n, "flatten");
  }

  void reshape(const JitNode* n) {
    const Shape& s = shape(n->input(0));
    std::vector<int64_t> l = int_list(n->input(1));
    std::vector<int64_t> same{kBatch};
    same.insert(same.end(), s.begin(), s.end());
    if (l.size() == same.size() && (l[0] == kBatch || l[0] == 1 || l[0] == -1)) {
      l[0] = kBatch;
      if (l == same) return alias(n->input(0), n->output());
    }
    const int64_t f = numel(s);
    const bool flat = l.size() == 2 && (l[0] == kBatch || l[0] == -1 || l[0] == 1) &&
                      (l[1] == f || (l[1] == -1 && l[0] != -1));
    if (!flat) throw Unsupported("a view/reshape other than to [batch, features] or to the same shape");
    to_flat(n, "flatten");
  }

  std::optional<ActivationOptions> activation(const JitNode* n, std::string k) {
    if (k.size() > 1 && k.back() == '_') k.pop_back();  // in-place forms compute the same
    if (k == "aten::relu") return ActivationOptions(ActKind::kReLU);
    if (k == "aten::relu6") return ActivationOptions(ActKind::kReLU6);
    if (k == "aten::sigmoid") return ActivationOptions(ActKind::kSigmoid);
    if (k == "aten::tanh") return ActivationOptions(ActKind::kTanh);
    if (k == "aten::leaky_relu") {
      return ActivationOptions(ActKind::kLeakyReLU).alpha(n->inputs().size() > 1 ? number(n->input(1)) : 0.01);
    }
    if (k == "aten::hardtanh" || k == "aten::clamp") {
      const auto bound = [&](std::size_t i, double dflt) {
        return n->inputs().size() > i && !is_none(n->input(i)) ? number(n->input(i)) : dflt;
      };
      const double inf = std::numeric_limits<double>::infinity();
      const bool ht = k == "aten::hardtanh";
      const double lo = bound(1, ht ? -1.0 : -inf), hi = bound(2, ht ? 1.0 : inf);
      if (lo == 0.0 && hi == 6.0) return ActivationOptions(ActKind::kReLU6);
      if (lo == 0.0 && hi == inf) return ActivationOptions(ActKind::kReLU);
      return ActivationOptions(ActKind::kClip).min(lo).max(hi);
    }
    return std::nullopt;
  }

  Graph& g_;
  std::vector<std::string>& notes_;
  std::map<const JitValue*, ValueId> tensors_;
  std::map<const JitValue*, std::vector<ValueId>> tensor_lists_;
  std::map<const JitValue*, std::vector<int64_t>> lists_;
  std::map<const JitValue*, int64_t> ints_;
  std::set<const JitValue*> batch_;
  std::set<const JitValue*> unknown_;
};

}  // namespace

TorchScriptImport import_torchscript(const std::string& path, const Shape& input_shape) {
  torch::jit::Module frozen;
  try {
    torch::jit::Module m = torch::jit::load(path);
    if (m.hasattr("training")) m.eval();
    frozen = torch::jit::freeze(m);
  } catch (const c10::Error& e) {
    throw UserError(path + ": cannot load it as a TorchScript module (torch::jit::load / "
                    "freeze): " + e.what_without_backtrace());
  }
  std::shared_ptr<torch::jit::Graph> graph;
  try {
    graph = frozen.get_method("forward").graph();
  } catch (const c10::Error&) {
    throw UserError(path + ": the TorchScript module has no forward method");
  }
  std::vector<const JitValue*> tensor_inputs;
  for (const JitValue* v : graph->inputs()) {
    if (v->type()->kind() != c10::TypeKind::ClassType) tensor_inputs.push_back(v);
  }
  if (tensor_inputs.size() != 1) {
    throw UserError(fmt::format("{}: forward takes {} arguments; exactly one input tensor is "
                                "supported", path, tensor_inputs.size()));
  }
  TorchScriptImport out;
  Walker walker(out.graph, out.notes);
  walker.input(tensor_inputs[0], input_shape);
  std::vector<std::string> unsupported;
  for (const JitNode* n : graph->nodes()) {
    try {
      walker.visit(n);
    } catch (const Unsupported& e) {
      walker.mark_unknown(n);
      unsupported.push_back(fmt::format("{} (output %{}): {}", n->kind().toQualString(),
                                        n->outputs().empty() ? std::string("-") : n->output(0)->debugName(),
                                        e.what()));
    } catch (const UserError& e) {  // a shape the graph rejected
      walker.mark_unknown(n);
      unsupported.push_back(fmt::format("{} (output %{}): {}", n->kind().toQualString(),
                                        n->outputs().empty() ? std::string("-") : n->output(0)->debugName(),
                                        e.what()));
    }
  }
  if (unsupported.empty()) {
    try {
      for (const JitValue* v : graph->outputs()) {
        for (ValueId id : walker.outputs(v)) out.graph.mark_output(id);
      }
    } catch (const Unsupported& e) {
      unsupported.push_back(std::string("forward's output: ") + e.what());
    }
  }
  if (!unsupported.empty()) {
    std::string list;
    for (const auto& u : unsupported) list += "\n  " + u;
    throw UserError(fmt::format("{}: {} unsupported TorchScript op(s) for the CM compiler "
                                "(supported: see docs/cm.md, \"TorchScript import\"):{}",
                                path, unsupported.size(), list));
  }
  return out;
}

}  // namespace nc::cm
