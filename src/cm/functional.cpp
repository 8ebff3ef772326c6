#include "neurocore/cm/functional.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <random>

#include "neurocore/cm/spiking.h"
#include "neurocore/core/error.h"

namespace nc::cm {

namespace {

int64_t width_of(const Shape& s) { return s.size() == 3 ? s[2] : 1; }

// y[q] = sum_k v[k] W[row[k], q] for B consecutive columns (W row-major with `cols` columns),
// accumulated in float in k order: the same sums, in the same order, as a plain row-by-row
// loop, so the result is bit for bit that loop's. B fixed: the accumulators stay in registers.
template <int B>
inline __attribute__((always_inline)) void column_block(const float* v, const int32_t* row, int64_t k,
                                                        const float* w, int64_t cols, float* y) {
  float acc[B] = {};
  for (int64_t i = 0; i < k; ++i) {
    const float x = v[i];
    const float* wr = w + static_cast<int64_t>(row[i]) * cols;
    for (int q = 0; q < B; ++q) acc[q] += x * wr[q];
  }
  for (int q = 0; q < B; ++q) y[q] = acc[q];
}

// The crossbar product over the non-zero inputs (v, row: k of them, rows ascending). Compiled
// twice (function multiversioning): for AVX2 and for the baseline, picked when the program
// loads. AVX2 without FMA rounds every product and sum as the baseline does.
__attribute__((target_clones("avx2", "default"))) void matvec(const float* v, const int32_t* row,
                                                               int64_t k, const float* w,
                                                               int64_t cols, float* y) {
  // Each column's sum is one dependent chain of adds: speed comes from many columns at once.
  int64_t q = 0;
  for (; q + 64 <= cols; q += 64) column_block<64>(v, row, k, w + q, cols, y + q);
  if (q + 32 <= cols) column_block<32>(v, row, k, w + q, cols, y + q), q += 32;
  if (q + 16 <= cols) column_block<16>(v, row, k, w + q, cols, y + q), q += 16;
  if (q + 8 <= cols) column_block<8>(v, row, k, w + q, cols, y + q), q += 8;
  for (; q < cols; ++q) column_block<1>(v, row, k, w + q, cols, y + q);
}
int64_t iterations_of(const Shape& s) { return s.size() == 3 ? s[1] * s[2] : 1; }
int64_t channels_of(const Shape& s) { return s.size() == 3 ? s[0] : numel(s); }

Pads reader_pads(const Node& n) {
  if (n.kind == OpKind::kConv2d) return n.conv().padding();
  if (n.kind == OpKind::kMaxPool || n.kind == OpKind::kAvgPool) return n.pool().padding();
  return Pads(0);
}

// One statement of a program, resolved to the simulator's state.
struct Op {
  ControlStep::Kind kind = ControlStep::kCompute;
  int index = -1;       // edge or node
  int64_t h = 0, w = 0;
  int64_t lin = 0;      // h * width of the statement's own node
  int64_t other = 0;    // waits: linear index of (a, b) in the other node's domain
  int slot = -1;        // progress slot of this program (compute / send)
  int tile = -1;        // compute of a matrix node: the tile on this core
};

struct TileState {
  const Tile* tile = nullptr;
  NodeId node = -1;
  const InputQuant* quant = nullptr;  // the node's input quantizer (a quantized model), if any
  int64_t rows = 0, cols = 0;
  std::vector<float> w;             // rows x cols, row-major
  std::vector<int64_t> gather;      // per row: offset in the input buffer from the pixel base
  double w_max = 0;
  std::mt19937_64 rng;
  std::deque<std::vector<float>> psums;  // non-accumulating tiles: partial sums in flight
  std::vector<std::vector<float>> spare;  // consumed partial-sum vectors, reused (no allocation per MVM)
  std::vector<int> peers;           // accumulating tile: the other row blocks of its columns
};

struct Program {
  int64_t core = -1;
  std::vector<Op> ops;
  std::size_t pc = 0;
  int64_t image = 0;
};

}  // namespace

struct FunctionalSimulator::Impl {
  const Graph& g;
  const Mapping& m;
  const PolyModel& poly;
  Hardware hw;
  FunctionalOptions opt;
  std::vector<CoreProgram> programs;
  std::vector<Program> progs;
  std::vector<TileState> tiles;
  std::vector<std::vector<float>> obj;       // per edge
  std::vector<Pads> obj_pads;                // per edge: the reader's padding
  std::vector<Shape> obj_shape;              // per edge
  std::vector<std::vector<int64_t>> sent;    // per edge, per sending program
  std::vector<std::vector<int64_t>> computed;  // per node, per computing program
  std::vector<std::vector<int>> in_edge;     // per node, per input: the edge
  std::vector<std::vector<float>> pix;       // per node: its current output pixel
  std::vector<int64_t> input_offset;         // per node (inputs): offset in an image
  std::vector<int64_t> output_offset;        // per node (outputs): offset in the outputs
  int64_t input_size = 0, output_size = 0;
  int64_t mvms = 0;
  const std::vector<std::vector<float>>* images = nullptr;
  std::vector<std::vector<float>> outputs;
  std::normal_distribution<double> normal{0.0, 1.0};
  std::vector<float> x;       // the MVM input vector (scratch)
  std::vector<float> nz;      // its non-zero entries ...
  std::vector<int32_t> nz_row;  // ... and their rows
  std::vector<float> y;       // an MVM's output (scratch)
  std::vector<const float*> src;  // an element-wise op's input pointers (scratch)
  struct SpikeState {
    std::vector<float> s, y;  // per unit, (c H + h) W + w
  };
  std::vector<SpikeState> spike_state;  // per node (Spiking nodes only: sized)

