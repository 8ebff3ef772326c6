#pragma once
// Helpers shared by the sources of the graph IR (graph.cpp, shape_inference.cpp, passes.cpp).
#include <string>

#include "neurocore/cm/graph.h"

namespace nc::cm::detail {

/// Throws UserError "node '<name>' (<Op>): <what>".
[[noreturn]] void bad(const Node& n, const std::string& what);

}  // namespace nc::cm::detail
