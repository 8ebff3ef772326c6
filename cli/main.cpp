// neurocore: the command-line entry point. Maps errors to exit codes: 0 success,
// 2 user error (bad flag, file or config value), 1 internal error.
#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "commands.h"
#include "neurocore/cm/torch/loaders.h"
#include "neurocore/core/build_info.h"
#include "neurocore/core/error.h"
#include "neurocore/core/log.h"
#include "neurocore/core/threads.h"

int main(int argc, char** argv) {
  nc::keep_freed_memory();
  nc::cm::register_torch_loaders();
  CLI::App app{
      "neurocore: brain-inspired deep learning, from training to computational-memory "
      "deployment.\n\nExamples:\n  neurocore train configs/snu-mlp-fashion.yaml\n"
      "  neurocore train configs/snu-mlp-fashion.yaml --set train.epochs=1\n"
      "  neurocore eval runs/snu-mlp-fashion\n"
      "  neurocore compile model.onnx --hw configs/hw/default.yaml\n  neurocore info\n"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand
  nc::cli::Global global;
  global.argv.assign(argv, argv + argc);
  app.option_defaults()->always_capture_default();
  app.add_option("--threads", global.threads,
                 "intra-op threads for LibTorch (default: the config's `threads`, 0 = one per core)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log-level", global.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.set_version_flag("--version", std::string("neurocore 0.1.0 (commit ") + nc::build_commit() + ")");
  app.parse_complete_callback([&] { nc::init_logging(global.log_level); });

  nc::cli::add_train(app, global);
  nc::cli::add_eval(app, global);
  nc::cli::add_info(app, global);
  nc::cli::add_data(app, global);
  nc::cli::add_compile(app, global);
  nc::cli::add_quantize(app, global);
  nc::cli::add_prune(app, global);
  nc::cli::add_pipeline(app, global);
  nc::cli::add_fabric(app, global);
  nc::cli::add_simulate(app, global);
  nc::cli::add_continual(app, global);
  nc::cli::add_lm(app, global);
  nc::cli::add_sweep(app, global);
  nc::cli::add_transcribe(app, global);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? nc::kExitOk : nc::kExitUser;
  } catch (const nc::cli::ExitCode& e) {
    return e.code;
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
