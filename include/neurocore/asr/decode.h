#pragma once
// RNN-T decoding (asr.md §6): greedy search and three beam searches (modified, Graves's, ALSD).
#include <torch/types.h>

#include <cstdint>
#include <string>
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

/// Which beam search (asr.md §6).
///   modified: at most one symbol per frame (icefall's default; the spec's DEFAULT).
///   graves:   Graves (2012) Algorithm 1: within each frame, the most probable unexpanded
///             hypothesis is expanded (its blank ends the frame, its symbols stay in the frame)
///             until `beam` finished hypotheses beat every unexpanded one; at most
///             max_sym_per_frame symbols per frame.
///   alsd:     alignment-length synchronous decoding (Saon et al. 2020): hypotheses advance
///             together along i = t + u, hypotheses on the same lattice node merge; at most
///             max_length symbols in all. Its scores (and Graves's) sum complete alignments
///             only, so they never exceed log P(y | x); the modified search's may (a symbol
///             emitted in the last frame has no closing blank), as in icefall.
enum class BeamMethod { modified, graves, alsd };

/// "modified" | "graves" | "alsd"; UserError naming `field` otherwise.
BeamMethod parse_beam_method(const std::string& s, const std::string& field);
std::string to_string(BeamMethod m);

struct BeamOptions {
  int64_t beam = 4;  ///< >= 1 for the beam searches; decode() reads 0 as greedy search
  int64_t blank = 0;
  /// Pick the final hypothesis by score / max(1, length) instead of score.
  bool length_norm = false;
  BeamMethod method = BeamMethod::modified;
  /// graves: symbols one frame may add to a hypothesis (>= 1); alsd: see max_length.
  int64_t max_sym_per_frame = 3;
  /// alsd: the longest output considered (0: T x max_sym_per_frame, the most greedy search
  /// could emit).
  int64_t max_length = 0;
};

/// A finished hypothesis: its symbols (blank excluded) and its score, the log-probability
/// summed over the alignments the search merged into it (graves and alsd: at most
/// log P(symbols | x), and equal to it when the search kept every alignment, with an
/// unbounded beam; modified: see BeamMethod).
struct Hypothesis {
  std::vector<int64_t> symbols;
  double log_prob = 0.0;
};

/// The finished hypotheses of options.method, best first (by log_prob, or log_prob / length
/// with length_norm). Equal prefixes are merged by log-add-exp and prediction outputs are
/// cached by prefix in every method. Throws UserError when beam < 1, max_sym_per_frame < 1
/// or max_length < 0.
std::vector<Hypothesis> beam_search_nbest(Transducer& model, const torch::Tensor& encoded,
                                          const BeamOptions& options = {});

/// The best hypothesis's symbols.
std::vector<int64_t> beam_search(Transducer& model, const torch::Tensor& encoded,
                                 const BeamOptions& options = {});

/// A run's decoder: greedy search (o.max_sym_per_frame symbols per frame at most) when o.beam
/// is 0, else beam_search(o).
std::vector<int64_t> decode(Transducer& model, const torch::Tensor& encoded, const BeamOptions& o);
/// "greedy", "beam 4" (modified), "graves beam 4", "alsd beam 4", plus ", length-normalised".
std::string describe(const BeamOptions& o);

}  // namespace nc::asr
