#include "neurocore/cm/timing.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <limits>
#include <sstream>

#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"
#include "transfer_network.h"

namespace nc::cm {

namespace {

// Iterations of node n's domain (row-major h * W_out + w; 1 for a flat output).
int64_t domain_size(const Graph& g, NodeId n) {
  const Shape& s = g.value(g.node(n).output).shape;
  return s.size() == 3 ? s[1] * s[2] : 1;
}

// Channels of one pixel of node n's output (all of it for a flat value).
int64_t pixel_elements(const Graph& g, NodeId n) {
  const Shape& s = g.value(g.node(n).output).shape;
  return s.size() == 3 ? s[0] : numel(s);
}

// Digital-unit ops per iteration of a node without a matrix.
int64_t digital_ops(const Graph& g, const Node& n) {
  const Shape& out = g.value(n.output).shape;
  const int64_t c = out.size() == 3 ? out[0] : numel(out);
  switch (n.kind) {
    case OpKind::kActivation:
    case OpKind::kBatchNorm:
      return c;
    case OpKind::kSpiking:  // per unit and step: d s, 1 - y, their product, + x, the threshold
      return 5 * c;
    case OpKind::kAdd:
      return static_cast<int64_t>(n.inputs.size() - 1) * c;
    case OpKind::kMaxPool:
    case OpKind::kAvgPool:
      return c * n.pool().kernel_size().h * n.pool().kernel_size().w;
    case OpKind::kGlobalAvgPool:
      return numel(g.value(n.inputs[0]).shape);
    default:
      return 0;
  }
}

struct Event {
  int64_t time;
  int64_t bits;  // > 0 arrival, < 0 free
};

// A FIFO of time-ordered events with a read head (a deque without per-element allocation).
struct Stream {
  std::vector<Event> ev;
  std::size_t head = 0;
  bool empty() const { return head == ev.size(); }
  const Event& front() const { return ev[head]; }
  void compact() {
    if (head > 4096 && head * 2 > ev.size()) {
      ev.erase(ev.begin(), ev.begin() + static_cast<std::ptrdiff_t>(head));
      head = 0;
    }
  }
};

struct CoreBuffer {
  std::vector<Stream*> streams;
  int64_t live_bits = 0, max_bits = 0;
  // Consumes every event earlier than `until`, in time order, frees first at equal times.
  void drain(int64_t until) {
    for (;;) {
      Stream* best = nullptr;
      for (Stream* s : streams) {
        if (s->empty() || s->front().time >= until) continue;
        if (!best || s->front().time < best->front().time ||
            (s->front().time == best->front().time && s->front().bits < 0 &&
             best->front().bits > 0)) {
          best = s;
        }
      }
      if (!best) break;
      live_bits += best->front().bits;
      max_bits = std::max(max_bits, live_bits);
      ++best->head;
    }
    for (Stream* s : streams) s->compact();
  }
};

struct EdgeState {
  const EdgeDependence* e = nullptr;
  EdgeSchedule sched;
  bool cross = false;          // writer and reader on different cores
  std::vector<Leg> legs;       // cross: one transfer per reader core that consumes the pixel
  int64_t pixel_bits = 0;
  int64_t last_arrival = 0;    // pixels of one edge arrive in order
  std::vector<int64_t> arrival;     // current image, per writer iteration
  std::vector<int64_t> freed_bits;  // per reader iteration
  Stream arrivals, frees;
};


// Graph outputs travel back to the GCU over one link each.
struct OutLink {
  NodeId node;
  int64_t ser, lat, link_free = 0, done = 0;
};

// One simulation, in named phases (simulate_timing calls them in order); the state the phases
// hand on is the members below.
class TimingRun {
 public:
  TimingRun(const Graph& g, const Mapping& m, const PolyModel& poly, const Hardware& hw, const TimingOptions& options)
      : g(g), m(m), poly(poly), hw(hw), options(options), nn(g.nodes().size()), core(node_cores(g, m)),
        layer_of(nn, nullptr), net(hw, options.fabric, options.node_of, m.total_cores),
        lat(hw.cycles(hw.link_latency_ns)), steps(g.frames_per_sample()), frames(options.images * steps) {
    for (const auto& l : m.layers) layer_of[static_cast<std::size_t>(l.node)] = &l;
  }

