#include "neurocore/learn/essop_energy.h"

namespace nc::learn {

EssopCost essop_cost(const EssopStats& s, const EssopEnergyModel& m) {
  EssopCost c;
  const auto d = [](int64_t v) { return static_cast<double>(v); };
  c.outer_products = d(s.outer_products);
  c.multiplies_replaced = d(s.products);
  c.random_numbers = d(s.random_numbers);
  c.comparisons = d(s.stream_bits);  // one comparator per stream bit
  c.and_ops = d(s.bit_products);
  c.counter_steps = d(s.bit_products);  // conservative: every AND output clocks the counter
  c.exponent_ops = d(s.elements) + 2 * d(s.outer_products);
  c.shift_adds = d(s.products);
  c.bits_essop = d(s.stream_bits) + 16 * d(s.outer_products);
  c.bits_fp16 = 16 * d(s.elements);
  c.bits_fp32 = 32 * d(s.elements);
  c.energy_fp32_pj = d(s.products) * (m.fp32_mul + m.fp32_add);
  c.energy_fp16_pj = d(s.products) * (m.fp16_mul + m.fp16_add);
  c.energy_essop_pj = c.and_ops * m.and_gate + c.counter_steps * m.counter +
                      c.comparisons * m.comparator + c.random_numbers * m.random_number +
                      c.exponent_ops * m.shift + c.shift_adds * (m.shift + m.int32_add);
  return c;
}

std::vector<std::pair<std::string, double>> essop_cost_metrics(const EssopCost& c) {
  const auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  return {{"essop_outer_products", c.outer_products},
          {"essop_fp_multiplies_replaced", c.multiplies_replaced},
          {"essop_random_numbers", c.random_numbers},
          {"essop_comparisons", c.comparisons},
          {"essop_and_ops", c.and_ops},
          {"essop_bits_moved", c.bits_essop},
          {"fp16_bits_moved", c.bits_fp16},
          {"fp32_bits_moved", c.bits_fp32},
          {"essop_update_energy_uj", c.energy_essop_pj * 1e-6},
          {"fp16_update_energy_uj", c.energy_fp16_pj * 1e-6},
          {"fp32_update_energy_uj", c.energy_fp32_pj * 1e-6},
          {"essop_energy_vs_fp16", ratio(c.energy_essop_pj, c.energy_fp16_pj)},
          {"essop_energy_vs_fp32", ratio(c.energy_essop_pj, c.energy_fp32_pj)}};
}

}  // namespace nc::learn
