#pragma once
// ESSOP: stochastic-computing weight updates (Joshi et al., ISCAS 2020; specs/essop.md,
// docs/essop.md).
//
// The weight gradient of a layer is a sum of P outer products, dW = sum_p delta_p x_p^T
// (delta_p [M] the output gradient, x_p [N] the input; FC: one p per sample, conv: one per
// sample and output position). ESSOP estimates each outer product with bit streams of
// length BL:
//   s_x = 2^e_x, e_x = ceil(log2 max_j |x_j|)         (exponent arithmetic, essop_exponent)
//   x^_j = |x_j| / s_x in [0, 1],  d^_i = |delta_i| / s_d
//   a_j^k = [x^_j > r_k],  b_i^k = [d^_i > q_k],  r, q ~ U[0, 1) two independent streams
//   c_ij  = sum_k a_j^k AND b_i^k                      (AND and count; integer in 0..BL)
//   dW_ij ~= s_x s_d sign(x_j) sign(delta_i) c_ij / BL  (a shift of the integer count)
// E[c_ij / BL] = x^_j d^_i, so the estimate is unbiased, with
// Var[c_ij / BL] = x^ d^ (1 - x^ d^) / BL. A vector that is all zero contributes 0.
//
// Streams: `fresh` (default) draws new r, q (2 BL numbers) for every outer product; `shared`
// draws one pair per call (one layer, one mini-batch) for all P products. Scaling:
// `per_product` (default) scales each x_p and delta_p by its own power of two;
// `per_tensor` uses one exponent for all of x and one for all of delta in a call.
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace nc::learn {

enum class EssopStreams { fresh, shared };
enum class EssopScaling { per_product, per_tensor };

/// Instruction set of the bit-parallel kernel. `automatic` picks the best this CPU runs
/// (avx512: AVX-512 F/BW/DQ/VL with VPOPCNTDQ; avx2: AVX2 with a table popcount; portable:
/// plain C++), decided at run time, so one binary runs on every x86-64. Every choice gives
/// the same counts bit for bit; forcing one (tests, benchmarks) that the CPU lacks throws
/// InternalError.
enum class EssopKernel { automatic, portable, avx2, avx512 };
bool essop_kernel_supported(EssopKernel k);
const char* essop_kernel_name(EssopKernel k);
/// The kernel `automatic` resolves to on this CPU (k itself otherwise, if supported).
EssopKernel essop_kernel_resolved(EssopKernel k);

/// Longest supported bit stream (spec §4: BL in [1, 1024]).
constexpr int64_t kEssopMaxBitstream = 1024;

struct EssopOptions {
  /// Bit-stream length BL, 1..kEssopMaxBitstream.
  TORCH_ARG(int64_t, bitstream) = 16;
  TORCH_ARG(EssopStreams, streams) = EssopStreams::fresh;
  TORCH_ARG(EssopScaling, scaling) = EssopScaling::per_product;
};

/// Throws UserError naming `field`, the value seen and the range expected when
/// o.bitstream() is outside [1, kEssopMaxBitstream].
void validate_essop(const EssopOptions& o, const std::string& field = "learn.bitstream");

/// The exponent e of the power-of-two scale s = 2^e of a vector whose largest magnitude is
/// max_abs > 0: the smallest e with max_abs <= 2^e, so max_abs / s is in (0.5, 1]. Computed
/// from frexp (max_abs = m 2^f, m in [0.5, 1): e = f - 1 when m = 0.5, else f), never from a
/// floating-point log. Throws InternalError when max_abs is not finite or <= 0.
int essop_exponent(double max_abs);

/// Operation counts of ESSOP calls, accumulated (spec §5); the energy model reads them.
struct EssopStats {
  int64_t calls = 0;            // weight-gradient estimates (one layer, one mini-batch)
  int64_t outer_products = 0;   // sum of P
  int64_t products = 0;         // sum of P M N: the multiplies an exact outer product does
  int64_t elements = 0;         // sum of P (M + N): values turned into bit streams
  int64_t random_numbers = 0;   // uniforms drawn for the streams
  int64_t bit_products = 0;     // sum of P M N BL: AND gates and counter steps
  int64_t stream_bits = 0;      // sum of P (M + N) BL: bits moved to the AND array
  void add(const EssopStats& o);
};

/// The random streams of one call: r for the x side, q for the delta side, each [S, BL]
/// float32 uniforms in [0, 1), S = P (fresh) or 1 (shared). r is drawn before q from `gen`.
struct EssopStreamPair {
  torch::Tensor r, q;
};
EssopStreamPair essop_draw_streams(int64_t products, const EssopOptions& o, at::Generator& gen);
/// The same numbers written to r and q, each S * BL floats (callers reusing buffers).
void essop_draw_streams_into(int64_t products, const EssopOptions& o, at::Generator& gen,
                             float* r, float* q);

/// ESSOP estimate of sum_p delta_p x_p^T. x [P, N], delta [P, M] (float32 or float64, CPU)
/// -> [M, N] float32. The bit-parallel kernel: stream bits packed 64 a word (16 products per
/// bit plane, encoded by vector compares), AND and popcount, outer products grouped by their
/// scale exponent so that one integer count per group is shifted once; parallel over rows of
/// dW (at::parallel_for). Adds its operation
/// counts to *stats when given. Throws UserError for a bad BL (validate_essop),
/// InternalError for bad shapes.
torch::Tensor essop_outer_sum(const torch::Tensor& x, const torch::Tensor& delta,
                              const EssopOptions& o, at::Generator& gen,
                              EssopStats* stats = nullptr);
/// The same with given streams (r, q as essop_draw_streams returns; S must be P or 1).
torch::Tensor essop_outer_sum(const torch::Tensor& x, const torch::Tensor& delta,
                              const EssopStreamPair& streams, EssopScaling scaling,
                              EssopStats* stats = nullptr,
                              EssopKernel kernel = EssopKernel::automatic);

/// The same for products laid out as columns, read in place: x [B, N, L], delta [B, M, L]
/// (a convolution's im2col input and its output gradient [B, C_out, H W]), product p = b L + l
/// with x_p = x[b, :, l], delta_p = delta[b, :, l] and streams row p. Equal bit for bit to
/// essop_outer_sum(x.transpose(1, 2).reshape({B L, N}), delta.transpose(1, 2).reshape({B L, M}),
/// ...) without the transposed copies (16 consecutive positions are one vector load).
torch::Tensor essop_outer_sum_columns(const torch::Tensor& x, const torch::Tensor& delta,
                                      const EssopStreamPair& streams, EssopScaling scaling,
                                      EssopStats* stats = nullptr,
                                      EssopKernel kernel = EssopKernel::automatic);

/// The same for a stride-1, dilation-1 convolution, read straight from its input (no im2col
/// copy): x [B, C, H, W] the layer input, delta [B, M, Ho, Wo] its output gradient, kernel
/// kh x kw, zero padding (ph, pw), Ho = H + 2 ph - kh + 1, Wo = W + 2 pw - kw + 1. Product
/// p = b Ho Wo + oy Wo + ox with x_p the receptive field in im2col's (c, i, j) order and
/// delta_p = delta[b, :, oy, ox]. Equal bit for bit to essop_outer_sum_columns(im2col of x,
/// delta.view({B, M, Ho Wo}), ...): 16 positions of one output row are 16 consecutive input
/// pixels for each (c, i, j), one masked vector load per output row a block touches.
torch::Tensor essop_outer_sum_conv(const torch::Tensor& x, const torch::Tensor& delta,
                                   int64_t kh, int64_t kw, int64_t ph, int64_t pw,
                                   const EssopStreamPair& streams, EssopScaling scaling,
                                   EssopStats* stats = nullptr,
                                   EssopKernel kernel = EssopKernel::automatic);

/// Scalar reference of essop_outer_sum with given streams: one bool per stream bit, AND,
/// count, literally as the equations above (double accumulation, one division by BL).
/// Equal bit for bit to the kernel whenever the double sum of 2^e c terms is exact.
torch::Tensor essop_outer_sum_reference(const torch::Tensor& x, const torch::Tensor& delta,
                                        const EssopStreamPair& streams, EssopScaling scaling);

/// Signed integer counts of the bit-parallel kernel without scaling: values already in
/// [-1, 1]. xs [P, N], ds [P, M], streams as above -> int64 [M, N] with
/// C_ij = sum_p sign(x_pj) sign(d_pi) #{k : |x_pj| > r_pk and |d_pi| > q_pk}.
torch::Tensor essop_signed_counts(const torch::Tensor& xs, const torch::Tensor& ds,
                                  const EssopStreamPair& streams,
                                  EssopKernel kernel = EssopKernel::automatic);
/// The same counted by the scalar reference.
torch::Tensor essop_signed_counts_reference(const torch::Tensor& xs, const torch::Tensor& ds,
                                            const EssopStreamPair& streams);

}  // namespace nc::learn
