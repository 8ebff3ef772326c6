#include "neurocore/learn/checkpoint.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/serialize.h>

#include <filesystem>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"

namespace nc::learn {

namespace fs = std::filesystem;

std::string save_checkpoint(const std::string& dir, torch::nn::Module& model,
                            torch::optim::Optimizer* optimizer, int64_t epochs_done) {
  const std::string name = fmt::format("epoch-{:04d}.pt", epochs_done);
  const std::string path = (fs::path(dir) / name).string();
  torch::serialize::OutputArchive archive, model_ar, optim_ar;
  model.save(model_ar);
  archive.write("model", model_ar);
  if (optimizer) {
    optimizer->save(optim_ar);
    archive.write("optimizer", optim_ar);
  }
  archive.write("epochs_done", torch::tensor(epochs_done));
  write_atomic_with(path, [&](const std::string& tmp) { archive.save_to(tmp); });
  write_file_atomic((fs::path(dir) / "last.json").string(),
                    nlohmann::json{{"file", name}, {"epochs_done", epochs_done}}.dump() + "\n");
  return path;
}

std::string last_checkpoint(const std::string& dir) {
  const std::string index = (fs::path(dir) / "last.json").string();
  if (!fs::exists(index)) return "";
  std::string file;
  try {
    file = nlohmann::json::parse(read_file(index)).at("file").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw UserError(index + ": malformed checkpoint index: " + e.what());
  }
  const std::string path = (fs::path(dir) / file).string();
  if (!fs::exists(path)) throw UserError(index + ": names " + file + ", which does not exist");
  return path;
}

int64_t load_checkpoint(const std::string& path, torch::nn::Module& model,
                        torch::optim::Optimizer* optimizer) {
  try {
    torch::serialize::InputArchive archive, model_ar, optim_ar;
    archive.load_from(path);
    archive.read("model", model_ar);
    model.load(model_ar);
    if (optimizer) {
      archive.read("optimizer", optim_ar);
      optimizer->load(optim_ar);
    }
    torch::Tensor epochs;
    archive.read("epochs_done", epochs);
    return epochs.item<int64_t>();
  } catch (const c10::Error& e) {
    throw UserError(path + ": cannot load checkpoint (corrupt, or from a different model): " +
                    e.what_without_backtrace());
  }
}

}  // namespace nc::learn
