#pragma once
// The integer export of a quantized model (docs/quant.md, "Integer export"; issue #7 item 6):
// each Conv2d/Linear as integer weight codes with their scales and zero points, its float
// bias, and the parameters of its input (activation) quantizer, in one file `quantized.ncq`:
//
//   bytes 0..7    magic "NCQUANT1"
//   bytes 8..11   header length H, uint32 little-endian
//   bytes 12..    the JSON header (H bytes, UTF-8), then the data section: raw little-endian
//                 blobs (int8/uint8 codes, int4/uint4 codes packed two per byte, float32
//                 scales and biases, int32 zero points), each named in the header by its
//                 offset in the data section, its length and its CRC-32.
//
// No LibTorch here, so the CM compiler core (nc_cm) reads the file without a model framework.
// Everything is validated on read; a bad file is a UserError naming the file, the field
// (e.g. "layers[3].weight.scale"), the value seen and the value expected.
#include <cstdint>
#include <string>
#include <vector>

namespace nc::compress {

/// Integer codes on the grid [qmin, qmax] with one scale and zero point per tensor or per
/// index of dim 0 (output channel):  value[c, ...] = scale[c] · (code[c, ...] − zero_point[c]),
/// computed in float32 (the fake quantizer's own arithmetic, so the values are bit-exact).
struct IntTensor {
  int bits = 8;            ///< 2..8; codes of <= 4 bits are stored packed two per byte
  bool is_signed = true;   ///< signed grid [-2^(b-1) (+1 if restricted), 2^(b-1)-1], else [0, 2^b-1]
  int64_t qmin = -128, qmax = 127;
  std::vector<int64_t> shape;
  std::vector<int16_t> codes;        ///< row-major, numel(shape) values in [qmin, qmax]
  std::vector<float> scale;          ///< [1] (per tensor) or [shape[0]] (per channel)
  std::vector<int32_t> zero_point;   ///< same size as scale
  /// scale · (code − zero_point) per element, float32.
  std::vector<float> dequantize() const;
};

/// A per-tensor activation quantizer:
///   x̂ = scale · (clamp(round(x / scale) + zero_point, qmin, qmax) − zero_point).
struct ActQuant {
  int bits = 8;
  bool is_signed = false;
  int64_t qmin = 0, qmax = 255;
  float scale = 1.0f;
  int32_t zero_point = 0;
};

struct IntLayer {
  std::string name;        ///< the module's path in the model (e.g. stage1.0.conv1): the CM node's name
  std::string kind;        ///< "conv2d" (weight [out, in/groups, kh, kw]) or "linear" ([out, in])
  IntTensor weight;
  std::vector<float> bias; ///< [out], or empty for a layer without bias
  ActQuant input;          ///< the quantizer of the layer's input
};

struct IntModel {
  std::string model;       ///< the config's model.name (e.g. lenet5), informational
  std::string bits;        ///< "W4A4", informational
  std::vector<IntLayer> layers;  ///< in forward order
};

/// The file name `neurocore quantize` and the pipeline's quantize stage write.
constexpr const char* kIntModelFile = "quantized.ncq";

/// The grid of `bits` (2..8) and signedness: {qmin, qmax} (unrestricted).
std::pair<int64_t, int64_t> int_grid(int bits, bool is_signed);

/// Packs codes in [-8, 7] (signed) or [0, 15] (unsigned) two per byte: element 2i in the low
/// nibble of byte i, element 2i+1 in the high nibble, each as its 4-bit two's complement; an
/// odd count leaves the last high nibble 0. Throws InternalError for a code out of range.
std::vector<uint8_t> pack_int4(const std::vector<int16_t>& codes, bool is_signed);
/// The inverse: `count` codes from ceil(count/2) bytes (sign-extended when is_signed).
/// Throws InternalError when `bytes` has the wrong length.
std::vector<int16_t> unpack_int4(const std::vector<uint8_t>& bytes, int64_t count, bool is_signed);

/// The file's bytes. Throws InternalError when `m` is inconsistent (sizes, codes out of range).
std::string serialize_int_model(const IntModel& m);
/// Parses and validates a file's bytes; `origin` (the path) starts every error message.
IntModel parse_int_model(const std::string& bytes, const std::string& origin);
/// Reads and parses `path`. Throws UserError when it cannot be read or is not valid.
IntModel read_int_model(const std::string& path);

}  // namespace nc::compress
