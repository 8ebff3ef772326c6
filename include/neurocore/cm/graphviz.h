#pragma once
// Rendering Graphviz pictures (placement pictures of `neurocore fabric` and of the pipeline's
// place stage, docs/fabric.md). One place that looks for Graphviz, so that a machine without
// it gets one warning, not one per picture.
#include <string>

namespace nc::cm {

/// Whether Graphviz's `dot` is on the PATH (looked up once per process).
bool have_graphviz();

/// Renders `dot_file` to `svg_file` with `dot -Tsvg`; a `layout=` attribute in the file (as
/// placement_dot's neato) picks the engine. Returns false and writes no SVG when Graphviz is
/// missing (a warning naming scripts/install-deps.sh, logged once per process) or when it
/// fails on the file (a warning naming the file).
bool render_svg(const std::string& dot_file, const std::string& svg_file);

}  // namespace nc::cm
