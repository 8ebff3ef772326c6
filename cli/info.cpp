// neurocore info and neurocore data list: what this installation has.
#include <dlfcn.h>
#include <fmt/format.h>
#include <torch/version.h>

#include "commands.h"
#include "neurocore/core/threads.h"
#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/data/omnist_set.h"
#include "neurocore/data/registry.h"
#include "neurocore/data/speech_corpus.h"

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

  // neurocore data export omnist: sample videos for a person to look at.
  struct ExportArgs {
    std::string out = "omnist-samples", config;
    std::vector<std::string> sets;
    data::ExportOptions what;
  };
  auto args = std::make_shared<ExportArgs>();
  auto* exp = cmd->add_subcommand(
      "export",
      "Write samples of a generated data set: OMNIST videos as animated GIFs and/or PNG strips;\n"
      "oddity riddles as PNG or PGM sheets (six panels, the odd one framed in black), --count per riddle,\n"
      "or --format odd1: the split the trainer reads as the spec's ODD1 sample file (--count samples, default all);\n"
      "speech as WAV files with their transcripts (.txt).\n\n"
      "Examples:\n  neurocore data export omnist --count 4 --out samples\n"
      "  neurocore data export oddity --count 2 --set data.oddity.riddles=[6,43] --out riddles\n"
      "  neurocore data export oddity --format odd1 --split test --set data.oddity.resolution=50\n"
      "  neurocore data export speech --split test --count 5 --set data.task=kjv\n"
      "  neurocore data export omnist --format png --set data.omnist.occluders=2 "
      "--set data.omnist.source=fashion-mnist");
  exp->add_option("DATASET", args->config, "the generator: omnist | oddity | speech")->required();
  exp->add_option("--out", args->out, "output folder (created)");
  exp->add_option("--split", args->what.split, "static | train | valid | test (oddity: not static)");
  exp->add_option("--count", args->what.count, "videos to write (the first of the split); oddity: per riddle");
  exp->add_option("--format", args->what.format, "omnist: gif | png | both | omn1; oddity: png | pgm | odd1 (omn1, odd1: the specs' sample files, for other programs)");
  exp->add_option("--scale", args->what.scale, "pixels per image pixel (1-16)");
  exp->add_option("--delay-ms", args->what.delay_ms, "GIF frame time in ms");
  exp->add_option("--set", args->sets,
                  "generator options: data.omnist.KEY=VALUE, data.oddity.KEY=VALUE or data.path=DIR (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  exp->callback([args, exp] {
    if (args->config != "omnist" && args->config != "oddity" && args->config != "speech") {
      throw UserError("data export: got dataset '" + args->config + "', expected omnist, oddity or speech");
    }
    Config c = Config::from_string("data: {name: " + args->config + "}\n", "data export");
    for (const auto& s : args->sets) c.set(s);
    auto root = c.root();
    if (args->config == "speech") {  // a few WAVs and their transcripts (docs/asr.md)
      auto d = root.section("data");
      d.choice("name", "speech", {"speech"});
      const auto o = data::SpeechCorpusOptions::from_config(d);
      d.finish();
      root.finish();
      const std::string split = args->what.split == "static" ? "test" : args->what.split;
      const std::string out = args->out == "omnist-samples" ? "speech-samples" : args->out;
      for (const auto& f : data::export_speech(data::load_speech_corpus(o), split, args->what.count, out))
        fmt::print("{}\n", f);
      return;
    }
    const auto d = data::DataOptions::from_config(root.section("data"));
    root.finish();
    if (args->config == "oddity") {
      data::oddity::SheetOptions sheets;  // its own defaults where a flag is not given
      if (exp->count("--format") > 0) sheets.format = args->what.format;
      if (sheets.format == "odd1") sheets.count = 0;  // the whole split unless --count
      if (exp->count("--split") > 0) sheets.split = args->what.split;
      if (exp->count("--count") > 0) sheets.count = args->what.count;
      if (exp->count("--scale") > 0) sheets.scale = args->what.scale;
      for (const auto& f : data::oddity::export_sheets(d.oddity, sheets, args->out)) fmt::print("{}\n", f);
      return;
    }
    for (const auto& f : data::export_videos(d.omnist, d.path, args->what, args->out)) fmt::print("{}\n", f);
  });
}

}  // namespace nc::cli