  // Per node: iterations, cycles per iteration, crossbar/digital split, energy per iteration.
  void node_costs() {
    // Per node: iterations, cycles per iteration, crossbar/digital split, energy per iteration.
    iters.assign(nn, 0), comp.assign(nn, 0), mvm_part.assign(nn, 0), post.assign(nn, 0);
    // Placed fabric: the partial-sum transfers of row-split layers, routed (the ideal fabric
    // keeps them inside comp), and the accumulation after them (post).
    psum_legs.assign(nn, {});
    for (std::size_t n = 0; n < nn; ++n) {
      const Node& node = g.nodes()[n];
      iters[n] = domain_size(g, static_cast<NodeId>(n));
      const double it = static_cast<double>(iters[n]);
      if (node.has_matrix()) {
        const LayerMapping& l = *layer_of[n];
        const int64_t mvm = hw.cycles(hw.mvm_ns);
        int64_t widest = 0, used_cols = 0;
        for (const auto& t : l.tiles) {
          widest = std::max(widest, t.col_end - t.col_begin);
          used_cols += t.col_end - t.col_begin;
        }
        int64_t extra = 0;
        if (l.row_blocks > 1) {
          const int64_t adds = (l.row_blocks - 1) * widest;
          extra = lat + ser_cycles(hw.psum_bits * widest) + hw.cycles(adds * hw.digital_op_ns);
          // partial sums of every non-accumulating tile, summed on the accumulating ones
          int64_t psum_cols = 0, acc_cols = 0;
          for (const auto& t : l.tiles) {
            (t.accumulates ? acc_cols : psum_cols) += t.col_end - t.col_begin;
          }
          energy.comm_pj += it * static_cast<double>(psum_cols * hw.psum_bits) * hw.energy_bit_moved_pj;
          energy.digital_pj += it * static_cast<double>(psum_cols) * hw.energy_digital_op_pj;
          if (!net.ideal()) {
            post[n] = hw.cycles(adds * hw.digital_op_ns);
            for (const auto& t : l.tiles) {
              if (t.row_block == 0) continue;
              for (const auto& u : l.tiles) {
                if (u.row_block == 0 && u.col_begin == t.col_begin && u.group_begin == t.group_begin) {
                  psum_legs[n].push_back(net.leg(t.core, u.core, (t.col_end - t.col_begin) * hw.psum_bits));
                  energy.comm_pj += it * static_cast<double>(psum_legs[n].back().bits * (psum_legs[n].back().hops - 1)) *
                                    hw.energy_bit_moved_pj;
                }
              }
            }
          }
        }
        comp[n] = mvm + extra;
        mvm_part[n] = mvm;
        energy.mvm_pj += it * static_cast<double>(l.tiles.size()) * hw.energy_mvm_pj;
        energy.adc_pj += it * static_cast<double>(used_cols) * hw.energy_adc_pj;
      } else {
        const int64_t ops = digital_ops(g, node);
        comp[n] = ops > 0 ? hw.cycles(static_cast<double>(ops) * hw.digital_op_ns) : 0;
        energy.digital_pj += it * static_cast<double>(ops) * hw.energy_digital_op_pj;
      }
    }
  }

