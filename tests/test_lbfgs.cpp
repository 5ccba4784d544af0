// descent::LBFGS: torch 1.13's trajectories replayed call by call (tools/make_lbfgs_reference.py),
// minimize driving it, options, non-finite values and exceptions.
#include <Eigen/Core>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "descent/minimize.hpp"
#include "descent/optimizers/lbfgs.hpp"
#include "descent/optimizers/sgd.hpp"
#include "descent/problems/rosenbrock.hpp"
#include "descent/scheduler.hpp"
#include "reference_io.hpp"

namespace {

using descent_test::reference::relative_error;
using descent_test::reference::to_vector;

struct Evaluation {
  double loss = 0.0;
  std::vector<double> point, grad;
};

struct AfterStep {
  std::int64_t func_evals = 0, n_iter = 0;
  std::vector<double> params;
};

struct Case {
  std::string name, dtype;
  descent::LBFGSOptions options;
  std::vector<double> initial;
  std::vector<Evaluation> evals;
  std::vector<AfterStep> steps;
};

std::vector<double> read_values(std::istringstream& in) {
  std::vector<double> v;
  std::string token;
  while (in >> token) v.push_back(std::stod(token));  // stod: "inf"/"nan" and subnormals
  return v;
}

Case load_case(const std::string& file) {
  std::ifstream in(std::string(DESCENT_TEST_DATA_DIR) + "/lbfgs_reference/" + file);
  REQUIRE(in.good());
  Case c;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream row(line);
    std::string key;
    row >> key;
    if (key == "case") row >> c.name;
    else if (key == "dtype") row >> c.dtype;
    else if (key == "option") {
      std::string name, value;
      row >> name >> value;
      auto& o = c.options;
      if (name == "lr") o.lr = std::stod(value);
      else if (name == "max_iter") o.max_iter = std::stoll(value);
      else if (name == "max_eval") o.max_eval = std::stoll(value);
      else if (name == "tolerance_grad") o.tolerance_grad = std::stod(value);
      else if (name == "tolerance_change") o.tolerance_change = std::stod(value);
      else if (name == "history_size") o.history_size = std::stoll(value);
      else if (name == "line_search") o.line_search = value == "StrongWolfe" ? descent::LineSearch::StrongWolfe : descent::LineSearch::None;
      else FAIL("unknown option " << name);
    } else if (key == "initial") c.initial = read_values(row);
    else if (key == "eval") {
      std::size_t k = 0;
      Evaluation e;
      std::string loss;
      row >> k >> loss;
      e.loss = std::stod(loss);
      e.point = read_values(row);
      REQUIRE(k == c.evals.size() + 1);
      c.evals.push_back(e);
    } else if (key == "egrad") {
      std::size_t k = 0;
      row >> k;
      REQUIRE(k == c.evals.size());
      c.evals.back().grad = read_values(row);
    } else if (key == "params") {
      std::size_t t = 0;
      AfterStep s;
      row >> t >> s.func_evals >> s.n_iter;
      s.params = read_values(row);
      REQUIRE(t == c.steps.size() + 1);
      c.steps.push_back(s);
    }
  }
  REQUIRE(!c.initial.empty());
  REQUIRE(c.steps.size() == 100);
  return c;
}

// Hands back torch's k-th loss and gradient at the k-th call, recording how far descent's point
// was from torch's.
template <class V>
struct Replay {
  const Case* c;
  std::size_t calls = 0;
  double worst_point = 0.0;
  bool overrun = false;

  typename V::Scalar operator()(const V& x, V& grad) {
    if (calls >= c->evals.size()) {
      overrun = true;
      grad.setZero();
      return typename V::Scalar(0);
    }
    const Evaluation& e = c->evals[calls++];
    worst_point = std::max(worst_point, relative_error(x, e.point));
    grad = to_vector<V>(e.grad);
    return typename V::Scalar(e.loss);
  }
};

template <class V>
double tolerance() {
  return std::is_same_v<typename V::Scalar, double> ? 1e-10 : 1e-5;
}

template <class V>
void replay_case(const Case& c) {
  INFO("case " << c.name);
  descent::LBFGS<V> opt(c.options);
  V x = to_vector<V>(c.initial);
  Replay<V> f{&c};
  double worst = 0.0;
  for (std::size_t t = 0; t < c.steps.size(); ++t) {
    opt.step(f, x);
    INFO("after step " << t + 1);
    REQUIRE_FALSE(f.overrun);
    REQUIRE(opt.evaluations() == c.steps[t].func_evals);
    REQUIRE(opt.iterations() == c.steps[t].n_iter);
    REQUIRE(std::int64_t(f.calls) == c.steps[t].func_evals);
    worst = std::max(worst, relative_error(x, c.steps[t].params));
  }
  REQUIRE(f.calls == c.evals.size());
  WARN(c.name << ": worst relative error " << worst << " (parameters), " << f.worst_point << " (evaluation points)");
  CHECK(worst <= tolerance<V>());
  CHECK(f.worst_point <= tolerance<V>());
}

