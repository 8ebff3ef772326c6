#pragma once
// What this binary was built from, so that runs and sweeps name their commit even when the
// binary is copied out of its checkout (frozen for a long sweep) or the checkout has moved on.

namespace nc {

/// The git commit of the sources at build time: the full hash, with "-dirty" when tracked
/// files differed from it, or "unknown" when the sources were not a git checkout.
/// Generated at every build by cmake/BuildCommit.cmake.
const char* build_commit();

}  // namespace nc
