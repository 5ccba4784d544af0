// Bag-of-words text classification with sparse gradients: the long descriptions of 9 506 Debian
// packages (examples/data/debian_descriptions.txt, made by tools/make_text_data.py), each labelled
// with one of 8 archive sections (libs, python, doc, devel, utils, net, science, games), classified
// by softmax regression over a 14 407-word vocabulary: 115 264 parameters, of which a minibatch of
// 32 descriptions touches about 6 500. The objective writes its minibatch gradient into an
// Eigen::SparseVector (a descent::SparseStochasticObjective), so descent::train steps sparsely.
//
// Adagrad, SparseAdam and SGD each train at a small grid of learning rates; the rate with the best
// validation accuracy after the last epoch is chosen, and its test accuracy is reported against the
// epochs. Then the claim that Adagrad helps with rare features is measured three ways (see
// rare_words below).
//
//   sparse_text [--epochs N] [--seed N] [--history FILE.csv] [--data FILE] [--quick]
//
// --quick (for ctest) trains 5 epochs instead of 30 and checks the outcomes: every optimizer beats
// the majority class by 0.3 in test accuracy, the training loss falls, and the sparse gradient
// matches finite differences along random directions. The exit code is 0 only if the checks pass
// (2 if the data cannot be read or the arguments are wrong).
//
// Features: each description's word counts, scaled to unit Euclidean norm (so that long and short
// descriptions give logits of the same scale). Parameters are double; the full run takes about 15 s.
#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <descent/descent.hpp>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using Eigen::Index;
using V = Eigen::VectorXd;
using SparseRows = Eigen::SparseMatrix<double, Eigen::RowMajor>;
using SparseGrad = Eigen::SparseVector<double>;

constexpr Index kClasses = 8;
const std::array<const char*, kClasses> kClassNames = {"libs",  "python", "doc",     "devel",
                                                       "utils", "net",    "science", "games"};

struct Split {
  SparseRows X;  // documents x vocabulary, unit-norm counts
  Eigen::VectorXi y;
};

struct Corpus {
  std::vector<std::string> vocabulary;
  Split train, valid, test;
  Eigen::VectorXd train_count;  // occurrences of each word in the training descriptions
};

Corpus read_corpus(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open (tools/make_text_data.py writes it)");
  Corpus c;
  std::map<std::string, std::vector<std::pair<int, std::vector<int>>>> docs;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    const std::string kind = line.substr(0, tab);
    if (kind == "w") {
      c.vocabulary.push_back(line.substr(tab + 1));
      continue;
    }
    std::istringstream fields(line.substr(tab + 1));
    int label = -1;
    fields >> label;
    if (label < 0 || label >= kClasses || (kind != "train" && kind != "valid" && kind != "test"))
      throw std::runtime_error(path + ": malformed line: " + line.substr(0, 40));
    std::vector<int> ids;
    for (int id; fields >> id;) {
      if (id < 0 || id >= int(c.vocabulary.size())) throw std::runtime_error(path + ": word id out of range");
      ids.push_back(id);
    }
    docs[kind].emplace_back(label, std::move(ids));
  }
  const auto d = Index(c.vocabulary.size());
  if (d == 0 || docs["train"].empty() || docs["valid"].empty() || docs["test"].empty())
    throw std::runtime_error(path + ": no vocabulary or an empty split");
  c.train_count = Eigen::VectorXd::Zero(d);
  for (const auto& [label, ids] : docs["train"])
    for (const int id : ids) c.train_count[id] += 1;
  auto build = [&](const std::vector<std::pair<int, std::vector<int>>>& rows) {
    Split s{SparseRows(Index(rows.size()), d), Eigen::VectorXi(Index(rows.size()))};
    std::vector<Eigen::Triplet<double>> entries;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      s.y[Index(i)] = rows[i].first;
      for (const int id : rows[i].second) entries.emplace_back(int(i), id, 1.0);
    }
    s.X.setFromTriplets(entries.begin(), entries.end());  // sums repeated words into counts
    for (Index i = 0; i < s.X.rows(); ++i) {
      const double norm = s.X.row(i).norm();
      if (norm > 0) s.X.row(i) /= norm;
    }
    s.X.makeCompressed();
    return s;
  };
  c.train = build(docs["train"]);
  c.valid = build(docs["valid"]);
  c.test = build(docs["test"]);
  return c;
}

// Softmax regression over the sparse rows of a split. Parameter layout: word j's K weights are
// x[j·K, (j+1)·K), the K intercepts come last; so the coefficients a minibatch touches are the
// K-runs of its words, plus the intercepts.
class SparseSoftmax {
 public:
  explicit SparseSoftmax(const Split& data) : data_(&data), acc_(V::Zero(dimension())), seen_(data.X.cols(), 0) {}

