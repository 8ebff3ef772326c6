#pragma once
// RNN-T decoding (asr.md §6): greedy search and modified beam search.
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace nc::asr {

/// The prediction network's output p_u [P] after a symbol, and its recurrent state.
struct PredictorOutput {
  torch::Tensor out;
  std::vector<torch::Tensor> state;
};

/// What decoding needs from a transducer: the prediction network one symbol at a time and the
/// joint network for one frame. Implemented by the RNN-T model (nn) and by hand-built models in
/// the tests.
class Transducer {
 public:
  virtual ~Transducer() = default;
  /// Pred(symbol, state): `prev` null means the initial state, and then `symbol` is the
  /// blank (start of sequence).
  virtual PredictorOutput predict(int64_t symbol, const PredictorOutput* prev) = 0;
  /// The joint network's logits l [V] for encoder frame f_t [E] and prediction output p [P].
  virtual torch::Tensor joint(const torch::Tensor& f_t, const torch::Tensor& p) = 0;
};

/// Greedy search: at each frame, emit argmax symbols until the blank wins or max_sym_per_frame
/// symbols were emitted (DEFAULT 3). encoded [T, E]. Returns the symbols (blank excluded).
std::vector<int64_t> greedy_decode(Transducer& model, const torch::Tensor& encoded,
                                   int64_t blank = 0, int64_t max_sym_per_frame = 3);

/// Greedy search with the score of the path it took.
struct GreedyResult {
  std::vector<int64_t> symbols;
  /// Sum of the log-softmax of every choice along the path (each emitted symbol and each
  /// frame's closing blank). When no frame hit max_sym_per_frame, the path is one alignment of
  /// the RNN-T lattice (asr.md §5) and this is its log-probability, at most log P(symbols | x).
  double log_prob = 0.0;
  /// Frames left without a blank because max_sym_per_frame symbols were emitted.
  int64_t capped_frames = 0;
};
GreedyResult greedy_decode_scored(Transducer& model, const torch::Tensor& encoded, int64_t blank = 0,
                                  int64_t max_sym_per_frame = 3);

struct BeamOptions {
  int64_t beam = 4;
  int64_t blank = 0;
  /// Pick the final hypothesis by score / max(1, length) instead of score.
  bool length_norm = false;
};

/// Modified beam search (at most one symbol per frame; asr.md §6): hypotheses with equal
/// prefixes are merged by log-add-exp; prediction outputs are cached by prefix.
/// Throws UserError when beam < 1.
std::vector<int64_t> beam_search(Transducer& model, const torch::Tensor& encoded,
                                 const BeamOptions& options = {});

}  // namespace nc::asr