std::vector<std::string> index_of(const std::string& dtype) {
  std::ifstream in(std::string(DESCENT_TEST_DATA_DIR) + "/lbfgs_reference/index.txt");
  std::vector<std::string> files;
  std::string d, file;
  while (in >> d >> file)
    if (d == dtype) files.push_back(file);
  return files;
}

// f(x) = Σ 10 (x_{i+1} − x_i²)² + (1 − x_i)², its gradient written by hand.
struct Rosen {
  long calls = 0;
  template <class X, class G>
  typename X::Scalar operator()(const X& x, G& g) {
    ++calls;
    using S = typename X::Scalar;
    S f = 0;
    g.setZero();
    for (Eigen::Index i = 0; i + 1 < x.size(); ++i) {
      const S a = x[i + 1] - x[i] * x[i], b = S(1) - x[i];
      f += S(10) * a * a + b * b;
      g[i] += S(-40) * x[i] * a - S(2) * b;
      g[i + 1] += S(20) * a;
    }
    return f;
  }
};

}  // namespace

static_assert(descent::ObjectiveOptimizer<descent::LBFGS<Eigen::VectorXd>, Eigen::VectorXd>);
static_assert(descent::ObjectiveOptimizer<descent::LBFGS<Eigen::MatrixXf>, Eigen::MatrixXf>);
static_assert(!descent::Optimizer<descent::LBFGS<Eigen::VectorXd>, Eigen::VectorXd>);
static_assert(!descent::ObjectiveOptimizer<descent::SGD<Eigen::VectorXd>, Eigen::VectorXd>);
static_assert(descent::LearningRateControl<descent::LBFGS<Eigen::VectorXd>>);

TEST_CASE("lbfgs: torch reference, double", "[lbfgs][torch_reference]") {
  const auto files = index_of("float64");
  REQUIRE(files.size() == 17);
  for (const auto& file : files) replay_case<Eigen::VectorXd>(load_case(file));
}

TEST_CASE("lbfgs: torch reference, float", "[lbfgs][torch_reference]") {
  const auto files = index_of("float32");
  REQUIRE(files.size() == 17);
  for (const auto& file : files) replay_case<Eigen::VectorXf>(load_case(file));
}

TEST_CASE("lbfgs: options are torch's defaults and are validated", "[lbfgs]") {
  const descent::LBFGSOptions o;
  CHECK(o.lr == 1.0);
  CHECK(o.max_iter == 20);
  CHECK(o.max_eval == 0);
  CHECK(o.resolved_max_eval() == 25);
  CHECK(o.tolerance_grad == 1e-7);
  CHECK(o.tolerance_change == 1e-9);
  CHECK(o.history_size == 100);
  CHECK(o.line_search == descent::LineSearch::None);
  CHECK(descent::to_string(descent::LineSearch::StrongWolfe) == "StrongWolfe");
  using L = descent::LBFGS<Eigen::VectorXd>;
  auto throws = [](descent::LBFGSOptions bad, const char* field) {
    try {
      L opt(bad);
      FAIL("accepted an invalid " << field);
    } catch (const std::invalid_argument& e) {
      CHECK_THAT(e.what(), Catch::Contains(field));
    }
  };
  throws({.lr = 0.0}, "lr");
  throws({.lr = std::nan("")}, "lr");
  throws({.max_iter = 0}, "max_iter");
  throws({.max_eval = -1}, "max_eval");
  throws({.tolerance_grad = -1.0}, "tolerance_grad");
  throws({.tolerance_change = std::numeric_limits<double>::infinity()}, "tolerance_change");
  throws({.history_size = 0}, "history_size");
  throws({.line_search = descent::LineSearch(7)}, "line_search");
  CHECK_THROWS_AS(descent::LBFGS<Eigen::VectorXf>({.lr = 1e39}), std::invalid_argument);
  L opt;
  CHECK_THROWS_AS(opt.set_lr(-1.0), std::invalid_argument);
  CHECK(opt.lr() == 1.0);
  opt.set_lr(0.5);
  CHECK(opt.lr() == 0.5);
}

TEST_CASE("lbfgs: minimize follows step(f, x) exactly and skips the redundant evaluations", "[lbfgs][minimize]") {
  for (auto search : {descent::LineSearch::None, descent::LineSearch::StrongWolfe}) {
    INFO("line search " << search);
    const descent::LBFGSOptions o{.lr = search == descent::LineSearch::None ? 0.2 : 1.0, .max_iter = 4,
                                  .history_size = 5, .line_search = search};
    Eigen::VectorXd start = Eigen::VectorXd::LinSpaced(9, -1.2, 0.8);
    Eigen::VectorXd x = start, y = start, grad(9);
    Rosen f1, f2;
    descent::LBFGS<Eigen::VectorXd> a(o), b(o);
    const auto report = descent::minimize(f1, x, a, {.max_iterations = 30, .gradient_tolerance = 0});
    for (int k = 0; k < 30; ++k) b.step(f2, y);
    CHECK(report.iterations == 30);
    CHECK(report.reason == descent::StopReason::MaxIterations);
    CHECK((x.array() == y.array()).all());
    CHECK(a.evaluations() == b.evaluations());
    CHECK(a.iterations() == b.iterations());
    // The loop evaluates at every step's start; minimize only where the last step did not, plus
    // once at the start and once for the report's final point.
    CHECK(f1.calls <= f2.calls + 1);
    CHECK(report.loss == Approx(f2(y, grad)).epsilon(0));
  }
}