  // Per edge: the schedule tables, the transfers between cores, the bits each pixel frees.
  void edge_tables() {
    // Edges: tables, links, buffers.
    edges = std::vector<EdgeState>(poly.edges().size());  // sized once: in_edges, out_edges point into it
    in_edges.assign(nn, {});
    out_edges.assign(nn, {});
    for (std::size_t k = 0; k < edges.size(); ++k) {
      EdgeState& es = edges[k];
      es.e = &poly.edges()[k];
      es.sched = edge_schedule(g, *es.e);
      const auto w = static_cast<std::size_t>(es.e->writer), r = static_cast<std::size_t>(es.e->reader);
      es.cross = core[w] != core[r];
      es.pixel_bits = pixel_elements(g, es.e->writer) * hw.activation_bits;
      if (es.cross) {
        const Node& reader = g.node(es.e->reader);
        if (reader.has_matrix()) {
          // Each tile gets the channels of its row block (rows ordered (c_in, i, j)), as the
          // fabric's core graph: a column-split reader gets them on every column block.
          const int64_t khkw = reader.kind == OpKind::kConv2d
                                   ? reader.conv().kernel_size().h * reader.conv().kernel_size().w : 1;
          const int64_t pixel = pixel_elements(g, es.e->writer);
          for (const auto& t : layer_of[r]->tiles) {
            const int64_t c0 = t.row_begin / khkw, c1 = std::min(pixel, (t.row_end - 1) / khkw + 1);
            if (c1 > c0) es.legs.push_back(net.leg(core[w], t.core, (c1 - c0) * hw.activation_bits));
          }
        } else {
          es.legs.push_back(net.leg(core[w], core[r], es.pixel_bits));
        }
        for (const Leg& leg : es.legs) {
          energy.comm_pj += static_cast<double>(iters[w] * leg.bits * (leg.hops - 1)) * hw.energy_bit_moved_pj;
        }
      }
      es.arrival.assign(static_cast<std::size_t>(es.sched.writer_iterations), 0);
      es.freed_bits.assign(static_cast<std::size_t>(es.sched.reader_iterations), 0);
      for (int64_t f : es.sched.free_after) {
        if (f >= 0) es.freed_bits[static_cast<std::size_t>(f)] += es.pixel_bits;
      }
      if (es.cross) {
        const Node& reader = g.node(es.e->reader);
        const int64_t copies =
            (reader.has_matrix() && layer_of[r]->groups == 1) ? layer_of[r]->col_blocks : 1;
        energy.comm_pj += static_cast<double>(iters[w] * es.pixel_bits * copies) *
                          hw.energy_bit_moved_pj;
      }
      in_edges[r].push_back(&es);
      out_edges[w].push_back(&es);
    }
  }

  void output_links() {
    // Graph outputs travel back to the GCU.
    for (ValueId v : g.outputs()) {
      const NodeId p = g.value(v).producer;
      const bool cross = core[static_cast<std::size_t>(p)] != -1;
      const int64_t bits = pixel_elements(g, p) * hw.activation_bits;
      outs.push_back({p, cross ? ser_cycles(bits) : 0, cross ? lat : 0});
      if (cross) {
        energy.comm_pj += static_cast<double>(iters[static_cast<std::size_t>(p)] * bits) *
                          hw.energy_bit_moved_pj;
      }
    }
    if (outs.empty()) throw UserError("simulate_timing: the graph has no output (mark_output)");
  }

  void core_buffers() {
    // Buffers per core (the GCU's index is 0, core c is c + 1).
    int64_t max_core = -1;
    for (int64_t c : core) max_core = std::max(max_core, c);
    for (const auto& l : m.layers)
      for (const auto& t : l.tiles) max_core = std::max(max_core, t.core);
    ncores = static_cast<std::size_t>(max_core + 2);
    buffers = std::vector<CoreBuffer>(ncores);
    for (auto& es : edges) {
      auto& b = buffers[static_cast<std::size_t>(core[static_cast<std::size_t>(es.e->reader)] + 1)];
      b.streams.push_back(&es.arrivals);
      b.streams.push_back(&es.frees);
    }
  }