  Impl(const Graph& g_, const Mapping& m_, const PolyModel& p_, const Hardware& hw_,
       const FunctionalOptions& o)
      : g(g_), m(m_), poly(p_), hw(hw_), opt(o) {
    const auto& a = opt.analog;
    if (a.programming_noise < 0 || a.read_noise < 0 || a.out_bound <= 0) {
      throw UserError("functional simulation: programming_noise and read_noise must be >= 0 and "
                      "out_bound > 0, got " + std::to_string(a.programming_noise) + ", " +
                      std::to_string(a.read_noise) + ", " + std::to_string(a.out_bound));
    }
    programs = generate_control(g, m, poly);
    const std::size_t nn = g.nodes().size(), ne = poly.edges().size();
    in_edge.resize(nn);
    for (std::size_t n = 0; n < nn; ++n) in_edge[n].assign(g.node(static_cast<NodeId>(n)).inputs.size(), -1);
    obj.resize(ne);
    obj_pads.resize(ne);
    obj_shape.resize(ne);
    for (std::size_t e = 0; e < ne; ++e) {
      const EdgeDependence& ed = poly.edges()[e];
      in_edge[static_cast<std::size_t>(ed.reader)][static_cast<std::size_t>(ed.input)] = static_cast<int>(e);
      const Node& reader = g.node(ed.reader);
      obj_pads[e] = reader_pads(reader);
      obj_shape[e] = ed.object_shape;
      const float fill = reader.kind == OpKind::kMaxPool ? -std::numeric_limits<float>::infinity() : 0.0f;
      obj[e].assign(static_cast<std::size_t>(numel(ed.object_shape)), fill);
    }
    pix.resize(nn);
    input_offset.assign(nn, -1);
    output_offset.assign(nn, -1);
    for (std::size_t n = 0; n < nn; ++n) {
      const Node& node = g.node(static_cast<NodeId>(n));
      pix[n].assign(static_cast<std::size_t>(channels_of(g.value(node.output).shape)), 0.0f);
      if (node.kind == OpKind::kInput) {
        input_offset[n] = input_size;
        input_size += numel(g.value(node.output).shape);
      }
    }
    for (ValueId v : g.outputs()) {
      output_offset[static_cast<std::size_t>(g.value(v).producer)] = output_size;
      output_size += numel(g.value(v).shape);
    }
    spike_state.resize(nn);
    for (std::size_t n = 0; n < nn; ++n) {
      const Node& node = g.node(static_cast<NodeId>(n));
      node_iters.push_back(iterations_of(g.value(node.output).shape));
      if (node.kind != OpKind::kSpiking) continue;
      const int64_t c = channels_of(g.value(node.output).shape);
      if (static_cast<int64_t>(node.weight.size()) != c || static_cast<int64_t>(node.bias.size()) != c) {
        throw UserError("functional simulation: node '" + node.name +
                        "' has no decay and threshold (fill them before simulating)");
      }
      const auto units = static_cast<std::size_t>(numel(g.value(node.output).shape));
      spike_state[n].s.assign(units, 0.0f);
      spike_state[n].y.assign(units, 0.0f);
    }
    program_tiles();
    resolve_programs();
  }