TEST_CASE("lbfgs: converges on Rosenbrock through minimize, with a Map and a schedule", "[lbfgs][minimize]") {
  std::vector<double> memory(12, 0.0);
  for (std::size_t i = 0; i < memory.size(); ++i) memory[i] = i % 2 ? 1.0 : -1.2;
  Eigen::Map<Eigen::VectorXd> x(memory.data(), 12);
  Rosen f;
  // torch's tolerances are absolute: tolerance_grad (1e-7, on max|g|) ends a step before minimize's
  // gradient_tolerance on ‖g‖₂ is met, and with a loss below tolerance_change (1e-9) every step
  // ends after one iteration (gᵀd > −1e-9); tighter ones let minimize's criterion decide

  descent::LBFGS<Eigen::VectorXd> opt({.tolerance_grad = 1e-12, .tolerance_change = 0, .line_search = descent::LineSearch::StrongWolfe});
  const auto report = descent::minimize(f, x, opt, {.max_iterations = 50, .gradient_tolerance = 1e-8});
  CHECK(report.reason == descent::StopReason::GradientTolerance);
  CHECK((x.array() - 1.0).abs().maxCoeff() < 1e-6);

  Eigen::VectorXf xf = Eigen::VectorXf::Constant(6, -0.5f);
  descent::LBFGS<Eigen::VectorXf> optf({.lr = 0.5, .max_iter = 2, .tolerance_change = 0, .history_size = 10, .line_search = descent::LineSearch::StrongWolfe});
  descent::Scheduler sched(optf, descent::StepLR{.step_size = 10, .gamma = 0.9});
  const auto rf = descent::minimize(f, xf, optf, {.max_iterations = 40, .gradient_tolerance = 1e-2},
                                    descent::every_step(sched));
  CHECK(rf.reason == descent::StopReason::GradientTolerance);
  CHECK(optf.lr() < 0.5);
  CHECK((xf.array() - 1.0f).abs().maxCoeff() < 1e-2f);
}

TEST_CASE("lbfgs: a non-finite objective ends the step at the last finite iterate", "[lbfgs][hardening]") {
  for (auto search : {descent::LineSearch::None, descent::LineSearch::StrongWolfe}) {
    INFO("line search " << search);
    // f = −Σx falls without bound along +x, and is NaN beyond 10: the steps grow until one leaves
    auto f = [](const Eigen::VectorXd& x, Eigen::VectorXd& g) {
      g.setConstant(-1.0);
      if ((x.array() > 10.0).any()) return std::numeric_limits<double>::quiet_NaN();
      return -x.sum();
    };
    Eigen::VectorXd x = Eigen::VectorXd::Zero(3);
    descent::LBFGS<Eigen::VectorXd> opt({.lr = 4.0, .line_search = search});
    const auto report = descent::minimize(f, x, opt, {.max_iterations = 100});
    CHECK(report.reason == descent::StopReason::NonFinite);
    CHECK(x.allFinite());
    CHECK((x.array() <= 10.0).all());
    CHECK(std::isfinite(report.loss));
    CHECK_THAT(report.message, Catch::Contains("non-finite"));
  }
}

TEST_CASE("lbfgs: an exception from the objective puts x back and resets", "[lbfgs][hardening]") {
  Rosen rosen;
  int calls = 0, fail_at = -1;
  auto f = [&](const Eigen::VectorXd& x, Eigen::VectorXd& g) {
    if (++calls == fail_at) throw std::runtime_error("objective failed");
    return rosen(x, g);
  };
  Eigen::VectorXd x = Eigen::VectorXd::Constant(5, -0.5);
  descent::LBFGS<Eigen::VectorXd> opt({.line_search = descent::LineSearch::StrongWolfe});
  opt.step(f, x);  // converges part way; then a step whose 4th call fails, in a line search
  const Eigen::VectorXd before = x;
  fail_at = calls + 4;
  CHECK_THROWS_WITH(opt.step(f, x), "objective failed");
  CHECK(x.allFinite());
  CHECK(opt.iterations() == 0);
  CHECK(opt.evaluations() == 0);
  Eigen::VectorXd g(5);
  CHECK(rosen(x, g) <= rosen(before, g));

  Eigen::VectorXd wrong(4);
  descent::LBFGS<Eigen::VectorXd> fresh;
  fresh.step(rosen, x);
  CHECK_THROWS_AS(fresh.step(rosen, wrong), std::invalid_argument);
}
