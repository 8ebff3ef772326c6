// The espeak-ng speech corpus (include/neurocore/data/speech_corpus.h).
#include "neurocore/data/speech_corpus.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/progress.h"
#include "neurocore/core/seed.h"
#include "neurocore/data/registry.h"
#include "neurocore/data/speech_text.h"
#include "neurocore/data/text.h"
#include "neurocore/data/wav.h"

extern char** environ;

namespace nc::data {
namespace fs = std::filesystem;

namespace {

const char* kDigitWords[] = {"zero", "one", "two", "three", "four",
                             "five", "six", "seven", "eight", "nine"};

// Runs a program with arguments (no shell); returns its exit status (127: not found).
int run_program(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  const int err = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return 127;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == '\t') out.push_back(cur), cur.clear();
    else cur += c;
  }
  out.push_back(cur);
  return out;
}

const char* kManifestHeader = "id\tsplit\twav\tn_samples\tvoice\tvariant\trate\tpitch\ttext";

}  // namespace

SpeechCorpusOptions SpeechCorpusOptions::from_config(ConfigSection s) {
  SpeechCorpusOptions o;
  o.task = s.choice("task", o.task, {"digits", "kjv"});
  o.train = s.integer("train", 0, 0, 1000000);
  o.valid = s.integer("valid", 0, 0, 1000000);
  o.test = s.integer("test", 0, 0, 1000000);
  o.max_words = s.integer("max_words", o.max_words, 1, 100);
  o.seed = static_cast<uint64_t>(s.integer("corpus_seed", 0, 0));
  o.dir = s.string("dir", "");
  o.kjv_path = s.string("kjv_path", "");
  return o;
}

SpeechCorpusOptions SpeechCorpusOptions::resolved() const {
  SpeechCorpusOptions o = *this;
  const bool digits = task == "digits";
  if (o.train == 0) o.train = 2000;
  if (o.valid == 0) o.valid = 200;
  if (o.test == 0) o.test = digits ? 200 : 300;
  if (o.dir.empty())
    o.dir = fmt::format("{}/speech/{}-{}-{}-{}-{}{}", data_cache_dir(), task, seed, o.train,
                        o.valid, o.test, digits ? "" : fmt::format("-w{}", max_words));
  if (o.kjv_path.empty()) o.kjv_path = data_cache_dir() + "/kjv.txt";
  return o;
}

const std::vector<Utterance>& SpeechCorpus::split(const std::string& name) const {
  if (name == "train") return train;
  if (name == "valid") return valid;
  if (name == "test") return test;
  throw UserError("speech split '" + name + "': expected train, valid or test");
}

std::vector<Speaker> split_speakers(const std::string& split) {
  std::vector<std::string> voices, variants;
  if (split == "train") {
    voices = {"en-us", "en-gb", "en-gb-x-rp", "en-gb-x-gbclan"};
    variants = {"m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3"};
  } else if (split == "valid") {
    voices = {"en-gb-x-gbcwmd"};
    variants = {"m6", "f4"};
  } else if (split == "test") {
    voices = {"en-gb-scotland", "en-029"};
    variants = {"m6", "m7", "f4", "f5"};
  } else {
    throw InternalError("split_speakers: " + split);
  }
  std::vector<Speaker> out;
  for (const auto& v : voices)
    for (const auto& x : variants) out.push_back({v, x});
  return out;
}

std::string random_digit_string(uint64_t seed, int64_t index) {
  std::mt19937_64 rng(derive_seed(seed, "speech-digits", static_cast<uint64_t>(index)));
  const int64_t n = std::uniform_int_distribution<int64_t>(1, 7)(rng);
  std::string out;
  for (int64_t i = 0; i < n; ++i) {
    const int d = std::uniform_int_distribution<int>(0, 9)(rng);
    std::string w = kDigitWords[d];
    if (d == 0 && std::bernoulli_distribution(0.5)(rng)) w = "oh";
    out += (i ? " " : "") + w;
  }
  return out;
}