  // Builds every tile's weight block (zero across groups), its gather offsets and its noise.
  void program_tiles() {
    for (const auto& l : m.layers) {
      const Node& node = g.node(l.node);
      if (node.weight.empty()) {
        throw UserError("functional simulation: node '" + node.name +
                        "' has no weights (fill them before simulating)");
      }
      for (const Tile& t : l.tiles) {
        TileState ts;
        ts.tile = &t;
        ts.node = l.node;
        if (node.input_quant) ts.quant = &*node.input_quant;
        ts.rows = t.row_end - t.row_begin;
        ts.cols = t.col_end - t.col_begin;
        ts.w.assign(static_cast<std::size_t>(ts.rows * ts.cols), 0.0f);
        std::vector<char> programmed(ts.w.size(), 0);
        ts.rng.seed(opt.analog.seed * 1000003ULL + static_cast<uint64_t>(tiles.size()));
        int64_t kh = 1, kw = 1, cin_g = l.rows, cout_g = l.cols;
        if (node.kind == OpKind::kConv2d) {
          const auto& o = node.conv();
          kh = o.kernel_size().h, kw = o.kernel_size().w;
          cin_g = o.in_channels() / o.groups();
          cout_g = o.out_channels() / o.groups();
        }
        const int64_t in_obj = in_edge[static_cast<std::size_t>(l.node)][0];
        const Shape& os = obj_shape[static_cast<std::size_t>(in_obj)];
        for (int64_t r = 0; r < ts.rows; ++r) {
          const int64_t row = t.row_begin + r;
          const int64_t c = row / (kh * kw), i = (row / kw) % kh, j = row % kw;
          if (node.kind == OpKind::kConv2d) {
            const auto& o = node.conv();
            ts.gather.push_back((c * os[1] + o.dilation().h * i) * os[2] + o.dilation().w * j);
          } else {
            ts.gather.push_back(row);
          }
          for (int64_t q = 0; q < ts.cols; ++q) {
            const int64_t k = t.col_begin + q;
            if (c / cin_g != k / cout_g) continue;  // another group: not programmed
            const std::size_t at = static_cast<std::size_t>(r * ts.cols + q);
            ts.w[at] = node.weight[static_cast<std::size_t>((k * cin_g + (c % cin_g)) * kh * kw + i * kw + j)];
            programmed[at] = 1;
            ts.w_max = std::max(ts.w_max, static_cast<double>(std::fabs(ts.w[at])));
          }
        }
        if (opt.analog.programming_noise > 0) {
          const double sd = opt.analog.programming_noise * ts.w_max;
          for (std::size_t at = 0; at < ts.w.size(); ++at) {
            if (programmed[at]) ts.w[at] += static_cast<float>(sd * normal(ts.rng));
          }
        }
        tiles.push_back(std::move(ts));
      }
    }
    // Accumulating tiles find the other row blocks of their columns.
    for (std::size_t a = 0; a < tiles.size(); ++a) {
      const Tile& t = *tiles[a].tile;
      if (t.row_block != 0) continue;
      for (std::size_t b = 0; b < tiles.size(); ++b) {
        const Tile& o = *tiles[b].tile;
        if (b != a && tiles[b].node == tiles[a].node && o.col_begin == t.col_begin &&
            o.col_end == t.col_end && o.group_begin == t.group_begin) {
          tiles[a].peers.push_back(static_cast<int>(b));
        }
      }
    }
  }

  int tile_on(NodeId node, int64_t core) const {
    for (std::size_t i = 0; i < tiles.size(); ++i) {
      if (tiles[i].node == node && tiles[i].tile->core == core) return static_cast<int>(i);
    }
    throw InternalError("functional simulation: no tile of node " + std::to_string(node) +
                        " on core " + std::to_string(core));
  }

