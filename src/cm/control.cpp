#include "neurocore/cm/control.h"

#include <isl/ast.h>
#include <isl/ast_build.h>
#include <isl/id.h>
#include <isl/map.h>
#include <isl/printer.h>
#include <isl/set.h>
#include <isl/union_map.h>
#include <isl/val.h>

#include <algorithm>
#include <map>
#include <set>

#include "neurocore/core/error.h"

namespace nc::cm {

namespace {

std::string s(int64_t v) { return std::to_string(v); }

// What a core does for one node: everything on the node's own core; on the other cores of a
// split layer, the MVM of the tile it holds (and, for row block 0, the sends of its columns).
struct Entry {
  NodeId node = -1;
  const Tile* tile = nullptr;  // matrix nodes: the tile on this core
  bool primary = false;        // the node's core by node_cores (digital followers live there)
};

// Context of the statement printer: what each statement name means on this core.
struct Printer {
  const Graph* g = nullptr;
  const PolyModel* poly = nullptr;
  const std::vector<int64_t>* core_of = nullptr;
  int64_t core = -1;
  std::map<NodeId, Entry> entries;
  std::map<NodeId, const LayerMapping*> layer;
};

isl::set named(isl::set st, const std::string& name) {
  return isl::manage(isl_set_set_tuple_name(st.release(), name.c_str()));
}

// The statement `dom` (tuple `name`, 2 or 4 dims: (h, w) or (h, w, a, b)) at position
// (stage, h, w, pos, phase, k) of the core's schedule.
isl::union_map place(const isl::set& dom, const std::string& name, int64_t stage, int64_t pos,
                     int phase, int64_t k) {
  const bool pair = dom.tuple_dim() == 4;
  const std::string text = "{ " + name + (pair ? "[h, w, a, b]" : "[h, w]") + " -> [" +
                           s(stage) + ", h, w, " + s(pos) + ", " + s(phase) + ", " + s(k) + "] }";
  const isl::map sched = isl::map(dom.ctx(), text).intersect_domain(dom);
  return isl::union_map(sched);
}

// The graph of a relation S -> S' as a flat set [h, w, a, b] named `name`.
isl::set relation_graph(const isl::map& rel, const std::string& name) {
  return named(rel.wrap().flatten(), name);
}

// D'(i) <= i on every point: the reader never needs a later pixel of the writer, so both may
// run in one fused loop nest.
bool backward(const isl::map& need_prefix) {
  isl::map m = isl::manage(isl_map_set_tuple_name(need_prefix.copy(), isl_dim_in, "T"));
  m = isl::manage(isl_map_set_tuple_name(m.release(), isl_dim_out, "T"));
  const isl::set later(m.ctx(), "{ T[a, b] : a > 0 or (a = 0 and b > 0) }");
  return m.deltas().intersect(later).is_empty();
}

std::string node_label(const Graph& g, NodeId n) { return g.node(n).name; }

isl_printer* print_arg(isl_printer* p, isl_ast_expr* call, int i) {
  isl_ast_expr* a = isl_ast_expr_op_get_arg(call, i);
  p = isl_printer_print_ast_expr(p, a);
  isl_ast_expr_free(a);
  return p;
}
isl_printer* print_args(isl_printer* p, isl_ast_expr* call, int from, int to) {
  for (int i = from; i < to; ++i) {
    p = isl_printer_print_str(p, ", ");
    p = print_arg(p, call, i);
  }
  return p;
}

std::string compute_text(const Printer& pr, const Entry& en) {
  const Graph& g = *pr.g;
  const Node& node = g.node(en.node);
  if (node.kind == OpKind::kInput) return "stream_input(" + node.name;
  if (!node.has_matrix()) {
    std::string op = op_name(node.kind);
    if (node.kind == OpKind::kActivation) op = act_name(node.activation().kind());
    return "digital_" + op + "(" + node.name;
  }
  const Tile& t = *en.tile;
  const LayerMapping& l = *pr.layer.at(en.node);
  std::string txt = "mvm(" + node.name + " /* tile (" + s(t.row_block) + ", " + s(t.col_block) +
                    ") of " + s(l.row_blocks) + "x" + s(l.col_blocks) + ": rows [" +
                    s(t.row_begin) + ", " + s(t.row_end) + ") x cols [" + s(t.col_begin) + ", " +
                    s(t.col_end) + ") */";
  return txt;
}

// Text after the MVM of a split layer: the partial-sum exchange of this tile.
std::string psum_text(const Printer& pr, const Entry& en) {
  if (!en.tile) return "";
  const LayerMapping& l = *pr.layer.at(en.node);
  if (l.row_blocks <= 1) return "";
  const Tile& t = *en.tile;
  std::vector<std::string> peers;
  int64_t acc = -1;
  for (const Tile& o : l.tiles) {
    if (o.col_block != t.col_block || o.group_begin != t.group_begin) continue;
    if (o.accumulates) acc = o.core;
    else if (&o != &t) peers.push_back(s(o.core));
  }
  if (t.accumulates) {
    std::string list;
    for (std::size_t i = 0; i < peers.size(); ++i) list += (i ? ", " : "") + peers[i];
    return "accumulate_psums(" + l.name + " /* from cores " + list + " */";
  }
  return "send_psum(" + l.name + " /* to core " + s(acc) + " */";
}

isl_printer* print_user(isl_printer* p, isl_ast_print_options* options, isl_ast_node* node,
                        void* user) {
  isl_ast_print_options_free(options);
  const Printer& pr = *static_cast<const Printer*>(user);
  isl_ast_expr* call = isl_ast_node_user_get_expr(node);
  isl_ast_expr* fn = isl_ast_expr_op_get_arg(call, 0);
  isl_id* id = isl_ast_expr_id_get_id(fn);
  const std::string name = isl_id_get_name(id);
  isl_id_free(id);
  isl_ast_expr_free(fn);
  const char kind = name[0];
  const int index = std::stoi(name.substr(1));
  auto line = [&](const std::string& head, int from, int to, const std::string& tail) {
    p = isl_printer_start_line(p);
    p = isl_printer_print_str(p, head.c_str());
    p = print_args(p, call, from, to);
    p = isl_printer_print_str(p, (");" + tail).c_str());
    p = isl_printer_end_line(p);
  };
  if (kind == 'W' || kind == 'G' || kind == 'X') {
    const EdgeDependence& e = pr.poly->edges().at(static_cast<std::size_t>(index));
    if (kind == 'W') {
      line("wait_written(" + e.object + ", n", 3, 5,
           "  /* " + node_label(*pr.g, e.writer) + " done with image n, pixel (a, b) */");
    } else if (kind == 'G') {
      line("if (n >= 1) wait_read(" + e.object + ", n - 1", 3, 5,
           "  /* WAR: " + node_label(*pr.g, e.reader) + " done with image n-1, pixel (a, b) */");
    } else {
      const int64_t reader_core = pr.core_of->at(static_cast<std::size_t>(e.reader));
      const bool local = reader_core == pr.core;
      const Entry& en = pr.entries.at(e.writer);
      std::string chans;
      if (en.tile && pr.layer.at(e.writer)->col_blocks > 1) {
        chans = ", channels [" + s(en.tile->col_begin) + ", " + s(en.tile->col_end) + ")";
      }
      line(std::string(local ? "write_local(" : "send(") + e.object + ", n", 1, 3,
           "  /* to " + node_label(*pr.g, e.reader) +
               (local ? "" : reader_core < 0 ? " on the GCU" : " on core " + s(reader_core)) +
               chans + " */");
    }
  } else if (kind == 'C') {
    const Entry& en = pr.entries.at(index);
    line(compute_text(pr, en) + ", n", 1, 3, "");
    const std::string ps = psum_text(pr, en);
    if (!ps.empty()) line(ps + ", n", 1, 3, "");
  } else if (kind == 'Y') {
    const Entry& en = pr.entries.at(index);
    std::string chans;
    if (en.tile && pr.layer.at(index)->col_blocks > 1) {
      chans = ", channels [" + s(en.tile->col_begin) + ", " + s(en.tile->col_end) + ")";
    }
    line("send_output(" + node_label(*pr.g, index) + ", n", 1, 3, "  /* to the GCU" + chans + " */");
  }
  isl_ast_expr_free(call);
  return p;
}

// The AST interpreter (spec §5, item 3).
struct Interpreter {
  std::map<std::string, int64_t> env;
  std::vector<ControlStep>* out = nullptr;

