// Every optimizer converges on every problem, to a stated tolerance, through the drivers.
//
// Full batch (minimize): Rosenbrock, an ill-conditioned quadratic, least squares (against its
// closed form), L2-regularized logistic and softmax regression (against their minimizer(), Newton's
// method on the exact Hessian to a gradient norm of 1e-10).
// Minibatch (train): least squares, logistic and softmax regression, judged by the excess loss
// f(x) − f(x*) of the final iterate.
//
// Constant-step adaptive methods do not converge to a point, they hover at a distance set by the
// step; as users do, we decay the learning rate with a schedule callback (set_lr), which is part
// of what these tests exercise. Learning rates are per optimizer and per problem, as in practice.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <descent/descent.hpp>
#include <descent/problems/problems.hpp>
#include <functional>
#include <string>
#include <vector>

namespace {

using V = Eigen::VectorXd;
using M = Eigen::MatrixXd;

// Deterministic data: uniforms in [−1, 1) from the library's generator (the same everywhere).
struct Uniform {
  explicit Uniform(std::uint64_t seed) : random(seed) {}
  double operator()() { return random.uniform(-1.0, 1.0); }
  descent::detail::SplitMix64 random;
};

M random_matrix(Eigen::Index rows, Eigen::Index cols, Uniform& u) {
  M m(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) m(i, j) = u();
  return m;
}

// Runs `body(name, optimizer, decay)` for every optimizer variant, built with learning rate
// lr[variant]; decay[variant] is the half-life of its schedule (0: constant learning rate).
template <class Body>
void for_each_optimizer(const std::vector<double>& lr, const std::vector<double>& decay, Body&& body) {
  REQUIRE(lr.size() == 10);
  REQUIRE(decay.size() == 10);
  body("GradientDescent", descent::GradientDescent<V>({.lr = lr[0]}), decay[0]);
  body("SGD momentum", descent::SGD<V>({.lr = lr[1], .momentum = 0.9}), decay[1]);
  body("SGD nesterov", descent::SGD<V>({.lr = lr[2], .momentum = 0.9, .nesterov = true}), decay[2]);
  body("Adam", descent::Adam<V>({.lr = lr[3]}), decay[3]);
  body("Adam amsgrad", descent::Adam<V>({.lr = lr[4], .amsgrad = true}), decay[4]);
  body("AdamW", descent::AdamW<V>({.lr = lr[5], .weight_decay = 0.0}), decay[5]);
  body("Adagrad", descent::Adagrad<V>({.lr = lr[6]}), decay[6]);
  body("RMSProp", descent::RMSProp<V>({.lr = lr[7]}), decay[7]);
  body("RMSProp centered", descent::RMSProp<V>({.lr = lr[8], .centered = true}), decay[8]);
  body("RMSProp momentum", descent::RMSProp<V>({.lr = lr[9], .momentum = 0.9}), decay[9]);
}

// lr_t = lr_0 / (1 + t / half_life): a schedule driven by a callback through set_lr.
template <class O>
auto inverse_time_decay(O& opt, double half_life) {
  const double lr0 = opt.lr();
  return [&opt, lr0, half_life](const descent::Progress<V>& p) {
    if (half_life > 0) opt.set_lr(lr0 / (1.0 + double(p.iteration) / half_life));
  };
}

double distance(const V& x, const V& target) { return (x - target).norm() / std::max(1.0, target.norm()); }

}  // namespace

TEST_CASE("convergence: Rosenbrock 2-D, every optimizer, to 1e-4 of (1, 1)", "[convergence]") {
  const descent::problems::Rosenbrock<double> f(2);
  for_each_optimizer({1.5e-3, 2e-4, 2e-4, 2e-2, 2e-2, 2e-2, 0.5, 1e-3, 1e-3, 1e-3},
                     {0, 0, 0, 2e4, 2e4, 2e4, 0, 2e3, 2e3, 2e3}, [&](const char* name, auto opt, double decay) {
                       INFO(name);
                       V x(2);
                       x << -1.5, 2.0;
                       const auto r =
                           descent::minimize(f, x, opt, {.max_iterations = 200000, .gradient_tolerance = 1e-9},
                                             inverse_time_decay(opt, decay));
                       CAPTURE(r.iterations, r.loss, x.transpose());
                       CHECK(distance(x, f.minimizer()) <= 1e-4);
                     });
}

TEST_CASE("convergence: ill-conditioned quadratic (n = 50, condition number 100), to 1e-4 of A⁻¹b", "[convergence]") {
  const auto f = descent::problems::Quadratic<double>::ill_conditioned(50, 100.0, 3);
  for_each_optimizer({1.9e-2, 1e-3, 1e-3, 1e-2, 1e-2, 1e-2, 0.3, 1e-3, 1e-3, 1e-3},
                     {0, 0, 0, 5e3, 5e3, 5e3, 0, 2e3, 2e3, 2e3}, [&](const char* name, auto opt, double decay) {
                       INFO(name);
                       V x = V::Zero(50);
                       const auto r =
                           descent::minimize(f, x, opt, {.max_iterations = 100000, .gradient_tolerance = 1e-10},
                                             inverse_time_decay(opt, decay));
                       CAPTURE(r.iterations, r.reason, distance(x, f.minimizer()));
                       CHECK(distance(x, f.minimizer()) <= 1e-4);
                     });
}