  void resolve_programs() {
    sent.assign(poly.edges().size(), {});
    computed.assign(g.nodes().size(), {});
    for (const CoreProgram& cp : programs) {
      Program p;
      p.core = cp.core;
      std::map<int, int> send_slot, compute_slot;
      for (const ControlStep& st : cp.run()) {
        Op op;
        op.kind = st.kind;
        op.index = st.index;
        op.h = st.args[0];
        op.w = st.args[1];
        if (st.kind == ControlStep::kWait || st.kind == ControlStep::kWarWait) {
          const EdgeDependence& e = poly.edges()[static_cast<std::size_t>(st.index)];
          const NodeId self = st.kind == ControlStep::kWait ? e.reader : e.writer;
          const NodeId other = st.kind == ControlStep::kWait ? e.writer : e.reader;
          op.lin = op.h * width_of(g.value(g.node(self).output).shape) + op.w;
          op.other = st.args[2] * width_of(g.value(g.node(other).output).shape) + st.args[3];
        } else {
          const NodeId self = st.kind == ControlStep::kSend
                                  ? poly.edges()[static_cast<std::size_t>(st.index)].writer
                                  : st.index;
          op.lin = op.h * width_of(g.value(g.node(self).output).shape) + op.w;
          if (st.kind == ControlStep::kCompute) {
            if (!compute_slot.count(st.index)) {
              compute_slot[st.index] = static_cast<int>(computed[static_cast<std::size_t>(st.index)].size());
              computed[static_cast<std::size_t>(st.index)].push_back(-1);
            }
            op.slot = compute_slot[st.index];
            if (g.node(st.index).has_matrix()) op.tile = tile_on(st.index, cp.core);
          } else if (st.kind == ControlStep::kSend) {
            if (!send_slot.count(st.index)) {
              send_slot[st.index] = static_cast<int>(sent[static_cast<std::size_t>(st.index)].size());
              sent[static_cast<std::size_t>(st.index)].push_back(-1);
            }
            op.slot = send_slot[st.index];
          }
          if (g.node(self).has_matrix()) op.tile = tile_on(self, cp.core);
        }
        p.ops.push_back(op);
      }
      progs.push_back(std::move(p));
    }
  }

  static int64_t min_of(const std::vector<int64_t>& v) {
    return v.empty() ? std::numeric_limits<int64_t>::max() : *std::min_element(v.begin(), v.end());
  }

  std::vector<int64_t> node_iters;  // per node: iterations per image (looked up on every statement)
  int64_t iters(NodeId n) const { return node_iters[static_cast<std::size_t>(n)]; }

  // The analog MVM of one tile: y = W^T x (+ non-idealities).
  void mvm(TileState& t, const float* base, std::vector<float>& y) {
    // A row whose input is 0 adds +0 or -0 to a sum that is never -0: skipping it changes no bit.
    ++mvms;
    const auto& a = opt.analog;
    nz.resize(static_cast<std::size_t>(t.rows));
    nz_row.resize(static_cast<std::size_t>(t.rows));
    y.resize(static_cast<std::size_t>(t.cols));
    if (a.ideal()) {  // gather the non-zero inputs in one pass
      int64_t k = 0;
      for (int64_t r = 0; r < t.rows; ++r) {
        float xv = base[t.gather[static_cast<std::size_t>(r)]];
        if (t.quant) xv = t.quant->apply(xv);
        nz[static_cast<std::size_t>(k)] = xv;
        nz_row[static_cast<std::size_t>(k)] = static_cast<int32_t>(r);
        k += xv != 0.0f;
      }
      matvec(nz.data(), nz_row.data(), k, t.w.data(), t.cols, y.data());
      return;
    }
    x.resize(static_cast<std::size_t>(t.rows));
    for (int64_t r = 0; r < t.rows; ++r) x[static_cast<std::size_t>(r)] = base[t.gather[static_cast<std::size_t>(r)]];
    if (t.quant) t.quant->apply(x);
    double xmax = 0, xnorm2 = 0;
    for (float v : x) xmax = std::max(xmax, static_cast<double>(std::fabs(v)));
    if (a.quantize && xmax > 0) {
      const double levels = std::ldexp(1.0, static_cast<int>(hw.dac_bits - 1)) - 1;
      for (float& v : x) v = static_cast<float>(std::nearbyint(v / xmax * levels) * xmax / levels);
    }
    for (float v : x) xnorm2 += static_cast<double>(v) * v;
    int64_t k = 0;
    for (int64_t r = 0; r < t.rows; ++r) {
      const float xv = x[static_cast<std::size_t>(r)];
      nz[static_cast<std::size_t>(k)] = xv;
      nz_row[static_cast<std::size_t>(k)] = static_cast<int32_t>(r);
      k += xv != 0.0f;
    }
    matvec(nz.data(), nz_row.data(), k, t.w.data(), t.cols, y.data());
    if (a.read_noise > 0) {
      const double sd = a.read_noise * t.w_max * std::sqrt(xnorm2);
      for (float& v : y) v += static_cast<float>(sd * normal(t.rng));
    }
    if (a.quantize) {
      const double bound = a.out_bound * t.w_max * xmax;
      if (bound > 0) {
        const double levels = std::ldexp(1.0, static_cast<int>(hw.adc_bits - 1)) - 1;
        for (float& v : y) {
          const double c = std::min(std::max(static_cast<double>(v), -bound), bound);
          v = static_cast<float>(std::nearbyint(c / bound * levels) * bound / levels);
        }
      }
    }
  }

