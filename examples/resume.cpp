// A training run that survives being stopped: logistic regression on the breast cancer data set
// with Adam and a StepLR schedule, checkpointed every few epochs. Started again after an
// interruption (a time limit on a cluster, a crash, Ctrl-C), it resumes from its last checkpoint
// and ends exactly — bit for bit — where an uninterrupted run ends.
//
// Usage: resume [--checkpoint PATH] [--epochs N] [--every K] [--interrupt-after E] [--verify]
//   --interrupt-after E  stop after epoch E without saving (as a killed process would)
//   --verify             at the end, train again from scratch without interruption and compare
//
//   resume --interrupt-after 12   # saves at epochs 5 and 10, then "dies" at 12
//   resume --verify               # resumes from epoch 10, finishes, checks against a fresh run
#include <cstdio>
#include <cstring>
#include <descent/checkpoint.hpp>
#include <descent/descent.hpp>
#include <descent/problems/logistic_regression.hpp>
#include <filesystem>
#include <optional>
#include <string>

#include "common/csv.hpp"

namespace {

using Model = descent::problems::LogisticRegression<double>;
using V = Eigen::VectorXd;

struct Settings {
  std::string checkpoint = "resume.ckpt";
  std::int64_t epochs = 40, every = 5, interrupt_after = 0;
  bool verify = false;
};

/// Trains `model` to `s.epochs` epochs, resuming from s.checkpoint when it exists and saving to
/// it every s.every epochs (when `save` is set). Returns the final weights, or nothing when
/// the run was interrupted.
std::optional<V> run(const Model& model, const Settings& s, bool save) {
  // Everything a run's future depends on, built exactly as in the first run; a checkpoint then
  // overwrites their state.
  V w = V::Zero(model.dimension());
  descent::Adam<V> adam({.lr = 0.05});
  descent::MinibatchSampler batches(model.size(), {.batch_size = 32, .seed = 7});
  descent::Scheduler schedule(adam, descent::StepLR{.step_size = 10, .gamma = 0.5});
  descent::History history;

  if (save && std::filesystem::exists(s.checkpoint)) {
    const auto ck = descent::Checkpoint::load(std::filesystem::path(s.checkpoint));
    ck.get("weights", w);
    ck.get("optimizer", adam);
    ck.get("sampler", batches);
    ck.get("scheduler", schedule);
    ck.get("history", history);
    std::printf("resumed from %s after epoch %zu (lr %g)\n", s.checkpoint.c_str(), history.epochs().size(), adam.lr());
  }
  const auto done = std::int64_t(history.epochs().size());
  if (done >= s.epochs) return w;

  // Called after History and the schedule (callbacks run in order), so that the checkpoint holds
  // their state at the end of the epoch too.
  auto checkpoint = [&](const descent::Progress<V>& p) {
    if (!p.end_of_epoch) return true;
    const std::int64_t epoch = done + p.epoch;
    if (save && epoch % s.every == 0) {
      descent::Checkpoint ck;
      ck.put("weights", p.params);
      ck.put("optimizer", adam);
      ck.put("sampler", batches);
      ck.put("scheduler", schedule);
      ck.put("history", history);
      ck.save(std::filesystem::path(s.checkpoint));  // atomic: a crash here keeps the previous one
      std::printf("  epoch %2lld: loss %.6f, lr %g, saved %s\n", static_cast<long long>(epoch), p.loss, adam.lr(),
                  s.checkpoint.c_str());
    }
    return !(save && s.interrupt_after > 0 && epoch >= s.interrupt_after);  // false: "the process dies"
  };
  const descent::Report report =
      descent::train(model, w, adam, batches, {.max_iterations = 0, .max_epochs = s.epochs - done}, history,
                     descent::every_epoch(schedule), checkpoint);
  if (report.reason == descent::StopReason::Callback) {
    std::printf("interrupted after epoch %lld; run again to resume from the last checkpoint\n",
                static_cast<long long>(done + report.epochs));
    return std::nullopt;
  }
  return w;
}

}  // namespace

int main(int argc, char** argv) try {
  namespace ex = descent::examples;
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--checkpoint")
      s.checkpoint = next();
    else if (a == "--epochs")
      s.epochs = std::stoll(next());
    else if (a == "--every")
      s.every = std::stoll(next());
    else if (a == "--interrupt-after")
      s.interrupt_after = std::stoll(next());
    else if (a == "--verify")
      s.verify = true;
    else
      throw std::invalid_argument("unknown argument " + a);
  }

  const auto [X, y] =
      ex::split_features_labels(ex::read_csv(std::string(DESCENT_EXAMPLES_DATA_DIR) + "/breast_cancer.csv"));
  Eigen::MatrixXd features = X;
  ex::Standardizer::fit(features).transform(features);
  const Model model = Model::from_rows(features, y, {.l2 = 1e-3});

  const std::optional<V> w = run(model, s, true);
  if (!w) return 0;
  std::printf("weights after %lld epochs: training accuracy %.4f\n", static_cast<long long>(s.epochs),
              model.accuracy(*w));
  if (!s.verify) return 0;
  const std::optional<V> fresh = run(model, s, false);
  const bool same = fresh && *fresh == *w;
  std::printf("an uninterrupted run from scratch ends %s\n", same ? "bit-identical" : "DIFFERENT");
  return same ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "resume: %s\n", e.what());
  return 2;
}
