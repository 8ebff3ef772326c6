#pragma once
// The beam searches behind beam_search_nbest (decode.cpp dispatches): each in its own file, all
// on one prefix cache. Unsorted results; options already validated.
#include <map>
#include <vector>

#include "neurocore/asr/decode.h"

namespace nc::asr::detail {

/// Prediction outputs by prefix, computed on first use from the parent prefix's (so a prefix
/// shared by several hypotheses, or reached again, costs one predictor step), and the joint's
/// log-probabilities [V] (float64, contiguous) for a frame and a prefix.
class PrefixCache {
 public:
  PrefixCache(Transducer& model, int64_t blank) : model_(model) {
    cache_.emplace(std::vector<int64_t>{}, model.predict(blank, nullptr));
  }
  const PredictorOutput& at(const std::vector<int64_t>& prefix);
  torch::Tensor log_probs(const torch::Tensor& f_t, const std::vector<int64_t>& prefix);

 private:
  Transducer& model_;
  std::map<std::vector<int64_t>, PredictorOutput> cache_;
};

/// The indices of the n largest non-blank entries of l[0..V), largest first (ties: lower index).
std::vector<int64_t> top_symbols(const double* l, int64_t V, int64_t blank, int64_t n);

std::vector<Hypothesis> modified_search(Transducer& model, const torch::Tensor& encoded, const BeamOptions& o);
std::vector<Hypothesis> graves_search(Transducer& model, const torch::Tensor& encoded, const BeamOptions& o);
std::vector<Hypothesis> alsd_search(Transducer& model, const torch::Tensor& encoded, const BeamOptions& o);

}  // namespace nc::asr::detail
