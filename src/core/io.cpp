#include "neurocore/core/io.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "neurocore/core/error.h"

namespace nc {

namespace fs = std::filesystem;

void write_atomic_with(const std::string& path,
                       const std::function<void(const std::string&)>& writer) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  try {
    writer(tmp);
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) throw UserError(path + ": cannot write (" + ec.message() + ")");
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

void write_file_atomic(const std::string& path, const std::string& content) {
  write_atomic_with(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw UserError(path + ": cannot open for writing (is the directory writable?)");
    out << content;
    out.flush();
    if (!out) throw UserError(path + ": write failed (disk full?)");
  });
}

std::string create_fresh_dir(const std::string& dir) {
  fs::path p(dir);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // trailing '/'
  std::string path = p.string();
  for (int i = 2; fs::exists(path); ++i) path = p.string() + "-" + std::to_string(i);
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw UserError(path + ": cannot create the directory (" + ec.message() + ")");
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open for reading (does it exist?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace nc
