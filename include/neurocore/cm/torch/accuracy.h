#pragma once
// Test accuracy of a compiled network (docs/cm.md, "Accuracy on the accelerator"; issue #5
// item 8): the one evaluation behind `neurocore compile --eval DATA` and the pipeline's
// evaluate stage.
//
// Two measurements on the same labelled images:
//   - the compiled graph evaluated with LibTorch's kernels (evaluate_with_torch): exact float
//     arithmetic, i.e. the float model (BatchNorms folded), on the first `limit` images;
//   - the functional simulator (functional.h) with the accelerator's non-idealities (DAC/ADC
//     bits of the hardware spec, programming and read noise, seeded) on the first
//     `sim_images` of them: what the chip would score, next to the float model's accuracy on
//     exactly those images.
// The simulator runs the images in chunks (for the progress line); its noise comes from
// per-tile generators drawn in program order, so the result equals one run over all images.
#include <torch/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "neurocore/cm/functional.h"
#include "neurocore/cm/compiled.h"
#include "neurocore/cm/graph.h"
#include "neurocore/cm/hardware.h"
#include "neurocore/cm/mapping.h"
#include "neurocore/cm/poly.h"

namespace nc::cm {

struct AccuracyOptions {
  int64_t limit = 0;         // images evaluated with LibTorch; 0 = all
  int64_t sim_images = 200;  // the first of those through the functional simulator; 0 = none
  // > 0: after the first sim_images, all `limit` images go through the simulator when the
  // rate measured on those says the whole set takes at most this many seconds.
  double full_if_under_s = 0;
  AnalogOptions analog;      // the non-idealities of the functional simulation
  bool progress = true;      // a progress line on stderr while the simulator runs
};

struct AccuracyReport {
  int64_t images = 0;                       // evaluated with LibTorch
  double compiled_accuracy = 0;             // % over `images`, LibTorch on the compiled graph
  int64_t sim_images = 0;                   // through the functional simulator
  double accelerator_accuracy = 0;          // % over sim_images, functional simulation
  double float_accuracy_same_images = 0;    // % over sim_images, LibTorch on the compiled graph
  double agreement = 0;                     // % of sim_images predicted as the float model does
  int64_t mvms = 0;                         // crossbar MVMs the simulation executed
  double sim_seconds = 0;                   // wall time of the functional simulation
  std::string non_idealities;               // one line: what the simulation modelled

  /// {images, compiled_accuracy, and, when sim_images > 0, accelerator_images,
  ///  accelerator_accuracy, float_accuracy_same_images, agreement, non_idealities, mvms,
  ///  simulation_seconds}.
  nlohmann::json to_json() const;
};

/// Accuracy (argmax of the graph's single output against `labels`) of `g` mapped as `m` on
/// `hw`. `inputs`: [N, ...the graph input's shape], already normalised as the model expects,
/// float32; `labels`: [N] int64. A temporal graph takes [T, N, ...] (e.g. data::encode's
/// spike trains) and its class is the argmax of the outputs summed over the T steps. Throws UserError when the inputs do not have the graph's
/// input shape (naming both shapes), when N differs from the label count or is 0, and any
/// error of FunctionalSimulator.
AccuracyReport evaluate_accuracy(const Graph& g, const Mapping& m, const PolyModel& poly,
                                 const Hardware& hw, const torch::Tensor& inputs,
                                 const torch::Tensor& labels, const AccuracyOptions& options);
/// The same for a compiled model.
AccuracyReport evaluate_accuracy(const Compiled& c, const torch::Tensor& inputs, const torch::Tensor& labels,
                                 const AccuracyOptions& options);

}  // namespace nc::cm
