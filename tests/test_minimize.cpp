// minimize: every stop reason, non-finite handling, callbacks, functor and parameter forms.
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <descent/descent.hpp>
#include <descent/minimize.hpp>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using V = Eigen::VectorXd;
using V2 = Eigen::Vector2d;

// f(x) = Σ (x_i − i)², minimum 0 at x_i = i.
struct Bowl {
  int calls = 0;
  template <class X, class G>
  double operator()(const X& x, G& g) {
    ++calls;
    const V target = V::LinSpaced(x.size(), 0.0, double(x.size() - 1));
    g = 2.0 * (x - target);
    return (x - target).squaredNorm();
  }
};

struct ConstBowl {
  template <class X, class G>
  double operator()(const X& x, G& g) const {
    g = 2.0 * x;
    return x.squaredNorm();
  }
};

double rosenbrock(const V2& p, V2& g) {
  const double a = 1 - p.x(), b = p.y() - p.x() * p.x();
  g << -2 * a - 400 * p.x() * b, 200 * b;
  return a * a + 100 * b * b;
}

}  // namespace

TEST_CASE("minimize: GradientTolerance on Rosenbrock with Adam", "[minimize]") {
  V2 x(-1.5, 2.0);
  descent::Adam<V2> opt({.lr = 0.02});
  const auto r = descent::minimize(rosenbrock, x, opt, {.max_iterations = 20000, .gradient_tolerance = 1e-8});
  CHECK(r.reason == descent::StopReason::GradientTolerance);
  CHECK(r.gradient_norm <= 1e-8);
  CHECK((x - V2(1, 1)).norm() < 1e-6);
  CHECK(r.iterations == opt.steps());  // a named optimizer keeps its state: one step per iteration
  CHECK(r.epochs == 0);
  CHECK(r.seconds >= 0.0);
  CHECK(r.loss == Approx(0.0).margin(1e-12));
}

TEST_CASE("minimize: MaxIterations counts optimizer steps", "[minimize]") {
  V x = V::Zero(4);
  Bowl f;
  descent::SGD<V> opt({.lr = 1e-3});
  const auto r = descent::minimize(f, x, opt, {.max_iterations = 17, .gradient_tolerance = 0});
  CHECK(r.reason == descent::StopReason::MaxIterations);
  CHECK(r.iterations == 17);
  CHECK(opt.steps() == 17);
  CHECK(f.calls == 18);  // the start, then once after every step
  // The report's loss and gradient norm are those at the final x.
  V g(4);
  CHECK(r.loss == Approx(Bowl{}(x, g)));
  CHECK(r.gradient_norm == Approx(g.norm()));
}

TEST_CASE("minimize: LossTolerance fires on a plateau", "[minimize]") {
  // A loss that stops changing although the gradient does not vanish.
  auto plateau = [](const V& x, V& g) {
    g = V::Constant(x.size(), 1e-3);
    return 1.0;
  };
  V x = V::Zero(2);
  const auto r = descent::minimize(plateau, x, descent::GradientDescent<V>{},
                                   {.max_iterations = 50, .gradient_tolerance = 0, .loss_tolerance = 1e-12});
  CHECK(r.reason == descent::StopReason::LossTolerance);
  CHECK(r.iterations == 1);
}

TEST_CASE("minimize: TimeLimit", "[minimize]") {
  auto slow = [](const V& x, V& g) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    g = 2.0 * x;
    return x.squaredNorm();
  };
  V x = V::Ones(2);
  const auto r = descent::minimize(slow, x, descent::SGD<V>({.lr = 1e-6}),
                                   {.max_iterations = 0, .gradient_tolerance = 0, .time_limit = 0.05});
  CHECK(r.reason == descent::StopReason::TimeLimit);
  CHECK(r.seconds >= 0.05);
  CHECK(r.iterations > 0);
}

TEST_CASE("minimize: a callback returning false stops the run", "[minimize]") {
  V x = V::Ones(3);
  std::vector<std::int64_t> seen;
  auto record = [&](const descent::Progress<V>& p) { seen.push_back(p.iteration); };
  auto stop_at_5 = [](const descent::Progress<V>& p) { return p.iteration < 5; };
  const auto r = descent::minimize(Bowl{}, x, descent::Adam<V>{}, {}, record, stop_at_5);
  CHECK(r.reason == descent::StopReason::Callback);
  CHECK(r.iterations == 5);
  // Every callback sees every step, in order, including the one at which another asks to stop.
  CHECK(seen == std::vector<std::int64_t>{1, 2, 3, 4, 5});
}

TEST_CASE("minimize: callbacks see the loss and gradient at the new parameters", "[minimize]") {
  V x = V::Constant(2, 3.0);
  bool consistent = true;
  auto check = [&](const descent::Progress<V>& p) {
    V g(2);
    const double loss = Bowl{}(p.params, g);
    // To rounding, not bitwise: Bowl over a Ref here and over a V in minimize are two instantiations,
    // which -march=native may contract into FMAs differently.
    consistent = consistent && p.loss == Approx(loss).epsilon(1e-12) &&
                 p.gradient_norm == Approx(g.norm()).epsilon(1e-12) && !p.end_of_epoch && !p.stochastic;
  };
  descent::minimize(Bowl{}, x, descent::RMSProp<V>{}, {.max_iterations = 20}, check);
  CHECK(consistent);
}

