#pragma once
// Reader for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
// a big-endian header, magic = 0x00 0x00 <type> <ndims>, then ndims int32 sizes, then the
// data in row-major order. Only the unsigned-byte type 0x08 is used by these sets and
// supported here. Files may be gzip-compressed; compression is recognised by the gzip magic
// bytes 0x1f 0x8b, not by the file name.
#include <torch/types.h>

#include <string>

#include "neurocore/data/dataset.h"

namespace nc::data {

/// Reads an IDX file (plain or gzip) into a uint8 tensor whose shape is the header's sizes.
/// Throws UserError, naming the file, when the file is missing or unreadable, when the gzip
/// stream is corrupt, when the magic number is not 0x000008<ndims> (with ndims >= 1), or when
/// the file is truncated (the header announces prod(sizes) bytes and fewer follow).
torch::Tensor read_idx(const std::string& path);

/// Reads an image file (magic 0x00000803: count, rows, cols) and a label file (magic
/// 0x00000801: count) into a Dataset: images [N, 1, rows, cols] float32 = byte / 255,
/// labels [N] int64, num_classes = 10.
/// Throws UserError, naming the file, for any error of read_idx, for a magic number other
/// than the one expected, when the label count differs from the image count, and when a
/// label is >= 10.
Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path,
                         const std::string& name);

}  // namespace nc::data