namespace {

descent::problems::LeastSquares<double> least_squares_problem() {
  Uniform u{11};
  const M A = random_matrix(10, 200, u);  // 10 features, 200 samples as columns
  V w(10);
  for (Eigen::Index i = 0; i < 10; ++i) w(i) = u() * 3.0;
  V y = A.transpose() * w;
  for (Eigen::Index j = 0; j < y.size(); ++j) y(j) += 0.1 * u();
  return descent::problems::LeastSquares<double>(A, y);
}

descent::problems::LogisticRegression<double> logistic_problem() {
  Uniform u{12};
  const M X = random_matrix(5, 300, u);
  const V w = V::LinSpaced(5, -2.0, 2.0);
  V y(300);
  for (Eigen::Index j = 0; j < 300; ++j) y(j) = X.col(j).dot(w) + 0.5 * u() > 0.2 ? 1.0 : 0.0;
  return descent::problems::LogisticRegression<double>(X, y, {.l2 = 1e-2});
}

descent::problems::SoftmaxRegression<double> softmax_problem() {
  Uniform u{13};
  const M X = random_matrix(4, 300, u);
  const M W = random_matrix(4, 3, u) * 3.0;
  Eigen::VectorXi y(300);
  for (Eigen::Index j = 0; j < 300; ++j) {
    Eigen::Index k = 0;
    (W.transpose() * X.col(j) + 0.3 * V::NullaryExpr(3, [&] { return u(); })).maxCoeff(&k);
    y(j) = int(k);
  }
  // No intercept: softmax is unchanged when the same constant is added to every class's intercept,
  // and intercepts are not penalized, so with them the minimizer would not be unique.
  return descent::problems::SoftmaxRegression<double>(X, y, 3, {.l2 = 1e-2, .fit_intercept = false});
}

}  // namespace

TEST_CASE("convergence: least squares, full batch, to 1e-4 of the closed form", "[convergence]") {
  const auto f = least_squares_problem();
  const V solution = f.solution();
  for_each_optimizer({0.5, 0.05, 0.05, 1e-2, 1e-2, 1e-2, 0.5, 1e-3, 1e-3, 1e-3},
                     {0, 0, 0, 5e3, 5e3, 5e3, 0, 2e3, 2e3, 2e3}, [&](const char* name, auto opt, double decay) {
                       INFO(name);
                       V x = V::Zero(f.dimension());
                       const auto r =
                           descent::minimize(f, x, opt, {.max_iterations = 100000, .gradient_tolerance = 1e-10},
                                             inverse_time_decay(opt, decay));
                       CAPTURE(r.iterations, r.reason, distance(x, solution));
                       CHECK(distance(x, solution) <= 1e-4);
                     });
}

TEST_CASE("convergence: logistic and softmax regression with L2, full batch, to 1e-4 of Newton's minimizer",
          "[convergence]") {
  auto logistic = logistic_problem();
  auto softmax = softmax_problem();
  const V logistic_star = logistic.minimizer();
  const V softmax_star = softmax.minimizer();
  for_each_optimizer({2.0, 0.2, 0.2, 2e-2, 2e-2, 2e-2, 1.0, 1e-2, 1e-2, 1e-2},
                     {0, 0, 0, 2e3, 2e3, 2e3, 0, 3e2, 3e2, 3e2}, [&](const char* name, auto opt, double decay) {
                       INFO(name);
                       auto fresh = opt;  // before the schedule changes opt's learning rate
                       V x = V::Zero(logistic.dimension());
                       auto r =
                           descent::minimize(logistic, x, opt, {.max_iterations = 30000, .gradient_tolerance = 1e-10},
                                             inverse_time_decay(opt, decay));
                       CAPTURE(r.iterations, r.reason, distance(x, logistic_star));
                       CHECK(distance(x, logistic_star) <= 1e-4);
                       V z = V::Zero(softmax.dimension());
                       r = descent::minimize(softmax, z, fresh, {.max_iterations = 30000, .gradient_tolerance = 1e-10},
                                             inverse_time_decay(fresh, decay));
                       CAPTURE(r.iterations, r.reason, distance(z, softmax_star));
                       CHECK(distance(z, softmax_star) <= 1e-4);
                     });
}

TEST_CASE("convergence: minibatch training reaches the optimum's loss to 1e-3", "[convergence]") {
  auto least_squares = least_squares_problem();
  auto logistic = logistic_problem();
  auto softmax = softmax_problem();
  V g;
  g.resize(least_squares.dimension());
  const double ls_star = least_squares(least_squares.solution(), g);
  g.resize(logistic.dimension());
  const double logistic_star = logistic(logistic.minimizer(), g);
  g.resize(softmax.dimension());
  const double softmax_star = softmax(softmax.minimizer(), g);

  // `opt` by value: each run starts from the optimizer's initial state and learning rate.
  auto excess = [&](auto& f, double f_star, auto opt, double decay, std::uint64_t seed) {
    V x = V::Zero(f.dimension()), grad(f.dimension());
    descent::MinibatchSampler sampler(f.size(), {.batch_size = 20, .seed = seed});
    descent::train(f, x, opt, sampler, {.max_iterations = 0, .max_epochs = 300}, inverse_time_decay(opt, decay));
    return (f(x, grad) - f_star) / std::max(1.0, std::abs(f_star));
  };
  for_each_optimizer({0.1, 0.01, 0.01, 1e-2, 1e-2, 1e-2, 0.5, 1e-2, 1e-2, 1e-3},
                     {500, 500, 500, 500, 500, 500, 0, 300, 300, 500}, [&](const char* name, auto opt, double decay) {
                       INFO(name);
                       const double ls = excess(least_squares, ls_star, opt, decay, 1);
                       const double lr = excess(logistic, logistic_star, opt, decay, 2);
                       const double sm = excess(softmax, softmax_star, opt, decay, 3);
                       CAPTURE(ls, lr, sm);
                       CHECK(ls <= 1e-3);
                       CHECK(lr <= 1e-3);
                       CHECK(sm <= 1e-3);
                     });
}