  const std::vector<float>& in_obj(NodeId n, std::size_t k) const {
    return obj[static_cast<std::size_t>(in_edge[static_cast<std::size_t>(n)][k])];
  }
  const Shape& in_shape(NodeId n, std::size_t k) const {
    return obj_shape[static_cast<std::size_t>(in_edge[static_cast<std::size_t>(n)][k])];
  }

  // Computes pixel (h, w) of node n for image `image`; false when it must wait (partial sums).
  bool compute(const Op& op, int64_t image) {
    const NodeId n = op.index;
    const Node& node = g.node(n);
    std::vector<float>& out = pix[static_cast<std::size_t>(n)];
    const int64_t h = op.h, w = op.w;
    const Shape& oshape = g.value(node.output).shape;
    if (node.has_matrix()) {
      TileState& t = tiles[static_cast<std::size_t>(op.tile)];
      if (t.tile->row_block == 0) {
        for (int p : t.peers) {
          if (tiles[static_cast<std::size_t>(p)].psums.empty()) return false;
        }
      }
      const std::vector<float>& src = in_obj(n, 0);
      int64_t base = 0;
      if (node.kind == OpKind::kConv2d) {
        const Shape& os = in_shape(n, 0);
        base = node.conv().stride().h * h * os[2] + node.conv().stride().w * w;
      }
      if (t.tile->row_block != 0) {
        std::vector<float> psum;
        if (!t.spare.empty()) psum = std::move(t.spare.back()), t.spare.pop_back();
        mvm(t, src.data() + base, psum);
        t.psums.push_back(std::move(psum));
        return true;
      }
      mvm(t, src.data() + base, y);
      for (int p : t.peers) {
        TileState& peer = tiles[static_cast<std::size_t>(p)];
        const std::vector<float>& ps = peer.psums.front();
        for (std::size_t i = 0; i < y.size(); ++i) y[i] += ps[i];
        peer.spare.push_back(std::move(peer.psums.front()));
        peer.psums.pop_front();
      }
      for (int64_t q = 0; q < t.cols; ++q) {
        const int64_t k = t.tile->col_begin + q;
        float v = y[static_cast<std::size_t>(q)];
        if (!node.bias.empty()) v += node.bias[static_cast<std::size_t>(k)];
        out[static_cast<std::size_t>(k)] = v;
      }
      return true;
    }
    auto at = [](const std::vector<float>& b, const Shape& s, int64_t c, int64_t hh, int64_t ww) {
      return b[static_cast<std::size_t>((c * s[1] + hh) * s[2] + ww)];
    };
    switch (node.kind) {
      case OpKind::kInput: {
        const auto& img = (*images)[static_cast<std::size_t>(image)];
        const int64_t off = input_offset[static_cast<std::size_t>(n)];
        if (oshape.size() != 3) {
          std::copy(img.begin() + off, img.begin() + off + numel(oshape), out.begin());
        } else {
          for (int64_t c = 0; c < oshape[0]; ++c) {
            out[static_cast<std::size_t>(c)] = img[static_cast<std::size_t>(off + (c * oshape[1] + h) * oshape[2] + w)];
          }
        }
        return true;
      }
      case OpKind::kActivation:
      case OpKind::kBatchNorm:
      case OpKind::kAdd: {
        const Shape& s = in_shape(n, 0);
        // Input k's channel c at this pixel: src[k][c * plane] (the buffers are read with input
        // 0's layout, as the objects of one element-wise op share it).
        const std::size_t inputs = node.inputs.size();
        src.resize(inputs);
        const int64_t plane = s.size() == 3 ? s[1] * s[2] : 1;
        for (std::size_t k = 0; k < inputs; ++k) {
          src[k] = in_obj(n, k).data() + (s.size() == 3 ? h * s[2] + w : 0);
        }
        // The two commonest cases without the general loop's switches, same arithmetic.
        if (node.kind == OpKind::kActivation && node.activation().kind() == ActKind::kReLU) {
          const float* in0 = src[0];
          for (std::size_t c = 0; c < out.size(); ++c) {
            double v = 0;
            v += in0[static_cast<int64_t>(c) * plane];
            out[c] = static_cast<float>(std::max(v, 0.0));
          }
          return true;
        }
        if (node.kind == OpKind::kAdd && inputs == 2) {
          const float* in0 = src[0];
          const float* in1 = src[1];
          for (std::size_t c = 0; c < out.size(); ++c) {
            double v = 0;
            v += in0[static_cast<int64_t>(c) * plane];
            v += in1[static_cast<int64_t>(c) * plane];
            out[c] = static_cast<float>(v);
          }
          return true;
        }
        for (std::size_t c = 0; c < out.size(); ++c) {
          double v = 0;
          for (std::size_t k = 0; k < inputs; ++k) v += src[k][static_cast<int64_t>(c) * plane];
          if (node.kind == OpKind::kBatchNorm) {
            const double sc = node.weight[c] / std::sqrt(static_cast<double>(node.running_var[c]) + node.batch_norm().eps());
            v = sc * (v - node.running_mean[c]) + node.bias[c];
          } else if (node.kind == OpKind::kActivation) {
            const auto& a = node.activation();
            switch (a.kind()) {
              case ActKind::kReLU: v = std::max(v, 0.0); break;
              case ActKind::kReLU6: v = std::min(std::max(v, 0.0), 6.0); break;
              case ActKind::kLeakyReLU: v = v >= 0 ? v : a.alpha() * v; break;
              case ActKind::kSigmoid: v = 1.0 / (1.0 + std::exp(-v)); break;
              case ActKind::kTanh: v = std::tanh(v); break;
              case ActKind::kClip: v = std::min(std::max(v, a.min()), a.max()); break;
              case ActKind::kIdentity: break;
            }
          }
          out[c] = static_cast<float>(v);
        }
        return true;
      }
      case OpKind::kSpiking: {
        // The units of this pixel, channel by channel; their state restarts with each sample.
        const Shape& s = in_shape(n, 0);
        const int64_t plane = s.size() == 3 ? s[1] * s[2] : 1;
        const float* in0 = in_obj(n, 0).data() + (s.size() == 3 ? h * s[2] + w : 0);
        auto& st = spike_state[static_cast<std::size_t>(n)];
        const int64_t out_plane = oshape.size() == 3 ? oshape[1] * oshape[2] : 1;
        const int64_t pixel = oshape.size() == 3 ? h * oshape[2] + w : 0;
        const bool first = image % g.frames_per_sample() == 0;
        for (std::size_t c = 0; c < out.size(); ++c) {
          const auto u = static_cast<std::size_t>(static_cast<int64_t>(c) * out_plane + pixel);
          if (first) st.s[u] = 0.0f, st.y[u] = 0.0f;
          out[c] = spiking_step(node.spiking(), in0[static_cast<int64_t>(c) * plane], node.weight[c],
                                node.bias[c], st.s[u], st.y[u]);
        }
        return true;
      }
      case OpKind::kMaxPool:
      case OpKind::kAvgPool: {
        const auto& o = node.pool();
        const Shape& s = in_shape(n, 0);  // padded
        const Shape& raw = g.value(node.inputs[0]).shape;
        const bool is_max = node.kind == OpKind::kMaxPool;
        for (int64_t c = 0; c < oshape[0]; ++c) {
          double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
          int64_t count = 0;
          for (int64_t i = 0; i < o.kernel_size().h; ++i) {
            const int64_t hh = o.stride().h * h + o.dilation().h * i;
            if (hh >= s[1]) continue;  // ceil mode: past the padded input
            for (int64_t j = 0; j < o.kernel_size().w; ++j) {
              const int64_t ww = o.stride().w * w + o.dilation().w * j;
              if (ww >= s[2]) continue;
              const double v = at(in_obj(n, 0), s, c, hh, ww);
              if (is_max) {
                acc = std::max(acc, v);
                continue;
              }
              acc += v;
              const bool inside = hh >= o.padding().top && hh < o.padding().top + raw[1] &&
                                  ww >= o.padding().left && ww < o.padding().left + raw[2];
              count += o.count_include_pad() || inside;
            }
          }
          out[static_cast<std::size_t>(c)] = static_cast<float>(is_max ? acc : acc / static_cast<double>(count));
        }
        return true;
      }
      case OpKind::kGlobalAvgPool: {
        const auto& b = in_obj(n, 0);
        const int64_t per = static_cast<int64_t>(b.size()) / oshape[0];
        for (int64_t c = 0; c < oshape[0]; ++c) {
          double acc = 0;
          for (int64_t e = 0; e < per; ++e) acc += b[static_cast<std::size_t>(c * per + e)];
          out[static_cast<std::size_t>(c)] = static_cast<float>(acc / static_cast<double>(per));
        }
        return true;
      }
      case OpKind::kFlatten:
        out = in_obj(n, 0);
        return true;
      case OpKind::kPad: {
        const auto& o = node.pad();
        const Shape& s = in_shape(n, 0);
        const int64_t hh = h - o.spatial().top, ww = w - o.spatial().left;
        for (int64_t c = 0; c < oshape[0]; ++c) {
          const int64_t ci = c - o.channels_before();
          const bool inside = ci >= 0 && ci < s[0] && hh >= 0 && hh < s[1] && ww >= 0 && ww < s[2];
          out[static_cast<std::size_t>(c)] = inside ? at(in_obj(n, 0), s, ci, hh, ww) : static_cast<float>(o.value());
        }
        return true;
      }
      case OpKind::kSlice: {
        const auto& o = node.slice();
        const Shape& s = in_shape(n, 0);
        for (int64_t c = 0; c < oshape[0]; ++c) {
          out[static_cast<std::size_t>(c)] = at(in_obj(n, 0), s, o.start()[0] + o.step()[0] * c,
                                                o.start()[1] + o.step()[1] * h, o.start()[2] + o.step()[2] * w);
        }
        return true;
      }
      case OpKind::kConcat: {
        const int64_t axis = node.concat().axis();
        std::size_t c0 = 0;
        int64_t off = 0;
        for (std::size_t k = 0; k < node.inputs.size(); ++k) {
          const Shape& s = in_shape(n, k);
          const auto& b = in_obj(n, k);
          if (s.size() != 3) {
            std::copy(b.begin(), b.end(), out.begin() + static_cast<std::ptrdiff_t>(c0));
            c0 += b.size();
            continue;
          }
          if (axis == 0) {
            for (int64_t c = 0; c < s[0]; ++c) out[c0++] = at(b, s, c, h, w);
            continue;
          }
          const int64_t pos = axis == 1 ? h : w, len = axis == 1 ? s[1] : s[2];
          if (pos >= off && pos < off + len) {
            for (int64_t c = 0; c < s[0]; ++c) {
              out[static_cast<std::size_t>(c)] = axis == 1 ? at(b, s, c, h - off, w) : at(b, s, c, h, w - off);
            }
          }
          off += len;
        }
        return true;
      }
      default:
        throw InternalError(std::string("functional simulation: no kernel for ") + op_name(node.kind));
    }
  }

