// The ONNX entry of the pipeline (see the header).
#include "onnx_source.h"

#include <fmt/format.h>

#include <filesystem>

#include "neurocore/cm/model_source.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/seed.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/data/registry.h"
#include "neurocore/pipeline/stages.h"

namespace nc::pipeline {

bool config_uses_onnx(const Config& config) { return config.root().section("model").has("onnx"); }

OnnxSource prepare_onnx(Config& config, learn::Experiment& exp,
                        const std::vector<std::string>& other_sections) {
  const std::string origin = config.origin();
  auto root = config.root();
  for (const char* key : {"train", "learn", "encoder"}) {
    if (root.has(key)) {
      throw UserError(fmt::format("{}: {}: a pipeline from an ONNX model (model.onnx) trains "
                                  "nothing; remove the {} section", origin, key, key));
    }
  }
  const RunKeys keys = RunKeys::from_config(root);
  exp.name = keys.name;
  exp.seed = keys.seed;
  exp.threads = keys.threads;
  exp.runs_dir = keys.runs_dir;
  seed_everything(exp.seed);

  OnnxSource src;
  auto model = root.section("model");
  if (model.has("name")) {
    throw UserError(origin + ": model: give either model.name (a neurocore model, trained by the "
                    "pipeline) or model.onnx (your own ONNX model), not both");
  }
  src.path = model.string("onnx", "");
  model.finish();
  if (!std::filesystem::is_regular_file(src.path)) {
    throw UserError(origin + ": model.onnx: no such ONNX file '" + src.path + "'");
  }
  try {
    cm::ModelSource source(src.path);
    source.kind = cm::SourceKind::kOnnx;
    cm::LoadedGraph imp = cm::load_graph(source);
    src.graph = std::move(imp.graph);
    src.opset = imp.opset;
    src.notes = std::move(imp.notes);
  } catch (const UserError& e) {
    throw UserError(origin + ": model.onnx: " + e.what());
  }
  src.file_key = fingerprint(read_file(src.path));

  const auto inputs = src.graph.inputs();
  const auto& outputs = src.graph.outputs();
  if (inputs.size() != 1 || outputs.size() != 1) {
    throw UserError(fmt::format("{}: model.onnx: {} has {} inputs and {} outputs; the pipeline "
                                "takes a model with one input and one output", origin, src.path,
                                inputs.size(), outputs.size()));
  }
  const cm::Shape in = src.graph.value(inputs[0]).shape;
  const int64_t classes = cm::numel(src.graph.value(outputs[0]).shape);
  if (!root.has("data")) {
    src.evaluate_skipped = "no dataset given (data.name), so no accuracy";
  } else {
    exp.data = data::DataOptions::from_config(root.section("data"));
    exp.train_set = data::load_dataset(exp.data, "train");
    exp.test_set = data::load_dataset(exp.data, "test");
    exp.norm = data::normalization(exp.train_set);
    const auto& x = exp.test_set.images;
    const cm::Shape sample{x.size(1), x.size(2), x.size(3)};
    if (sample != in || exp.test_set.num_classes != classes) {
      src.evaluate_skipped = fmt::format(
          "the dataset {} has samples {} in {} classes, the ONNX model takes {} and gives {} "
          "outputs", exp.data.name, cm::shape_str(sample), exp.test_set.num_classes,
          cm::shape_str(in), classes);
    }
  }
  for (const auto& key : other_sections) root.section(key);  // read by Settings
  root.finish();
  exp.effective_yaml = config.effective_yaml();
  return src;
}

}  // namespace nc::pipeline
