// Fashion-MNIST trained by descent and by libtorch side by side (docs/performance.md, "Fashion-MNIST
// training against libtorch"; built only with -DDESCENT_BENCH_TORCH=ON, zlib and the data).
//
//   fashion_torch [--epochs N] [--model mlp|softmax|both] [--torch-threads T] [--repetitions R]
//                 [--no-train] [--no-breakdown] [--data DIR]
//
// Training: for the MLP 784-256-128-10 and softmax regression, with Adam (lr 1e-3) and SGD with
// Nesterov momentum (lr 0.05, momentum 0.9), constant lr, no weight decay, float, minibatches of
// 128, N epochs (default 3). descent trains exactly as examples/fashion_mnist does:
// descent::train over examples/common/fashion_net.hpp's Objective<float>, from net.initial(42),
// with MinibatchSampler(n, {.batch_size = 128, .seed = 1}). libtorch (fashion_torch_libtorch.cpp)
// trains torch::nn::Linear layers started from the same vector, on the same minibatches in the
// same order (drawn from a second sampler with the same seed, so the same indices), with
// torch::optim::Adam or SGD(nesterov) and cross_entropy, once with 1 intra-op thread and once with
// torch's default if that differs, and with T threads too if --torch-threads T is given (torch's
// default is 1 on a 2-vCPU guest, where it counts one physical core). Printed per model and optimizer: seconds per epoch (training only; the test
// accuracy is computed after the last epoch, outside the timing), the final test accuracy, the
// first minibatch's loss at the initial weights (equal up to float rounding if the two networks
// are the same) and the mean training loss of epoch 1.
//
// Eigen is single-threaded unless this file is compiled with -fopenmp (DESCENT_BENCH_FASHION_OPENMP):
// then its products use OpenMP's threads, which libtorch's at::set_num_threads changes too (both use
// libgomp), so every descent run first restores the count Eigen had at startup.
//
// Breakdown (each model, Adam, one epoch's 469 batches, steady_clock around each phase, the
// repetition with the smallest total of R, default 3): where a descent batch's time goes, with the
// objective rewritten with preallocated buffers so that each phase can be timed (its loss and
// gradient are checked against Objective<float>'s); that against Objective<float>'s own cost per
// batch (which allocates its activations and looks blocks up by name on every call) and
// descent::train's; and torch's phases (gather, forward, loss, backward, step) for comparison.
#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <descent/descent.hpp>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/fashion_net.hpp"
#include "common/idx.hpp"
#include "fashion_torch.hpp"

namespace {

using Eigen::Index;
using descent::examples::FashionMnist;
using descent::examples::Net;
using descent::examples::Objective;
using Clock = std::chrono::steady_clock;
using V = Eigen::VectorXf;
using M = Eigen::MatrixXf;
namespace ft = fashion_torch;

constexpr Index batch_size = 128;
int eigen_threads = 1;  // Eigen::nbThreads() at startup

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

descent::MinibatchSampler make_sampler(Index n) { return descent::MinibatchSampler(n, {.batch_size = batch_size, .seed = 1}); }

ft::Batches draw_batches(Index n, std::int64_t epochs) {
  descent::MinibatchSampler sampler = make_sampler(n);
  ft::Batches b;
  b.per_epoch = sampler.batches_per_epoch();
  b.starts.push_back(0);
  for (std::int64_t k = 0; k < epochs * b.per_epoch; ++k) {
    for (Index i : sampler.next()) b.indices.push_back(i);
    b.starts.push_back(std::int64_t(b.indices.size()));
  }
  return b;
}

std::span<const Index> batch_of(const ft::Batches& b, std::int64_t k) {
  const auto begin = std::size_t(b.starts[std::size_t(k)]), end = std::size_t(b.starts[std::size_t(k) + 1]);
  static_assert(sizeof(Index) == sizeof(std::int64_t));
  return {reinterpret_cast<const Index*>(b.indices.data()) + begin, end - begin};
}

template <class O>
ft::Run descent_run(const Net<float>& net, const FashionMnist<float>& data, const ft::Batches& batches, O opt,
                    std::int64_t epochs) {
  Eigen::setNbThreads(eigen_threads);
  const Objective<float> objective{net, data.train};
  V w = net.initial(42);
  ft::Run run;
  {
    V g(w.size());
    run.first_loss = objective(w, batch_of(batches, 0), g);
  }
  descent::MinibatchSampler sampler = make_sampler(objective.size());
  auto last = Clock::now();
  const auto record = [&](const descent::Progress<V>& p) {
    if (!p.end_of_epoch) return;
    run.seconds.push_back(since(last));
    run.epoch_loss.push_back(p.loss);
    last = Clock::now();
  };
  descent::train(objective, w, opt, sampler, {.max_iterations = 0, .max_epochs = epochs}, record);
  run.accuracy = net.accuracy(w, data.test);
  return run;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / double(v.size());
}

// Objective<float>'s loss and gradient, the same arithmetic in the same order, over buffers
// allocated once and blocks looked up once, with a clock around each phase.
struct TimedNet {
  struct Seconds {
    double gather = 0, forward_products = 0, forward_elementwise = 0, loss = 0, backward_products = 0,
           backward_elementwise = 0, step = 0, checks = 0, copy = 0, total = 0;
  };
  const Net<float>& net;
  std::vector<descent::Block> W, b, gW, gb;
  std::vector<M> acts;  // acts[0] the minibatch, acts[l] layer l's output
  M dZ, dA;
  Eigen::RowVectorXf total;
  Seconds s;

