#include "neurocore/core/io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace fs = std::filesystem;

TEST(Io, CreateFreshDirNeverReusesAnExistingOne) {
  const auto base = fs::temp_directory_path() / ("nc_io_" + std::to_string(getpid()));
  fs::remove_all(base);
  const auto dir = (base / "run").string();
  EXPECT_EQ(nc::create_fresh_dir(dir), dir);
  EXPECT_EQ(nc::create_fresh_dir(dir + "/"), dir + "-2");
  EXPECT_EQ(nc::create_fresh_dir(dir), dir + "-3");
  EXPECT_TRUE(fs::is_directory(dir + "-3"));
  fs::remove_all(base);
}

TEST(Io, WriteAtomicThenReadBack) {
  const auto path = (fs::temp_directory_path() / ("nc_io_file_" + std::to_string(getpid()))).string();
  nc::write_file_atomic(path, "hello\n");
  EXPECT_EQ(nc::read_file(path), "hello\n");
  fs::remove(path);
}
