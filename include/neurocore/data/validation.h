#pragma once
// The validation split (../shared/specs/README.md, "Validation split"): hyper-parameters are
// chosen on it, never on the test split.
//
//   valid = for each class c, the last floor(0.1 * n_c) examples of class c in the train
//           split, in file order (n_c: the class's count in the whole train split)
//   train = the rest, in file order
//
// It depends on the files only: never on a seed, a limit or any other setting, so every
// setting and seed of a sweep is judged on the same examples.
#include <cstdint>

#include "neurocore/data/dataset.h"

namespace nc::data {

struct ValidationSplit {
  Dataset train;  ///< the examples left for training, in file order
  Dataset valid;  ///< the validation examples, in file order
};

/// Splits a whole train split as above. The two parts are copies (contiguous), named
/// `<name>` and `<name>-valid`. Throws UserError when a label lies outside [0, num_classes).
ValidationSplit split_validation(const Dataset& train);

/// floor(0.1 * n) for a class of n examples, computed exactly (n / 10 in integers: 0.1 * n in
/// floating point may round either way).
inline int64_t validation_count(int64_t n) { return n / 10; }

}  // namespace nc::data
