// The libtorch side of bench/fashion_torch (built only with -DDESCENT_BENCH_TORCH=ON): the same
// network as examples/common/fashion_net.hpp as torch::nn::Linear layers with ReLU between them,
// started from descent's initial vector, trained on the same minibatches in the same order with
// torch::optim::Adam or SGD (Nesterov), cross-entropy loss, float. A translation unit of its own,
// like torch_steps.cpp, so that torch's headers stay out of fashion_torch.cpp.
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/types.h>
#include <torch/version.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fashion_torch.hpp"

namespace fashion_torch {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Net : torch::nn::Module {
  std::vector<torch::nn::Linear> layers;

  explicit Net(const Problem& p) {
    torch::NoGradGuard no_grad;
    for (std::size_t l = 1; l < p.sizes.size(); ++l) {
      const std::int64_t in = p.sizes[l - 1], out = p.sizes[l];
      auto layer = register_module("fc" + std::to_string(l), torch::nn::Linear(in, out));
      // descent's W block is outputs x inputs column-major: in memory that is the row-major
      // [in, out] matrix, the transpose of torch's [out, in] weight.
      auto* w = const_cast<float*>(p.initial + p.w_offset[l - 1]);
      auto* b = const_cast<float*>(p.initial + p.b_offset[l - 1]);
      layer->weight.copy_(torch::from_blob(w, {in, out}, torch::kFloat32).t());
      layer->bias.copy_(torch::from_blob(b, {out}, torch::kFloat32));
      layers.push_back(layer);
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    for (std::size_t l = 0; l < layers.size(); ++l) {
      x = layers[l]->forward(x);
      if (l + 1 < layers.size()) x = torch::relu(x);
    }
    return x;
  }
};

// The data as tensors over the caller's memory (from_blob copies nothing; the labels are int64,
// what cross_entropy takes).
struct Data {
  torch::Tensor train_x, train_y, test_x, test_y, indices;
  explicit Data(const Problem& p, const Batches& b) {
    const std::int64_t pixels = p.sizes.front();
    train_x = torch::from_blob(const_cast<float*>(p.train_x), {p.train_n, pixels}, torch::kFloat32);
    train_y = torch::from_blob(const_cast<std::int64_t*>(p.train_y.data()), {p.train_n}, torch::kInt64);
    test_x = torch::from_blob(const_cast<float*>(p.test_x), {p.test_n, pixels}, torch::kFloat32);
    test_y = torch::from_blob(const_cast<std::int64_t*>(p.test_y.data()), {p.test_n}, torch::kInt64);
    indices = torch::from_blob(const_cast<std::int64_t*>(b.indices.data()), {std::int64_t(b.indices.size())},
                               torch::kInt64);
  }
  torch::Tensor batch(const Batches& b, std::int64_t k) const {
    return indices.slice(0, b.starts[std::size_t(k)], b.starts[std::size_t(k) + 1]);
  }
};

std::unique_ptr<torch::optim::Optimizer> make_optimizer(Net& net, Optimizer o) {
  if (o == Optimizer::adam) return std::make_unique<torch::optim::Adam>(net.parameters(), torch::optim::AdamOptions(1e-3));
  return std::make_unique<torch::optim::SGD>(net.parameters(),
                                             torch::optim::SGDOptions(0.05).momentum(0.9).nesterov(true));
}

double accuracy(Net& net, const Data& d) {
  torch::NoGradGuard no_grad;
  const torch::Tensor predicted = net.forward(d.test_x).argmax(1);
  return predicted.eq(d.test_y).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

int torch_default_threads() { return at::get_num_threads(); }

std::string torch_version() { return TORCH_VERSION; }

// Debian's libtorch takes its sgemm from whatever libblas.so.3 resolves to (the reference BLAS
// unless OpenBLAS or BLIS is installed, or LD_LIBRARY_PATH points at one), which decides its speed.
std::string blas_library() {
  void* symbol = ::dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (symbol == nullptr || ::dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "sgemm_ not found";
  return info.dli_fname;
}

Run torch_train(const Problem& p, const Batches& b, Optimizer o, std::int64_t epochs, int threads) {
  at::set_num_threads(threads);
  const Data d(p, b);
  Net net(p);
  auto opt = make_optimizer(net, o);
  Run run;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor idx = d.batch(b, 0);
    run.first_loss = torch::nn::functional::cross_entropy(net.forward(d.train_x.index_select(0, idx)),
                                                          d.train_y.index_select(0, idx))
                         .item<double>();
  }
  std::int64_t k = 0;
  for (std::int64_t epoch = 0; epoch < epochs; ++epoch) {
    const auto start = Clock::now();
    double mean = 0;
    std::int64_t seen = 0;
    for (std::int64_t i = 0; i < b.per_epoch; ++i, ++k) {
      const torch::Tensor idx = d.batch(b, k);
      const torch::Tensor x = d.train_x.index_select(0, idx), y = d.train_y.index_select(0, idx);
      opt->zero_grad();
      torch::Tensor loss = torch::nn::functional::cross_entropy(net.forward(x), y);
      loss.backward();
      opt->step();
      // The running mean that descent::train keeps, so that the epoch losses compare directly.
      seen += idx.size(0);
      mean += (loss.item<double>() - mean) * (double(idx.size(0)) / double(seen));
    }
    run.seconds.push_back(since(start));
    run.epoch_loss.push_back(mean);
  }
  run.accuracy = accuracy(net, d);
  return run;
}

Phases torch_phases(const Problem& p, const Batches& b, int threads, int repetitions) {
  at::set_num_threads(threads);
  const Data d(p, b);
  Phases best;
  for (int r = 0; r < repetitions; ++r) {
    Net net(p);
    torch::optim::Adam opt(net.parameters(), torch::optim::AdamOptions(1e-3));
    Phases sum;
    const auto epoch_start = Clock::now();
    for (std::int64_t k = 0; k < b.per_epoch; ++k) {
      auto t = Clock::now();
      const torch::Tensor idx = d.batch(b, k);
      const torch::Tensor x = d.train_x.index_select(0, idx), y = d.train_y.index_select(0, idx);
      sum.gather += since(t);
      t = Clock::now();
      const torch::Tensor logits = net.forward(x);
      sum.forward += since(t);
      t = Clock::now();
      torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
      sum.loss += since(t);
      t = Clock::now();
      loss.backward();
      sum.backward += since(t);
      t = Clock::now();
      opt.step();
      opt.zero_grad();
      sum.step += since(t);
    }
    sum.total = since(epoch_start);
    const double n = double(b.per_epoch);
    const Phases per{sum.gather / n, sum.forward / n, sum.loss / n, sum.backward / n, sum.step / n, sum.total / n};
    if (r == 0 || per.total < best.total) best = per;
  }
  return best;
}

}  // namespace fashion_torch
