#pragma once
// The spec's binary sample file for oddity riddles, "ODD1" (../shared/specs/oddity.md §6.3;
// docs/oddity.md), so that other programs can read exactly the samples neurocore trains on.
// Torch-free. All integers little-endian:
//
//   header  magic "ODD1", uint32 version = 1, uint32 count, uint16 H, uint16 W, uint8 frames = 6
//           (17 bytes)
//   sample  uint8 riddle_id (0..44), uint8 label (0..5), 6 * H * W uint8 pixels (panel after
//           panel, each row-major)
#include <cstdint>
#include <string>
#include <vector>

#include "neurocore/data/oddity.h"

namespace nc::data::oddity {

constexpr int64_t kOdd1HeaderBytes = 17;

/// The content of an ODD1 file.
struct StoredSamples {
  int height = 0, width = 0;
  std::vector<uint8_t> riddles;  ///< [count] riddle ids
  std::vector<uint8_t> labels;   ///< [count] the oddity's index
  std::vector<uint8_t> pixels;   ///< [count * 6 * height * width]
  int64_t count() const { return static_cast<int64_t>(riddles.size()); }
};

/// Writes the first `limit` samples (0 = all) of the split that `options` selects (split_extent:
/// the trainer's data) to `path`, atomically, generating them one after another. Returns the
/// number written. Throws as options.validate(), UserError when the file cannot be written.
int64_t write_odd1(const std::string& path, const OddityOptions& options, Split split, int64_t limit = 0);

/// What the 17-byte header of an ODD1 file says.
struct Odd1Header {
  int64_t count = 0;
  int height = 0, width = 0;
};

/// Reads and checks an ODD1 file's header and its length (17 + count * (2 + 6 * H * W) bytes)
/// without reading the samples: cheap, for checking a config before any work starts. Throws
/// UserError as read_odd1 does for the header and the length.
Odd1Header read_odd1_header(const std::string& path);

/// Reads an ODD1 file. Throws UserError naming `path`, what was seen and what was expected when
/// it cannot be read, is shorter than the header, has another magic, version or frame count, a
/// zero size, a length other than 17 + count * (2 + 6 * H * W) bytes (truncated or trailing
/// bytes), or a riddle id or label out of range (naming the sample).
StoredSamples read_odd1(const std::string& path);

}  // namespace nc::data::oddity
