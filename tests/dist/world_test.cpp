#include "neurocore/dist/world.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "neurocore/core/error.h"
#include "neurocore/dist/launch.h"

namespace nc::dist {
namespace {

void expect_user_error(const World& w, const std::string& needle) {
  try {
    validate(w);
    ADD_FAILURE() << "no UserError, expected one naming " << needle;
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(World, BadSettingsNameTheVariableAndTheValue) {
  World w;
  w.world_size = 0;
  expect_user_error(w, "WORLD_SIZE must be >= 1, got 0");
  w = World{};
  w.world_size = 2;
  w.local_world_size = 2;
  w.rank = 2;
  expect_user_error(w, "RANK must be in 0..1 (WORLD_SIZE 2), got 2");
  w.rank = 1;
  w.master_port = 70000;
  expect_user_error(w, "MASTER_PORT must be in 1..65535, got 70000");
}

class EnvGuard {
 public:
  EnvGuard() {
    for (const char* k : kKeys) unsetenv(k);
  }
  ~EnvGuard() {
    for (const char* k : kKeys) unsetenv(k);
  }
  static constexpr const char* kKeys[] = {"MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK",
                                          "LOCAL_RANK", "LOCAL_WORLD_SIZE"};
};

TEST(World, ReadsTheTorchrunVariables) {
  EnvGuard guard;
  EXPECT_FALSE(launched_as_worker());
  setenv("MASTER_ADDR", "10.0.0.5", 1);
  setenv("MASTER_PORT", "29511", 1);
  setenv("WORLD_SIZE", "4", 1);
  setenv("RANK", "3", 1);
  setenv("LOCAL_RANK", "1", 1);
  setenv("LOCAL_WORLD_SIZE", "2", 1);
  EXPECT_TRUE(launched_as_worker());
  const World w = world_from_env();
  EXPECT_EQ(w.master_addr, "10.0.0.5");
  EXPECT_EQ(w.master_port, 29511);
  EXPECT_EQ(w.world_size, 4);
  EXPECT_EQ(w.rank, 3);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_world_size, 2);
}

TEST(World, MissingOrMalformedVariablesAreUserErrors) {
  EnvGuard guard;
  setenv("WORLD_SIZE", "2", 1);
  EXPECT_THROW(world_from_env(), UserError);  // RANK missing
  setenv("RANK", "one", 1);
  try {
    world_from_env();
    ADD_FAILURE();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("RANK must be an integer, got 'one'"), std::string::npos)
        << e.what();
  }
}

TEST(Launch, RemovesTheFlagAndItsValue) {
  using V = std::vector<std::string>;
  EXPECT_EQ(without_flag(V{"nc", "train", "c.yaml", "--nproc", "2", "--set", "a=1"}, "--nproc"),
            (V{"nc", "train", "c.yaml", "--set", "a=1"}));
  EXPECT_EQ(without_flag(V{"nc", "train", "--nproc=3", "c.yaml"}, "--nproc"), (V{"nc", "train", "c.yaml"}));
}

}  // namespace
}  // namespace nc::dist
