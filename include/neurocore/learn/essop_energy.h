#pragma once
// Operation-count and energy model of the weight-update outer products (specs/essop.md §5):
// ESSOP against an exact FP32 and an FP16 outer product of the same sizes.
//
// Per outer product M x N with bit streams of length BL:
//   exact FPxx: M N multiplies + M N adds (accumulation into dW); moves (M + N) xx bits
//   ESSOP:      (M + N) BL comparisons, 2 BL random numbers (fresh streams; 2 BL per call
//               when shared), M N BL AND gates and counter steps, 2 max-exponent
//               extractions and (M + N) exponent subtractions, M N shift-and-add of the count;
//               moves (M + N) BL stream bits + 2 8-bit exponents
// Energies in pJ; FP and integer values from Horowitz (ISSCC 2014, 45 nm); the gate,
// comparator, counter, shift and random-number values are guesses (docs/essop.md), each an
// option. Only the weight-update path is modelled: it does not test the paper's 14 nm
// hardware claims.
#include <string>
#include <utility>
#include <vector>

#include "neurocore/learn/essop.h"

namespace nc::learn {

struct EssopEnergyModel {
  double fp32_mul = 3.7, fp32_add = 0.9;  // Horowitz 2014
  double fp16_mul = 1.1, fp16_add = 0.4;  // Horowitz 2014
  double int32_add = 0.1;                  // Horowitz 2014: the count accumulated into dW
  double and_gate = 0.001;                 // guess: one 2-input gate switching
  double counter = 0.03;                   // guess: a ~10-bit counter step, as an 8-bit add
  double comparator = 0.03;                // guess: an 8-bit magnitude compare, as an 8-bit add
  double random_number = 0.1;              // guess: one 16-bit LFSR step
  double shift = 0.03;                     // guess: exponent add / barrel shift, as an 8-bit add
};

/// Totals over the counted calls (operation counts and pJ).
struct EssopCost {
  double outer_products = 0;
  double multiplies_replaced = 0;  // FP multiplies an exact update would do (= sum P M N)
  double random_numbers = 0, comparisons = 0, and_ops = 0, counter_steps = 0;
  double exponent_ops = 0, shift_adds = 0;
  double bits_essop = 0, bits_fp16 = 0, bits_fp32 = 0;  // operand bits moved to the array
  double energy_essop_pj = 0, energy_fp16_pj = 0, energy_fp32_pj = 0;
};

/// The model applied to accumulated stats (EssopStats).
EssopCost essop_cost(const EssopStats& s, const EssopEnergyModel& m = {});

/// The cost as (metric name, value) pairs for metrics.jsonl: essop_* counts, energies in
/// microjoules and the ratios essop/fp16 and essop/fp32.
std::vector<std::pair<std::string, double>> essop_cost_metrics(const EssopCost& c);

}  // namespace nc::learn
