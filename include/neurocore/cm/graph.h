#pragma once
// The CM compiler's graph IR (docs/cm.md, "Graph IR"; spec cm-compiler.md §3).
//
// A Graph is a DAG of nodes; every node produces exactly one value (tensor) and every value
// has exactly one producer. Shapes carry no batch dimension: an image-like value is [C, H, W],
// a flat one (after Flatten or Linear) is [F]. Nodes are kept in insertion order, which is a
// topological order because a node may only read values that already exist.
//
// Shapes are inferred when a node is added, so an inconsistent graph is rejected at the door
// with a UserError naming the node, the value seen and the value expected.
//
// No LibTorch here: weights are plain std::vector<float> in PyTorch's layouts, filled by an
// importer (or left empty for shape-only graphs, e.g. for mapping and dependency analysis).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace nc::cm {

/// Chainable option setter, in the style of TORCH_ARG (STYLE.md): `opt.stride(2).padding(1)`.
#define NC_CM_ARG(T, name)                  \
 public:                                    \
  inline auto name(const T& v)->decltype(*this) { \
    this->name##_ = v;                      \
    return *this;                           \
  }                                         \
  inline const T& name() const noexcept { return this->name##_; } \
                                            \
 private:                                   \
  T name##_

using Shape = std::vector<int64_t>;
using ValueId = int;
using NodeId = int;

/// "[16, 32, 32]".
std::string shape_str(const Shape& s);
/// Product of the dimensions.
int64_t numel(const Shape& s);

/// A (height, width) pair: kernel size, stride, dilation. `Pair(3)` is 3x3.
struct Pair {
  int64_t h = 0, w = 0;
  Pair() = default;
  Pair(int64_t v) : h(v), w(v) {}  // NOLINT: implicit, as torch::ExpandingArray
  Pair(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  bool operator==(const Pair& o) const { return h == o.h && w == o.w; }
};

/// Spatial zero padding (top, left, bottom, right), as ONNX allows asymmetric pads.
/// `Pads(1)` pads one pixel on every side; `Pads(1, 2)` is 1 row top/bottom, 2 columns left/right.
struct Pads {
  int64_t top = 0, left = 0, bottom = 0, right = 0;
  Pads() = default;
  Pads(int64_t v) : top(v), left(v), bottom(v), right(v) {}  // NOLINT
  Pads(int64_t h, int64_t w) : top(h), left(w), bottom(h), right(w) {}
  Pads(int64_t t, int64_t l, int64_t b, int64_t r) : top(t), left(l), bottom(b), right(r) {}
  bool operator==(const Pads& o) const {
    return top == o.top && left == o.left && bottom == o.bottom && right == o.right;
  }
};

enum class OpKind {
  kInput,
  kConv2d,
  kLinear,
  kBatchNorm,
  kActivation,
  kAdd,
  kConcat,
  kMaxPool,
  kAvgPool,
  kGlobalAvgPool,
  kFlatten,
  kPad,
  kSlice,
  kSpiking,
};
/// "Conv2d", "MaxPool", ...
const char* op_name(OpKind k);

/// 2-D convolution, PyTorch semantics:
///   y[k, oh, ow] = b[k] + sum_{c in group(k), i, j} W[k, c, i, j] x[c, s_h oh + d_h i - p_top, s_w ow + d_w j - p_left]
///   OH = floor((H + p_top + p_bottom - d_h (kh - 1) - 1) / s_h) + 1   (OW likewise)
/// Weight layout [out, in/groups, kh, kw]; groups = in = out is depthwise.
struct Conv2dOptions {
  Conv2dOptions(int64_t in, int64_t out, Pair kernel)
      : in_channels_(in), out_channels_(out), kernel_size_(kernel) {}
  NC_CM_ARG(int64_t, in_channels);
  NC_CM_ARG(int64_t, out_channels);
  NC_CM_ARG(Pair, kernel_size);
  NC_CM_ARG(Pair, stride) = Pair(1);
  NC_CM_ARG(Pads, padding) = Pads(0);
  NC_CM_ARG(Pair, dilation) = Pair(1);
  NC_CM_ARG(int64_t, groups) = 1;
  NC_CM_ARG(bool, bias) = true;
};

/// y = W x + b, x: [in], W: [out, in] (PyTorch layout).
struct LinearOptions {
  LinearOptions(int64_t in, int64_t out) : in_features_(in), out_features_(out) {}
  NC_CM_ARG(int64_t, in_features);
  NC_CM_ARG(int64_t, out_features);
  NC_CM_ARG(bool, bias) = true;
};

/// Inference-mode batch norm: y[c] = gamma[c] (x[c] - mean[c]) / sqrt(var[c] + eps) + beta[c].
/// Parameters live in Node::weight (gamma), bias (beta), running_mean and running_var.
struct BatchNormOptions {
  explicit BatchNormOptions(int64_t channels) : num_features_(channels) {}
  NC_CM_ARG(int64_t, num_features);
  NC_CM_ARG(double, eps) = 1e-5;
};

enum class ActKind { kReLU, kReLU6, kLeakyReLU, kSigmoid, kTanh, kClip, kIdentity };
const char* act_name(ActKind k);

/// Element-wise activation (a digital-unit op). LeakyReLU uses `alpha` as its slope, Clip
/// clamps to [min, max].
struct ActivationOptions {
  explicit ActivationOptions(ActKind kind) : kind_(kind) {}
  NC_CM_ARG(ActKind, kind);
  NC_CM_ARG(double, alpha) = 0.01;
  NC_CM_ARG(double, min) = 0.0;
  NC_CM_ARG(double, max) = 6.0;
};

/// Max or average pooling over kernel windows, PyTorch semantics (ceil_mode: the last window
/// must start inside the input or the top/left padding). Average pooling divides by the full
/// window when count_include_pad, by the in-bounds elements otherwise.
struct PoolOptions {
  explicit PoolOptions(Pair kernel) : kernel_size_(kernel), stride_(kernel) {}
  NC_CM_ARG(Pair, kernel_size);
  NC_CM_ARG(Pair, stride);  // defaults to the kernel size, as in PyTorch
  NC_CM_ARG(Pads, padding) = Pads(0);
  NC_CM_ARG(Pair, dilation) = Pair(1);
  NC_CM_ARG(bool, ceil_mode) = false;
  NC_CM_ARG(bool, count_include_pad) = true;
};

/// Concatenation along an axis of the batch-less shape (0 = channels).
struct ConcatOptions {
  NC_CM_ARG(int64_t, axis) = 0;
};

/// Constant padding of an image-like value, channels included (used by the parameter-free
/// "option A" ResNet shortcut, which zero-pads channels). Spatial pads may be asymmetric.
struct PadOptions {
  NC_CM_ARG(int64_t, channels_before) = 0;
  NC_CM_ARG(int64_t, channels_after) = 0;
  NC_CM_ARG(Pads, spatial) = Pads(0);
  NC_CM_ARG(double, value) = 0.0;
};

/// Strided slice of an image-like value, per axis (C, H, W): indices start, start + step, ...
/// below end (end clamped to the dimension). `x[:, ::2, ::2]` is start {0,0,0},
/// end {C,H,W}, step {1,2,2}.
struct SliceOptions {
  NC_CM_ARG(std::vector<int64_t>, start) = std::vector<int64_t>{0, 0, 0};
  NC_CM_ARG(std::vector<int64_t>, end) = std::vector<int64_t>{INT64_MAX, INT64_MAX, INT64_MAX};
  NC_CM_ARG(std::vector<int64_t>, step) = std::vector<int64_t>{1, 1, 1};
};

/// A layer of spiking neural units (SNU, Wozniak et al. 2020; docs/cm.md "Spiking graphs"):
/// the stateful element-wise part of an SNU layer, whose weights are the Linear (or Conv2d)
/// before it. Only in a temporal graph (Graph::time_steps() >= 1), which runs T time steps
/// per sample; the state s, y of every unit starts at 0 for each sample and is kept from one
/// step to the next. At step t, for input x_t and unit i of channel c:
///   u = x_t + (d[c] s_{t-1}) (1 - y_{t-1});  s_t = g(u);  y_t = h(s_t - theta[c])
/// g: identity, ReLU or LeakyReLU (slope `alpha`); h: the step [z > 0] (SNU) or, when `soft`,
/// sigmoid(z) (sSNU). The node's output is y_t. Parameters: weight = decay d, bias =
/// threshold theta, each [C] (C = channels of an image-like value, features of a flat one).
struct SpikingOptions {
  NC_CM_ARG(bool, soft) = false;
  NC_CM_ARG(ActKind, g) = ActKind::kIdentity;
  NC_CM_ARG(double, alpha) = 0.1;
};

#undef NC_CM_ARG

using NodeOptions = std::variant<std::monostate, Conv2dOptions, LinearOptions, BatchNormOptions,
                                 ActivationOptions, PoolOptions, ConcatOptions, PadOptions,
                                 SliceOptions, SpikingOptions>;

struct Value {
  std::string name;
  Shape shape;
  NodeId producer = -1;
  std::vector<NodeId> consumers;  // in node order; a node reading it twice appears twice
};

/// A quantized model's activation quantizer on a matrix node's input (int_weights.h):
/// x -> (round(clamp(x / scale + zero_point, qmin, qmax)) - zero_point) * scale, evaluated in
/// float with the fake quantizer's own sequence of operations, so the value is bit-exact.
/// zero_point is an integer in [qmin, qmax], so 0 (also the padding) maps to 0.
struct InputQuant {
  float scale = 1.0f, zero_point = 0.0f;
  int64_t qmin = 0, qmax = 255;
  float apply(float x) const;
  void apply(std::vector<float>& xs) const;
};

struct Node {
  std::string name;
  OpKind kind = OpKind::kInput;
  std::vector<ValueId> inputs;
  ValueId output = -1;
  NodeOptions options;
  // Parameters, PyTorch layouts. Conv2d: weight [out, in/groups, kh, kw], bias [out];
  // Linear: weight [out, in], bias [out]; BatchNorm: weight = gamma, bias = beta,
  // running_mean, running_var, each [C]; Spiking: weight = decay, bias = threshold, each [C].
  // Empty = not filled (a shape-only graph).
  std::vector<float> weight, bias, running_mean, running_var;
  // Matrix nodes of a quantized model: the quantizer of the input (applied by every
  // evaluator before the matrix product; the padding stays 0).
  std::optional<InputQuant> input_quant;

  const Conv2dOptions& conv() const { return std::get<Conv2dOptions>(options); }
  const LinearOptions& linear() const { return std::get<LinearOptions>(options); }
  const BatchNormOptions& batch_norm() const { return std::get<BatchNormOptions>(options); }
  const ActivationOptions& activation() const { return std::get<ActivationOptions>(options); }
  const PoolOptions& pool() const { return std::get<PoolOptions>(options); }
  const ConcatOptions& concat() const { return std::get<ConcatOptions>(options); }
  const PadOptions& pad() const { return std::get<PadOptions>(options); }
  const SliceOptions& slice() const { return std::get<SliceOptions>(options); }
  const SpikingOptions& spiking() const { return std::get<SpikingOptions>(options); }
  /// True for the ops that hold a weight matrix (mapped onto crossbars): Conv2d, Linear.
  bool has_matrix() const { return kind == OpKind::kConv2d || kind == OpKind::kLinear; }
};

class Graph {
 public:
  /// Builders. Each infers the output shape and throws UserError (naming the node, the
  /// shape seen and the shape expected) when the inputs do not fit. An empty `name` gets a
  /// unique default ("conv2d_3"); a duplicate name is a UserError. The output value has the
  /// node's name. Parameters, when given, must have the sizes of the layouts above.
  ValueId input(const std::string& name, const Shape& shape);
  ValueId conv2d(ValueId x, const Conv2dOptions& o, const std::string& name = "",
                 std::vector<float> weight = {}, std::vector<float> bias = {});
  ValueId linear(ValueId x, const LinearOptions& o, const std::string& name = "",
                 std::vector<float> weight = {}, std::vector<float> bias = {});
  ValueId batch_norm(ValueId x, const BatchNormOptions& o, const std::string& name = "",
                     std::vector<float> gamma = {}, std::vector<float> beta = {},
                     std::vector<float> mean = {}, std::vector<float> var = {});
  ValueId activation(ValueId x, const ActivationOptions& o, const std::string& name = "");
  ValueId relu(ValueId x, const std::string& name = "") {
    return activation(x, ActivationOptions(ActKind::kReLU), name);
  }
  /// Element-wise sum of two or more values of the same shape (the residual add).
  ValueId add(const std::vector<ValueId>& xs, const std::string& name = "");
  ValueId concat(const std::vector<ValueId>& xs, const ConcatOptions& o = {},
                 const std::string& name = "");
  ValueId max_pool(ValueId x, const PoolOptions& o, const std::string& name = "");
  ValueId avg_pool(ValueId x, const PoolOptions& o, const std::string& name = "");
  /// [C, H, W] -> [C, 1, 1].
  ValueId global_avg_pool(ValueId x, const std::string& name = "");
  /// [C, H, W] -> [C*H*W] (row-major: f = (c H + h) W + w).
  ValueId flatten(ValueId x, const std::string& name = "");
  ValueId pad(ValueId x, const PadOptions& o, const std::string& name = "");
  ValueId slice(ValueId x, const SliceOptions& o, const std::string& name = "");
  /// Needs a temporal graph (set_time_steps first), else UserError.
  ValueId spiking(ValueId x, const SpikingOptions& o, const std::string& name = "",
                  std::vector<float> decay = {}, std::vector<float> threshold = {});

  /// Makes the graph temporal: every sample is `steps` >= 1 consecutive frames (time steps)
  /// of the graph's inputs, each giving one frame of outputs; Spiking nodes keep their state
  /// across the frames of a sample. Throws UserError when steps < 1.
  void set_time_steps(int64_t steps);
  /// T for a temporal graph, 0 for a static one (one frame per sample, no state).
  int64_t time_steps() const { return time_steps_; }
  bool temporal() const { return time_steps_ > 0; }
  /// Frames per sample: T, or 1 for a static graph.
  int64_t frames_per_sample() const { return time_steps_ > 0 ? time_steps_ : 1; }

  /// Generic form of the builders (used by importers and graph rewrites).
  ValueId add_node(Node node);

  /// Marks a value as a graph output (collected by the GCU).
  void mark_output(ValueId v);

  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<Value>& values() const { return values_; }
  const Node& node(NodeId id) const { return nodes_.at(static_cast<std::size_t>(id)); }
  Node& node(NodeId id) { return nodes_.at(static_cast<std::size_t>(id)); }
  const Value& value(ValueId id) const { return values_.at(static_cast<std::size_t>(id)); }
  const std::vector<ValueId>& outputs() const { return outputs_; }
  std::vector<ValueId> inputs() const;
  /// Node by name. Throws UserError (with the closest name) when absent.
  NodeId find_node(const std::string& name) const;

  /// Re-runs shape inference over every node (after an importer edited options or shapes).
  void infer_shapes();

  /// Folds every BatchNorm whose input comes from a Conv2d or Linear read by nothing else
  /// (and not a graph output) into that layer:
  ///   s[k] = gamma[k] / sqrt(var[k] + eps),  W'[k, ...] = s[k] W[k, ...],
  ///   b'[k] = s[k] (b[k] - mean[k]) + beta[k]      (b = 0 when the layer had no bias)
  /// and removes the BatchNorm. Other BatchNorms stay (a per-channel digital op). On a
  /// shape-only graph (no weights) the fold is structural. Returns the number folded.
  /// Throws UserError when one side has parameters and the other does not.
  int fold_batch_norms();

  /// Human-readable listing, one node per line: "conv1 = Conv2d(x) [3, 32, 32] -> [16, 32, 32] k=3 s=1 p=1".
  std::string to_string() const;
  /// Graphviz DOT: one box per node, edges labelled with the value's shape.
  std::string to_dot() const;
  /// JSON: {"nodes": [{name, op, inputs, output, shape, options, params}], "outputs": [...]}.
  /// Parameter values are not written, only their sizes.
  std::string to_json() const;

 private:
  ValueId finish_node(Node node);
  std::string unique_name(const std::string& base);
  void check_params(const Node& n) const;

  std::vector<Node> nodes_;
  std::vector<Value> values_;
  std::vector<ValueId> outputs_;
  int counter_ = 0;
  int64_t time_steps_ = 0;
};

/// The output shape of `node` given its input shapes. Throws UserError on a mismatch.
Shape infer_shape(const Node& node, const std::vector<Shape>& input_shapes);

/// Output size of a sliding window along one axis:
///   floor_or_ceil((n + pad_total - dilation (k - 1) - 1) / stride) + 1,
/// with PyTorch's ceil-mode rule (the last window must start inside input + leading pad).
/// Returns <= 0 when the window does not fit.
int64_t window_out(int64_t n, int64_t k, int64_t stride, int64_t pad_before, int64_t pad_after,
                   int64_t dilation, bool ceil_mode = false);

}  // namespace nc::cm