TEST_CASE("minimize: a non-finite loss stops the run and keeps the last finite iterate", "[minimize]") {
  // Finite until x leaves (-2, 2), then NaN: GD with a large step overshoots to |x| > 2.
  auto fragile = [](const V& x, V& g) {
    g = 2.0 * x;
    return x.cwiseAbs().maxCoeff() < 2.0 ? x.squaredNorm() : std::numeric_limits<double>::quiet_NaN();
  };
  V x = V::Constant(1, 1.0);
  descent::GradientDescent<V> gd({.lr = 1.6});  // x ← x − 3.2x = −2.2x
  const auto r = descent::minimize(fragile, x, gd, {.max_iterations = 100});
  CHECK(r.reason == descent::StopReason::NonFinite);
  CHECK(r.iterations == 1);  // the step that led to a NaN
  CHECK(x(0) == 1.0);        // put back
  CHECK(r.loss == 1.0);      // the last finite loss
  CHECK(std::isfinite(r.gradient_norm));
}

TEST_CASE("minimize: a non-finite gradient or parameter stops the run", "[minimize]") {
  SECTION("infinite gradient at the start: nothing is stepped") {
    auto bad = [](const V& x, V& g) {
      g = V::Constant(x.size(), std::numeric_limits<double>::infinity());
      return 0.0;
    };
    V x = V::Ones(2);
    const auto r = descent::minimize(bad, x, descent::Adam<V>{}, {});
    CHECK(r.reason == descent::StopReason::NonFinite);
    CHECK(r.iterations == 0);
    CHECK((x.array() == 1.0).all());
  }
  SECTION("a step that overflows the parameters is undone") {
    auto huge = [](const V& x, V& g) {
      g = V::Constant(x.size(), 1e300);
      return x.sum();
    };
    V x = V::Constant(2, -1e300);
    const auto r = descent::minimize(huge, x, descent::GradientDescent<V>({.lr = 1e10}), {});
    CHECK(r.reason == descent::StopReason::NonFinite);
    CHECK(r.iterations == 1);
    CHECK((x.array() == -1e300).all());
  }
}

TEST_CASE("minimize: functor forms", "[minimize]") {
  const descent::StopCriteria stop{.max_iterations = 5000, .gradient_tolerance = 1e-8};
  SECTION("lambda") {
    V x = V::Ones(3);
    auto f = [](const V& z, V& g) {
      g = 2.0 * z;
      return z.squaredNorm();
    };
    CHECK(descent::minimize(f, x, descent::Adam<V>({.lr = 0.05}), stop).reason ==
          descent::StopReason::GradientTolerance);
  }
  SECTION("temporary function object") {
    V x = V::Ones(3);
    CHECK(descent::minimize(Bowl{}, x, descent::SGD<V>({.lr = 0.1, .momentum = 0.5}), stop).reason ==
          descent::StopReason::GradientTolerance);
    CHECK(x(2) == Approx(2.0));
  }
  SECTION("const object, held by reference") {
    const ConstBowl f;
    V x = V::Ones(3);
    CHECK(descent::minimize(f, x, descent::GradientDescent<V>({.lr = 0.25}), stop).reason ==
          descent::StopReason::GradientTolerance);
  }
  SECTION("a stateful object is not copied") {
    Bowl f;
    V x = V::Ones(2);
    const auto r = descent::minimize(f, x, descent::GradientDescent<V>({.lr = 0.25}), stop);
    CHECK(f.calls == r.iterations + 1);
  }
  SECTION("make_objective from value and gradient callables") {
    V x = V::Ones(3);
    auto f = descent::make_objective([](const V& z) { return z.squaredNorm(); }, [](const V& z, V& g) { g = 2.0 * z; });
    STATIC_REQUIRE(descent::Objective<decltype(f), V>);
    const auto r = descent::minimize(f, x, descent::Adagrad<V>({.lr = 0.5}), stop);
    CHECK(r.reason == descent::StopReason::GradientTolerance);
    CHECK(r.loss < 1e-12);
  }
  SECTION("a plain function") {
    V2 x(-1.0, 1.0);
    const auto r = descent::minimize(rosenbrock, x, descent::Adam<V2>({.lr = 0.01}),
                                     {.max_iterations = 50000, .gradient_tolerance = 1e-6});
    CHECK(r.reason == descent::StopReason::GradientTolerance);
  }
}

