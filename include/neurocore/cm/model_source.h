#pragma once
// Where a model to compile comes from, and the one loader of every kind (docs/cm.md, "Model
// sources"): a zoo name, an ONNX file, a TorchScript file, a run directory of `neurocore
// train` / `neurocore quantize`, optionally with an integer model file whose weights replace
// the graph's. Every entry point that compiles (compile, fabric, simulate, the pipeline, the
// benchmarks) loads through load_graph, so a new kind (pruned models, NIR) is added once.
//
// The cm core has no LibTorch: it loads zoo models and ONNX itself; the LibTorch-backed kinds
// (TorchScript, run directories) are loaders that nc_cm_torch registers
// (cm/torch/loaders.h, register_torch_loaders), so a LibTorch-free build still links and
// says clearly what it cannot load.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "neurocore/cm/graph.h"

namespace nc::cm {

enum class SourceKind { kAuto, kZoo, kOnnx, kTorchScript, kRunDir };

/// "auto", "zoo", "onnx", "torchscript", "run directory".
const char* source_kind_name(SourceKind k);

struct ModelSource {
  std::string path;                     // zoo name, file, or run directory
  SourceKind kind = SourceKind::kAuto;  // kAuto: decided by resolve_kind
  Shape input_shape;                    // one sample's shape; TorchScript records none
  std::string int_model;                // optional integer model file (compress/int_model.h)
  uint64_t zoo_seed = 1;                // a zoo model's random weights (fill_random)

  ModelSource() = default;
  explicit ModelSource(std::string p) : path(std::move(p)) {}
};

/// How a user's raw samples (pixels in [0, 1]) become the graph's input. Only a run directory
/// knows (its training normalisation or, for a spiking model, its encoder); otherwise the
/// samples are fed as given.
struct InputPreparation {
  bool from_run = false;
  double mean = 0.0, std = 1.0;  // (pixel - mean) / std for a static graph
  std::string coding;            // temporal graph: the run's encoder (rate | latency | direct)
  int64_t steps = 0;
  double gain = 0.0;
};

struct LoadedGraph {
  Graph graph;                     // as imported; BatchNorms not necessarily folded
  SourceKind kind = SourceKind::kAuto;
  int64_t opset = 0;               // ONNX only
  std::vector<std::string> notes;  // what the importer did beyond a one-to-one op mapping
  InputPreparation input;
  std::string data_name;           // run directory: the dataset it was trained on
  int folded_batch_norms = 0;      // folded by load_graph (before integer weights only)
};

/// The kind of `source`: its own when set; else a zoo name, a directory (run), a zip archive
/// or a .pt/.pth/.ts/.torchscript name (TorchScript), any other file (ONNX). Throws UserError
/// naming the path, the closest zoo name and the accepted kinds when nothing matches.
SourceKind resolve_kind(const ModelSource& source);

/// Loads the graph of `source` and, when source.int_model is set, puts its integer weights in
/// (int_weights.h). Throws UserError for an unreadable or unsupported model (the importer's
/// message), and for a LibTorch kind when no loader is registered for it.
LoadedGraph load_graph(const ModelSource& source);

/// A loader for one kind (the LibTorch kinds are registered by nc_cm_torch).
using GraphLoader = std::function<LoadedGraph(const ModelSource&)>;
void register_graph_loader(SourceKind kind, GraphLoader loader);

}  // namespace nc::cm
