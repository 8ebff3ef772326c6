// neurocore info and neurocore data list: what this installation has.
#include <dlfcn.h>
#include <fmt/format.h>
#include <torch/version.h>

#include "commands.h"
#include "neurocore/core/threads.h"
#include "neurocore/data/registry.h"

namespace nc::cli {

namespace {

// LibTorch calls the system BLAS (Debian: the libblas.so.3 alternative). OpenBLAS
// identifies itself through openblas_get_config; without it matrix products run ~30x slower.
std::string blas_description() {
  using ConfigFn = char* (*)();
  if (auto fn = reinterpret_cast<ConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    return fmt::format("OpenBLAS ({})", fn());
  }
  return "not OpenBLAS (reference BLAS?): install libopenblas0-pthread for ~30x faster matmuls";
}

void print_datasets() {
  fmt::print("{:<15} {:>9} {:>8}  {:<9} {}\n", "name", "train", "test", "status", "location");
  for (const auto& d : data::list_datasets()) {
    fmt::print("{:<15} {:>9} {:>8}  {:<9} {}\n", d.name, d.train_size, d.test_size,
               d.available ? "found" : "missing", d.location);
  }
}

void run_info(const Global& g) {
  if (g.threads >= 0) set_threads(g.threads);
  fmt::print("neurocore 0.1.0\n");
  fmt::print("LibTorch  {}.{}.{}\n", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH);
  fmt::print("threads   {} (intra-op; {} cores; set with --threads or `threads:`)\n", threads(),
             hardware_threads());
  fmt::print("BLAS      {}\n", blas_description());
  fmt::print("data      {}\n\n", data::data_cache_dir());
  print_datasets();
}

}  // namespace

void add_info(CLI::App& app, const Global& global) {
  auto* cmd = app.add_subcommand(
      "info",
      "Show versions, threads, the active BLAS library and the datasets found.\n\n"
      "Example:\n  neurocore info --threads 2");
  cmd->callback([&global] { run_info(global); });
}

void add_data(CLI::App& app, const Global&) {
  auto* cmd = app.add_subcommand("data", "Datasets.\n\nExample:\n  neurocore data list");
  cmd->require_subcommand(1);
  auto* list = cmd->add_subcommand("list", "List the known datasets, their sizes and where they are.");
  list->callback([] { print_datasets(); });
}

}  // namespace nc::cli