  // Every frame through every node, iteration by iteration, in dependence order.
  void stream_frames() {
    // A temporal graph runs T frames (time steps) per image, one after the other through the
    // same pipeline: every rule above applies per frame, and an image is done with its last.
    rep.images = options.images;
    rep.time_steps = g.time_steps();
    rep.clock_ghz = hw.clock_ghz;
    rep.buffer_bytes = hw.buffer_bytes;
    rep.energy = energy;
    for (double* e : {&rep.energy.mvm_pj, &rep.energy.adc_pj, &rep.energy.digital_pj, &rep.energy.comm_pj}) {
      *e *= static_cast<double>(steps);
    }
    if (options.trace) {
      rep.nodes.resize(nn);
      for (std::size_t n = 0; n < nn; ++n) {
        rep.nodes[n].iterations = iters[n];
        rep.nodes[n].start.reserve(static_cast<std::size_t>(iters[n] * frames));
        rep.nodes[n].finish.reserve(static_cast<std::size_t>(iters[n] * frames));
      }
      rep.arrivals.resize(edges.size());
    }

    finish.assign(nn, {});
    for (std::size_t n = 0; n < nn; ++n) finish[n].assign(static_cast<std::size_t>(iters[n]), 0);
    std::vector<int64_t> last_finish(nn, 0);
    image_start.assign(static_cast<std::size_t>(frames), std::numeric_limits<int64_t>::max());

    for (int64_t img = 0; img < frames; ++img) {  // img: a frame (an image of a static graph)
      for (std::size_t n = 0; n < nn; ++n) {
        const int64_t c = comp[n];
        int64_t prev = last_finish[n];
        const auto& ins = in_edges[n];
        const auto& outs_n = out_edges[n];
        auto& fin = finish[n];
        for (int64_t i = 0; i < iters[n]; ++i) {
          int64_t t = prev;
          for (const EdgeState* es : ins) {
            const int64_t k = es->sched.need[static_cast<std::size_t>(i)];
            if (k >= 0) t = std::max(t, es->arrival[static_cast<std::size_t>(k)]);
          }
          if (img > 0) {
            for (const EdgeState* es : outs_n) {
              const int64_t gate = es->sched.war_gate[static_cast<std::size_t>(i)];
              if (gate >= 0) {
                t = std::max(t, finish[static_cast<std::size_t>(es->e->reader)][static_cast<std::size_t>(gate)]);
              }
            }
          }
          int64_t f = t + c;
          if (!psum_legs[n].empty()) {
            const int64_t mvm_done = t + mvm_part[n];
            int64_t arrived = mvm_done;
            for (const Leg& leg : psum_legs[n]) arrived = std::max(arrived, net.send(leg, mvm_done));
            f = arrived + post[n];
          }
          fin[static_cast<std::size_t>(i)] = f;
          if (options.trace) {
            rep.nodes[n].start.push_back(t);
            rep.nodes[n].finish.push_back(f);
          }
          if (i == 0 && g.nodes()[n].kind == OpKind::kInput) {
            auto& st = image_start[static_cast<std::size_t>(img)];
            st = std::min(st, t);
          }
          for (EdgeState* es : outs_n) {
            int64_t a = f;
            if (es->cross) {
              a = es->last_arrival;
              for (const Leg& leg : es->legs) a = std::max(a, net.send(leg, f));
              es->last_arrival = a;
            }
            es->arrival[static_cast<std::size_t>(i)] = a;
            if (es->sched.free_after[static_cast<std::size_t>(i)] >= 0) {
              es->arrivals.ev.push_back({a, es->pixel_bits});
            }
          }
          for (EdgeState* es : ins) {
            const int64_t fb = es->freed_bits[static_cast<std::size_t>(i)];
            if (fb > 0) es->frees.ev.push_back({f, -fb});
          }
          prev = f;
        }
        last_finish[n] = prev;
      }
      for (auto& o : outs) {
        const auto& fin = finish[static_cast<std::size_t>(o.node)];
        for (int64_t f : fin) {
          o.link_free = std::max(f, o.link_free) + o.ser;
        }
        o.done = o.link_free + o.lat;
      }
      int64_t done = 0;
      for (const auto& o : outs) done = std::max(done, o.done);
      rep.image_done.push_back(done);
      if (options.trace) {
        for (std::size_t k = 0; k < edges.size(); ++k) {
          rep.arrivals[k].insert(rep.arrivals[k].end(), edges[k].arrival.begin(), edges[k].arrival.end());
        }
      }
      // Every later event comes after some node's last finish of this image.
      const int64_t safe = *std::min_element(last_finish.begin(), last_finish.end());
      for (auto& b : buffers) b.drain(safe);
      net.forget_before(safe);
    }
    for (auto& b : buffers) b.drain(std::numeric_limits<int64_t>::max());
  }

  // Latency of the first image, the steady-state period and throughput, the fabric's load.
  void latency_and_throughput() {
    if (steps > 1) {  // per image: its first frame's start, its last frame's end
      std::vector<int64_t> done, start;
      for (int64_t k = 0; k < options.images; ++k) {
        start.push_back(image_start[static_cast<std::size_t>(k * steps)]);
        done.push_back(rep.image_done[static_cast<std::size_t>(k * steps + steps - 1)]);
      }
      image_start = std::move(start);
      rep.image_done = std::move(done);
    }
    const int64_t n_img = options.images;
    rep.total_cycles = rep.image_done.back();
    rep.first_latency_cycles = rep.image_done[0] - image_start[0];
    if (n_img == 1) {
      rep.period_cycles = static_cast<double>(rep.first_latency_cycles);
    } else {
      const int64_t h = std::min(n_img / 2, n_img - 2);
      rep.period_cycles = static_cast<double>(rep.image_done[static_cast<std::size_t>(n_img - 1)] -
                                              rep.image_done[static_cast<std::size_t>(h)]) /
                          static_cast<double>(n_img - 1 - h);
    }
    rep.throughput_images_per_s =
        rep.period_cycles > 0 ? hw.clock_ghz * 1e9 / rep.period_cycles : 0.0;
    if (options.fabric) {
      rep.fabric = options.fabric->name;
      rep.busiest_channel_utilisation = static_cast<double>(net.busiest_channel_cycles()) /
                                        static_cast<double>(std::max<int64_t>(rep.total_cycles, 1));
    }
  }