  // Channels a send / output of node n carries from this core: a column block's, or all.
  std::pair<int64_t, int64_t> channels(NodeId n, int tile) const {
    if (tile >= 0) {
      const Tile& t = *tiles[static_cast<std::size_t>(tile)].tile;
      return {t.col_begin, t.col_end};
    }
    return {0, static_cast<int64_t>(pix[static_cast<std::size_t>(n)].size())};
  }

  void send(const Op& op) {
    const EdgeDependence& e = poly.edges()[static_cast<std::size_t>(op.index)];
    const auto& src = pix[static_cast<std::size_t>(e.writer)];
    auto& dst = obj[static_cast<std::size_t>(op.index)];
    const Shape& s = obj_shape[static_cast<std::size_t>(op.index)];
    const Pads& p = obj_pads[static_cast<std::size_t>(op.index)];
    const auto [c0, c1] = channels(e.writer, op.tile);
    if (s.size() != 3 || g.value(g.node(e.writer).output).shape.size() != 3) {
      std::copy(src.begin() + c0, src.begin() + c1, dst.begin() + c0);
      return;
    }
    for (int64_t c = c0; c < c1; ++c) {
      dst[static_cast<std::size_t>((c * s[1] + op.h + p.top) * s[2] + op.w + p.left)] = src[static_cast<std::size_t>(c)];
    }
  }