  Index size() const { return data_->X.rows(); }
  Index features() const { return data_->X.cols(); }
  Index dimension() const { return (features() + 1) * kClasses; }

  // The mean cross-entropy over the batch, its gradient written into grad at the touched words'
  // K-runs (increasing) and the intercepts.
  double operator()(const V& x, descent::Batch batch, SparseGrad& grad) const {
    const Index d = features();
    touched_.clear();
    Eigen::Array<double, kClasses, 1> p, bias_grad = Eigen::Array<double, kClasses, 1>::Zero();
    double loss = 0;
    for (const Index i : batch) {
      loss += probabilities(x, data_->X, i, data_->y[i], p);
      p[data_->y[i]] -= 1.0;  // now p − e_y, the logits' gradient
      for (SparseRows::InnerIterator it(data_->X, i); it; ++it) {
        const Index j = it.col();
        if (!seen_[std::size_t(j)]) {
          seen_[std::size_t(j)] = 1;
          touched_.push_back(j);
        }
        acc_.segment<kClasses>(j * kClasses).array() += it.value() * p;
      }
      bias_grad += p;
    }
    std::sort(touched_.begin(), touched_.end());
    const double inv = 1.0 / double(batch.size());
    grad.setZero();
    grad.reserve(Index(touched_.size() + 1) * kClasses);
    for (const Index j : touched_) {
      for (Index k = 0; k < kClasses; ++k) grad.insertBack(j * kClasses + k) = inv * acc_[j * kClasses + k];
      acc_.segment<kClasses>(j * kClasses).setZero();
      seen_[std::size_t(j)] = 0;
    }
    for (Index k = 0; k < kClasses; ++k) grad.insertBack(d * kClasses + k) = inv * bias_grad[k];
    return inv * loss;
  }

  // Writes softmax(z) of row i of X into p and returns its cross-entropy with label y.
  static double probabilities(const V& x, const SparseRows& X, Index i, int y, Eigen::Array<double, kClasses, 1>& p) {
    const Index d = X.cols();
    Eigen::Array<double, kClasses, 1> z = x.segment<kClasses>(d * kClasses).array();
    for (SparseRows::InnerIterator it(X, i); it; ++it)
      z += it.value() * x.segment<kClasses>(it.col() * kClasses).array();
    const double top = z.maxCoeff();
    p = (z - top).exp();
    const double sum = p.sum();
    p /= sum;
    return std::log(sum) + top - z[y];
  }

 private:
  const Split* data_;
  mutable V acc_;
  mutable std::vector<char> seen_;
  mutable std::vector<Index> touched_;
};

struct Scores {
  double loss = 0, accuracy = 0;
};

Scores score(const V& x, const Split& s) {
  Scores out;
  Eigen::Array<double, kClasses, 1> p;
  for (Index i = 0; i < s.X.rows(); ++i) {
    out.loss += SparseSoftmax::probabilities(x, s.X, i, s.y[i], p);
    Index best = 0;
    p.maxCoeff(&best);
    out.accuracy += best == s.y[i] ? 1 : 0;
  }
  out.loss /= double(s.X.rows());
  out.accuracy /= double(s.X.rows());
  return out;
}

struct Epoch {
  double train_loss, valid_accuracy, test_accuracy, seconds;
};

struct Run {
  std::string optimizer;
  double lr;
  std::vector<Epoch> epochs;
  V x;
  double initial_train_loss;
};

template <class Optimizer>
Run train_one(const Corpus& c, const std::string& name, double lr, typename Optimizer::Options options,
              std::int64_t epochs, std::uint64_t seed) {
  const SparseSoftmax f(c.train);
  Run run{name, lr, {}, V::Zero(f.dimension()), 0};
  run.initial_train_loss = score(run.x, c.train).loss;
  options.lr = lr;
  Optimizer opt(options);
  const auto start = std::chrono::steady_clock::now();
  const auto per_epoch = [&](const descent::Progress<V>& p) {
    if (!p.end_of_epoch) return;
    const V x = p.params;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    run.epochs.push_back({score(x, c.train).loss, score(x, c.valid).accuracy, score(x, c.test).accuracy, seconds});
  };
  const descent::Report report =
      descent::train(f, run.x, opt, descent::MinibatchSampler(f.size(), {.batch_size = 32, .seed = seed}),
                     {.max_epochs = epochs}, per_epoch);
  if (report.reason != descent::StopReason::MaxEpochs)
    throw std::runtime_error(name + ": training stopped early: " + report.message);
  return run;
}