  // Busy cycles, utilisation and peak buffer per core; the buffer check.
  TimingReport per_core_statistics() {
    // Per-core statistics.
    std::vector<CoreTiming> cores(ncores);
    for (std::size_t k = 0; k < ncores; ++k) cores[k].core = static_cast<int64_t>(k) - 1;
    std::vector<bool> used(ncores, false);
    for (std::size_t n = 0; n < nn; ++n) {
      const Node& node = g.nodes()[n];
      if (node.kind == OpKind::kInput) continue;  // the GCU streams inputs; not a core's work
      const int64_t busy = iters[n] * frames;
      if (node.has_matrix()) {
        for (const auto& t : layer_of[n]->tiles) {
          auto& ct = cores[static_cast<std::size_t>(t.core + 1)];
          used[static_cast<std::size_t>(t.core + 1)] = true;
          ct.mvm_cycles += busy * mvm_part[n];
          if (t.accumulates) ct.digital_cycles += busy * (comp[n] - mvm_part[n]);
          ct.nodes += (ct.nodes.empty() ? "" : ", ") + node.name;
        }
      } else {
        auto& ct = cores[static_cast<std::size_t>(core[n] + 1)];
        used[static_cast<std::size_t>(core[n] + 1)] = true;
        ct.digital_cycles += busy * comp[n];
        ct.nodes += (ct.nodes.empty() ? "" : ", ") + node.name;
      }
    }
    std::string overflow;
    for (std::size_t k = 0; k < ncores; ++k) {
      if (!used[k]) continue;
      CoreTiming ct = cores[k];
      ct.max_buffer_bytes = (buffers[k].max_bits + 7) / 8;
      const double total = static_cast<double>(std::max<int64_t>(rep.total_cycles, 1));
      ct.utilisation = static_cast<double>(ct.mvm_cycles > 0 ? ct.mvm_cycles : ct.digital_cycles) / total;
      if (ct.core >= 0 && ct.max_buffer_bytes > hw.buffer_bytes) {
        overflow += (overflow.empty() ? "" : "; ") + std::string("core ") + std::to_string(ct.core) +
                    " (" + ct.nodes + ") needs a buffer of " + std::to_string(ct.max_buffer_bytes) +
                    " bytes";
      }
      rep.cores.push_back(std::move(ct));
    }
    if (options.check_buffers && !overflow.empty()) {
      int64_t need = 0;
      for (const auto& ct : rep.cores) need = std::max(need, ct.max_buffer_bytes);
      throw UserError("hardware '" + hw.name + "': buffer.bytes_per_core is " +
                      std::to_string(hw.buffer_bytes) + " bytes but " + overflow +
                      " (raise buffer.bytes_per_core to at least " + std::to_string(need) +
                      ", e.g. --hw-set buffer.bytes_per_core=" + std::to_string(need) + ")");
    }
    return rep;
  }

 private:
  int64_t ser_cycles(int64_t bits) const { return hw.cycles(static_cast<double>(bits) / hw.link_bandwidth_gbps); }

