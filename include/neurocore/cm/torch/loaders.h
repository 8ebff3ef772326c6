#pragma once
// The LibTorch-backed model sources of cm::load_graph (model_source.h): TorchScript files and
// run directories of `neurocore train` / `neurocore quantize`. Programs that link nc_cm_torch
// call register_torch_loaders() once before loading (the neurocore executable does at start).
#include "neurocore/cm/model_source.h"

namespace nc::cm {

/// Registers the TorchScript and run-directory loaders with load_graph. Idempotent.
void register_torch_loaders();

}  // namespace nc::cm
