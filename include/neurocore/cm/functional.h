#pragma once
// Functional simulation (docs/cm.md, "Functional simulation"; spec cm-compiler.md §6; issue
// item 8): the mapped graph executed by its generated control programs with the real
// arithmetic, N images streamed.
//
// Every core runs the statement list of its control program (control.h) image after image;
// cores advance in turn, each as far as its waits allow, so the execution order is one the
// hardware could take. The state is the hardware's:
//   - one buffer per object (edge), in the reader's padded layout, written by the writer's
//     sends and pre-filled with the padding value (0; -inf for a max pooling reader); a single
//     buffer per object, reused by every image, so the WAR waits are what keeps it correct;
//   - per tile, the programmed weight block (rows x cols of the layer's matrix, zero across
//     groups). An MVM gathers the tile's rows of the im2col vector (c_in, i, j) from the buffer
//     and multiplies; a layer split over r row blocks sends its partial sums through a FIFO
//     to the accumulating tile (row block 0), which adds them and the bias digitally; column
//     blocks produce and send their own channels;
//   - digital ops (activation, BatchNorm, Add, pooling, global pooling, Flatten, Pad, Slice,
//     Concat) on the pixel of their iteration, reading their input buffers.
// Outputs are collected per image index, so they come back in the order the images were fed.
// A temporal graph (graph.h) is fed frames: each sample's T frames in order, samples one after
// the other; a Spiking node keeps its units' state (s, y) in its digital unit and restarts it
// at every sample's first frame (frame index a multiple of T).
//
// Analog non-idealities (OPTION, aihwkit-style; all off by default), per tile:
//   - DAC: the input vector x of an MVM is quantized to dac_bits (signed, symmetric) over
//     [-max|x|, max|x|] (dynamic input scaling, aihwkit's "abs max" noise management);
//   - programming noise: each programmed weight gets N(0, (programming_noise * w_max)^2) once,
//     w_max = max |W| of the tile;
//   - read noise: every MVM output gets N(0, (read_noise * w_max * ||x||_2)^2), which is
//     exactly the output distribution of fresh N(0, (read_noise * w_max)^2) weight noise per
//     read;
//   - ADC: the MVM output is clamped to [-B, B], B = out_bound * w_max * max|x|, and quantized
//     to adc_bits over it (aihwkit's out_bound, default 12).
// The noise is drawn from per-tile generators seeded from `seed`, so results do not depend on
// how the cores interleave.
#include <cstdint>
#include <memory>
#include <vector>

#include "neurocore/cm/control.h"
#include "neurocore/cm/compiled.h"
#include "neurocore/cm/graph.h"
#include "neurocore/cm/hardware.h"
#include "neurocore/cm/mapping.h"
#include "neurocore/cm/poly.h"

namespace nc::cm {

struct AnalogOptions {
  bool quantize = false;          // DAC/ADC quantization with the hardware's dac_bits / adc_bits
  double out_bound = 12.0;        // ADC range, in units of w_max * max|x|
  double programming_noise = 0;   // std relative to w_max, applied once per weight
  double read_noise = 0;          // std relative to w_max, per MVM
  uint64_t seed = 1;
  bool ideal() const { return !quantize && programming_noise == 0 && read_noise == 0; }
};

struct FunctionalOptions {
  AnalogOptions analog;
};

class FunctionalSimulator {
 public:
  /// Programs the tiles and generates the control programs. `g` must have its weights; the
  /// simulator keeps references to `g`, `m` and `poly`, which must outlive it. Throws
  /// UserError when a matrix node has no weights or the mapping is not of this graph, and
  /// when an analog option is negative.
  FunctionalSimulator(const Graph& g, const Mapping& m, const PolyModel& poly, const Hardware& hw,
                      const FunctionalOptions& options = {});
  /// The same for a compiled model, which must outlive the simulator.
  explicit FunctionalSimulator(const Compiled& c, const FunctionalOptions& options = {});
  ~FunctionalSimulator();
  FunctionalSimulator(const FunctionalSimulator&) = delete;
  FunctionalSimulator& operator=(const FunctionalSimulator&) = delete;

  /// Streams `images` (each: the graph inputs concatenated, as reference_eval's evaluate)
  /// through the pipeline; returns each image's outputs (concatenated in g.outputs() order)
  /// in the order fed. For a temporal graph every entry is a frame, and the count must be a
  /// multiple of T (whole samples). Throws UserError on a wrong image size or frame count;
  /// InternalError on a deadlock.
  std::vector<std::vector<float>> run(const std::vector<std::vector<float>>& images);

  const std::vector<CoreProgram>& programs() const;
  /// MVMs executed by the last run (all tiles).
  int64_t mvms() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// max |got - ref| / max |ref| (0 when both are all zero): the error relative to the output's
/// scale, which stays meaningful where single elements are near zero.
double max_relative_error(const std::vector<float>& got, const std::vector<float>& ref);

}  // namespace nc::cm