std::vector<std::string> kjv_phrases(const std::string& path, const std::string& split,
                                     int64_t max_words) {
  std::ifstream in(path);
  if (!in)
    throw UserError("speech corpus (kjv): cannot read " + path +
                    " (run scripts/install-deps.sh, or set data.kjv_path)");
  std::vector<std::string> out;
  std::string line, last_book;
  int64_t book = 0;
  while (std::getline(in, line)) {
    Verse v;
    if (!parse_verse(line, v)) continue;
    if (v.book != last_book) ++book, last_book = v.book;
    if (book_split(book) != split) continue;
    std::istringstream words_in(clean_transcript(v.text));
    std::vector<std::string> words;
    for (std::string w; words_in >> w;) words.push_back(w);
    if (words.empty()) continue;
    const int64_t n = static_cast<int64_t>(words.size());
    const int64_t chunks = (n + max_words - 1) / max_words;
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t a = c * n / chunks, b = (c + 1) * n / chunks;
      std::string phrase;
      for (int64_t i = a; i < b; ++i) phrase += (i > a ? " " : "") + words[i];
      out.push_back(phrase);
    }
  }
  if (out.empty())
    throw UserError("speech corpus (kjv): no verses of the " + split + " books in " + path +
                    " (expected `bible -f` output, docs/data.md)");
  return out;
}

namespace {

std::vector<Utterance> plan_split(const SpeechCorpusOptions& o, const std::string& split,
                                  int64_t count) {
  const auto speakers = split_speakers(split);
  std::vector<std::string> texts;
  if (o.task == "kjv") {
    auto pool = kjv_phrases(o.kjv_path, split, o.max_words);
    std::mt19937_64 rng(derive_seed(o.seed, "speech-kjv-" + split));
    std::shuffle(pool.begin(), pool.end(), rng);  // drawn without replacement
    if (static_cast<int64_t>(pool.size()) < count)
      throw UserError(fmt::format("speech corpus: {} {} utterances asked, the {} books have {} phrases",
                                  count, split, split, pool.size()));
    texts.assign(pool.begin(), pool.begin() + count);
  } else {
    const uint64_t offset = split == "train" ? 0 : split == "valid" ? 1u << 30 : 2u << 30;
    for (int64_t i = 0; i < count; ++i) texts.push_back(random_digit_string(o.seed, offset + i));
  }
  std::mt19937_64 rng(derive_seed(o.seed, "speech-speaker-" + split));
  std::vector<Utterance> out;
  for (int64_t i = 0; i < count; ++i) {
    Utterance u;
    u.id = fmt::format("{}-{:06d}", split, i);
    u.split = split;
    u.wav = o.dir + "/" + u.id + ".wav";
    const auto& s = speakers[std::uniform_int_distribution<size_t>(0, speakers.size() - 1)(rng)];
    u.voice = s.voice;
    u.variant = s.variant;
    u.rate = std::uniform_int_distribution<int64_t>(130, 200)(rng);
    u.pitch = std::uniform_int_distribution<int64_t>(30, 70)(rng);
    u.text = texts[i];
    out.push_back(u);
  }
  return out;
}

void render(Utterance& u, const std::string& dir) {
  const std::string txt = dir + "/" + u.id + ".txt", raw = dir + "/" + u.id + ".raw.wav";
  write_file_atomic(txt, u.text + "\n");
  const int rc = run_program({"espeak-ng", "-v", u.voice + "+" + u.variant, "-s",
                              std::to_string(u.rate), "-p", std::to_string(u.pitch), "-w", raw,
                              "-f", txt});
  if (rc == 127)
    throw UserError("speech corpus: espeak-ng not found (install the Debian package espeak-ng: "
                    "scripts/install-deps.sh)");
  if (rc != 0)
    throw UserError(fmt::format("speech corpus: espeak-ng failed (exit {}) for {} voice {}+{}", rc,
                                u.id, u.voice, u.variant));
  Audio a = read_wav(raw);  // 22,050 Hz -> 16 kHz with the one resampler
  write_wav(u.wav, a.samples, a.sample_rate);
  u.n_samples = static_cast<int64_t>(a.samples.size());
  fs::remove(raw);
  fs::remove(txt);
}

std::vector<Utterance> read_manifest(const std::string& dir) {
  const std::string path = dir + "/manifest.tsv";
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line) || line != kManifestHeader)
    throw UserError("speech manifest " + path + ": missing or wrong header (expected '" +
                    std::string(kManifestHeader) + "'); delete the folder to regenerate it");
  std::vector<Utterance> out;
  int64_t n = 1;
  while (std::getline(in, line)) {
    ++n;
    const auto f = split_tabs(line);
    if (f.size() != 9)
      throw UserError(fmt::format("speech manifest {} line {}: {} fields, expected 9", path, n, f.size()));
    Utterance u;
    u.id = f[0], u.split = f[1], u.wav = dir + "/" + f[2];
    try {
      u.n_samples = std::stoll(f[3]), u.rate = std::stoll(f[6]), u.pitch = std::stoll(f[7]);
    } catch (const std::exception&) {
      throw UserError(fmt::format("speech manifest {} line {}: a number field is not a number", path, n));
    }
    u.voice = f[4], u.variant = f[5], u.text = f[8];
    encode_transcript(u.text, fmt::format("speech manifest {} line {}", path, n));
    out.push_back(u);
  }
  return out;
}

}  // namespace