  explicit TimedNet(const Net<float>& n) : net(n), acts(n.layers() + 1) {
    for (std::size_t l = 1; l <= n.layers(); ++l) {
      W.push_back(n.layout.block(Net<float>::block('W', l)));
      b.push_back(n.layout.block(Net<float>::block('b', l)));
    }
  }
  static auto matrix(const V& w, const descent::Block& blk) { return Eigen::Map<const M>(w.data() + blk.offset, blk.rows, blk.cols); }
  static auto matrix(V& w, const descent::Block& blk) { return Eigen::Map<M>(w.data() + blk.offset, blk.rows, blk.cols); }

  double loss(const V& w, const descent::examples::LabelledImages<float>& data, std::span<const Index> batch, V& grad) {
    const std::size_t L = net.layers();
    auto t = Clock::now();
    const auto tick = [&t](double& into) {
      const auto now = Clock::now();
      into += std::chrono::duration<double>(now - t).count();
      t = now;
    };
    acts[0] = data.X(Eigen::all, batch);
    tick(s.gather);
    for (std::size_t l = 1; l <= L; ++l) {
      acts[l].noalias() = matrix(w, W[l - 1]) * acts[l - 1];
      tick(s.forward_products);
      acts[l].colwise() += matrix(w, b[l - 1]).col(0);
      if (l < L) acts[l] = acts[l].cwiseMax(0.0f);
      tick(s.forward_elementwise);
    }
    M& P = acts[L];
    P.rowwise() -= P.colwise().maxCoeff();
    double sum = 0;
    for (Index i = 0; i < P.cols(); ++i) sum -= double(P(data.y[batch[std::size_t(i)]], i));
    P = P.array().exp().matrix();
    total = P.colwise().sum();
    for (Index i = 0; i < P.cols(); ++i) sum += std::log(double(total[i]));
    const double m = double(batch.size());
    P.array().rowwise() /= total.array();
    for (Index i = 0; i < P.cols(); ++i) P(data.y[batch[std::size_t(i)]], i) -= 1.0f;
    dZ = P / float(m);
    tick(s.loss);
    for (std::size_t l = L; l >= 1; --l) {
      matrix(grad, W[l - 1]).noalias() = dZ * acts[l - 1].transpose();
      tick(s.backward_products);
      matrix(grad, b[l - 1]).col(0) = dZ.rowwise().sum();
      tick(s.backward_elementwise);
      if (l == 1) break;
      dA.noalias() = matrix(w, W[l - 1]).transpose() * dZ;
      tick(s.backward_products);
      dZ = (acts[l - 1].array() > 0.0f).select(dA, 0.0f);
      tick(s.backward_elementwise);
    }
    return sum / m;
  }
};

// Multiply-adds of one batch of m samples, times 2: the forward products W·A, and backward the
// gradient products dZ·Aᵀ (every layer) and Wᵀ·dZ (every layer but the first).
double product_flops(const Net<float>& net, double m, bool forward) {
  double f = 0;
  for (std::size_t l = 1; l <= net.layers(); ++l) {
    const double mn = double(net.sizes[l]) * double(net.sizes[l - 1]);
    f += forward ? 2 * mn * m : 2 * mn * m * (l > 1 ? 2 : 1);
  }
  return f;
}

void breakdown(const Net<float>& net, const FashionMnist<float>& data, const ft::Problem& problem,
               const ft::Batches& batches, int repetitions) {
  Eigen::setNbThreads(eigen_threads);
  const Objective<float> objective{net, data.train};
  const V w0 = net.initial(42);
  const auto n = double(batches.per_epoch);

  // The rewrite computes what Objective<float> computes.
  {
    TimedNet timed(net);
    V g1(w0.size()), g2(w0.size());
    const double l1 = objective(w0, batch_of(batches, 0), g1);
    const double l2 = timed.loss(w0, data.train, batch_of(batches, 0), g2);
    std::printf("check: preallocated rewrite vs Objective<float> on batch 0: loss difference %.2e, "
                "max gradient difference %.2e\n",
                std::abs(l1 - l2), double((g1 - g2).cwiseAbs().maxCoeff()));
  }

  TimedNet::Seconds best;
  double best_objective = 0, best_train = 0, best_step = 0, best_checks = 0;
  for (int r = 0; r < repetitions; ++r) {
    // One instrumented epoch of Adam, with what descent::train does around each step (keep the
    // previous point, check the loss, gradient and new point are finite).
    TimedNet timed(net);
    V w = w0, grad(w0.size()), previous(w0.size());
    descent::Adam<V> adam(descent::AdamOptions{.lr = 1e-3});
    const auto start = Clock::now();
    for (std::int64_t k = 0; k < batches.per_epoch; ++k) {
      const double loss = timed.loss(w, data.train, batch_of(batches, k), grad);
      auto t = Clock::now();
      const bool finite = std::isfinite(loss) && grad.allFinite();
      timed.s.checks += since(t);
      t = Clock::now();
      previous = w;
      timed.s.copy += since(t);
      t = Clock::now();
      adam.step(w, grad);
      timed.s.step += since(t);
      t = Clock::now();
      if (!finite || !w.allFinite()) throw std::runtime_error("breakdown: non-finite loss or step");
      timed.s.checks += since(t);
    }
    timed.s.total = since(start);
    if (r == 0 || timed.s.total < best.total) best = timed.s;

    // Objective<float> as the example calls it (gather, allocations and lookups included), at
    // fixed weights over the same batches.
    V g(w0.size());
    auto t = Clock::now();
    double sink = 0;
    for (std::int64_t k = 0; k < batches.per_epoch; ++k) sink += objective(w0, batch_of(batches, k), g);
    const double per_objective = since(t) / n;
    if (!std::isfinite(sink)) throw std::runtime_error("breakdown: non-finite loss");
    if (r == 0 || per_objective < best_objective) best_objective = per_objective;

    // Adam's step alone, on the same parameters and gradient.
    descent::Adam<V> alone(descent::AdamOptions{.lr = 1e-3});
    V x = w0;
    t = Clock::now();
    for (std::int64_t k = 0; k < batches.per_epoch; ++k) alone.step(x, grad);
    const double per_step = since(t) / n;
    if (r == 0 || per_step < best_step) best_step = per_step;

    // The same two finiteness checks as a vectorizable reduction: x·0 is 0 for a finite x and NaN
    // otherwise, and a sum of zeros is exactly 0, so this is exact where allFinite()'s boolean
    // reduction runs one coefficient at a time.
    t = Clock::now();
    bool all_finite = true;
    for (std::int64_t k = 0; k < batches.per_epoch; ++k)
      all_finite = all_finite && (grad.array() * 0.0f).sum() == 0.0f && (x.array() * 0.0f).sum() == 0.0f;
    const double per_checks = since(t) / n;
    if (!all_finite) throw std::runtime_error("breakdown: non-finite gradient or step");
    if (r == 0 || per_checks < best_checks) best_checks = per_checks;

    // descent::train's epoch, the whole path of the side-by-side.
    const ft::Run one = descent_run(net, data, batches, descent::Adam<V>(descent::AdamOptions{.lr = 1e-3}), 1);
    if (r == 0 || one.seconds[0] / n < best_train) best_train = one.seconds[0] / n;
  }

  const ft::Phases torch1 = ft::torch_phases(problem, batches, 1, repetitions);
  const double ms = 1e3;
  const double ff = product_flops(net, double(batch_size), true), bf = product_flops(net, double(batch_size), false);
  std::printf("\nbreakdown: %s, Adam, ms per batch of 128 (mean over one epoch's %lld batches; the repetition "
              "with the smallest total of %d)\n",
              net.layers() > 1 ? "MLP" : "softmax regression", static_cast<long long>(batches.per_epoch), repetitions);
  std::printf("| phase | descent (preallocated rewrite) | libtorch, 1 thread |\n|---|---:|---:|\n");
  std::printf("| minibatch gather X(all, batch) / index_select | %.3f | %.3f |\n", best.gather / n * ms, torch1.gather * ms);
  std::printf("| forward: matrix products W·A | %.3f (%.1f GFLOP/s) | %.3f (whole forward, autograd recording) |\n",
              best.forward_products / n * ms, ff / (best.forward_products / n) * 1e-9, torch1.forward * ms);
  std::printf("| forward: bias, ReLU | %.3f | (in forward) |\n", best.forward_elementwise / n * ms);
  std::printf("| softmax, loss, dZ at the top | %.3f | %.3f (cross_entropy forward only) |\n", best.loss / n * ms,
              torch1.loss * ms);
  std::printf("| backward: matrix products dZ·Aᵀ, Wᵀ·dZ | %.3f (%.1f GFLOP/s) | %.3f (whole backward) |\n",
              best.backward_products / n * ms, bf / (best.backward_products / n) * 1e-9, torch1.backward * ms);
  std::printf("| backward: bias sums, ReLU mask | %.3f | (in backward) |\n", best.backward_elementwise / n * ms);
  std::printf("| optimizer step (Adam, %lld floats) | %.3f | %.3f (step + zero_grad) |\n",
              static_cast<long long>(net.dimension()), best.step / n * ms,
              torch1.step * ms);
  std::printf("| train: finiteness checks of the gradient and of x | %.3f | - |\n", best.checks / n * ms);
  std::printf("| (the same checks as a vectorized sum of x·0, measured alone) | (%.3f) | - |\n", best_checks * ms);
  std::printf("| train: copy of x kept to undo a non-finite step | %.3f | - |\n", best.copy / n * ms);
  std::printf("| total | %.3f | %.3f |\n", best.total / n * ms, torch1.total * ms);
  const double rewrite = (best.gather + best.forward_products + best.forward_elementwise + best.loss +
                          best.backward_products + best.backward_elementwise) /
                         n;
  std::printf("\nObjective<float> per batch (as the example; allocates, looks blocks up by name): %.3f ms; the "
              "preallocated rewrite: %.3f ms (difference %.3f ms)\n",
              best_objective * ms, rewrite * ms, (best_objective - rewrite) * ms);
  std::printf("Adam step alone: %.3f ms; descent::train epoch per batch: %.3f ms = Objective %.3f + step %.3f + "
              "rest %.3f\n",
              best_step * ms, best_train * ms, best_objective * ms, best_step * ms,
              (best_train - best_objective - best_step) * ms);
}

struct Config {
  std::string data_dir, model = "both";
  std::int64_t epochs = 3;
  int repetitions = 3, torch_threads = 0;
  bool train = true, breakdown = true;
};

void side_by_side(const Config& c, const FashionMnist<float>& data, const std::vector<Index>& sizes) {
  const Net<float> net(sizes);
  const bool mlp = sizes.size() > 2;
  const V w0 = net.initial(42);
  ft::Problem problem;
  for (Index s : sizes) problem.sizes.push_back(s);
  problem.train_x = data.train.X.data();
  problem.train_n = data.train.X.cols();
  problem.test_x = data.test.X.data();
  problem.test_n = data.test.X.cols();
  for (Index i = 0; i < data.train.y.size(); ++i) problem.train_y.push_back(data.train.y[i]);
  for (Index i = 0; i < data.test.y.size(); ++i) problem.test_y.push_back(data.test.y[i]);
  problem.initial = w0.data();
  for (std::size_t l = 1; l <= net.layers(); ++l) {
    problem.w_offset.push_back(net.layout.block(Net<float>::block('W', l)).offset);
    problem.b_offset.push_back(net.layout.block(Net<float>::block('b', l)).offset);
  }
  const ft::Batches batches = draw_batches(data.train.X.cols(), c.epochs);

  if (c.train) {
    std::vector<int> threads{1};
    const int dflt = ft::torch_default_threads();
    if (dflt != 1) threads.push_back(dflt);
    if (c.torch_threads > 0 && c.torch_threads != 1 && c.torch_threads != dflt) threads.push_back(c.torch_threads);
    std::printf("\n%s (%lld parameters), %lld epochs of %lld batches; torch's default intra-op threads: %d\n",
                mlp ? "MLP 784-256-128-10" : "softmax regression 784-10", static_cast<long long>(net.dimension()),
                static_cast<long long>(c.epochs), static_cast<long long>(batches.per_epoch), dflt);
    std::printf("| optimizer | run | s per epoch | test accuracy | batch-0 loss at start | epoch-1 train loss |\n"
                "|---|---|---:|---:|---:|---:|\n");
    for (ft::Optimizer o : {ft::Optimizer::adam, ft::Optimizer::nesterov}) {
      const char* oname = o == ft::Optimizer::adam ? "Adam lr 1e-3" : "SGD Nesterov lr 0.05 m 0.9";
      const ft::Run d = o == ft::Optimizer::adam
                            ? descent_run(net, data, batches, descent::Adam<V>(descent::AdamOptions{.lr = 1e-3}), c.epochs)
                            : descent_run(net, data, batches,
                                          descent::SGD<V>(descent::SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true}),
                                          c.epochs);
      std::printf("| %s | descent | %.3f | %.4f | %.7f | %.6f |\n", oname, mean(d.seconds), d.accuracy, d.first_loss,
                  d.epoch_loss[0]);
      for (int t : threads) {
        const ft::Run r = ft::torch_train(problem, batches, o, c.epochs, t);
        std::printf("| %s | libtorch, %d thread%s | %.3f | %.4f | %.7f (Δ %.1e) | %.6f (Δ %.1e) |\n", oname, t,
                    t == 1 ? "" : "s", mean(r.seconds), r.accuracy, r.first_loss, r.first_loss - d.first_loss,
                    r.epoch_loss[0], r.epoch_loss[0] - d.epoch_loss[0]);
      }
      std::fflush(stdout);
    }
  }
  if (c.breakdown) breakdown(net, data, problem, batches, c.repetitions);
}