  const Graph& g;
  const Mapping& m;
  const PolyModel& poly;
  const Hardware& hw;
  const TimingOptions& options;
  const std::size_t nn;
  const std::vector<int64_t> core;           // of every node (-1: the GCU)
  std::vector<const LayerMapping*> layer_of;  // of every matrix node
  TransferNetwork net;
  const int64_t lat;                          // link latency, cycles
  const int64_t steps, frames;                // frames per image, frames in all
  // node_costs
  std::vector<int64_t> iters, comp, mvm_part, post;
  std::vector<std::vector<Leg>> psum_legs;
  EnergyPerImage energy;
  // edge_tables, output_links, core_buffers
  std::vector<EdgeState> edges;
  std::vector<std::vector<EdgeState*>> in_edges, out_edges;
  std::vector<OutLink> outs;
  std::size_t ncores = 0;
  std::vector<CoreBuffer> buffers;
  // stream_frames
  TimingReport rep;
  std::vector<std::vector<int64_t>> finish;
  std::vector<int64_t> image_start;
};

}  // namespace

TimingReport simulate_timing(const Graph& g, const Mapping& m, const PolyModel& poly,
                             const Hardware& hw, const TimingOptions& options) {
  if (options.images < 1) {
    throw UserError("simulate_timing: images must be at least 1, got " +
                    std::to_string(options.images));
  }
  TimingRun run(g, m, poly, hw, options);
  run.node_costs();
  run.edge_tables();
  run.output_links();
  run.core_buffers();
  run.stream_frames();
  run.latency_and_throughput();
  return run.per_core_statistics();
}

std::string TimingReport::report_markdown() const {
  std::ostringstream s;
  const double ns = 1.0 / clock_ghz;
  s << "Timing simulation: " << images << " image(s)";
  if (time_steps > 0) s << " of " << time_steps << " time steps each";
  s << ", clock " << format_num(clock_ghz) << " GHz.\n\n";
  s << "| metric | value |\n|---|---|\n";
  s << "| latency of the first image | " << first_latency_cycles << " cycles ("
    << format_num(first_latency_cycles * ns / 1e3) << " us) |\n";
  s << "| steady-state period | " << format_num(period_cycles) << " cycles/image |\n";
  s << "| throughput | " << format_num(throughput_images_per_s) << " images/s |\n";
  s << "| total | " << total_cycles << " cycles |\n";
  s << "| fabric | " << (fabric == "ideal" ? std::string("ideal (a channel of its own for every transfer)")
                                           : fabric + ", busiest channel busy " +
                                                 format_num(100.0 * busiest_channel_utilisation, "{:.1f}%") + " of the time")
    << " |\n";
  s << "| energy per image | " << format_num(energy.total_pj() / 1e3) << " nJ (MVM " << format_num(energy.mvm_pj / 1e3)
    << ", ADC " << format_num(energy.adc_pj / 1e3) << ", digital " << format_num(energy.digital_pj / 1e3)
    << ", communication " << format_num(energy.comm_pj / 1e3) << ") |\n\n";
  s << per_core_markdown();
  return s.str();
}

std::string TimingReport::per_core_markdown() const {
  std::ostringstream s;
  s << "| core | nodes | crossbar busy | digital busy | utilisation | peak buffer (bytes) | of size |\n";
  s << "|---|---|---|---|---|---|---|\n";
  for (const auto& c : cores) {
    const double share = buffer_bytes > 0 ? 100.0 * static_cast<double>(c.max_buffer_bytes) / static_cast<double>(buffer_bytes) : 0.0;
    s << "| " << (c.core < 0 ? std::string("GCU") : std::to_string(c.core)) << " | " << c.nodes
      << " | " << c.mvm_cycles << " | " << c.digital_cycles << " | "
      << format_num(100.0 * c.utilisation, "{:.1f}%") << " | " << c.max_buffer_bytes << " | " << format_num(share, "{:.1f}%") << " |\n";
  }
  return s.str();
}

std::string TimingReport::to_json() const {
  using nlohmann::json;
  json cs = json::array();
  for (const auto& c : cores) {
    cs.push_back({{"core", c.core},
                  {"nodes", c.nodes},
                  {"mvm_cycles", c.mvm_cycles},
                  {"digital_cycles", c.digital_cycles},
                  {"utilisation", c.utilisation},
                  {"max_buffer_bytes", c.max_buffer_bytes}});
  }
  return json({{"images", images},
               {"time_steps", time_steps},
               {"clock_ghz", clock_ghz},
               {"total_cycles", total_cycles},
               {"first_latency_cycles", first_latency_cycles},
               {"period_cycles", period_cycles},
               {"throughput_images_per_s", throughput_images_per_s},
               {"image_done", image_done},
               {"fabric", fabric},
               {"busiest_channel_utilisation", busiest_channel_utilisation},
               {"energy_per_image_pj",
                {{"mvm", energy.mvm_pj},
                 {"adc", energy.adc_pj},
                 {"digital", energy.digital_pj},
                 {"communication", energy.comm_pj},
                 {"total", energy.total_pj()}}},
               {"cores", cs}})
             .dump(2) +
         "\n";
}

TimingReport simulate_timing(const Compiled& c, const TimingOptions& options) {
  return simulate_timing(c.graph(), c.mapping(), c.poly(), c.hardware(), options);
}

}  // namespace nc::cm