  static int64_t floor_div(int64_t a, int64_t b) {
    const int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
  }

  int64_t arg(isl_ast_expr* e, int i) {
    isl::ast_expr a = isl::manage(isl_ast_expr_op_get_arg(e, i));
    return eval(a.get());
  }

  int64_t eval(isl_ast_expr* e) {
    switch (isl_ast_expr_get_type(e)) {
      case isl_ast_expr_int: {
        isl_val* v = isl_ast_expr_int_get_val(e);
        const int64_t r = isl_val_get_num_si(v);
        isl_val_free(v);
        return r;
      }
      case isl_ast_expr_id: {
        isl_id* id = isl_ast_expr_id_get_id(e);
        const std::string name = isl_id_get_name(id);
        isl_id_free(id);
        auto it = env.find(name);
        if (it == env.end()) throw InternalError("control AST: unbound iterator " + name);
        return it->second;
      }
      case isl_ast_expr_op:
        break;
      default:
        throw InternalError("control AST: bad expression");
    }
    const int n = static_cast<int>(isl_ast_expr_op_get_n_arg(e));
    switch (isl_ast_expr_op_get_type(e)) {
      case isl_ast_expr_op_and:
      case isl_ast_expr_op_and_then:
        return arg(e, 0) && arg(e, 1);
      case isl_ast_expr_op_or:
      case isl_ast_expr_op_or_else:
        return arg(e, 0) || arg(e, 1);
      case isl_ast_expr_op_max: {
        int64_t r = arg(e, 0);
        for (int i = 1; i < n; ++i) r = std::max(r, arg(e, i));
        return r;
      }
      case isl_ast_expr_op_min: {
        int64_t r = arg(e, 0);
        for (int i = 1; i < n; ++i) r = std::min(r, arg(e, i));
        return r;
      }
      case isl_ast_expr_op_minus: return -arg(e, 0);
      case isl_ast_expr_op_add: return arg(e, 0) + arg(e, 1);
      case isl_ast_expr_op_sub: return arg(e, 0) - arg(e, 1);
      case isl_ast_expr_op_mul: return arg(e, 0) * arg(e, 1);
      case isl_ast_expr_op_div: return arg(e, 0) / arg(e, 1);
      case isl_ast_expr_op_fdiv_q:
      case isl_ast_expr_op_pdiv_q: return floor_div(arg(e, 0), arg(e, 1));
      case isl_ast_expr_op_pdiv_r:
      case isl_ast_expr_op_zdiv_r: {
        const int64_t b = arg(e, 1);
        return ((arg(e, 0) % b) + b) % b;
      }
      case isl_ast_expr_op_cond:
      case isl_ast_expr_op_select: return arg(e, 0) ? arg(e, 1) : arg(e, 2);
      case isl_ast_expr_op_eq: return arg(e, 0) == arg(e, 1);
      case isl_ast_expr_op_le: return arg(e, 0) <= arg(e, 1);
      case isl_ast_expr_op_lt: return arg(e, 0) < arg(e, 1);
      case isl_ast_expr_op_ge: return arg(e, 0) >= arg(e, 1);
      case isl_ast_expr_op_gt: return arg(e, 0) > arg(e, 1);
      default:
        throw InternalError("control AST: unsupported operation");
    }
  }