  void output(const Op& op, int64_t image) {
    const NodeId n = op.index;
    const Shape& s = g.value(g.node(n).output).shape;
    auto& dst = outputs[static_cast<std::size_t>(image)];
    const int64_t off = output_offset[static_cast<std::size_t>(n)];
    const auto [c0, c1] = channels(n, op.tile);
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t at = s.size() == 3 ? (c * s[1] + op.h) * s[2] + op.w : c;
      dst[static_cast<std::size_t>(off + at)] = pix[static_cast<std::size_t>(n)][static_cast<std::size_t>(c)];
    }
  }

  // Executes the next statement of program p; false when it has to wait.
  bool step(Program& p) {
    const Op& op = p.ops[p.pc];
    const int64_t n = p.image;
    switch (op.kind) {
      case ControlStep::kWait: {
        const EdgeDependence& e = poly.edges()[static_cast<std::size_t>(op.index)];
        if (min_of(sent[static_cast<std::size_t>(op.index)]) < n * iters(e.writer) + op.other) return false;
        break;
      }
      case ControlStep::kWarWait: {
        const EdgeDependence& e = poly.edges()[static_cast<std::size_t>(op.index)];
        if (n >= 1 && min_of(computed[static_cast<std::size_t>(e.reader)]) < (n - 1) * iters(e.reader) + op.other) {
          return false;
        }
        break;
      }
      case ControlStep::kCompute:
        if (!compute(op, n)) return false;
        computed[static_cast<std::size_t>(op.index)][static_cast<std::size_t>(op.slot)] = n * iters(op.index) + op.lin;
        break;
      case ControlStep::kSend: {
        send(op);
        const EdgeDependence& e = poly.edges()[static_cast<std::size_t>(op.index)];
        sent[static_cast<std::size_t>(op.index)][static_cast<std::size_t>(op.slot)] = n * iters(e.writer) + op.lin;
        break;
      }
      case ControlStep::kOutput:
        output(op, n);
        break;
    }
    if (++p.pc == p.ops.size()) p.pc = 0, ++p.image;
    return true;
  }

