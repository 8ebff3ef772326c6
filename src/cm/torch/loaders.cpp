// TorchScript and run-directory loaders for cm::load_graph (see the header).
#include "neurocore/cm/torch/loaders.h"

#include <fmt/format.h>

#include "neurocore/cm/torch/torch_import.h"
#include "neurocore/cm/torch/torchscript_import.h"
#include "neurocore/core/error.h"

namespace nc::cm {

namespace {

LoadedGraph load_torchscript(const ModelSource& s) {
  if (s.input_shape.empty()) {
    throw UserError(s.path + ": a TorchScript file records no input shape; give it (e.g. --input-shape "
                    "1,28,28, or --eval DATA to take the data's)");
  }
  TorchScriptImport t = import_torchscript(s.path, s.input_shape);
  LoadedGraph out;
  out.graph = std::move(t.graph);
  out.notes = std::move(t.notes);
  out.notes.push_back("TorchScript, frozen, input " + shape_str(s.input_shape));
  return out;
}

LoadedGraph load_run_dir(const ModelSource& s) {
  RunImport r = import_run_dir(s.path);
  LoadedGraph out;
  out.graph = std::move(r.graph);
  out.notes.push_back(fmt::format("run directory: model {} trained on {}, {}", r.model_name, r.data_name,
                                  r.int_model.empty() ? fmt::format("checkpoint after epoch {}", r.epochs)
                                                      : "integer weights from " + r.int_model));
  out.data_name = r.data_name;
  out.input.from_run = true;
  out.input.mean = r.norm.mean;
  out.input.std = r.norm.std;
  if (out.graph.temporal()) {
    out.input.coding = r.encoder.coding;
    out.input.steps = r.encoder.steps;
    out.input.gain = r.encoder.gain;
  }
  return out;
}

}  // namespace

void register_torch_loaders() {
  register_graph_loader(SourceKind::kTorchScript, load_torchscript);
  register_graph_loader(SourceKind::kRunDir, load_run_dir);
}

}  // namespace nc::cm
