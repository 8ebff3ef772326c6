#pragma once
// File helpers. Every write is atomic: the content goes to a temporary file in the same
// directory, then a rename replaces the target, so an interrupted run never leaves a
// half-written file behind.
#include <functional>
#include <string>

namespace nc {

/// Writes `content` to `path` atomically. Throws UserError when the directory is not writable.
void write_file_atomic(const std::string& path, const std::string& content);

/// Calls `writer(tmp_path)` to produce the file, then renames it onto `path`. The temporary
/// file is removed if the writer throws.
void write_atomic_with(const std::string& path, const std::function<void(const std::string&)>& writer);

/// Creates and returns `dir` when it does not exist yet, else the first free `dir-2`,
/// `dir-3`, ... (a trailing '/' is ignored), so that nothing existing is ever overwritten.
/// Throws UserError when the directory cannot be created.
std::string create_fresh_dir(const std::string& dir);

/// Whole file as a string. Throws UserError naming the path when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace nc