  std::vector<std::vector<float>> run(const std::vector<std::vector<float>>& imgs) {
    for (std::size_t i = 0; i < imgs.size(); ++i) {
      if (static_cast<int64_t>(imgs[i].size()) != input_size) {
        throw UserError("functional simulation: image " + std::to_string(i) + " has " +
                        std::to_string(imgs[i].size()) + " values, the graph inputs need " +
                        std::to_string(input_size));
      }
    }
    if (static_cast<int64_t>(imgs.size()) % g.frames_per_sample() != 0) {
      throw UserError("functional simulation: a temporal graph takes whole samples of " +
                      std::to_string(g.frames_per_sample()) + " frames, got " +
                      std::to_string(imgs.size()) + " frames");
    }
    images = &imgs;
    const auto count = static_cast<int64_t>(imgs.size());
    outputs.assign(imgs.size(), std::vector<float>(static_cast<std::size_t>(output_size), 0.0f));
    mvms = 0;
    for (auto& p : progs) p.pc = 0, p.image = 0;
    for (auto& v : sent) std::fill(v.begin(), v.end(), -1);
    for (auto& v : computed) std::fill(v.begin(), v.end(), -1);
    for (auto& t : tiles) t.psums.clear();
    for (bool busy = true; busy;) {
      busy = false;
      bool progress = false;
      for (auto& p : progs) {
        while (p.image < count && step(p)) progress = true;
        busy |= p.image < count;
      }
      if (busy && !progress) {
        throw InternalError("functional simulation: the control programs deadlocked");
      }
    }
    images = nullptr;
    return std::move(outputs);
  }
};

FunctionalSimulator::FunctionalSimulator(const Graph& g, const Mapping& m, const PolyModel& poly,
                                         const Hardware& hw, const FunctionalOptions& options)
    : impl_(std::make_unique<Impl>(g, m, poly, hw, options)) {}

FunctionalSimulator::FunctionalSimulator(const Compiled& c, const FunctionalOptions& options)
    : FunctionalSimulator(c.graph(), c.mapping(), c.poly(), c.hardware(), options) {}

FunctionalSimulator::~FunctionalSimulator() = default;

std::vector<std::vector<float>> FunctionalSimulator::run(const std::vector<std::vector<float>>& images) {
  return impl_->run(images);
}

const std::vector<CoreProgram>& FunctionalSimulator::programs() const { return impl_->programs; }

int64_t FunctionalSimulator::mvms() const { return impl_->mvms; }

double max_relative_error(const std::vector<float>& got, const std::vector<float>& ref) {
  if (got.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(got[i]) - ref[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(ref[i])));
  }
  if (scale == 0) return diff;
  return diff / scale;
}

}  // namespace nc::cm
