#pragma once
// `neurocore sweep`: the cartesian product settings x seeds of any command that writes a run
// directory (train, lm, continual, quantize, pipeline), each run a child process of the
// neurocore executable, N at a time, resumable, summarised over seeds (docs/sweep.md).
//
// Layout of a sweep directory:
//   sweep.json, report.md, <metric>.svg/png   the summary (rewritten after every finished run)
//   runs/s<i>-seed<k>/                         the run of setting i with seed k
//   runs/s<i>-seed<k>/sweep_run.json           completion marker: written by the sweep only
//                                              after the child exited 0 (args, commit, time)
//   logs/s<i>-seed<k>.log                      the child's stdout and stderr
#include <cstdint>
#include <string>
#include <vector>

namespace nc::learn {

/// One grid axis: a config key (set with --set key=value) or a command flag ("--lr": passed
/// as --lr=value), and its values as text.
struct SweepAxis {
  std::string key;
  std::vector<std::string> values;
};

/// Parses "key=v1,v2,..." (commas inside [...] or {...} do not split, so list values work).
/// Throws UserError naming `what` (e.g. "--grid") when there is no '=', the key is empty or a
/// value is empty.
SweepAxis parse_axis(const std::string& text, const std::string& what);

struct SweepSpec {
  std::string command = "train";    ///< train | lm | continual | quantize | pipeline
  std::string target;               ///< the command's CONFIG (quantize: its RUN_DIR)
  std::vector<std::string> args;    ///< further arguments of every run, e.g. {"--method", "qat"}
  std::vector<std::string> sets;    ///< "key=value" overrides of every run
  std::vector<SweepAxis> grid;      ///< settings = the cartesian product of the axes
  int64_t seeds = 3;                ///< seeds first_seed .. first_seed + seeds - 1
  int64_t first_seed = 1;
  int64_t jobs = 1;                 ///< runs at a time
  std::string out;                  ///< the sweep directory ("" = sweeps/<target's stem>)
  std::string select;               ///< metric the best setting is chosen on ("" = valid_acc, lm: valid_bpc)
  std::string select_mode;          ///< max | min ("" = min for names with loss/bpc/error, else max)
  std::string test_metric;          ///< reported once for the best ("" = select with valid -> test)

  /// Reads a sweep file: keys command, config (relative to the file's folder), args, set
  /// (list of key=value), grid (list of key=v1,v2,...), seeds, first_seed, jobs, out, select,
  /// select_mode, test_metric. Throws UserError naming the file and key (unknown keys get
  /// the closest valid one suggested).
  static SweepSpec from_file(const std::string& path);
  /// Whether `path` is a sweep file rather than a command's config: its top level has a
  /// `command` key (no command config has one).
  static bool is_sweep_file(const std::string& path);

  /// Fills the defaults (out, select, select_mode, test_metric) and checks the values: a known
  /// command, seeds >= 1, jobs >= 1, select_mode max or min, no axis twice, no grid key that
  /// is also a `set` key or one the sweep sets itself (seed, name, runs_dir). Throws UserError.
  void finalize();
};

/// One setting of the grid: its overrides, in axis order.
struct SweepSetting {
  std::string id;                                            ///< "s0", "s1", ...
  std::vector<std::pair<std::string, std::string>> values;   ///< (axis key, value)
};

/// The settings in a fixed order (the last axis varies fastest); one setting "s0" without
/// overrides when the grid is empty.
std::vector<SweepSetting> sweep_settings(const SweepSpec& spec);

/// The command line (after the executable) of one run: command, target, args, --set for each
/// set and config axis, key=value for each flag axis, the seed, and where its run directory
/// goes (quantize: --out DIR; the others: --set runs_dir=... --set name=...).
std::vector<std::string> run_arguments(const SweepSpec& spec, const SweepSetting& setting,
                                       int64_t seed, const std::string& run_dir);

/// Runs the sweep with `executable` (the neurocore binary) as the child processes:
/// 1. validates every setting by running the command with --dry-run (a bad key or value fails
///    here with the command's own message, before any run starts);
/// 2. skips runs whose directory holds sweep_run.json, deletes and reruns the others, `jobs`
///    at a time, with a progress line;
/// 3. writes sweep.json and report.md (sweep_report.h).
/// Throws UserError on an invalid spec or setting, when the directory holds runs of another
/// grid, and, after writing the report, when any run failed (naming its log).
void run_sweep(const SweepSpec& spec, const std::string& executable);

}  // namespace nc::learn
