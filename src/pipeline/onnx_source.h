#pragma once
// A pipeline that starts from the user's own ONNX model (docs/pipeline.md, "Your own ONNX
// model"): `model: {onnx: FILE}` in the config skips train and quantize; compile, place and
// simulate run on the imported graph, and evaluate runs when the config names a dataset whose
// samples and classes fit the model (otherwise the report says why it was skipped).
#include <string>
#include <vector>

#include "neurocore/cm/graph.h"
#include "neurocore/core/config.h"
#include "neurocore/learn/experiment.h"

namespace nc::pipeline {

struct OnnxSource {
  std::string path;
  std::string file_key;          // fingerprint of the file's bytes: a changed file re-runs compile
  cm::Graph graph;               // BatchNorms folded
  int64_t opset = 0;
  std::vector<std::string> notes;  // the importer's repairs
  std::string evaluate_skipped;  // why evaluate cannot run ("" when it can)
};

/// True when the config's model section names an ONNX file (model.onnx).
bool config_uses_onnx(const Config& config);

/// Reads an ONNX pipeline config: name, seed, threads, runs_dir, model.onnx (nothing else in
/// model), an optional data section (when present, its test split and the train split's
/// normalisation go into exp.test_set and exp.norm) and the keys in `other_sections`, and
/// imports the file. exp.model stays empty. Throws UserError naming the field when the file is
/// missing or not importable, and for train, learn or encoder sections (nothing is trained).
OnnxSource prepare_onnx(Config& config, learn::Experiment& exp,
                        const std::vector<std::string>& other_sections);

}  // namespace nc::pipeline