SpeechCorpus load_speech_corpus(const SpeechCorpusOptions& options) {
  const SpeechCorpusOptions o = options.resolved();
  SpeechCorpus c;
  c.dir = o.dir;
  const std::string manifest = o.dir + "/manifest.tsv";
  std::vector<Utterance> all;
  if (fs::exists(manifest)) {
    all = read_manifest(o.dir);
  } else {
    fs::create_directories(o.dir);
    for (auto [split, n] : {std::pair<std::string, int64_t>{"train", o.train}, {"valid", o.valid},
                            {"test", o.test}}) {
      auto part = plan_split(o, split, n);
      all.insert(all.end(), part.begin(), part.end());
    }
    Progress progress("rendering speech (" + o.task + ") into " + o.dir,
                      static_cast<int64_t>(all.size()), "utt");
    for (auto& u : all) {
      render(u, o.dir);
      progress.advance();
    }
    progress.finish();
    std::string text = std::string(kManifestHeader) + "\n";
    for (const auto& u : all)
      text += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", u.id, u.split,
                          fs::path(u.wav).filename().string(), u.n_samples, u.voice, u.variant,
                          u.rate, u.pitch, u.text);
    write_file_atomic(manifest, text);  // written last: its presence means the corpus is complete
  }
  for (auto& u : all) {
    if (u.split == "train") c.train.push_back(u);
    else if (u.split == "valid") c.valid.push_back(u);
    else if (u.split == "test") c.test.push_back(u);
    else throw UserError("speech manifest " + manifest + ": unknown split '" + u.split + "'");
  }
  return c;
}

std::vector<std::string> export_speech(const SpeechCorpus& corpus, const std::string& split,
                                       int64_t count, const std::string& out) {
  const auto& utts = corpus.split(split);
  fs::create_directories(out);
  std::vector<std::string> written;
  for (int64_t i = 0; i < std::min<int64_t>(count, utts.size()); ++i) {
    const auto& u = utts[i];
    const std::string wav = out + "/" + u.id + ".wav";
    fs::copy_file(u.wav, wav, fs::copy_options::overwrite_existing);
    write_file_atomic(out + "/" + u.id + ".txt", u.text + "\n");
    written.push_back(wav);
  }
  return written;
}

}  // namespace nc::data
