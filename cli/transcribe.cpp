// neurocore transcribe: the text of WAV files from a trained ASR run (docs/asr.md).
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "commands.h"
#include "neurocore/asr/asr_data.h"
#include "neurocore/asr/decode.h"
#include "neurocore/asr/train.h"
#include "neurocore/core/error.h"
#include "neurocore/core/threads.h"
#include "neurocore/data/speech_corpus.h"
#include "neurocore/data/speech_text.h"
#include "neurocore/data/wav.h"

namespace nc::cli {

namespace {

struct TranscribeArgs {
  std::string run;
  std::vector<std::string> files;
  std::string split;
  bool stream = false;
  int64_t beam = -1;
  std::string search;
  bool length_norm = false;
};

// --split: decodes a split of the run's own corpus (features as in training) and prints one
// JSON line with the corpus WER and CER, so that decoders can be compared on the validation
// split of a finished run without retraining.
void evaluate_split(asr::AsrRun& r, const std::string& split, const asr::BeamOptions& decoder) {
  const auto& e = r.experiment;
  const auto corpus = data::load_speech_corpus(e.corpus);
  const int64_t limit = split == "train" ? e.train.limit_train
                        : split == "valid" ? e.train.limit_valid : e.train.limit_test;
  const auto s = asr::load_split(corpus, split, e.features.features, limit);
  const auto v = asr::evaluate(r.model, s, r.stats, e, decoder);
  nlohmann::json out = {{"split", split}, {"decoder", asr::describe(decoder)},
                        {"utterances", s.size()}, {"wer", v.wer}, {"cer", v.cer}, {"loss", v.loss}};
  fmt::print("{}\n", out.dump());
}

// Streaming: features frame by frame (causal stacking), one encoder step per stacked frame,
// greedy decoding as the frames arrive; each completed word is printed when the next space
// (or the end) is decoded.
void stream_file(asr::AsrRun& r, const std::string& path) {
  const auto& e = r.experiment;
  const auto& fo = e.features.features;
  auto raw = data::speech_features(data::read_wav(path).samples, fo);
  auto x = asr::prepare_features(raw, r.stats, e.features);
  torch::NoGradGuard no_grad;
  asr::ModelTransducer t(r.model);
  nn::EncoderState es;
  asr::PredictorOutput p = t.predict(0, nullptr);
  std::string text, word;
  for (int64_t k = 0; k < x.size(0); ++k) {
    auto f = r.model->encode_step(x[k].unsqueeze(0), es)[0];
    for (int64_t s = 0; s < e.train.decoding.max_sym_per_frame; ++s) {
      const int64_t c = t.joint(f, p.out).argmax().item<int64_t>();
      if (c == 0) break;
      const std::string ch = data::decode_transcript({c});
      if (ch == " ") {
        if (!word.empty()) fmt::print("{} ", word), std::fflush(stdout);
        word.clear();
      } else {
        word += ch;
      }
      p = t.predict(c, &p);
    }
  }
  fmt::print("{}\n", word);
}

void run_transcribe(const TranscribeArgs& a, const Global& g) {
  set_threads(g.threads >= 0 ? g.threads : 1);
  auto r = asr::load_asr_run(a.run);
  const auto& e = r.experiment;
  if (a.stream && e.model.bidirectional())
    throw UserError("transcribe --stream: the run's encoder is bidirectional (it needs the whole "
                    "utterance); use a unidirectional run or drop --stream");
  if (a.stream && e.features.per_utterance)
    throw UserError("transcribe --stream: the run normalises per utterance (data.normalization: "
                    "utterance), which needs the whole utterance; drop --stream");
  asr::BeamOptions decoder = e.train.decoder(a.beam >= 0 ? a.beam : e.train.decoding.beam);
  if (!a.search.empty()) decoder.method = asr::parse_beam_method(a.search, "--search");
  if (a.length_norm) decoder.length_norm = true;
  if (decoder.beam == 0 && (!a.search.empty() || a.length_norm))
    throw UserError("transcribe: --search and --length-norm choose a beam search; give --beam N (N >= 1)");
  if (a.stream && (a.beam > 0 || !a.search.empty() || a.length_norm))
    throw UserError("transcribe --stream: decodes greedily as the frames arrive; drop --beam, --search and --length-norm");
  if (a.split.empty() == a.files.empty())
    throw UserError("transcribe: give WAV files or --split SPLIT (" +
                    std::string(a.files.empty() ? "got neither" : "got both") + ")");
  if (!a.split.empty()) {
    if (a.stream) throw UserError("transcribe --split: decodes whole utterances; drop --stream");
    evaluate_split(r, a.split, decoder);
    return;
  }
  for (const auto& f : a.files) {
    if (a.files.size() > 1) fmt::print("{}: ", f);
    if (a.stream) {
      stream_file(r, f);
      continue;
    }
    auto raw = data::speech_features(data::read_wav(f).samples, e.features.features);
    auto x = asr::prepare_features(raw, r.stats, e.features);
    fmt::print("{}\n", asr::transcribe_features(r.model, x, decoder));
  }
}

}  // namespace

void add_transcribe(CLI::App& app, const Global& global) {
  auto args = std::make_shared<TranscribeArgs>();
  auto* cmd = app.add_subcommand(
      "transcribe",
      "Print the text of WAV files (mono 16-bit or float, any sample rate) recognised by a "
      "trained ASR run (`neurocore train configs/asr-*.yaml`).\n\nExamples:\n"
      "  neurocore transcribe runs/asr-digits-lstm hello.wav\n"
      "  neurocore transcribe runs/asr-digits-lstm --stream a.wav b.wav\n"
      "  neurocore transcribe runs/asr-digits-lstm --split valid --beam 4\n"
      "  neurocore transcribe runs/asr-digits-lstm --split valid --beam 8 --search alsd");
  cmd->add_option("RUN_DIR", args->run, "a finished ASR run directory")->required();
  cmd->add_option("FILES", args->files, "WAV files");
  cmd->add_option("--split", args->split,
                  "instead of files: decode this split of the run's corpus and print its WER and CER "
                  "as one JSON line")
      ->check(CLI::IsMember({"train", "valid", "test"}));
  cmd->add_flag("--stream", args->stream,
                "decode frame by frame as the audio arrives and print each word as it is recognised");
  cmd->add_option("--beam", args->beam,
                  "beam search with this beam (0: greedy; default: the run's train.beam)")
      ->check(CLI::Range(0, 64));
  cmd->add_option("--search", args->search,
                  "the beam search: modified (at most one symbol per frame), graves (Graves 2012) or alsd "
                  "(alignment-length synchronous) (default: the run's train.search, modified)");
  cmd->add_flag("--length-norm", args->length_norm,
                "beam search: choose the final hypothesis by score / length (default: the run's train.length_norm)");
  cmd->callback([args, &global] { run_transcribe(*args, global); });
}

}  // namespace nc::cli
