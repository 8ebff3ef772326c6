#include "neurocore/cm/poly.h"

#include <isl/ctx.h>
#include <isl/map.h>
#include <isl/options.h>
#include <isl/point.h>
#include <isl/set.h>
#include <isl/val.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "neurocore/core/error.h"

namespace nc::cm {

PolyContext::PolyContext() : ctx_(isl_ctx_alloc()) {
  if (!ctx_) throw InternalError("isl_ctx_alloc failed");
  // The C++ bindings report errors as isl::exception; they need isl to continue on error.
  isl_options_set_on_error(ctx_, ISL_ON_ERROR_CONTINUE);
}

PolyContext::~PolyContext() { isl_ctx_free(ctx_); }

namespace {

std::string s(int64_t v) { return std::to_string(v); }

// Bounds "0 <= x < n" in isl syntax.
std::string range(const std::string& x, int64_t n) { return "0 <= " + x + " < " + s(n); }

// The reader's padding of input `k` (conv and pooling pad their input; nothing else does).
Pads reader_padding(const Node& n, int /*input*/) {
  if (n.kind == OpKind::kConv2d) return n.conv().padding();
  if (n.kind == OpKind::kMaxPool || n.kind == OpKind::kAvgPool) return n.pool().padding();
  return Pads(0);
}

Shape padded(const Shape& in, const Pads& p) {
  if (in.size() != 3) return in;
  return {in[0], in[1] + p.top + p.bottom, in[2] + p.left + p.right};
}

// "O[c, h, w]" or "O[f]" and the constraints keeping it inside `shape`.
std::string object_tuple(const std::string& object, const Shape& shape) {
  return shape.size() == 3 ? object + "[c, h, w]" : object + "[f]";
}
std::string object_bounds(const Shape& shape) {
  if (shape.size() == 3) {
    return range("c", shape[0]) + " and " + range("h", shape[1]) + " and " + range("w", shape[2]);
  }
  return range("f", numel(shape));
}

std::string domain_constraints(const std::string& a, const std::string& b, const Shape& out) {
  if (out.size() == 3) return range(a, out[1]) + " and " + range(b, out[2]);
  return a + " = 0 and " + b + " = 0";
}

isl::map parse_map(isl::ctx ctx, const std::string& text) {
  try {
    return isl::map(ctx, text);
  } catch (const isl::exception& e) {
    throw InternalError("isl could not parse '" + text + "': " + e.what());
  }
}

}  // namespace

isl::set iteration_domain(isl::ctx ctx, const Graph& g, NodeId n) {
  const Shape& out = g.value(g.node(n).output).shape;
  const std::string text =
      "{ S" + s(n) + "[h, w] : " + domain_constraints("h", "w", out) + " }";
  return isl::set(ctx, text);
}

isl::map write_relation(isl::ctx ctx, const Graph& g, NodeId writer, NodeId reader, int input,
                        const std::string& object, Shape* object_shape) {
  const Node& r = g.node(reader);
  const Node& w = g.node(writer);
  if (input < 0 || input >= static_cast<int>(r.inputs.size()) ||
      g.value(r.inputs[static_cast<std::size_t>(input)]).producer != writer) {
    throw UserError("write_relation: node '" + w.name + "' does not feed input " + s(input) +
                    " of '" + r.name + "'");
  }
  const Shape& out = g.value(w.output).shape;
  const Pads p = reader_padding(r, input);
  const Shape obj = padded(out, p);
  if (object_shape) *object_shape = obj;
  std::string text = "{ S" + s(writer) + "[oh, ow] -> ";
  if (out.size() == 3) {
    text += object + "[c, oh + " + s(p.top) + ", ow + " + s(p.left) + "] : " +
            domain_constraints("oh", "ow", out) + " and " + range("c", out[0]) + " }";
  } else {
    text += object + "[f] : oh = 0 and ow = 0 and " + range("f", numel(out)) + " }";
  }
  return parse_map(ctx, text);
}

isl::map read_relation(isl::ctx ctx, const Graph& g, NodeId reader, int input,
                       const std::string& object) {
  const Node& n = g.node(reader);
  const Shape& in = g.value(n.inputs.at(static_cast<std::size_t>(input))).shape;
  const Shape& out = g.value(n.output).shape;
  const Shape obj = padded(in, reader_padding(n, input));
  const std::string head = "{ S" + s(reader) + "[oh, ow] -> " + object_tuple(object, obj) +
                           " : " + domain_constraints("oh", "ow", out) + " and " +
                           object_bounds(obj);
  std::string body;  // extra constraints; empty = every location of the object
  switch (n.kind) {
    case OpKind::kConv2d:
    case OpKind::kMaxPool:
    case OpKind::kAvgPool: {
      Pair k, st, d;
      if (n.kind == OpKind::kConv2d) {
        k = n.conv().kernel_size(), st = n.conv().stride(), d = n.conv().dilation();
      } else {
        k = n.pool().kernel_size(), st = n.pool().stride(), d = n.pool().dilation();
      }
      body = "exists (i, j : " + range("i", k.h) + " and " + range("j", k.w) + " and h = " +
             s(st.h) + "oh + " + s(d.h) + "i and w = " + s(st.w) + "ow + " + s(d.w) + "j)";
      break;
    }
    case OpKind::kGlobalAvgPool:
    case OpKind::kFlatten:
    case OpKind::kLinear:
      break;
    case OpKind::kBatchNorm:
    case OpKind::kActivation:
    case OpKind::kSpiking:
    case OpKind::kAdd:
      if (obj.size() == 3) body = "h = oh and w = ow";
      break;
    case OpKind::kConcat: {
      if (obj.size() != 3) break;
      const int64_t axis = n.concat().axis();
      int64_t off = 0;
      for (int k = 0; k < input; ++k) off += g.value(n.inputs[static_cast<std::size_t>(k)]).shape[static_cast<std::size_t>(axis)];
      if (axis == 0) body = "h = oh and w = ow";
      if (axis == 1) body = "h = oh - " + s(off) + " and w = ow";
      if (axis == 2) body = "h = oh and w = ow - " + s(off);
      break;
    }
    case OpKind::kPad: {
      const auto& p = n.pad().spatial();
      body = "h = oh - " + s(p.top) + " and w = ow - " + s(p.left);
      break;
    }
    case OpKind::kSlice: {
      const auto& o = n.slice();
      body = "exists (cc : " + range("cc", out[0]) + " and c = " + s(o.start()[0]) + " + " +
             s(o.step()[0]) + "cc) and h = " + s(o.start()[1]) + " + " + s(o.step()[1]) +
             "oh and w = " + s(o.start()[2]) + " + " + s(o.step()[2]) + "ow";
      break;
    }
    case OpKind::kInput:
      throw InternalError("read_relation: an Input node reads nothing");
  }
  return parse_map(ctx, head + (body.empty() ? "" : " and " + body) + " }");
}

Dependence analyze(const isl::map& write, const isl::map& read, const isl::set& writer_domain,
                   const isl::set& reader_domain) {
  if (!write.domain().is_subset(writer_domain)) {
    throw UserError("analyze: W has iterations outside the writer domain: W = " + to_str(write));
  }
  if (!read.domain().is_subset(reader_domain)) {
    throw UserError("analyze: R has iterations outside the reader domain: R = " + to_str(read));
  }
  if (!write.reverse().is_single_valued()) {
    throw UserError("analyze: W writes some location more than once: W = " + to_str(write));
  }
  Dependence d;
  d.writer_domain = writer_domain;
  d.reader_domain = reader_domain;
  d.write = write;
  d.read = read;
  // (1) D = R ; W^-1
  d.need = read.apply_range(write.reverse());
  // (2) D' = lexmax(LE2 ; D), LE2 = { i2 -> j2 : j2 <= i2 }, i2 in S2, j2 in dom D.
  const isl::map le2 =
      isl::manage(isl_set_lex_ge_set(reader_domain.copy(), d.need.domain().release()));
  d.need_prefix = le2.apply_range(d.need).lexmax();
  // (4) M = lexmax((D' ; LE1')^-1), LE1' = { j1 -> i1 : j1 <= i1 } on S1.
  const isl::map le1_up =
      isl::manage(isl_set_lex_le_set(writer_domain.copy(), writer_domain.copy()));
  d.enable = d.need_prefix.apply_range(le1_up).reverse().lexmax();
  // (3) L = lexmax((D' ; W)^-1)
  d.enable_by_location = d.need_prefix.apply_range(write).reverse().lexmax();
  // (5) A = lexmax(R^-1)
  d.last_read = read.reverse().lexmax();
  // (6) Gw = lexmax(LE1 ; W ; A), LE1 = { i1 -> j1 : j1 <= i1 } on S1.
  const isl::map le1_down =
      isl::manage(isl_set_lex_ge_set(writer_domain.copy(), writer_domain.copy()));
  d.war_gate = le1_down.apply_range(write).apply_range(d.last_read).lexmax();
  return d;
}

PolyModel::PolyModel(const Graph& g) : context_(std::make_unique<PolyContext>()) {
  const isl::ctx ctx = context_->ctx();
  for (std::size_t n = 0; n < g.nodes().size(); ++n) {
    domains_.push_back(iteration_domain(ctx, g, static_cast<NodeId>(n)));
  }
  for (std::size_t n = 0; n < g.nodes().size(); ++n) {
    const Node& r = g.nodes()[n];
    for (std::size_t k = 0; k < r.inputs.size(); ++k) {
      EdgeDependence e;
      e.writer = g.value(r.inputs[k]).producer;
      e.reader = static_cast<NodeId>(n);
      e.input = static_cast<int>(k);
      e.object = "O_" + s(e.writer) + "_" + s(e.reader) + "_" + s(e.input);
      const isl::map w = write_relation(ctx, g, e.writer, e.reader, e.input, e.object, &e.object_shape);
      const isl::map rd = read_relation(ctx, g, e.reader, e.input, e.object);
      e.dep = analyze(w, rd, domains_[static_cast<std::size_t>(e.writer)], domains_[n]);
      edges_.push_back(std::move(e));
    }
  }
}

const EdgeDependence& PolyModel::edge(NodeId writer, NodeId reader, int input) const {
  for (const auto& e : edges_) {
    if (e.writer == writer && e.reader == reader && e.input == input) return e;
  }
  throw UserError("PolyModel: no edge from node " + s(writer) + " into input " + s(input) +
                  " of node " + s(reader));
}

std::string PolyModel::to_string() const {
  std::ostringstream o;
  for (const auto& e : edges_) {
    o << e.object << " (S" << e.writer << " -> S" << e.reader << ", input " << e.input << ")\n";
    o << "  W  = " << to_str(e.dep.write) << "\n";
    o << "  R  = " << to_str(e.dep.read) << "\n";
    o << "  M  = " << to_str(e.dep.enable) << "\n";
    o << "  Gw = " << to_str(e.dep.war_gate) << "\n";
  }
  return o.str();
}

namespace {
std::vector<int64_t> coords(const isl::point& p, int from, int count) {
  std::vector<int64_t> v;
  for (int i = from; i < from + count; ++i) {
    isl_val* val = isl_point_get_coordinate_val(p.get(), isl_dim_set, i);
    v.push_back(isl_val_get_num_si(val));
    isl_val_free(val);
  }
  return v;
}
}  // namespace

std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> points(const isl::map& m) {
  const int in = static_cast<int>(isl_map_dim(m.get(), isl_dim_in));
  const int out = static_cast<int>(isl_map_dim(m.get(), isl_dim_out));
  std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> result;
  m.wrap().foreach_point([&](isl::point p) {
    result.emplace_back(coords(p, 0, in), coords(p, in, out));
  });
  std::sort(result.begin(), result.end());
  return result;
}

std::vector<std::vector<int64_t>> points(const isl::set& st) {
  const int n = static_cast<int>(isl_set_dim(st.get(), isl_dim_set));
  std::vector<std::vector<int64_t>> result;
  st.foreach_point([&](isl::point p) { result.push_back(coords(p, 0, n)); });
  std::sort(result.begin(), result.end());
  return result;
}

std::string to_str(const isl::map& m) {
  char* c = isl_map_to_str(m.get());
  std::string out = c ? c : "";
  free(c);
  return out;
}

std::string to_str(const isl::set& st) {
  char* c = isl_set_to_str(st.get());
  std::string out = c ? c : "";
  free(c);
  return out;
}

}  // namespace nc::cm
