// `neurocore train` with learn.rule = stdp (stdp_experiment.h).
#include "neurocore/learn/stdp_experiment.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <time.h>

#include <chrono>
#include <cmath>
#include <map>
#include <numeric>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/plot.h"
#include "neurocore/core/seed.h"
#include "neurocore/data/image_write.h"
#include "neurocore/data/omnist_set.h"
#include "neurocore/learn/stdp_protocol.h"

namespace nc::learn {

bool is_stdp_config(const Config& config) {
  // Reading learn.rule marks it as read; every flow reads it again, so nothing is lost.
  auto learn = config.root().section("learn");
  return learn.has("rule") && learn.string("rule", "bptt") == "stdp";
}

StdpExperiment StdpExperiment::build(Config& config) {
  StdpExperiment e;
  auto root = config.root();
  e.keys = RunKeys::from_config(root);
  e.data = data::DataOptions::from_config(root.section("data"));
  if (e.data.name != "omnist") {
    throw UserError(config.origin() + ": data.name: got '" + e.data.name +
                    "', expected omnist (learn.rule stdp trains on OMNIST's still images and "
                    "tests on its videos)");
  }
  auto model = root.section("model");
  model.choice("name", "lif-wta", {"lif-wta"});
  auto& n = e.neurons;
  const bool conductance = model.choice("neuron", "current", {"current", "conductance"}) == "conductance";
  n.neuron = conductance ? nn::NeuronModel::conductance : nn::NeuronModel::current;
  n.neurons = model.integer("neurons", n.neurons);
  n.dt = model.number("dt", n.dt);
  n.tau_m = model.number("tau_m", n.tau_m);
  n.t_ref = model.integer("t_ref", n.t_ref);
  n.hard_wta = model.boolean("hard_wta", n.hard_wta);
  // Each neuron model reads only its own keys: a key of the other one is an error, not ignored.
  const char* other = conductance ? "current" : "conductance";
  for (const char* key : {"v_th", "w_inh", "delta_a", "tau_a", "conductance"}) {
    const bool mine = (std::string(key) == "conductance") == conductance;
    if (!mine && model.has(key)) {
      throw UserError(config.origin() + ": model." + key + " applies to model.neuron " + other +
                      ", not " + (conductance ? "conductance" : "current") +
                      (conductance ? " (its options are under model.conductance)" : ""));
    }
  }
  if (conductance) {
    auto c = model.section("conductance");
    auto& o = n.conductance;
    o.v_rest = c.number("v_rest", o.v_rest);
    o.v_reset = c.number("v_reset", o.v_reset);
    o.v_th = c.number("v_th", o.v_th);
    o.e_exc = c.number("e_exc", o.e_exc);
    o.e_inh = c.number("e_inh", o.e_inh);
    o.tau_ge = c.number("tau_ge", o.tau_ge);
    o.tau_gi = c.number("tau_gi", o.tau_gi);
    o.theta_plus = c.number("theta_plus", o.theta_plus);
    o.tau_theta = c.number("tau_theta", o.tau_theta);
    o.w_inh = c.number("w_inh", o.w_inh);
    o.dt = c.number("dt", o.dt);
    c.finish();
  } else {
    n.v_th = model.number("v_th", n.v_th);
    n.w_inh = model.number("w_inh", n.w_inh);
    n.delta_a = model.number("delta_a", n.delta_a);
    n.tau_a = model.number("tau_a", n.tau_a);
  }
  model.finish();
  n.validate("model");
  auto train = root.section("train");
  e.epochs = train.integer("epochs", e.epochs, 1);
  train.finish();
  auto learn = root.section("learn");
  learn.choice("rule", "stdp", {"bptt", "ostl", "stdp"});
  e.stdp = StdpOptions::from_config(learn.section("stdp"));
  learn.finish();
  auto eval = root.section("evaluate");
  e.eval_split = eval.choice("split", e.eval_split, {"test", "valid"});
  eval.finish();
  root.finish();
  e.effective_yaml = config.effective_yaml();
  return e;
}

namespace {

// CPU seconds of this thread: the speed figures stay meaningful on a shared machine.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::vector<const float*> pointers(const torch::Tensor& images) {
  std::vector<const float*> out;
  for (int64_t i = 0; i < images.size(0); ++i) out.push_back(images.data_ptr<float>() + i * data::kOmnistPixels);
  return out;
}

// Frame accuracy (%) of the predictions, split by a key (occluder size, frame index).
struct Tally {
  std::map<int64_t, std::pair<int64_t, int64_t>> by;  // key -> (correct, frames)
  int64_t correct = 0, frames = 0, silent = 0;
  int64_t carried = 0;  // correct when a silent frame takes the video's previous prediction
  void add_carried(int64_t predicted, int64_t label) { carried += predicted == label; }
  double accuracy_carried() const { return frames ? 100.0 * carried / frames : 0; }
  void add(int64_t key, int64_t predicted, int64_t label) {
    auto& [c, f] = by[key];
    c += predicted == label;
    ++f;
    correct += predicted == label;
    ++frames;
    silent += predicted < 0;
  }
  double accuracy() const { return frames ? 100.0 * correct / frames : 0; }
};

void write_receptive_fields(const StdpNetwork& net, const std::string& path) {
  const int64_t n = net.size();
  std::vector<data::GreyImage> tiles;
  std::vector<float> tile(data::kOmnistPixels);
  for (int64_t j = 0; j < n; ++j) {
    float hi = 0;
    for (int64_t i = 0; i < net.inputs(); ++i) {
      tile[static_cast<size_t>(i)] = static_cast<float>(net.weights()[static_cast<size_t>(i * n + j)]);
      hi = std::max(hi, tile[static_cast<size_t>(i)]);
    }
    tiles.push_back(data::upscale(data::to_grey(tile.data(), 28, 28, 0.0, hi), 2));
  }
  const auto cols = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  data::write_png(path, data::grid(tiles, cols, 2));
}

}  // namespace