struct Grid {
  std::string_view name;
  std::vector<double> lrs;
};

// The rare-feature claim (Duchi, Hazan & Singer 2011: Adagrad gives a rare feature a large step
// when it does appear, where one global rate is tuned for the frequent ones). Measured three ways
// on the chosen run of each optimizer, with words bucketed by their occurrences in the training
// descriptions:
//   - how far each bucket's weights moved from 0: the mean Euclidean norm of a word's K weights
//     after subtracting their mean (softmax ignores a shift shared by the K classes);
//   - the test loss and accuracy with a bucket's weights set to 0 (intercepts kept): how much of
//     the model's held-out performance comes from what it learned about those words;
//   - the test accuracy on the third of the test descriptions with the largest share of rare
//     words (<= 10 training occurrences) among their vocabulary words.
struct Bucket {
  const char* name;
  double lo, hi;
};
constexpr std::array<Bucket, 4> kBuckets = {{{"2", 0, 2}, {"3-10", 3, 10}, {"11-100", 11, 100}, {">100", 101, 1e300}}};

struct RareWords {
  std::array<double, kBuckets.size()> norm{}, ablated_loss{}, ablated_accuracy{};
  std::array<Index, kBuckets.size()> words{};
  double full_loss = 0, rare_third_accuracy = 0;
};

int bucket_of(double count) {
  for (std::size_t b = 0; b < kBuckets.size(); ++b)
    if (count >= kBuckets[b].lo && count <= kBuckets[b].hi) return int(b);
  return -1;
}

std::vector<Index> rare_heavy_third(const Corpus& c) {
  std::vector<std::pair<double, Index>> share;
  for (Index i = 0; i < c.test.X.rows(); ++i) {
    double rare = 0, all = 0;
    for (SparseRows::InnerIterator it(c.test.X, i); it; ++it) {
      all += 1;
      rare += c.train_count[it.col()] <= 10 ? 1 : 0;
    }
    share.emplace_back(all > 0 ? rare / all : 0, i);
  }
  std::sort(share.begin(), share.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<Index> rows;
  for (std::size_t k = 0; k < share.size() / 3; ++k) rows.push_back(share[k].second);
  return rows;
}

RareWords rare_words(const Corpus& c, const V& x, const std::vector<Index>& heavy) {
  RareWords r;
  const Index d = Index(c.vocabulary.size());
  for (Index j = 0; j < d; ++j) {
    const int b = bucket_of(c.train_count[j]);
    const auto w = x.segment<kClasses>(j * kClasses).array();
    r.norm[std::size_t(b)] += (w - w.mean()).matrix().norm();
    ++r.words[std::size_t(b)];
  }
  for (std::size_t b = 0; b < kBuckets.size(); ++b) {
    r.norm[b] /= double(std::max<Index>(r.words[b], 1));
    V ablated = x;
    for (Index j = 0; j < d; ++j)
      if (bucket_of(c.train_count[j]) == int(b)) ablated.segment<kClasses>(j * kClasses).setZero();
    const Scores s = score(ablated, c.test);
    r.ablated_loss[b] = s.loss;
    r.ablated_accuracy[b] = s.accuracy;
  }
  r.full_loss = score(x, c.test).loss;
  Eigen::Array<double, kClasses, 1> p;
  for (const Index i : heavy) {
    SparseSoftmax::probabilities(x, c.test.X, i, c.test.y[i], p);
    Index best = 0;
    p.maxCoeff(&best);
    r.rare_third_accuracy += best == c.test.y[i] ? 1 : 0;
  }
  r.rare_third_accuracy /= double(heavy.size());
  return r;
}

// max over random directions u of |g·u − (f(x + hu) − f(x − hu))/2h| / |g·u|, on one batch.
double directional_gradient_error(const Split& s, const V& x) {
  const SparseSoftmax f(s);
  std::vector<Index> batch = {0, 5, 5, 17, 42, 3};
  SparseGrad g(f.dimension());
  f(x, batch, g);
  const V dense = V(g);
  descent::detail::SplitMix64 rng(11);
  double worst = 0;
  for (int trial = 0; trial < 5; ++trial) {
    V u(f.dimension());
    for (Index i = 0; i < u.size(); ++i) u[i] = rng.uniform(-1.0, 1.0);
    const double h = 1e-5, analytic = dense.dot(u);
    SparseGrad unused(f.dimension());
    const double numeric = (f(x + h * u, batch, unused) - f(x - h * u, batch, unused)) / (2 * h);
    worst = std::max(worst, std::abs(analytic - numeric) / std::abs(analytic));
  }
  return worst;
}

void write_history(const std::string& path, const std::vector<Run>& runs, const std::vector<std::size_t>& chosen) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) throw std::runtime_error("--history " + path + ": cannot open for writing");
  std::fputs("optimizer,lr,chosen,epoch,seconds,train_loss,valid_accuracy,test_accuracy\n", out);
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const bool is_chosen = std::find(chosen.begin(), chosen.end(), r) != chosen.end();
    std::fprintf(out, "%s,%g,%d,0,0,%.9g,,\n", runs[r].optimizer.c_str(), runs[r].lr, is_chosen ? 1 : 0,
                 runs[r].initial_train_loss);
    for (std::size_t e = 0; e < runs[r].epochs.size(); ++e) {
      const Epoch& ep = runs[r].epochs[e];
      std::fprintf(out, "%s,%g,%d,%zu,%.4f,%.9g,%.6f,%.6f\n", runs[r].optimizer.c_str(), runs[r].lr, is_chosen ? 1 : 0,
                   e + 1, ep.seconds, ep.train_loss, ep.valid_accuracy, ep.test_accuracy);
    }
  }
  const bool failed = std::ferror(out) != 0;
  if (std::fclose(out) != 0 || failed) throw std::runtime_error("--history " + path + ": error while writing");
  std::printf("per-epoch numbers written to %s\n", path.c_str());
}

