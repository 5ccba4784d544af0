#pragma once
// The synthetic logistic regression of driver_overhead.cpp and convergence.cpp (logistic_100k).

#include <Eigen/Core>
#include <cstdint>
#include <descent/problems/logistic_regression.hpp>
#include <descent/sampler.hpp>
#include <utility>

namespace bench {

/// d features and n samples uniform in [−1, 1), labeled by a planted model w uniform in [−1, 1)ᵈ
/// with noise: y = 1 when wᵀa + 0.5·u > 0, u uniform in [−1, 1). The numbers come from SplitMix64
/// seeded with `seed`, w first, then each sample's features and its noise in turn: the same data
/// on every platform.
inline descent::problems::LogisticRegression<double> synthetic_logistic(Eigen::Index d, Eigen::Index n,
                                                                        std::uint64_t seed, double l2) {
  descent::detail::SplitMix64 random(seed);
  Eigen::MatrixXd X(d, n);
  Eigen::VectorXd w(d), y(n);
  for (Eigen::Index i = 0; i < d; ++i) w(i) = random.uniform(-1.0, 1.0);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < d; ++i) X(i, j) = random.uniform(-1.0, 1.0);
    y(j) = X.col(j).dot(w) + 0.5 * random.uniform(-1.0, 1.0) > 0 ? 1.0 : 0.0;
  }
  return descent::problems::LogisticRegression<double>(std::move(X), std::move(y), {.l2 = l2});
}

}  // namespace bench
