// The one model loader (see the header).
#include "neurocore/cm/model_source.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "neurocore/cm/int_weights.h"
#include "neurocore/cm/model_zoo.h"
#include "neurocore/cm/onnx_import.h"
#include "neurocore/compress/int_model.h"
#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"

namespace nc::cm {

namespace fs = std::filesystem;

namespace {

std::map<SourceKind, GraphLoader>& loaders() {
  static std::map<SourceKind, GraphLoader> table;
  return table;
}
std::mutex& loaders_mutex() {
  static std::mutex m;
  return m;
}

bool is_zoo_name(const std::string& name) {
  const auto& zoo = zoo_names();
  return std::find(zoo.begin(), zoo.end(), name) != zoo.end();
}

LoadedGraph load_zoo(const ModelSource& s) {
  LoadedGraph out;
  out.graph = zoo_model(s.path);
  // Random weights, so the functional simulator and the accuracy tools run on zoo models too.
  fill_random(out.graph, s.zoo_seed);
  out.notes.push_back("zoo model " + s.path + ", random weights (seed " + std::to_string(s.zoo_seed) + ")");
  return out;
}

LoadedGraph load_onnx(const ModelSource& s) {
  OnnxImport imp = import_onnx(s.path);
  LoadedGraph out;
  out.graph = std::move(imp.graph);
  out.opset = imp.opset;
  out.notes = std::move(imp.notes);
  return out;
}

}  // namespace

const char* source_kind_name(SourceKind k) {
  switch (k) {
    case SourceKind::kAuto: return "auto";
    case SourceKind::kZoo: return "zoo";
    case SourceKind::kOnnx: return "onnx";
    case SourceKind::kTorchScript: return "torchscript";
    case SourceKind::kRunDir: return "run directory";
  }
  return "?";
}

SourceKind resolve_kind(const ModelSource& source) {
  if (source.kind != SourceKind::kAuto) return source.kind;
  const std::string& p = source.path;
  if (p.empty()) throw UserError("model: empty; give a zoo model, an ONNX or TorchScript file, or a run directory");
  if (is_zoo_name(p) && !fs::exists(p)) return SourceKind::kZoo;
  if (fs::is_directory(p)) return SourceKind::kRunDir;
  if (!fs::exists(p)) {
    const std::string c = closest_match(p, zoo_names());
    throw UserError("model '" + p + "': no such file or run directory, and not a zoo model" +
                    (c.empty() ? "" : " (did you mean '" + c + "'?)") + "; expected a run directory, an ONNX "
                    "file, a TorchScript file (.pt) or a zoo model (" + join(zoo_names()) + ")");
  }
  std::ifstream in(p, std::ios::binary);
  if (!in) throw UserError(p + ": cannot read the model file");
  char magic[4] = {0, 0, 0, 0};
  in.read(magic, 4);
  const std::string ext = fs::path(p).extension().string();
  const bool zip = magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
  if (zip || ext == ".pt" || ext == ".pth" || ext == ".ts" || ext == ".torchscript") return SourceKind::kTorchScript;
  return SourceKind::kOnnx;
}

void register_graph_loader(SourceKind kind, GraphLoader loader) {
  std::lock_guard<std::mutex> lock(loaders_mutex());
  loaders()[kind] = std::move(loader);
}

LoadedGraph load_graph(const ModelSource& source) {
  const SourceKind kind = resolve_kind(source);
  LoadedGraph out;
  if (kind == SourceKind::kZoo) {
    out = load_zoo(source);
  } else if (kind == SourceKind::kOnnx) {
    out = load_onnx(source);
  } else {
    GraphLoader loader;
    {
      std::lock_guard<std::mutex> lock(loaders_mutex());
      auto it = loaders().find(kind);
      if (it != loaders().end()) loader = it->second;
    }
    if (!loader) {
      throw UserError(source.path + ": a " + std::string(source_kind_name(kind)) +
                      " model needs LibTorch, and this program has no loader for it (a build with "
                      "NC_WITH_TORCH=OFF, or nc::cm::register_torch_loaders() not called); "
                      "export the model to ONNX instead");
    }
    out = loader(source);
  }
  out.kind = kind;
  if (!source.int_model.empty()) {
    // The integer weights belong to the folded layers (the quantized model's convolutions).
    out.folded_batch_norms = out.graph.fold_batch_norms();
    apply_int_model(out.graph, compress::read_int_model(source.int_model), source.int_model);
    out.notes.push_back("integer weights from " + source.int_model);
  }
  return out;
}

}  // namespace nc::cm