void run_stdp(const StdpExperiment& exp, RunDir& run) {
  const auto src = data::omnist_sources(exp.data.omnist, exp.data.path);
  const auto still = src.static_set.head(exp.data.limit_train);
  const auto images = pointers(still.images);
  std::vector<int64_t> labels(still.labels.data_ptr<int64_t>(), still.labels.data_ptr<int64_t>() + still.size());
  const bool on_valid = exp.eval_split == "valid";
  const auto videos = data::make_videos(on_valid ? src.valid : src.test, exp.data.omnist,
                                        on_valid ? data::OmnistSplit::valid : data::OmnistSplit::test,
                                        on_valid ? exp.data.limit_valid : exp.data.limit_test);
  spdlog::info("st-stdp: {} still images, {} {} videos of {} frames, {} neurons", images.size(),
               videos.size(), exp.eval_split, exp.data.omnist.frames, exp.neurons.neurons);

  StdpNetwork net(exp.stdp, exp.neurons, data::kOmnistPixels, derive_seed(exp.keys.seed, "stdp-init"));
  std::mt19937_64 rng(derive_seed(exp.keys.seed, "stdp-input"));
  const bool conductance = exp.neurons.neuron == nn::NeuronModel::conductance;
  if (!conductance && exp.neurons.v_th == 0) {
    const std::vector<const float*> first(images.begin(), images.begin() + std::min<size_t>(images.size(), exp.stdp.calibrate_images));
    const double v = calibrate_threshold(net, first, rng);
    spdlog::info("st-stdp: V_th calibrated to {:.4g} ({} spikes of the most active neuron per image)", v, exp.stdp.target_spikes);
  }
  const double v_th = net.threshold();

  using clock = std::chrono::steady_clock;
  double train_seconds = 0, train_cpu = 0;
  uint64_t train_events = 0;
  for (int64_t epoch = 0; epoch < exp.epochs; ++epoch) {
    std::vector<size_t> order(images.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(derive_seed(exp.keys.seed, "stdp-order", epoch)));
    const auto t0 = clock::now();
    const double c0 = thread_cpu_seconds();
    const uint64_t e0 = net.synaptic_events();
    int64_t spikes = 0;
    for (size_t idx : order) spikes += train_image(net, images[idx], rng);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    const double cpu = thread_cpu_seconds() - c0;
    const uint64_t events = net.synaptic_events() - e0;
    train_seconds += s;
    train_cpu += cpu;
    train_events += events;
    run.log_metrics({{"kind", "epoch"}, {"epoch", epoch + 1}, {"spikes_per_image", static_cast<double>(spikes) / images.size()},
                     {"epoch_time_s", s}, {"epoch_cpu_s", cpu}, {"synaptic_events", events},
                     {"events_per_s", events / s}, {"events_per_cpu_s", events / cpu}});
    spdlog::info("st-stdp: pass {}/{}: {:.2f} spikes per image, {:.1f} s, {:.3g} synaptic events/s",
                 epoch + 1, exp.epochs, static_cast<double>(spikes) / images.size(), s, events / s);
  }
  net.freeze_adaptation();
  write_receptive_fields(net, run.file("receptive_fields.png"));
  const auto neuron_labels = assign_labels(net, images, labels, still.num_classes, rng);
  const auto unlabelled = std::count(neuron_labels.begin(), neuron_labels.end(), -1);

  // Both modes see the same input spikes (one stream per video): a paired comparison.
  Tally size_f, size_0, frame_f, frame_0;
  const auto t0 = clock::now();
  const double c0 = thread_cpu_seconds();
  const uint64_t e0 = net.synaptic_events();
  const int64_t k = exp.data.omnist.frames;
  for (size_t v = 0; v < videos.size(); ++v) {
    const auto& video = videos[v];
    const int64_t size = video.occluders.empty() ? 0 : video.occluders[0].size;
    for (bool short_term : {true, false}) {
      std::mt19937_64 video_rng(derive_seed(exp.keys.seed, "stdp-video", v));
      const auto pred = classify_video(net, video.frames.data(), k, neuron_labels,
                                       still.num_classes, short_term, video_rng);
      int64_t previous = -1;
      for (int64_t f = 0; f < k; ++f) {
        const int64_t p = pred[static_cast<size_t>(f)];
        previous = p >= 0 ? p : previous;
        (short_term ? size_f : size_0).add_carried(previous, video.label);
        (short_term ? size_f : size_0).add(size, pred[static_cast<size_t>(f)], video.label);
        (short_term ? frame_f : frame_0).add(f, pred[static_cast<size_t>(f)], video.label);
      }
    }
  }
  const double eval_s = std::chrono::duration<double>(clock::now() - t0).count();
  const double eval_cpu = thread_cpu_seconds() - c0;
  const uint64_t eval_events = net.synaptic_events() - e0;

  nlohmann::json by_size = nlohmann::json::object(), by_frame = nlohmann::json::object();
  Series sf{"with short-term STDP", {}, {}}, s0{"without (F = 0)", {}, {}};
  for (const auto& [w, cf] : size_f.by) {
    const auto& c0 = size_0.by.at(w);
    by_size[std::to_string(w)] = {{"frames", cf.second}, {"acc_f", 100.0 * cf.first / cf.second},
                                  {"acc_no_f", 100.0 * c0.first / c0.second}};
    sf.x.push_back(w), sf.y.push_back(100.0 * cf.first / cf.second);
    s0.x.push_back(w), s0.y.push_back(100.0 * c0.first / c0.second);
  }
  Series ff{"with short-term STDP", {}, {}}, f0{"without (F = 0)", {}, {}};
  for (const auto& [f, cf] : frame_f.by) {
    const auto& c0 = frame_0.by.at(f);
    by_frame[std::to_string(f)] = {{"acc_f", 100.0 * cf.first / cf.second}, {"acc_no_f", 100.0 * c0.first / c0.second}};
    ff.x.push_back(f), ff.y.push_back(100.0 * cf.first / cf.second);
    f0.x.push_back(f), f0.y.push_back(100.0 * c0.first / c0.second);
  }
  const nlohmann::json result = {
      {"kind", "eval"}, {"split", exp.eval_split}, {"videos", videos.size()}, {"frames", size_f.frames},
      {"acc_f", size_f.accuracy()}, {"acc_no_f", size_0.accuracy()},
      {"acc_f_carry", size_f.accuracy_carried()}, {"acc_no_f_carry", size_0.accuracy_carried()},
      {"silent_f", 100.0 * size_f.silent / std::max<int64_t>(1, size_f.frames)},
      {"silent_no_f", 100.0 * size_0.silent / std::max<int64_t>(1, size_0.frames)},
      {"neuron", conductance ? "conductance" : "current"},
      {"v_th", v_th}, {"unlabelled_neurons", unlabelled}, {"neurons", net.size()},
      {"still_images", images.size()}, {"train_time_s", train_seconds},
      {"train_events_per_s", train_seconds > 0 ? train_events / train_seconds : 0.0},
      {"eval_time_s", eval_s}, {"eval_events_per_s", eval_s > 0 ? eval_events / eval_s : 0.0},
      {"train_cpu_s", train_cpu}, {"train_events_per_cpu_s", train_cpu > 0 ? train_events / train_cpu : 0.0},
      {"eval_cpu_s", eval_cpu}, {"eval_events_per_cpu_s", eval_cpu > 0 ? eval_events / eval_cpu : 0.0},
      {"train_events", train_events}, {"eval_events", eval_events},
      {"by_size", by_size}, {"by_frame", by_frame}};
  run.log_metrics(result);
  write_file_atomic(run.file("results.json"), result.dump(2) + "\n");
  plot_lines(run.file("accuracy_vs_size"), {"OMNIST " + exp.eval_split + ": frame accuracy vs occluder size",
                                            "occluder size w (px)", "frame accuracy (%)", {sf, s0}});
  plot_lines(run.file("accuracy_vs_frame"), {"OMNIST " + exp.eval_split + ": frame accuracy vs frame index",
                                             "frame", "frame accuracy (%)", {ff, f0}});

  std::string md = "# neurocore run " + run.path() + ": ST-STDP on OMNIST\n\n";
  md += fmt::format("- data: {} still images (unsupervised training, {} passes); {} {} videos x {} frames\n",
                    images.size(), exp.epochs, videos.size(), exp.eval_split, k);
  if (conductance) {
    const auto& c = exp.neurons.conductance;
    md += fmt::format("- network: {} conductance-based (Diehl & Cook) LIF-WTA neurons, integrated clock-driven "
                      "({} ms sub-steps), V_th {} mV (rest {}, reset {}), {} unlabelled after labelling\n",
                      net.size(), c.dt, c.v_th, c.v_rest, c.v_reset, unlabelled);
  } else {
    md += fmt::format("- network: {} LIF-WTA neurons, V_th {:.4g}{}, {} unlabelled after labelling\n",
                      net.size(), v_th, exp.neurons.v_th == 0 ? " (calibrated)" : "", unlabelled);
  }
  md += fmt::format("- short-term STDP: tau_f {} ms, gamma {}, x0 {}; frame {} ms\n", exp.stdp.tau_f,
                    exp.stdp.gamma, exp.stdp.x0, exp.stdp.frame_ms);
  md += fmt::format("- seed {}; config: [config.yaml](config.yaml), metrics: [metrics.jsonl](metrics.jsonl), "
                    "[results.json](results.json)\n\n", exp.keys.seed);
  md += "| test mode | frame accuracy (%), silent = wrong | silent frames (%) | accuracy (%), silent = previous prediction |\n|---|---|---|---|\n";
  md += fmt::format("| with short-term STDP (F) | {:.2f} | {:.2f} | {:.2f} |\n", size_f.accuracy(),
                    result["silent_f"].get<double>(), size_f.accuracy_carried());
  md += fmt::format("| without (F = 0) | {:.2f} | {:.2f} | {:.2f} |\n\n", size_0.accuracy(),
                    result["silent_no_f"].get<double>(), size_0.accuracy_carried());
  md += "| occluder size (px) | frames | with F (%) | without F (%) |\n|---|---|---|---|\n";
  for (const auto& [w, cf] : size_f.by) {  // ascending sizes (json keys sort as text)
    const auto& row = by_size[std::to_string(w)];
    md += fmt::format("| {} | {} | {:.2f} | {:.2f} |\n", w, cf.second, row["acc_f"].get<double>(),
                      row["acc_no_f"].get<double>());
  }
  md += fmt::format("\nSpeed (one thread, per CPU second of the thread): training {:.3g} synaptic events/s, "
                    "inference {:.3g} events/s (wall clock: {:.3g} and {:.3g}); an event is one synapse read at "
                    "a pre spike or one synapse updated at a post spike.\n\n",
                    result["train_events_per_cpu_s"].get<double>(), result["eval_events_per_cpu_s"].get<double>(),
                    result["train_events_per_s"].get<double>(), result["eval_events_per_s"].get<double>());
  md += "![accuracy vs occluder size](accuracy_vs_size.png)\n\n![accuracy vs frame](accuracy_vs_frame.png)\n\n";
  md += "Receptive fields (W of each neuron, brightest = largest weight of that neuron):\n\n![receptive fields](receptive_fields.png)\n";
  write_file_atomic(run.file("report.md"), md);
  spdlog::info("st-stdp: frame accuracy {:.2f} % with F, {:.2f} % without ({} {} videos)", size_f.accuracy(),
               size_0.accuracy(), videos.size(), exp.eval_split);
}

}  // namespace nc::learn
