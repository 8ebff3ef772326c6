#pragma once
// Timing simulation of the layer pipeline (docs/cm.md, "Timing simulation"; spec
// cm-compiler.md §5-§6; issue item 7).
//
// N images stream through the mapped graph. Every node is an in-order process over its
// iteration domain (one output pixel, all channels, per iteration), on the core of its layer:
//   - a Conv2d / Linear runs on its mapped cores: one MVM on every tile in parallel
//     (hw.mvm_ns), then, when its matrix is split over r > 1 row blocks, the partial sums
//     travel to the accumulating core (link latency + psum_bits * columns / bandwidth) and
//     are summed there ((r - 1) * columns digital ops);
//   - any other node runs on the digital unit of the core of the last Conv2d/Linear before
//     it in node order (the spec's partition rule, §3), or on the GCU when there is none:
//     C ops per pixel for activations and BatchNorm, (k - 1) C for a k-input Add,
//     C kh kw for pooling, C H W for global pooling, none for Flatten, Pad, Slice, Concat;
//   - the graph inputs are streamed by the GCU (0 cycles per pixel: the link paces them);
//     the graph outputs are sent back to it.
// Each iteration's output pixel travels to every reader: on the same core it is available
// when the iteration finishes; otherwise it is sent from the writer's core to every core of
// the reader that consumes it (one transfer per core: a Conv2d/Linear reader's tiles each get
// the channels of their row block, ceil(row_end / kh kw) - floor(row_begin / kh kw) of them,
// as the fabric's core graph; any other reader's core gets the whole pixel), bits = channels *
// activation_bits. The pixel has arrived when its last transfer has (and never before the
// previous pixel of the edge). A transfer holds a channel for ser = cycles(bits / bandwidth):
//   ideal fabric (options.fabric == nullptr): every transfer has its own channel (FIFO):
//     start = max(finish, channel free), arrival = start + ser + latency; the partial sums of
//     a row-split layer take latency + ser(psum_bits * widest column block), no queueing;
//   a placed fabric (options.fabric, options.node_of): every transfer between two cores,
//     partial sums included, follows the Router's route over the fabric's directed channels
//     (virtual cut-through): on hop k it is served in the channel's first ser free cycles at
//     or after it is ready (LinkCalendar: split over gaps, as interleaved flits), and is ready
//     for hop k + 1 one latency after its first cycle, but no earlier than ser cycles before
//     the end on hop k plus one latency; arrival = end on the last hop + latency. Transfers
//     sharing a channel therefore share its cycles: the busier it is, the later each ends.
//     The GCU is not a fabric node: its input and output transfers keep their own channels.
//
// A temporal graph (Graph::time_steps() = T) streams T frames per image through the same
// pipeline, frame after frame (each node's process runs its iterations frame by frame, so a
// Spiking node's step t follows its step t - 1); an image's latency runs from its first
// frame's first input to its last frame's last output, and its energy is T frames' energy.
// A Spiking node costs 5 digital ops per unit and step; its state (s, y) stays in the digital
// unit and is not counted in the buffers.
//
// Stalls come from the per-edge relations of the PolyModel, as compact tables (EdgeSchedule,
// schedule.h):
//   RAW: reader iteration (n, i2) starts only after writer iteration (n, need[i2]) arrived,
//        need[] derived from M exactly as the runtime's max_iter (spec §5): the writer's
//        completion of i1 enables the reader up to M(i1); its last iteration enables the rest;
//        iterations before lexmin(dom D') read only padding (need = -1);
//   WAR: writer iteration (n, i1), n >= 1, starts only after the reader finished
//        (n - 1, Gw(i1)) (single buffer, spec §7 defect 2).
// Every event time is an integer cycle count of hw.clock_ghz; the times are computed in
// causal order (image by image, nodes in topological order), which gives exactly the times
// an event-queue simulation of these rules would give, at a fraction of its cost.
//
// Buffers: each core stores the objects its nodes read. A pixel's bytes are live from their
// arrival until the reader finishes the last iteration that reads them (lexmax of W ; A);
// pixels nobody reads are not stored. Frees at cycle t come before arrivals at t. The peak
// live bytes per core is compared with hw.buffer_bytes: a core above it is a UserError
// naming the core, its nodes and the size it needs (no clamping, no back-pressure).
//
// Energy per image: MVM (energy_mvm_pj per MVM per tile), ADC (energy_adc_pj per used column
// per MVM), digital (energy_digital_op_pj per op), communication (energy_bit_moved_pj per bit
// per hop; one hop on the ideal fabric: activations between cores, times the reader's column
// blocks, partial sums, GCU input and output; on a placed fabric every routed transfer adds
// bits * (hops - 1)).
#include <cstdint>
#include <string>
#include <vector>

