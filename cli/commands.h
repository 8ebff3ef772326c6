#pragma once
// One function per subcommand: registers it on the app, with its --help and examples.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace nc::cli {

/// Options shared by every subcommand.
struct Global {
  int threads = -1;  // -1: from the config (or one per core)
  std::string log_level = "info";
  std::vector<std::string> argv;  // the command line as given (`train --nproc` re-runs it)
};

/// Ends the program with `code`; what went wrong has already been printed (the launcher of
/// data-parallel workers forwards the exit code of the worker that failed).
struct ExitCode {
  int code;
};

void add_train(CLI::App& app, const Global& global);
void add_eval(CLI::App& app, const Global& global);
void add_info(CLI::App& app, const Global& global);
void add_data(CLI::App& app, const Global& global);
void add_compile(CLI::App& app, const Global& global);
void add_quantize(CLI::App& app, const Global& global);
void add_prune(CLI::App& app, const Global& global);
void add_pipeline(CLI::App& app, const Global& global);
void add_fabric(CLI::App& app, const Global& global);
void add_simulate(CLI::App& app, const Global& global);
void add_continual(CLI::App& app, const Global& global);
void add_lm(CLI::App& app, const Global& global);
void add_sweep(CLI::App& app, const Global& global);
void add_transcribe(CLI::App& app, const Global& global);

}  // namespace nc::cli