int run(const Config& c) {
  eigen_threads = Eigen::nbThreads();
  const auto start = Clock::now();
  const FashionMnist<float> data = descent::examples::load_fashion_mnist<float>(c.data_dir);
  std::printf("Fashion-MNIST from %s (%.1f s): %lld training, %lld test images; libtorch %s (BLAS: %s); Eigen "
              "%d.%d.%d, Eigen threads %d",
              c.data_dir.c_str(), since(start), static_cast<long long>(data.train.X.cols()),
              static_cast<long long>(data.test.X.cols()), ft::torch_version().c_str(), ft::blas_library().c_str(), EIGEN_WORLD_VERSION,
              EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION, Eigen::nbThreads());
#ifdef _OPENMP
  std::printf(" (-fopenmp)");
#endif
  std::printf("\n");
  if (c.model == "mlp" || c.model == "both") side_by_side(c, data, {784, 256, 128, 10});
  if (c.model == "softmax" || c.model == "both") side_by_side(c, data, {784, 10});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  c.data_dir = DESCENT_FASHION_MNIST_DIR;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "--epochs") c.epochs = std::stoll(value());
      else if (a == "--model") c.model = value();
      else if (a == "--torch-threads") c.torch_threads = std::stoi(value());
      else if (a == "--repetitions") c.repetitions = std::stoi(value());
      else if (a == "--data") c.data_dir = value();
      else if (a == "--no-train") c.train = false;
      else if (a == "--no-breakdown") c.breakdown = false;
      else throw std::invalid_argument("unknown argument " + a);
    }
    if (c.epochs < 1 || c.repetitions < 1) throw std::invalid_argument("--epochs and --repetitions must be >= 1");
    if (c.model != "mlp" && c.model != "softmax" && c.model != "both")
      throw std::invalid_argument("--model " + c.model + ": mlp, softmax or both");
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "fashion_torch: %s\nusage: fashion_torch [--epochs N] [--model mlp|softmax|both] [--torch-threads T] "
                 "[--repetitions R] [--no-train] [--no-breakdown] [--data DIR]\n",
                 e.what());
    return 2;
  }
  try {
    return run(c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_torch: %s\n", e.what());
    return 1;
  }
}
