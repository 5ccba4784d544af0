#pragma once
// The network of examples/fashion_mnist (and of bench/fashion_torch, which trains the same one in
// libtorch): fully connected layers with ReLU between them and softmax cross-entropy at the end,
// over one flat parameter vector described by a descent::Layout, with a hand-written backward pass
// and a seeded He-uniform initialisation that any program can reproduce.
//
// Needs Eigen and descent (Layout, SplitMix64, Batch); the data types come from idx.hpp.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <descent/descent.hpp>
#include <string>
#include <utility>
#include <vector>

#include "idx.hpp"

namespace descent::examples {

// Fully connected layers sizes[0] -> sizes[1] -> ... with ReLU between them and softmax
// cross-entropy at the end; {784, 10} is softmax regression. Blocks W1, b1, W2, b2, ... of one flat
// vector, each W column-major (outputs x inputs).
template <class S>
struct Net {
  using Index = Eigen::Index;
  using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  std::vector<Index> sizes;
  descent::Layout layout;

  // "W1", "b2", ...: built by appending (GCC 12 at -O3 reports "W" + std::string as -Wrestrict, a
  // known false positive).
  static std::string block(char kind, std::size_t l) {
    std::string name(1, kind);
    name += std::to_string(l);
    return name;
  }

  explicit Net(std::vector<Index> layer_sizes) : sizes(std::move(layer_sizes)) {
    for (std::size_t l = 1; l < sizes.size(); ++l) {
      layout.add(block('W', l), sizes[l], sizes[l - 1]);
      layout.add(block('b', l), sizes[l]);
    }
  }
  std::size_t layers() const { return sizes.size() - 1; }
  Index dimension() const { return layout.size(); }
  std::vector<std::string> names(char kind) const {
    std::vector<std::string> out;
    for (std::size_t l = 1; l <= layers(); ++l) out.push_back(block(kind, l));
    return out;
  }

  // Activations of every layer (acts[0] is the input batch, acts.back() the logits).
  template <class Samples>
  std::vector<Matrix> forward(const Vector& w, const Samples& X) const {
    std::vector<Matrix> acts;
    acts.emplace_back(X);
    for (std::size_t l = 1; l <= layers(); ++l) {
      const auto W = layout.map<Matrix>(w, block('W', l));
      const auto b = layout.map<Vector>(w, block('b', l));
      Matrix Z = W * acts.back();
      Z.colwise() += b;
      if (l < layers()) Z = Z.cwiseMax(S(0));
      acts.push_back(std::move(Z));
    }
    return acts;
  }

  // Mean cross-entropy over the columns of X, and its gradient into *grad when given.
  template <class Samples, class Labels>
  double loss(const Vector& w, const Samples& X, const Labels& y, Vector* grad = nullptr) const {
    std::vector<Matrix> acts = forward(w, X);
    Matrix& P = acts.back();
    // log-sum-exp with each column's largest logit taken out, so exp cannot overflow.
    P.rowwise() -= P.colwise().maxCoeff();
    double sum = 0;
    for (Index i = 0; i < P.cols(); ++i) sum -= double(P(y[i], i));
    P = P.array().exp().matrix();
    const Eigen::Matrix<S, 1, Eigen::Dynamic> total = P.colwise().sum();
    for (Index i = 0; i < P.cols(); ++i) sum += std::log(double(total[i]));
    const double m = double(X.cols());
    if (grad == nullptr) return sum / m;

    // Backpropagation: dZ = (softmax - onehot) / m at the top, then through each W and ReLU' (the
    // activation was positive exactly where ReLU passed the gradient).
    P.array().rowwise() /= total.array();
    for (Index i = 0; i < P.cols(); ++i) P(y[i], i) -= S(1);
    Matrix dZ = P / S(m);
    for (std::size_t l = layers(); l >= 1; --l) {
      auto gW = layout.map<Matrix>(*grad, block('W', l));
      auto gb = layout.map<Vector>(*grad, block('b', l));
      gW.noalias() = dZ * acts[l - 1].transpose();
      gb = dZ.rowwise().sum();
      if (l == 1) break;
      const auto W = layout.map<Matrix>(w, block('W', l));
      Matrix dA = W.transpose() * dZ;
      dZ = (acts[l - 1].array() > S(0)).select(dA, S(0));
    }
    return sum / m;
  }

  /// Mean cross-entropy and accuracy of w on a whole data set.
  struct Evaluation {
    double loss = 0;
    double accuracy = 0;
  };

  Evaluation evaluate(const Vector& w, const LabelledImages<S>& part) const {
    double sum = 0;
    Index correct = 0;
    constexpr Index chunk = 2000;  // bounded memory for the activations
    for (Index start = 0; start < part.X.cols(); start += chunk) {
      const Index n = std::min(chunk, part.X.cols() - start);
      const Matrix Z = forward(w, part.X.middleCols(start, n)).back();
      for (Index i = 0; i < n; ++i) {
        Index k = 0;
        const S top = Z.col(i).maxCoeff(&k);
        const Index label = part.y[start + i];
        correct += (k == label);
        sum += std::log(double((Z.col(i).array() - top).exp().sum())) - double(Z(label, i) - top);
      }
    }
    const auto m = double(part.X.cols());
    return {sum / m, double(correct) / m};
  }

  double accuracy(const Vector& w, const LabelledImages<S>& part) const { return evaluate(w, part).accuracy; }

  // He-uniform weights (ReLU keeps half the signal), zero biases, from descent's SplitMix64,
  // which is written out, so the same seed gives the same network everywhere.
  Vector initial(std::uint64_t seed) const {
    Vector w = Vector::Zero(dimension());
    descent::detail::SplitMix64 random(seed);
    for (std::size_t l = 1; l <= layers(); ++l) {
      const double bound = std::sqrt(6.0 / double(sizes[l - 1]));
      for (S& v : layout.map<Matrix>(w, block('W', l)).reshaped()) v = S(bound * random.uniform(-1.0, 1.0));
    }
    return w;
  }
};

template <class S>
struct Objective {
  using Index = Eigen::Index;
  const Net<S>& net;
  const LabelledImages<S>& data;
  Index size() const { return data.X.cols(); }
  double operator()(const typename Net<S>::Vector& w, descent::Batch batch, typename Net<S>::Vector& grad) const {
    return net.loss(w, data.X(Eigen::all, batch), data.y(batch), &grad);
  }
};

}  // namespace descent::examples
