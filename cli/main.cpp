// neurocore: the command-line entry point. Maps errors to exit codes: 0 success,
// 2 user error (bad flag, file or config value), 1 internal error.
#include <c10/util/Exception.h>
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "commands.h"
#include "neurocore/core/error.h"
#include "neurocore/core/log.h"

int main(int argc, char** argv) {
  // Keep freed memory in the process: by default glibc returns large blocks to the system
  // after every training step and page-faults them back in on the next one, which made an
  // SNU step 1.5x instead of 1.08x a plain MLP step (docs/nn.md, "Benchmark").
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  CLI::App app{
      "neurocore: brain-inspired deep learning, from training to computational-memory "
      "deployment.\n\nExamples:\n  neurocore train configs/snu-mlp-fashion.yaml\n"
      "  neurocore train configs/snu-mlp-fashion.yaml --set train.epochs=1\n"
      "  neurocore eval runs/snu-mlp-fashion\n"
      "  neurocore compile model.onnx --hw configs/hw/default.yaml\n  neurocore info\n"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand
  nc::cli::Global global;
  app.option_defaults()->always_capture_default();
  app.add_option("--threads", global.threads,
                 "intra-op threads for LibTorch (default: the config's `threads`, 0 = one per core)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log-level", global.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.set_version_flag("--version", "neurocore 0.1.0");
  app.parse_complete_callback([&] { nc::init_logging(global.log_level); });

  nc::cli::add_train(app, global);
  nc::cli::add_eval(app, global);
  nc::cli::add_info(app, global);
  nc::cli::add_data(app, global);
  nc::cli::add_compile(app, global);
  nc::cli::add_quantize(app, global);
  nc::cli::add_pipeline(app, global);
  nc::cli::add_fabric(app, global);
  nc::cli::add_continual(app, global);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? nc::kExitOk : nc::kExitUser;
  } catch (const nc::UserError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return nc::kExitUser;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what_without_backtrace());
    return nc::kExitInternal;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return nc::kExitInternal;
  }
  return nc::kExitOk;
}