  void exec(isl_ast_node* node) {
    switch (isl_ast_node_get_type(node)) {
      case isl_ast_node_for: {
        isl::ast_expr it = isl::manage(isl_ast_node_for_get_iterator(node));
        isl_id* id = isl_ast_expr_id_get_id(it.get());
        const std::string var = isl_id_get_name(id);
        isl_id_free(id);
        isl::ast_expr init = isl::manage(isl_ast_node_for_get_init(node));
        isl::ast_expr cond = isl::manage(isl_ast_node_for_get_cond(node));
        isl::ast_expr inc = isl::manage(isl_ast_node_for_get_inc(node));
        isl::ast_node body = isl::manage(isl_ast_node_for_get_body(node));
        for (env[var] = eval(init.get()); eval(cond.get()); env[var] += eval(inc.get())) {
          exec(body.get());
        }
        env.erase(var);
        return;
      }
      case isl_ast_node_if: {
        isl::ast_expr cond = isl::manage(isl_ast_node_if_get_cond(node));
        if (eval(cond.get())) {
          isl::ast_node then = isl::manage(isl_ast_node_if_get_then_node(node));
          exec(then.get());
        } else if (isl_ast_node_if_has_else_node(node) == isl_bool_true) {
          isl::ast_node other = isl::manage(isl_ast_node_if_get_else_node(node));
          exec(other.get());
        }
        return;
      }
      case isl_ast_node_block: {
        isl_ast_node_list* list = isl_ast_node_block_get_children(node);
        const int n = static_cast<int>(isl_ast_node_list_n_ast_node(list));
        for (int i = 0; i < n; ++i) {
          isl::ast_node child = isl::manage(isl_ast_node_list_get_ast_node(list, i));
          exec(child.get());
        }
        isl_ast_node_list_free(list);
        return;
      }
      case isl_ast_node_mark: {
        isl::ast_node child = isl::manage(isl_ast_node_mark_get_node(node));
        exec(child.get());
        return;
      }
      case isl_ast_node_user: {
        isl::ast_expr call = isl::manage(isl_ast_node_user_get_expr(node));
        isl::ast_expr fn = isl::manage(isl_ast_expr_op_get_arg(call.get(), 0));
        isl_id* id = isl_ast_expr_id_get_id(fn.get());
        const std::string name = isl_id_get_name(id);
        isl_id_free(id);
        ControlStep st;
        switch (name[0]) {
          case 'W': st.kind = ControlStep::kWait; break;
          case 'G': st.kind = ControlStep::kWarWait; break;
          case 'C': st.kind = ControlStep::kCompute; break;
          case 'X': st.kind = ControlStep::kSend; break;
          default: st.kind = ControlStep::kOutput; break;
        }
        st.index = std::stoi(name.substr(1));
        const int n = static_cast<int>(isl_ast_expr_op_get_n_arg(call.get()));
        for (int i = 1; i < n; ++i) st.args.push_back(arg(call.get(), i));
        out->push_back(std::move(st));
        return;
      }
      default:
        throw InternalError("control AST: unsupported node type");
    }
  }
};

std::string print_program(const isl::ast_node& ast, Printer& pr, const std::string& header) {
  isl_ctx* ctx = ast.ctx().get();
  isl_printer* p = isl_printer_to_str(ctx);
  p = isl_printer_set_output_format(p, ISL_FORMAT_C);
  p = isl_ast_node_print_macros(ast.get(), p);
  std::string macros;
  {
    char* str = isl_printer_get_str(p);
    macros = str ? str : "";
    free(str);
  }
  isl_printer_free(p);
  p = isl_printer_to_str(ctx);
  p = isl_printer_set_output_format(p, ISL_FORMAT_C);
  p = isl_printer_set_indent(p, 4);
  isl_ast_print_options* opt = isl_ast_print_options_alloc(ctx);
  opt = isl_ast_print_options_set_print_user(opt, &print_user, &pr);
  p = isl_ast_node_print(ast.get(), p, opt);
  char* str = isl_printer_get_str(p);
  std::string body = str ? str : "";
  free(str);
  isl_printer_free(p);
  const std::string fn = pr.core < 0 ? "gcu" : "core_" + s(pr.core);
  return header + macros + (macros.empty() ? "" : "\n") + "void " + fn +
         "(int images) {\n  for (int n = 0; n < images; n++) {\n" + body + "  }\n}\n";
}

const char* kApi =
    "// wait_written(obj, n, a, b): block until obj's writer has completed pixel (a, b) of image n\n"
    "// wait_read(obj, n, a, b):    block until obj's reader has completed pixel (a, b) of image n\n"
    "//                             (write-after-read protection of the single buffer)\n"
    "// mvm(layer, n, h, w):        gather the input window of pixel (h, w) from the local buffer,\n"
    "//                             one crossbar MVM on this core's tile\n"
    "// send_psum / accumulate_psums: partial sums of a layer split over row blocks\n"
    "// digital_<op>(node, n, h, w): the digital unit computes pixel (h, w) (all channels)\n"
    "// send(obj, n, h, w) / write_local(obj, n, h, w): pixel (h, w) into the reader's buffer\n"
    "//                             (its padded layout); the reader's wait_written sees it\n";

}  // namespace

std::string control_file_name(const CoreProgram& p) {
  return p.core < 0 ? "gcu.c" : "core_" + std::to_string(p.core) + ".c";
}

std::vector<ControlStep> CoreProgram::run() const {
  std::vector<ControlStep> out;
  Interpreter in;
  in.out = &out;
  in.exec(ast.get());
  return out;
}

std::vector<CoreProgram> generate_control(const Graph& g, const Mapping& m,
                                          const PolyModel& poly) {
  const std::vector<int64_t> core_of = node_cores(g, m);
  std::map<NodeId, const LayerMapping*> layer;
  for (const auto& l : m.layers) layer[l.node] = &l;

  // Entries per core, in node order.
  std::map<int64_t, std::vector<Entry>> per_core;
  for (NodeId n = 0; n < static_cast<NodeId>(g.nodes().size()); ++n) {
    const int64_t c = core_of[static_cast<std::size_t>(n)];
    const Node& node = g.node(n);
    if (!node.has_matrix()) {
      per_core[c].push_back({n, nullptr, true});
      continue;
    }
    for (const Tile& t : layer.at(n)->tiles) {
      per_core[t.core].push_back({n, &t, t.core == c});
    }
  }
  std::vector<std::vector<int>> in_edges(g.nodes().size()), out_edges(g.nodes().size());
  for (std::size_t e = 0; e < poly.edges().size(); ++e) {
    in_edges[static_cast<std::size_t>(poly.edges()[e].reader)].push_back(static_cast<int>(e));
    out_edges[static_cast<std::size_t>(poly.edges()[e].writer)].push_back(static_cast<int>(e));
  }
  std::set<ValueId> outputs(g.outputs().begin(), g.outputs().end());

  std::vector<CoreProgram> programs;
  isl_ctx* ctx = poly.ctx().get();
  for (const auto& [core, entries] : per_core) {
    Printer pr;
    pr.g = &g;
    pr.poly = &poly;
    pr.core_of = &core_of;
    pr.core = core;
    pr.layer = layer;
    CoreProgram prog;
    prog.core = core;

    // Stages: runs of nodes with one domain shape whose in-core dependences are backward.
    isl::union_map sched = isl::union_map::empty(poly.ctx());
    int64_t stage = -1, pos = 0;
    std::vector<NodeId> stage_nodes;
    std::string header = "// " + std::string(core < 0 ? "GCU" : "core " + s(core)) + ":";
    for (const Entry& en : entries) {
      pr.entries[en.node] = en;
      prog.nodes.push_back(en.node);
      const Node& node = g.node(en.node);
      header += std::string(en.node == entries.front().node ? " " : ", ") + node.name + " (" +
                op_name(node.kind) + ")";
      const isl::set dom = poly.domain(en.node);
      bool fuse = stage >= 0;
      if (fuse) {
        const Shape& a = g.value(g.node(stage_nodes.front()).output).shape;
        const Shape& b = g.value(node.output).shape;
        fuse = a.size() == 3 && b.size() == 3 && a[1] == b[1] && a[2] == b[2];
      }
      for (int e : in_edges[static_cast<std::size_t>(en.node)]) {
        const EdgeDependence& ed = poly.edges()[static_cast<std::size_t>(e)];
        if (fuse && std::find(stage_nodes.begin(), stage_nodes.end(), ed.writer) != stage_nodes.end() &&
            !backward(ed.dep.need_prefix)) {
          fuse = false;
        }
      }
      if (!fuse) {
        ++stage;
        pos = 0;
        stage_nodes.clear();
      }
      stage_nodes.push_back(en.node);
      const std::string ix = s(en.node);
      // Waits on the inputs (a tile core needs the same input window).
      int64_t k = 0;
      for (int e : in_edges[static_cast<std::size_t>(en.node)]) {
        const EdgeDependence& ed = poly.edges()[static_cast<std::size_t>(e)];
        sched = sched.unite(place(relation_graph(ed.dep.need_prefix, "W" + s(e)), "W" + s(e),
                                  stage, pos, 0, k++));
      }
      const bool sends = !en.tile || en.tile->row_block == 0;
      if (sends) {
        for (int e : out_edges[static_cast<std::size_t>(en.node)]) {
          const EdgeDependence& ed = poly.edges()[static_cast<std::size_t>(e)];
          sched = sched.unite(place(relation_graph(ed.dep.war_gate, "G" + s(e)), "G" + s(e),
                                    stage, pos, 0, k++));
        }
      }
      sched = sched.unite(place(named(dom, "C" + ix), "C" + ix, stage, pos, 1, 0));
      if (sends) {
        k = 0;
        for (int e : out_edges[static_cast<std::size_t>(en.node)]) {
          sched = sched.unite(place(named(dom, "X" + s(e)), "X" + s(e), stage, pos, 2, k++));
        }
        if (outputs.count(node.output)) {
          sched = sched.unite(place(named(dom, "Y" + ix), "Y" + ix, stage, pos, 2, k));
        }
      }
      ++pos;
    }
    header += "\n// Generated by neurocore from the isl dependence relations (docs/cm.md, "
              "\"Control programs\").\n" + std::string(kApi);

    isl_ast_build* build = isl_ast_build_alloc(ctx);
    isl_id_list* names = isl_id_list_alloc(ctx, 6);
    for (const char* it : {"s", "h", "w", "p", "q", "k"}) {
      names = isl_id_list_add(names, isl_id_alloc(ctx, it, nullptr));
    }
    build = isl_ast_build_set_iterators(build, names);
    isl_ast_node* ast = isl_ast_build_node_from_schedule_map(build, sched.release());
    isl_ast_build_free(build);
    if (!ast) throw InternalError("isl AST generation failed for core " + s(core));
    prog.ast = isl::manage(ast);
    prog.code = print_program(prog.ast, pr, header);
    programs.push_back(std::move(prog));
  }
  return programs;
}

std::vector<CoreProgram> generate_control(const Compiled& c) {
  return generate_control(c.graph(), c.mapping(), c.poly());
}

}  // namespace nc::cm