#include "neurocore/cm/compiled.h"
#include "neurocore/cm/graph.h"
#include "neurocore/cm/hardware.h"
#include "neurocore/cm/mapping.h"
#include "neurocore/cm/poly.h"
#include "neurocore/cm/schedule.h"
#include "neurocore/cm/topology.h"

namespace nc::cm {

struct TimingOptions {
  int64_t images = 1;
  bool check_buffers = true;  // false: report the peaks even when a core overflows
  bool trace = false;         // keep every iteration's times (tests, small graphs)
  // The fabric the cores talk over: nullptr = the ideal fabric. Otherwise core c sits on node
  // node_of[c] of *fabric (a placement of this mapping, e.g. place()'s), which must outlive
  // the call.
  const Topology* fabric = nullptr;
  std::vector<int> node_of;
};

struct CoreTiming {
  int64_t core = -1;            // -1 = GCU
  std::string nodes;            // names of the nodes it executes, comma separated
  int64_t mvm_cycles = 0;       // crossbar busy
  int64_t digital_cycles = 0;   // digital unit busy
  double utilisation = 0;       // mvm_cycles / total_cycles (digital_cycles / total for a digital-only core)
  int64_t max_buffer_bytes = 0; // peak live bytes of the objects it reads
};

struct EnergyPerImage {
  double mvm_pj = 0, adc_pj = 0, digital_pj = 0, comm_pj = 0;
  double total_pj() const { return mvm_pj + adc_pj + digital_pj + comm_pj; }
};

/// Per-iteration times of one node (options.trace): index image * iterations + i.
struct NodeTrace {
  int64_t iterations = 0;
  std::vector<int64_t> start, finish;
};

struct TimingReport {
  int64_t images = 0;
  int64_t time_steps = 0;            // a temporal graph's frames per image (0: static graph)
  double clock_ghz = 1.0;
  int64_t total_cycles = 0;          // last output of the last image at the GCU
  int64_t first_latency_cycles = 0;  // image 0: first input pixel sent -> last output received
  double period_cycles = 0;          // steady-state cycles per image (second half of the stream)
  double throughput_images_per_s = 0;
  std::vector<int64_t> image_done;   // cycle at which image n's last output reached the GCU
  std::vector<CoreTiming> cores;     // the GCU first (when it runs nodes), then by core id
  EnergyPerImage energy;
  std::string fabric = "ideal";      // the topology's name on a placed fabric
  double busiest_channel_utilisation = 0;  // placed fabric: busy cycles of the busiest channel / total_cycles
  std::vector<NodeTrace> nodes;               // options.trace: per node
  std::vector<std::vector<int64_t>> arrivals; // options.trace: per PolyModel edge, image * n1 + i1

  int64_t buffer_bytes = 0;          // the hardware's buffer.bytes_per_core (the "of size" column)

  /// The summary table, then per_core_markdown().
  std::string report_markdown() const;
  /// One row per core: nodes, crossbar and digital busy cycles, utilisation, peak buffer and
  /// its share of buffer_bytes. The one per-core table of every timing report.
  std::string per_core_markdown() const;
  std::string to_json() const;
};

/// Simulates options.images images through `g` mapped by `m` on `hw`, with the relations of
/// `poly` (built from the same graph). Throws UserError when options.images < 1, when the
/// mapping does not belong to the graph, or (options.check_buffers) when a core's peak buffer
/// occupancy exceeds hw.buffer_bytes ("core 3 (layer1.0.conv2, ...) needs a buffer of
/// 20480 bytes, buffer.bytes_per_core is 16384"), or when options.fabric is set and node_of
/// does not put every core of the mapping on a node of it.
TimingReport simulate_timing(const Graph& g, const Mapping& m, const PolyModel& poly,
                             const Hardware& hw, const TimingOptions& options = {});
/// The same for a compiled model (its graph, mapping, isl model and hardware).
TimingReport simulate_timing(const Compiled& c, const TimingOptions& options = {});

}  // namespace nc::cm
