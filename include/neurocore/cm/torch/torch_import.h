#pragma once
// Import of neurocore (LibTorch) models into the CM compiler's graph IR (docs/cm.md,
// "Importing a neurocore model"; issue #5 item 2). Lives in nc_cm_torch, the LibTorch side of
// the compiler; the cm core itself stays free of LibTorch.
//
// Supported: mlp (ReLU / tanh / sigmoid), lenet5, the CIFAR-style ResNets (option A and B
// shortcuts) and snu-mlp, as a temporal graph (graph.h): every SNU layer becomes a Linear
// without bias (W) and a Spiking node (decay, threshold, g, SNU or sSNU); SNU layers with
// recurrent weights or lateral inhibition are refused. BatchNorms are imported as BatchNorm nodes with their
// running statistics (the model must be evaluated in eval mode to match); call
// Graph::fold_batch_norms to fold them.
#include <string>

#include "neurocore/cm/graph.h"
#include "neurocore/data/encoder.h"
#include "neurocore/data/registry.h"
#include "neurocore/nn/net.h"

namespace nc::cm {

/// The graph of `model` for one input sample of shape `in`; node names follow the model's
/// module names ("conv1", "stage2.0.conv1", "fc", "layers.0"). The graph's output is marked.
/// A spiking model needs `time_steps` >= 1 (its encoder's steps: the graph's T); static
/// models ignore it. Throws UserError for a model kind the importer does not know.
Graph import_model(nn::NetImpl& model, const nn::InputShape& in, int64_t time_steps = 0);

struct RunImport {
  Graph graph;                        // BatchNorms not yet folded
  std::string model_name;             // the config's model.name
  std::string data_name;              // the dataset trained on
  nn::InputShape input;               // of one sample
  data::Normalization norm{0.0, 1.0}; // applied to pixels before the graph's input
  data::EncoderOptions encoder;       // a temporal graph: how pixels become its T input frames
  int64_t epochs = 0;                 // of the checkpoint imported
  std::string int_model;              // a `neurocore quantize` run: its integer model file,
                                      // whose weights the graph holds (BatchNorms folded)
};

/// Imports the last checkpoint of a run directory written by `neurocore train`, or the
/// integer model (int_weights.h) of one written by `neurocore quantize`. Throws
/// UserError when the directory is not a run, has no checkpoint, or holds an unsupported model.
RunImport import_run_dir(const std::string& run_dir);

}  // namespace nc::cm
