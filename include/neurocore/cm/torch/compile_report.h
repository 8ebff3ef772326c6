#pragma once
// The compile report (docs/cm.md, "neurocore compile"): a compiled model's timing simulation
// on N streamed images, optionally its test accuracy on the simulated accelerator, and the
// report files: report.md, report.json, hw.yaml, mapping.dot/.svg, utilisation and occupancy
// plots, and the emitted files (control programs, graph.dot, graph.json).
// `neurocore compile` is flags -> CompileReportOptions -> compile -> write_compile_report.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "neurocore/cm/torch/accuracy.h"
#include "neurocore/cm/compiled.h"
#include "neurocore/cm/timing.h"

namespace nc::cm {

/// The emit kinds of write_compile_report: control, dot, json.
const std::vector<std::string>& emit_kinds();

/// Test accuracy of a compiled model on a registry dataset (fashion-mnist, mnist-10k).
struct DataEvalOptions {
  std::string data;            // registry name
  int64_t sim_images = 200;    // through the functional simulator (LibTorch runs all)
  AnalogOptions analog;        // the non-idealities
  bool ideal = false;          // named in the report
};

struct DataEval {
  DataEvalOptions options;
  AccuracyReport accuracy;
  double norm_mean = 0, norm_std = 1;
  bool norm_from_run = false;  // the run's own statistics, else the training split's
};

/// Registry datasets with a test split that compile --eval accepts.
const std::vector<std::string>& eval_data_names();

/// Throws UserError for a name not in eval_data_names() (with the closest one).
void check_eval_data(const std::string& name);

/// The sample shape of a dataset's test split. Throws UserError for an unknown name (with
/// the closest one).
Shape eval_data_shape(const std::string& name);

/// Loads the test split of options.data, prepares it as the model expects (the run's
/// normalisation or encoder when the model came from a run directory, else the training
/// split's pixel statistics) and evaluates (cm/accuracy.h). Throws UserError when the data's
/// sample shape differs from the model's input (naming both) or the name is unknown.
DataEval evaluate_on_data(const Compiled& c, const DataEvalOptions& options);

struct CompileReportOptions {
  std::string hw_path;             // named in the report
  int64_t images = 10;             // streamed through the timing simulator
  std::vector<std::string> emit;   // of emit_kinds()
  const DataEval* eval = nullptr;  // the accuracy section, when measured
};

struct CompileReport {
  TimingReport timing;
  std::vector<std::string> overflows;  // cores whose peak buffer exceeds the hardware's
  int64_t peak_buffer_bytes = 0;       // the largest peak of any core
  std::string markdown_path;

  /// "" when the model fits; else the overflows, the spec's size and the size that would fit
  /// ("... buffer.bytes_per_core is 65536; the model fits with buffer.bytes_per_core >= 81920,
  /// e.g. --hw-set buffer.bytes_per_core=81920").
  std::string overflow_message(const Hardware& hw) const;
};

/// Runs the timing simulation (and control generation when emitted) of `c` and writes the
/// report files into `dir` (which must exist), each atomically. Throws UserError for an
/// unknown emit kind; a buffer overflow is reported, not thrown (the caller decides).
CompileReport write_compile_report(const Compiled& c, const CompileReportOptions& options, const std::string& dir);

}  // namespace nc::cm
