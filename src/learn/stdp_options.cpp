// StdpOptions: validation and the config section (stdp.h). Torch-free.
#include <cmath>

#include "neurocore/core/config.h"
#include "neurocore/core/option_error.h"
#include "neurocore/learn/stdp.h"

namespace nc::learn {

void StdpOptions::validate(const std::string& where) const {
  auto positive = [&](const char* field, double v) {
    if (!(v > 0) || !std::isfinite(v)) bad_option(where, field, v, "a number > 0");
  };
  auto non_negative = [&](const char* field, double v) {
    if (!(v >= 0) || !std::isfinite(v)) bad_option(where, field, v, "a number >= 0");
  };
  positive("tau_x", tau_x);
  positive("tau_y", tau_y);
  positive("tau_f", tau_f);
  non_negative("gamma", gamma);
  non_negative("gamma_minus", gamma_minus);
  non_negative("x0", x0);
  positive("w_max", w_max);
  non_negative("eta", eta);
  non_negative("x_tar", x_tar);
  non_negative("mu", mu);
  positive("weight_sum", weight_sum);
  positive("w_init", w_init);
  positive("rate_max", rate_max);
  non_negative("rate_boost", rate_boost);
  if (present_ms < 1) bad_option(where, "present_ms", present_ms, "an integer >= 1");
  if (rest_ms < 0) bad_option(where, "rest_ms", rest_ms, "an integer >= 0");
  if (min_spikes < 0) bad_option(where, "min_spikes", min_spikes, "an integer >= 0");
  if (max_presentations < 1) bad_option(where, "max_presentations", max_presentations, "an integer >= 1");
  if (frame_ms < 1) bad_option(where, "frame_ms", frame_ms, "an integer >= 1");
  if (calibrate_images < 1) bad_option(where, "calibrate_images", calibrate_images, "an integer >= 1");
  positive("target_spikes", target_spikes);
}

StdpOptions StdpOptions::from_config(ConfigSection s) {
  StdpOptions o;
  // Ranges are checked by validate(), one message for the library and the config.
  o.tau_x = s.number("tau_x", o.tau_x);
  o.tau_y = s.number("tau_y", o.tau_y);
  o.tau_f = s.number("tau_f", o.tau_f);
  o.gamma = s.number("gamma", o.gamma);
  o.gamma_minus = s.number("gamma_minus", o.gamma_minus);
  o.x0 = s.number("x0", o.x0);
  o.w_max = s.number("w_max", o.w_max);
  o.eta = s.number("eta", o.eta);
  o.x_tar = s.number("x_tar", o.x_tar);
  o.mu = s.number("mu", o.mu);
  o.weight_sum = s.number("weight_sum", o.weight_sum);
  o.w_init = s.number("w_init", o.w_init);
  o.f_in_training = s.boolean("f_in_training", o.f_in_training);
  o.rate_max = s.number("rate_max", o.rate_max);
  o.rate_boost = s.number("rate_boost", o.rate_boost);
  o.present_ms = s.integer("present_ms", o.present_ms);
  o.rest_ms = s.integer("rest_ms", o.rest_ms);
  o.min_spikes = s.integer("min_spikes", o.min_spikes);
  o.max_presentations = s.integer("max_presentations", o.max_presentations);
  o.frame_ms = s.integer("frame_ms", o.frame_ms);
  o.calibrate_images = s.integer("calibrate_images", o.calibrate_images);
  o.target_spikes = s.number("target_spikes", o.target_spikes);
  s.finish();
  o.validate(s.path().empty() ? "learn.stdp" : s.path());
  return o;
}

}  // namespace nc::learn
