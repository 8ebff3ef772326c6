#pragma once
// Error types shared by every area (ARCHITECTURE.md, "Errors").
#include <stdexcept>
#include <string>

namespace nc {

/// A mistake of the user: bad file, bad config value, bad flag. The message names the
/// file or field, the value seen and the value expected. The CLI prints it and exits 2.
class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& what) : std::runtime_error(what) {}
};

/// A bug in neurocore (a broken invariant). The CLI prints it and exits 1.
class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& what) : std::logic_error(what) {}
};

/// Exit codes of the `neurocore` executable.
constexpr int kExitOk = 0;
constexpr int kExitInternal = 1;
constexpr int kExitUser = 2;

}  // namespace nc
