#pragma once
// The ST-STDP protocol (../shared/specs/st-stdp.md §3 and §5) on a StdpNetwork: threshold
// calibration, unsupervised training on still images, labelling of the neurons and frame-by-
// frame classification of videos. Torch-free; images are 784 floats in [0, 1].
#include <cstdint>
#include <random>
#include <vector>

#include "neurocore/learn/stdp.h"

namespace nc::learn {

/// Sets V_th so that, with the present weights, no plasticity and no adaptation, the most
/// active neuron fires about options.target_spikes spikes per presentation (mean over
/// `images`, present_ms each, the network reset before each): bisection on V_th in
/// [1e-3, 1e4] (the count falls as V_th rises), 30 halvings. Returns V_th. The network is
/// reset afterwards.
double calibrate_threshold(StdpNetwork& net, const std::vector<const float*>& images,
                           std::mt19937_64& rng);

/// One training image (spec §4 "Long-term learning"): present_ms of Poisson input at rate_max
/// with W (and F when f_in_training) plastic and adaptation on, then rest_ms without input;
/// while the image gave fewer than min_spikes output spikes, the rate rises by rate_boost and
/// the image is shown again (at most max_presentations times); then W is normalised.
/// Returns the output spikes of the last presentation.
int64_t train_image(StdpNetwork& net, const float* image, std::mt19937_64& rng);

/// Labels (spec §5): each image presented once for present_ms, all plasticity off, F = 0, the
/// network reset before each; neuron j gets the class with the highest mean spike count per
/// image of that class, or -1 when it never fired.
std::vector<int> assign_labels(StdpNetwork& net, const std::vector<const float*>& images,
                               const std::vector<int64_t>& labels, int64_t classes,
                               std::mt19937_64& rng);

/// Prediction from one frame's spike counts: argmax over classes c of (spikes of neurons
/// labelled c) / (number of neurons labelled c), ties to the lowest class; -1 when no
/// labelled neuron fired (a silent frame: counted wrong).
int64_t predict(const std::vector<int64_t>& counts, const std::vector<int>& labels,
                int64_t classes);

/// Classifies the K frames of one video (`frames`: K * inputs values): the network is reset,
/// then the frames are presented back to back for frame_ms each without reset, W frozen,
/// adaptation frozen, F plastic when `short_term`. Returns the K predictions (-1: silent).
std::vector<int64_t> classify_video(StdpNetwork& net, const float* frames, int64_t k,
                                    const std::vector<int>& labels, int64_t classes,
                                    bool short_term, std::mt19937_64& rng);

}  // namespace nc::learn