TEST_CASE("minimize: parameters in the user's memory through Eigen::Map", "[minimize]") {
  std::vector<double> buffer{3.0, -1.0, 4.0};
  Eigen::Map<V> x(buffer.data(), 3);
  const auto r =
      descent::minimize(Bowl{}, x, descent::Adam<V>({.lr = 0.1}), {.max_iterations = 5000, .gradient_tolerance = 1e-8});
  CHECK(r.reason == descent::StopReason::GradientTolerance);
  CHECK(buffer[0] == Approx(0.0).margin(1e-8));
  CHECK(buffer[2] == Approx(2.0));
  // A temporary Map works too.
  buffer = {1.0, 1.0, 1.0};
  descent::minimize(Bowl{}, Eigen::Map<V>(buffer.data(), 3), descent::GradientDescent<V>({.lr = 0.25}),
                    {.max_iterations = 200});
  CHECK(buffer[1] == Approx(1.0));
  CHECK(buffer[2] == Approx(2.0));
}

TEST_CASE("minimize: invalid stopping criteria throw", "[minimize]") {
  V x = V::Ones(2);
  CHECK_THROWS_WITH(descent::minimize(Bowl{}, x, descent::Adam<V>{}, {.max_iterations = 0, .gradient_tolerance = 0}),
                    Catch::Contains("every stopping criterion is off"));
  CHECK_THROWS_WITH(descent::minimize(Bowl{}, x, descent::Adam<V>{}, {.gradient_tolerance = -1}),
                    Catch::Contains("gradient_tolerance = -1"));
  CHECK_THROWS_WITH(descent::minimize(Bowl{}, x, descent::Adam<V>{}, {.max_iterations = -3}),
                    Catch::Contains("max_iterations = -3"));
}

TEST_CASE("minimize: History, KeepBest, PrintEvery and EarlyStopping", "[minimize][callbacks]") {
  V x = V::Constant(2, 4.0);
  descent::History history;
  descent::KeepBest<V> best;
  std::ostringstream printed;
  descent::PrintEvery every(10, printed);
  const auto r = descent::minimize(Bowl{}, x, descent::GradientDescent<V>({.lr = 0.1}), {.max_iterations = 30}, history,
                                   best, every);
  CHECK(history.steps().size() == 30);
  CHECK(history.steps().back().iteration == 30);
  CHECK(history.steps().back().loss == r.loss);
  CHECK(history.epochs().empty());
  CHECK(best.best_loss() == r.loss);  // monotone descent: the last is the best
  CHECK(best.best_params() == x);
  std::string line;
  std::istringstream lines(printed.str());
  int count = 0;
  while (std::getline(lines, line)) ++count;
  CHECK(count == 3);
  CHECK(printed.str().rfind("iteration 10  loss", 0) == 0);

  // EarlyStopping: a "validation" loss that is best at x = (1, 1) while training heads for (0, 1).
  V y = V::Constant(2, 3.0);
  auto validation = [](const V& p) { return (p - V::Ones(2)).squaredNorm(); };
  descent::EarlyStopping<V, decltype(validation)> early(validation, {.patience = 3});
  const auto r2 =
      descent::minimize(Bowl{}, y, descent::GradientDescent<V>({.lr = 0.05}), {.max_iterations = 1000}, early);
  CHECK(r2.reason == descent::StopReason::Callback);
  CHECK(early.stopped());
  CHECK(r2.iterations == early.best_iteration() + 3);
  CHECK(y == early.best_params());  // restored
  V g(2);
  CHECK(r2.loss == Approx(Bowl{}(y, g)));  // the report describes the restored parameters
  CHECK(early.validation_history().size() == std::size_t(r2.iterations));
}

TEST_CASE("minimize: History writes CSV", "[minimize][callbacks]") {
  V x = V::Ones(2);
  descent::History history;
  descent::minimize(Bowl{}, x, descent::Adam<V>{}, {.max_iterations = 3}, history);
  const std::string path = "history_test.csv";
  history.write_csv(path);
  std::ifstream in(path);
  std::string header, row;
  std::getline(in, header);
  CHECK(header == "kind,iteration,epoch,loss,gradient_norm,seconds");
  int rows = 0;
  while (std::getline(in, row)) {
    CHECK(row.rfind("step,", 0) == 0);
    ++rows;
  }
  CHECK(rows == 3);
  std::remove(path.c_str());
  CHECK_THROWS_WITH(history.write_csv("/nonexistent-dir/x.csv"), Catch::Contains("/nonexistent-dir/x.csv"));
}

TEST_CASE("minimize: StopReason names", "[minimize]") {
  using R = descent::StopReason;
  CHECK(descent::to_string(R::GradientTolerance) == "GradientTolerance");
  CHECK(descent::to_string(R::LossTolerance) == "LossTolerance");
  CHECK(descent::to_string(R::MaxIterations) == "MaxIterations");
  CHECK(descent::to_string(R::MaxEpochs) == "MaxEpochs");
  CHECK(descent::to_string(R::TimeLimit) == "TimeLimit");
  CHECK(descent::to_string(R::Callback) == "Callback");
  CHECK(descent::to_string(R::NonFinite) == "NonFinite");
  std::ostringstream out;
  out << R::NonFinite << ' ' << descent::Report{.loss = 1.5, .iterations = 3, .reason = R::Callback};
  CHECK(out.str().rfind("NonFinite stopped by Callback after 3 iterations", 0) == 0);
}
