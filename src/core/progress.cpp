#include "neurocore/core/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace nc {

namespace {
int g_force_tty = -1;
}

void Progress::force_tty(int mode) { g_force_tty = mode; }

std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  const auto t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02d}m", t / 3600, (t % 3600) / 60);
  if (t >= 60) return fmt::format("{}m{:02d}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

Progress::Progress(std::string label, int64_t total, std::string unit, double interval_s)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      interval_s_(interval_s),
      tty_(g_force_tty >= 0 ? g_force_tty == 1 : isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (!finished_ && done_ > 0) finish();
}

void Progress::advance(int64_t n, const std::string& status) {
  if (total_ <= 0) return;
  done_ += n;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  // A terminal redraw costs little, but not nothing: at most ten a second.
  if ((tty_ && since >= 0.1) || (!tty_ && since >= interval_s_)) {
    last_draw_ = now;
    draw(false, status);
  }
}

void Progress::finish(const std::string& status) {
  if (finished_ || total_ <= 0) return;
  finished_ = true;
  draw(true, status);
}

void Progress::draw(bool final_line, const std::string& status) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  const double eta = rate > 0 ? (total_ - done_) / rate : -1;
  const double frac = total_ > 0 ? static_cast<double>(done_) / total_ : 0;
  std::string line;
  if (tty_) {
    const int width = 24;
    const int filled = static_cast<int>(frac * width);
    line = fmt::format("\r{} [{}{}] {}/{} {:.1f} {}/s {} {}", label_, std::string(filled, '#'),
                       std::string(width - filled, '.'), done_, total_, rate, unit_,
                       final_line ? "in " + format_duration(elapsed)
                                  : "ETA " + format_duration(eta),
                       status);
    line += "\x1b[K";
    if (final_line) line += "\n";
  } else {
    line = fmt::format("{} {}/{} ({:.0f}%) {:.1f} {}/s {} {}\n", label_, done_, total_,
                       frac * 100, rate, unit_,
                       final_line ? "done in " + format_duration(elapsed)
                                  : "ETA " + format_duration(eta),
                       status);
  }
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace nc
