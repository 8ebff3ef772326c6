#pragma once
// The one message for an option out of its range, for libraries whose options are set both from
// a config and from code (so both get the same words): "<where>.<field>: got <seen>, expected
// <expected>".
#include <sstream>
#include <string>

#include "neurocore/core/error.h"

namespace nc {

/// Throws UserError "<where>.<field>: got <seen>, expected <expected>".
template <class T>
[[noreturn]] void bad_option(const std::string& where, const std::string& field, const T& seen,
                             const std::string& expected) {
  std::ostringstream s;
  s << where << "." << field << ": got " << seen << ", expected " << expected;
  throw UserError(s.str());
}

}  // namespace nc
