#pragma once
// `--name=N` integer flags of the benchmark executables (Google Benchmark parses the rest).
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace nc::bench {

/// Whether `arg` is `--<name>=...`; if so, its value goes to `out`. A value that is not an
/// integer in [lo, hi] is reported on stderr and exits with code 2.
inline bool int_flag(const char* arg, const char* name, long lo, long hi, int& out) {
  const std::size_t len = std::strlen(name);
  if (std::strncmp(arg, "--", 2) != 0 || std::strncmp(arg + 2, name, len) != 0 ||
      arg[2 + len] != '=') {
    return false;
  }
  const char* text = arg + 3 + len;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || errno != 0 || v < lo || v > hi) {
    std::fprintf(stderr, "--%s must be an integer in [%ld, %ld], got '%s'\n", name, lo, hi, text);
    std::exit(2);
  }
  out = static_cast<int>(v);
  return true;
}

}  // namespace nc::bench
