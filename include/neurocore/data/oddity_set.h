#pragma once
// The oddity riddles as LibTorch data (oddity.h; docs/oddity.md).
#include <cstdint>

#include "neurocore/data/dataset.h"
#include "neurocore/data/oddity.h"

namespace nc::data {

/// Split `split` of the oddity set: per riddle when options.riddles holds one id (spec §4 sizes:
/// 2,560 / 640 / 640), else the combined set over options.riddles (all 45 when empty; spec §0
/// sizes 36,000 / 4,500 / 4,500), the first `limit` samples (0 = all). images [N, 6, R, R]
/// float32 in [0, 1], labels [N] = the oddity's index (num_classes 6).
/// Samples are generated in parallel over LibTorch's intra-op threads; sample i is the same
/// whatever the thread count. Throws as options.validate().
Dataset oddity_dataset(const oddity::OddityOptions& options, oddity::Split split, int64_t limit = 0);

/// The riddle id of each sample of oddity_dataset(options, split, limit), [N] int64 (cheap: no
/// sample is drawn), for per-riddle accuracy.
torch::Tensor oddity_riddle_ids(const oddity::OddityOptions& options, oddity::Split split, int64_t limit = 0);

}  // namespace nc::data