struct Config {
  std::string data, history;
  std::int64_t epochs = 0;
  std::uint64_t seed = 7;  // of the minibatch order
  bool quick = false;
};

int run(const Config& cfg) {
  const auto start = std::chrono::steady_clock::now();
  const Corpus c = read_corpus(cfg.data);
  const std::int64_t epochs = cfg.epochs > 0 ? cfg.epochs : cfg.quick ? 5 : 30;
  const SparseSoftmax probe(c.train);
  double touched = 0;
  {
    SparseGrad g(probe.dimension());
    descent::MinibatchSampler sampler(probe.size(), {.batch_size = 32, .seed = 1});
    for (Index b = 0; b < 50; ++b) {
      probe(V::Zero(probe.dimension()), sampler.next(), g);
      touched += double(g.nonZeros()) / 50;
    }
  }
  std::array<Index, kClasses> per_class{};
  for (Index i = 0; i < c.test.y.size(); ++i) ++per_class[std::size_t(c.test.y[i])];
  const double majority = double(*std::max_element(per_class.begin(), per_class.end())) / double(c.test.y.size());
  std::printf(
      "%s: %lld train, %lld validation, %lld test descriptions, %zu words, %lld parameters, %.0f touched per "
      "batch of 32 (%.1f s to read)\n",
      cfg.data.c_str(), static_cast<long long>(c.train.X.rows()), static_cast<long long>(c.valid.X.rows()),
      static_cast<long long>(c.test.X.rows()), c.vocabulary.size(), static_cast<long long>(probe.dimension()), touched,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  std::printf("majority-class baseline: test accuracy %.4f\n\n", majority);

  // Steps of about 3x around each optimizer's best rate on this problem.
  const std::vector<Grid> grids = {
      {"Adagrad", {0.03, 0.1, 0.3, 1.0}}, {"SparseAdam", {3e-4, 1e-3, 3e-3, 1e-2}}, {"SGD", {1.0, 3.0, 10.0, 30.0}}};
  std::vector<Run> runs;
  std::vector<std::size_t> chosen;
  std::printf("%-11s %8s %12s %12s %12s %9s\n", "optimizer", "lr", "train loss", "valid acc", "test acc", "seconds");
  for (const Grid& grid : grids) {
    std::size_t best = runs.size();
    for (const double lr : grid.lrs) {
      if (grid.name == "Adagrad")
        runs.push_back(train_one<descent::Adagrad<V>>(c, std::string(grid.name), lr, {}, epochs, cfg.seed));
      else if (grid.name == "SparseAdam")
        runs.push_back(train_one<descent::SparseAdam<V>>(c, std::string(grid.name), lr, {}, epochs, cfg.seed));
      else
        runs.push_back(train_one<descent::SGD<V>>(c, std::string(grid.name), lr, {}, epochs, cfg.seed));
      const Epoch& last = runs.back().epochs.back();
      std::printf("%-11s %8g %12.4f %12.4f %12.4f %9.2f\n", runs.back().optimizer.c_str(), lr, last.train_loss,
                  last.valid_accuracy, last.test_accuracy, last.seconds);
      if (last.valid_accuracy > runs[best].epochs.back().valid_accuracy) best = runs.size() - 1;
    }
    chosen.push_back(best);
  }

  std::printf("\nchosen on validation accuracy after epoch %lld; test accuracy after epoch:\n",
              static_cast<long long>(epochs));
  std::vector<std::int64_t> shown;
  for (std::int64_t e : {1, 2, 3, 5, 10, 20, 30, 50})
    if (e <= epochs) shown.push_back(e);
  if (shown.back() != epochs) shown.push_back(epochs);
  std::printf("%-11s %8s", "optimizer", "lr");
  for (const auto e : shown) std::printf(" %7lld", static_cast<long long>(e));
  std::printf("\n");
  for (const std::size_t r : chosen) {
    std::printf("%-11s %8g", runs[r].optimizer.c_str(), runs[r].lr);
    for (const auto e : shown) std::printf(" %7.4f", runs[r].epochs[std::size_t(e - 1)].test_accuracy);
    std::printf("\n");
  }

  const std::vector<Index> heavy = rare_heavy_third(c);
  std::printf("\nrare words (buckets by occurrences in the training descriptions; test set):\n");
  std::printf("%-11s %-22s", "optimizer", "");
  for (const Bucket& b : kBuckets) std::printf(" %10s", b.name);
  std::printf("\n%-11s %-22s", "", "words");
  {
    const RareWords counts = rare_words(c, runs[chosen[0]].x, heavy);
    for (const Index w : counts.words) std::printf(" %10lld", static_cast<long long>(w));
  }
  std::printf("\n");
  std::vector<RareWords> found;
  for (const std::size_t r : chosen) {
    const RareWords rw = rare_words(c, runs[r].x, heavy);
    found.push_back(rw);
    std::printf("%-11s %-22s", runs[r].optimizer.c_str(), "mean centred |w|");
    for (const double v : rw.norm) std::printf(" %10.3f", v);
    std::printf("\n%-11s %-22s", "", "test loss rise if 0");
    for (const double v : rw.ablated_loss) std::printf(" %+10.4f", v - rw.full_loss);
    std::printf("\n%-11s %-22s", "", "test acc drop if 0");
    for (const double v : rw.ablated_accuracy) std::printf(" %+10.4f", runs[r].epochs.back().test_accuracy - v);
    std::printf("\n%-11s %-22s %10.4f (all test: %.4f)\n", "", "rare-heavy third acc", rw.rare_third_accuracy,
                runs[r].epochs.back().test_accuracy);
  }
  if (!cfg.history.empty()) write_history(cfg.history, runs, chosen);

  std::vector<std::string> failures;
  auto check = [&](bool ok, const std::string& what) {
    std::printf("  [%s] %s\n", ok ? "pass" : "FAIL", what.c_str());
    if (!ok) failures.push_back(what);
  };
  std::printf("\n== checks ==\n");
  for (const std::size_t r : chosen) {
    const Run& run = runs[r];
    check(run.epochs.back().test_accuracy > majority + 0.3,
          run.optimizer + ": test accuracy beats the majority class by more than 0.3");
    check(run.epochs.back().train_loss < 0.7 * run.initial_train_loss,
          run.optimizer + ": the training loss falls below 0.7 of its start (log 8)");
  }
  if (cfg.quick) {
    const double error = directional_gradient_error(c.train, runs[chosen[0]].x);
    check(error < 1e-6, "the sparse gradient matches central differences along 5 random directions (< 1e-6)");
  }
  std::printf("%s (%.1f s)\n", failures.empty() ? "all checks passed" : "SOME CHECKS FAILED",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return failures.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
#ifdef DESCENT_EXAMPLES_DATA_DIR
  cfg.data = DESCENT_EXAMPLES_DATA_DIR "/debian_descriptions.txt";
#else
  cfg.data = "examples/data/debian_descriptions.txt";
#endif
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      const bool has_value = i + 1 < argc;
      if (arg == "--quick") {
        cfg.quick = true;
      } else if (arg == "--epochs" && has_value) {
        cfg.epochs = std::stoll(argv[++i]);
      } else if (arg == "--seed" && has_value) {
        cfg.seed = std::stoull(argv[++i]);
      } else if (arg == "--history" && has_value) {
        cfg.history = argv[++i];
      } else if (arg == "--data" && has_value) {
        cfg.data = argv[++i];
      } else {
        std::fprintf(stderr, "usage: %s [--epochs N] [--seed N] [--history FILE.csv] [--data FILE] [--quick]\n",
                     argv[0]);
        return 2;
      }
    }
    return run(cfg);
  } catch (const std::exception& e) {
    std::cerr << "sparse_text: " << e.what() << '\n';
    return 2;
  }
}
