#pragma once
// Character-level language modelling (`neurocore lm`, docs/lm.md): one recurrent layer (SNU,
// sSNU, LSTM or GRU) reads one-hot characters and a linear readout predicts the next one,
// trained by truncated BPTT or by OSTL, measured in bits per character (bpc).
//
// The training text is cut into batch_size parallel streams read in windows of `window`
// steps; the recurrent state runs on across windows (detached between windows for BPTT,
// i.e. truncated BPTT with that window; OSTL's eligibility traces run on too, so OSTL's
// gradient has no truncation, only the online approximation of weights that change).
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

#include "neurocore/core/config.h"
#include "neurocore/data/text.h"
#include "neurocore/learn/ostl.h"
#include "neurocore/nn/snu.h"

namespace nc {
class RunDir;
}

namespace nc::learn {

class DataParallel;

struct LmOptions {
  // model
  std::string cell = "ssnu";     // snu | ssnu | lstm | gru
  int64_t hidden = 256;
  bool recurrent = false;        // snu / ssnu: recurrent weights H
  double decay = 0.9;            // snu / ssnu: initial decay d
  bool trainable_decay = true;   // snu / ssnu
  // learn
  std::string rule = "bptt";     // bptt | ostl
  int64_t window = 50;           // steps per update (BPTT's truncation window)
  std::string update = "window"; // ostl: window (one update per window) | step (every step)
  // train
  int64_t epochs = 1;
  int64_t batch_size = 32;
  std::string optimizer = "adam";  // adam | sgd
  double learning_rate = 0.003;
  double clip = 1.0;               // gradient-norm clip per update; 0 = none
  int64_t eval_every = 0;          // windows between validation runs; 0 = end of epoch only
  int64_t eval_streams = 16;       // parallel streams when evaluating
};

/// Reads the `model`, `learn` and `train` sections (keys above, range-checked; unknown keys
/// rejected). Throws UserError naming the field.
LmOptions lm_options(ConfigSection model, ConfigSection learn, ConfigSection train);

/// The recurrent state carried between windows (undefined tensors: zero state).
struct LmState {
  nn::SNUState snu;
  torch::Tensor h, c;
  LmState detached() const;
};

/// The model: one-hot input -> recurrent cell -> linear readout over the vocabulary.
class CharLmImpl : public torch::nn::Module {
 public:
  CharLmImpl(int64_t vocabulary, const LmOptions& options);
  /// codes [W, B] -> logits [W, B, vocabulary], from and updating `state`.
  torch::Tensor forward(const torch::Tensor& codes, LmState& state);
  /// x_t: the one-hot input of codes [B].
  torch::Tensor one_hot(const torch::Tensor& codes) const;
  /// An OSTL layer over this model's cell (sharing its parameters).
  std::shared_ptr<OstlLayer> ostl_layer() const;
  /// Bytes OSTL carries between steps for `batch` streams (traces, gradients, state), from
  /// the sizes alone.
  int64_t ostl_bytes(int64_t batch) const;

  int64_t vocabulary;
  LmOptions options;
  nn::SNU snu{nullptr};
  torch::nn::LSTMCell lstm{nullptr};
  torch::nn::GRUCell gru{nullptr};
  torch::nn::Linear readout{nullptr};
};
TORCH_MODULE(CharLm);

/// Trains on windows with one rule. train_window's `optimizer` may be null: then the window's
/// gradients are only accumulated into the parameters' .grad (what the tests compare).
class LmLearner {
 public:
  virtual ~LmLearner() = default;
  /// Starts `batch` fresh streams (zero state and traces).
  virtual void begin(int64_t batch) = 0;
  /// codes, targets: [W, B]. Returns the window's mean cross-entropy (nats per character).
  virtual double train_window(const torch::Tensor& codes, const torch::Tensor& targets,
                              torch::optim::Optimizer* optimizer) = 0;
  /// Bytes carried from one step to the next besides the model (OSTL: traces, G, state).
  virtual int64_t carried_bytes() const { return 0; }
};
std::unique_ptr<LmLearner> make_lm_learner(CharLm model);

/// Mean cross-entropy of the model on `codes` (the whole text as `streams` parallel
/// streams, state carried through), in bits per character. No gradient.
double evaluate_bpc(CharLm& model, const torch::Tensor& codes, int64_t streams);

/// Trains, evaluates and writes metrics.jsonl, report.md, the bpc plot and model.pt into `run`.
/// Returns the test bpc. `parallel` (data_parallel.h): this rank of a data-parallel job, which
/// trains train.batch_size of the batch_size x world streams and writes nothing unless rank 0;
/// nullptr for one process.
double run_lm(CharLm& model, const LmOptions& options, const data::TextCorpus& corpus, RunDir& run,
              DataParallel* parallel = nullptr);

}  // namespace nc::learn
