#pragma once
// Progress of a long loop on stderr. On a terminal: one line redrawn in place with rate
// and ETA. Otherwise (logs, CI): one plain line every `interval_s` seconds, so that logs
// stay readable.
#include <chrono>
#include <cstdint>
#include <string>

namespace nc {

class Progress {
 public:
  /// `total` steps of `unit` (e.g. "batch"). Disabled when total <= 0.
  Progress(std::string label, int64_t total, std::string unit = "it", double interval_s = 5.0);
  ~Progress();
  /// Advances by n steps; `status` (e.g. "loss 0.31") is shown beside the count.
  void advance(int64_t n = 1, const std::string& status = "");
  /// Prints the final line (once).
  void finish(const std::string& status = "");

  /// Whether stderr is a terminal (tests may force either mode).
  static void force_tty(int mode);  // -1: detect, 0: no, 1: yes

 private:
  void draw(bool final_line, const std::string& status);

  std::string label_, unit_;
  int64_t total_, done_ = 0;
  double interval_s_;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

/// "1m05s", "2h03m", "12s".
std::string format_duration(double seconds);

}  // namespace nc
