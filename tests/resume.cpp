// Cross-process resume: `descent_resume CASE first DIR` trains part of a run and saves everything
// (parameters, optimizer, sampler, scheduler, the steps taken) to DIR/CASE.ckpt; `descent_resume
// CASE continue DIR`, a new process, loads it into freshly constructed objects, trains the rest, and
// compares with the same run done uninterrupted in that process: parameters, optimizer state,
// sampler state, every group's lr and the sequence of batches must be bit-identical.
//
//   sgd_steplr      SGD with momentum, StepLR stepped per step; stopped by max_iterations mid-epoch
//   adam_onecycle   Grouped Adam (weights / biases) with OneCycleLR; stopped by max_iterations mid-epoch
//   rmsprop_plateau centered RMSProp with momentum, ReduceLROnPlateau on a validation metric per
//                   epoch; stopped by time_limit (so after however many steps fit in it)

#include <chrono>
#include <cstdio>
#include <descent/checkpoint.hpp>
#include <descent/descent.hpp>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using V = Eigen::VectorXd;

// A linear model y = W a + b (W 2x4, b 2) fitted to noisy data by least squares; the parameters
// are [vec(W); b].
struct Regression {
  Eigen::MatrixXd a, y;
  std::vector<std::vector<Eigen::Index>>* batches = nullptr;  // the batches seen, when recording
  double delay = 0;                                           // seconds per call (time_limit case)

  Eigen::Index size() const { return a.cols(); }
  double operator()(const V& x, descent::Batch batch, V& grad) const {
    if (batches) batches->emplace_back(batch.begin(), batch.end());
    if (delay > 0) std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    const Eigen::Map<const Eigen::MatrixXd> w(x.data(), 2, 4);
    const auto b = x.tail(2);
    Eigen::Map<Eigen::MatrixXd> gw(grad.data(), 2, 4);
    auto gb = grad.tail(2);
    grad.setZero();
    double loss = 0;
    for (Eigen::Index i : batch) {
      const Eigen::Vector2d r = w * a.col(i) + b - y.col(i);
      loss += 0.5 * r.squaredNorm();
      gw += r * a.col(i).transpose();
      gb += r;
    }
    grad /= double(batch.size());
    return loss / double(batch.size());
  }
};

Regression make_data() {
  const Eigen::Index n = 60;
  Regression r{Eigen::MatrixXd(4, n), Eigen::MatrixXd(2, n)};
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < 4; ++i) r.a(i, j) = std::sin(1.3 * double(i + 1) * double(j) + 0.4);
    r.y(0, j) = 0.5 * r.a(0, j) - r.a(2, j) + 0.1 * std::cos(7.0 * double(j));
    r.y(1, j) = 1.5 * r.a(1, j) + 0.3 * r.a(3, j) - 0.2 + 0.1 * std::sin(5.0 * double(j));
  }
  return r;
}

double validation(const V& x) { return x.squaredNorm() * 1e-3 + std::abs(x(0) - 0.5) + std::abs(x(9) + 0.2); }

// How many steps the first process took: a type of ours in the checkpoint.
struct RunProgress {
  std::int64_t steps = 0;
};
void descent_checkpoint_save(descent::CheckpointWriter& w, const RunProgress& p) {
  w.kind("resume::Progress");
  w.value("steps", p.steps);
}
void descent_checkpoint_load(const descent::CheckpointReader& r, RunProgress& p) {
  r.expect_kind("resume::Progress");
  p.steps = r.integer("steps");
}

constexpr std::int64_t total_steps = 150;
const descent::SamplerOptions sampling{.batch_size = 7, .seed = 2024};  // 9 batches per epoch

descent::Layout layout() {
  descent::Layout l;
  l.add("W", 2, 4);
  l.add("b", 2);
  return l;
}

/// One case: its objects, built the same way in every process, and how a part of the run goes.
template <class Opt, class Sched>
struct Run {
  Opt optimizer;
  descent::MinibatchSampler sampler{60, sampling};
  Sched scheduler;
  V x = V::Constant(10, 0.25);

  template <class MakeOpt, class MakeSched>
  Run(MakeOpt make_opt, MakeSched make_sched) : optimizer(make_opt()), scheduler(make_sched(optimizer)) {}
  Run(const Run&) = delete;

  descent::Report train(Regression& f, descent::StopCriteria stop) {
    if constexpr (requires { scheduler.step(0.0); })
      return descent::train(f, x, optimizer, sampler, stop,
                            descent::every_epoch(scheduler, [](const V& p) { return validation(p); }));
    else
      return descent::train(f, x, optimizer, sampler, stop, descent::every_step(scheduler));
  }
  void put(descent::Checkpoint& ck) const {
    ck.put("params", x);
    ck.put("optimizer", optimizer);
    ck.put("sampler", sampler);
    ck.put("scheduler", scheduler);
  }
  void get(const descent::Checkpoint& ck) {
    ck.get("params", x);
    ck.get("optimizer", optimizer);
    ck.get("sampler", sampler);
    ck.get("scheduler", scheduler);
  }
  std::vector<double> lrs() const {
    if constexpr (requires { optimizer.group_count(); }) {
      std::vector<double> out;
      for (std::size_t g = 0; g < optimizer.group_count(); ++g) out.push_back(optimizer.lr(g));
      return out;
    } else {
      return {optimizer.lr()};
    }
  }
};

std::string state(const auto& x) {
  descent::Checkpoint ck;
  ck.put("x", x);
  std::ostringstream out;
  ck.save(out);
  return out.str();
}

template <class MakeRun>
int run_case(const std::string& name, const std::string& phase, const std::string& dir, MakeRun make_run,
             descent::StopCriteria first_stop, double delay) {
  const std::string path = dir + "/" + name + ".ckpt";
  Regression f = make_data();
  if (phase == "first") {
    auto run = make_run();
    f.delay = delay;
    const descent::Report report = run->train(f, first_stop);
    descent::Checkpoint ck;
    run->put(ck);
    ck.put("progress", RunProgress{report.iterations});
    ck.save(path);
    std::printf("%s: first process: %lld steps (%s), mid-epoch: %s, saved %s\n", name.c_str(),
                static_cast<long long>(report.iterations), std::string(descent::to_string(report.reason)).c_str(),
                run->sampler.end_of_epoch() ? "no" : "yes", path.c_str());
    return 0;
  }
  if (phase != "continue") return std::fprintf(stderr, "unknown phase %s\n", phase.c_str()), 2;

  const auto ck = descent::Checkpoint::load(std::filesystem::path(path));
  RunProgress done;
  ck.get("progress", done);
  if (done.steps <= 0 || done.steps >= total_steps) {
    std::fprintf(stderr, "%s: the first process took %lld of %lld steps; nothing to resume\n", name.c_str(),
                 static_cast<long long>(done.steps), static_cast<long long>(total_steps));
    return 1;
  }
  auto resumed = make_run();
  resumed->get(ck);
  std::vector<std::vector<Eigen::Index>> resumed_batches, whole_batches;
  f.batches = &resumed_batches;
  resumed->train(f, {.max_iterations = total_steps - done.steps});

  auto whole = make_run();
  f.batches = &whole_batches;
  whole->train(f, {.max_iterations = total_steps});
  whole_batches.erase(whole_batches.begin(), whole_batches.begin() + done.steps);

  int failures = 0;
  auto check = [&](bool ok, const char* what) {
    std::printf("  %-26s %s\n", what, ok ? "bit-identical" : "DIFFERENT");
    failures += !ok;
  };
  std::printf("%s: resumed after %lld of %lld steps in a new process\n", name.c_str(),
              static_cast<long long>(done.steps), static_cast<long long>(total_steps));
  check(resumed->x == whole->x, "parameters");
  check(state(resumed->optimizer) == state(whole->optimizer), "optimizer state");
  check(state(resumed->sampler) == state(whole->sampler), "sampler state");
  check(state(resumed->scheduler) == state(whole->scheduler), "scheduler state");
  check(resumed->lrs() == whole->lrs(), "lrs");
  check(resumed_batches == whole_batches, "batch sequence");
  std::printf("  final lr %.17g, |x| %.17g\n", resumed->lrs().front(), resumed->x.norm());
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s sgd_steplr|adam_onecycle|rmsprop_plateau first|continue DIR\n", argv[0]);
    return 2;
  }
  const std::string name = argv[1], phase = argv[2], dir = argv[3];
  try {
    if (name == "sgd_steplr") {
      using R = Run<descent::SGD<V>, descent::Scheduler<descent::SGD<V>, descent::StepLR>>;
      auto make = [] {
        return std::make_unique<R>(
            [] { return descent::SGD<V>({.lr = 0.05, .momentum = 0.9}); },
            [](auto& o) { return descent::Scheduler(o, descent::StepLR{.step_size = 20, .gamma = 0.5}); });
      };
      return run_case(name, phase, dir, make, {.max_iterations = 40}, 0);  // 40 = 4 epochs + 4 batches
    }
    if (name == "adam_onecycle") {
      using O = descent::Grouped<descent::Adam<V>>;
      using R = Run<O, descent::Scheduler<O, descent::OneCycleLR>>;
      auto make = [] {
        return std::make_unique<R>(
            [] {
              const auto l = layout();
              return O({{l.blocks({"W"}), {.lr = 0.01, .weight_decay = 1e-3, .amsgrad = true}},
                        {l.blocks({"b"}), {.lr = 0.02, .amsgrad = true}}});
            },
            [](auto& o) {
              return descent::Scheduler(o, descent::OneCycleLR{.max_lr = 0.05, .total_steps = total_steps});
            });
      };
      return run_case(name, phase, dir, make, {.max_iterations = 67}, 0);  // 7 epochs + 4 batches
    }
    if (name == "rmsprop_plateau") {
      using O = descent::RMSProp<V>;
      using R = Run<O, descent::ReduceLROnPlateau<O>>;
      auto make = [] {
        return std::make_unique<R>(
            [] { return O({.lr = 0.02, .momentum = 0.5, .centered = true}); },
            [](auto& o) { return descent::ReduceLROnPlateau(o, {.factor = 0.5, .patience = 1}); });
      };
      // ~1 ms per step: the time limit stops it after some tens of steps
      return run_case(name, phase, dir, make, {.max_iterations = total_steps - 1, .time_limit = 0.05}, 1e-3);
    }
    std::fprintf(stderr, "unknown case %s\n", name.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), e.what());
    return 1;
  }
}
