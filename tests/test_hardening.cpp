// Reliability findings (issue 16: fuzzing; issue 9: hardening), one test each. Every test here
// failed before its fix; the comment above it names the finding.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"

// Under ASan a huge allocation aborts the process unless the allocator may return null, which
// Eigen then turns into std::bad_alloc (the behaviour of a plain build, which F2 is about).
#if defined(__SANITIZE_ADDRESS__)
#define DESCENT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DESCENT_TEST_ASAN 1
#endif
#endif
#if defined(DESCENT_TEST_ASAN)
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif

namespace {

using descent_test::fill_start;
using descent_test::gradient;
using V = Eigen::VectorXd;
using VF = Eigen::VectorXf;
using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// f(x) = ½‖x‖², gradient x.
struct HalfNorm {
  template <class X, class G>
  double operator()(const X& x, G& g) const {
    g = x;
    return 0.5 * x.squaredNorm();
  }
};

// The same as a finite sum of `n` identical samples.
struct HalfNormSum {
  Eigen::Index n = 100;
  Eigen::Index size() const { return n; }
  template <class X, class G>
  double operator()(const X& x, descent::Batch, G& g) const {
    g = x;
    return 0.5 * x.squaredNorm();
  }
};

// From the standard start, `steps` steps on `params`, any view (dynamic blocks have no linear
// index, so the start and the gradients are computed on plain copies).
template <class VS>
void run_steps(auto& opt, auto&& params, int steps) {
  VS start(params.size());
  fill_start(start);
  params = start;
  VS grads(params.size());
  for (int t = 0; t < steps; ++t) {
    const VS now = params;
    gradient(grads, now, t);
    opt.step(params, grads);
  }
}

}  // namespace

// F1: an n×1 block of a row-major matrix has inner stride 1, but its coefficients are a row
// apart; it used to be updated as if contiguous, writing other columns of the matrix.
TEMPLATE_TEST_CASE("hardening F1: column blocks of row-major matrices update exactly that column", "[hardening]",
                   DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  constexpr Eigen::Index n = 13;
  V ref(n);
  {
    auto opt = TestType::template make<V>();
    run_steps<V>(opt, ref, 20);
  }
  auto check_params = [&](auto&& view, const RowMajor& before, const RowMajor& W, Eigen::Index col) {
    auto opt = TestType::template make<V>();
    RowMajor expected = before;
    expected.col(col) = ref;
    run_steps<V>(opt, view, 20);
    CHECK((W.array() == expected.array()).all());
  };
  RowMajor W = RowMajor::Constant(n, 3, 7.0);
  const RowMajor before = W;
  check_params(W.middleCols(1, 1), before, W, 1);
  W = before;
  check_params(W.leftCols(1), before, W, 0);
  W = before;
  check_params(W.block(0, 2, n, 1), before, W, 2);
  W = before;
  check_params(W.col(1), before, W, 1);

  // The same as gradients: G's column 1 must be read, not its first row.
  auto opt = TestType::template make<V>();
  V x(n);
  fill_start(x);
  RowMajor G = RowMajor::Constant(n, 3, 1e3);
  for (int t = 0; t < 20; ++t) {
    V gt(n);
    gradient(gt, x, t);
    G.col(1) = gt;
    opt.step(x, G.middleCols(1, 1));
  }
  CHECK((x.array() == ref.array()).all());

  // Row vectors: a 1×n block of a column-major matrix.
  using R = Eigen::RowVectorXd;
  Eigen::MatrixXd M = Eigen::MatrixXd::Constant(3, n, 7.0);
  const Eigen::MatrixXd m_before = M;
  auto ropt = TestType::template make<R>();
  run_steps<R>(ropt, M.middleRows(1, 1), 20);
  Eigen::MatrixXd m_expected = m_before;
  m_expected.row(1) = ref.transpose();
  CHECK((M.array() == m_expected.array()).all());
}

// F2: Eigen's resize() frees before it allocates; a std::bad_alloc then left the scratch buffer
// dangling and its destructor freed it again.
TEST_CASE("hardening F2: a failed scratch allocation leaves the optimizer usable", "[hardening]") {
  descent::GradientDescent<V> opt({.lr = 0.5});
  Eigen::Matrix<double, 3, 3> small = Eigen::Matrix<double, 3, 3>::Ones();
  opt.step(small.row(0).transpose(), V::Ones(3));  // strided: the scratch buffer is allocated
  CHECK((small.row(0).array() == 0.5).all());

  double cell = 1.0;
  const Eigen::Index huge = Eigen::Index(1) << 58;  // 2 EiB of doubles: cannot be allocated
  Eigen::Map<V, 0, Eigen::InnerStride<0>> everywhere(&cell, huge);
  CHECK_THROWS_AS(opt.step(everywhere, V::Zero(huge)), std::bad_alloc);
  CHECK(opt.steps() == 1);
  CHECK(cell == 1.0);
  opt.step(small.row(1).transpose(), V::Ones(3));
  CHECK((small.row(1).array() == 0.5).all());
}  // before the fix: double free here

// F3: the step count and state were committed before the gradient expression was evaluated.
TEMPLATE_TEST_CASE("hardening F3: a gradient expression that throws leaves params and state unchanged",
                   "[hardening]", DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  constexpr Eigen::Index n = 11;
  auto opt = TestType::template make<V>();
  auto twin = TestType::template make<V>();
  V x(n), y(n), g(n);
  fill_start(x);
  fill_start(y);
  for (int t = 0; t < 3; ++t) {
    gradient(g, x, t);
    opt.step(x, g);
    twin.step(y, g);
  }
  const V x_before = x;
  bool armed = true;
  auto throwing = [&armed](double v) {
    if (armed) throw std::runtime_error("gradient failed");
    return v;
  };
  gradient(g, x, 3);
  CHECK_THROWS_WITH(opt.step(x, g.unaryExpr(throwing)), "gradient failed");
  CHECK(opt.steps() == twin.steps());
  CHECK((x.array() == x_before.array()).all());
  // And on a first step, before any state exists.
  auto fresh = TestType::template make<V>();
  CHECK_THROWS(fresh.step(x, g.unaryExpr(throwing)));
  CHECK(fresh.steps() == 0);

  armed = false;
  for (int t = 3; t < 8; ++t) {
    gradient(g, x, t);
    opt.step(x, g.unaryExpr(throwing));
    twin.step(y, g);
  }
  CHECK((x.array() == y.array()).all());
}

// F4: train checked the batch loss before stepping but kept no earlier x, so a step into a region
// where the loss is NaN left x there.
TEST_CASE("hardening F4: train's NonFinite leaves the last x where the loss was finite", "[hardening]") {
  struct Log {
    Eigen::Index size() const { return 4; }
    double operator()(const V& x, descent::Batch, V& g) const {
      g(0) = 1.0 / x(0);
      return std::log(x(0));
    }
  };
  V x = V::Ones(1);
  const auto r = descent::train(Log{}, x, descent::GradientDescent<V>({.lr = 2.0}),
                                descent::MinibatchSampler(4, {.batch_size = 1}), {.max_epochs = 3});
  CHECK(r.reason == descent::StopReason::NonFinite);
  CHECK(x(0) == 1.0);  // not −1, where log is NaN
  CHECK_THAT(r.message, Catch::Contains("loss is nan") && Catch::Contains("undone"));
}

// F5: a NaN first validation loss became the best, stopped an improving run and was "restored".
TEST_CASE("hardening F5: EarlyStopping never keeps a non-finite validation loss as the best", "[hardening]") {
  int checks = 0;
  auto validation = [&checks](const V& p) { return ++checks == 1 ? kNaN : p.squaredNorm(); };
  auto early = descent::early_stopping<V>(validation, {.patience = 2});
  V x = V::Constant(2, 4.0);
  const auto r = descent::minimize(HalfNorm{}, x, descent::GradientDescent<V>({.lr = 0.1}),
                                   {.max_iterations = 30, .gradient_tolerance = 0}, early);
  CHECK(r.reason == descent::StopReason::MaxIterations);  // improving all along: never stopped
  CHECK_FALSE(early.stopped());
  CHECK(std::isfinite(early.best_loss()));
  CHECK(early.best_iteration() == 30);
  CHECK(x.allFinite());
}

// F6: the gradient's size was never checked: resized to 0, the run "converged".
TEST_CASE("hardening F6: an objective that resizes its gradient is an error naming it", "[hardening]") {
  auto shrink = [](const V& x, V& g) {
    g.resize(0);
    return x.squaredNorm();
  };
  auto grow = [](const V& x, V& g) {
    g = V::Ones(x.size() + 1);
    return x.squaredNorm();
  };
  V x = V::Ones(3);
  CHECK_THROWS_WITH(descent::minimize(shrink, x, descent::Adam<V>{}),
                    Catch::Contains("descent::minimize: the objective resized its gradient to 0x1") &&
                        Catch::Contains("3x1"));
  CHECK_THROWS_WITH(descent::minimize(grow, x, descent::Adam<V>{}), Catch::Contains("objective resized"));
  struct Grow {
    Eigen::Index size() const { return 2; }
    double operator()(const V& x, descent::Batch, V& g) const {
      g = V::Ones(x.size() + 1);
      return 0.0;
    }
  };
  CHECK_THROWS_WITH(descent::train(Grow{}, x, descent::Adam<V>{}, descent::MinibatchSampler(2, {})),
                    Catch::Contains("descent::train: the objective resized its gradient to 4x1"));
  CHECK((x.array() == 1.0).all());
}

// F7: float optimizers accepted options that are finite in double but overflow float.
TEST_CASE("hardening F7: options that overflow the scalar type are refused by name", "[hardening]") {
  CHECK_THROWS_WITH(descent::Adam<VF>({.lr = 1e39}), Catch::Contains("invalid lr = ") && Catch::Contains("finite in float"));
  CHECK_THROWS_WITH(descent::Adam<VF>({.weight_decay = 1e39}), Catch::Contains("weight_decay"));
  CHECK_THROWS_WITH(descent::AdamW<VF>({.lr = 1e20, .weight_decay = 1e20}), Catch::Contains("lr * weight_decay"));
  CHECK_THROWS_WITH(descent::SGD<VF>({.momentum = 1e39}), Catch::Contains("momentum"));
  CHECK_THROWS_WITH(descent::Adagrad<VF>({.initial_accumulator_value = 1e39}),
                    Catch::Contains("initial_accumulator_value"));
  CHECK_THROWS_WITH(descent::RMSProp<VF>({.eps = 1e39}), Catch::Contains("eps"));
  CHECK_THROWS_WITH(descent::GradientDescent<VF>({.lr = 1e39}), Catch::Contains("lr"));
  CHECK_NOTHROW(descent::Adam<V>({.lr = 1e39}));  // finite in double

  descent::Adam<VF> opt;
  CHECK_THROWS_WITH(opt.set_lr(1e39), Catch::Contains("lr"));
  CHECK(opt.lr() == 1e-3);
  VF x = VF::Ones(3);
  opt.step(x, VF::Zero(3));
  CHECK(x.allFinite());
}

// F9: with contraction on (GCC's default with -march=native), packet lanes and the scalar tail
// followed different arithmetic. Every coefficient must get the numbers a lone coefficient gets.
TEMPLATE_TEST_CASE("hardening F9: every lane computes what the scalar path computes", "[hardening]",
                   DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  auto check = [](auto scalar) {
    using S = decltype(scalar);
    using VS = Eigen::Matrix<S, Eigen::Dynamic, 1>;
    constexpr Eigen::Index n = 37;  // AVX-512, AVX and SSE packets and a scalar tail
    VS x(n), g(n);
    fill_start(x);
    auto opt = TestType::template make<VS>();
    std::vector<decltype(opt)> lone(n, TestType::template make<VS>());
    VS y = x;
    for (int t = 0; t < 40; ++t) {
      gradient(g, x, t);
      opt.step(x, g);
      VS gy(n);
      gradient(gy, y, t);
      for (Eigen::Index i = 0; i < n; ++i) lone[std::size_t(i)].step(y.segment(i, 1), gy.segment(i, 1));
    }
    CHECK((x.array() == y.array()).all());
  };
  check(0.0);
  check(0.0f);
}

// F9 (its symptom): centered RMSProp's v − ga² turned negative, and NaN, in some lanes only.
TEST_CASE("hardening F9: centered RMSProp gives the same numbers in every lane", "[hardening]") {
  VF x = VF::Zero(19);
  descent::RMSProp<VF> opt({.lr = 0.01, .centered = true});
  for (int t = 0; t < 100; ++t) opt.step(x, VF::Constant(19, 0.1f));
  CHECK(x.allFinite());
  CHECK((x.array() == x(18)).all());
}

// F12: an exception from the objective left x one step past the last evaluated point, and
// callbacks kept the run's "started" state.
TEST_CASE("hardening F12: after an exception x is the last evaluated point and callbacks are told", "[hardening]") {
  struct Watch {
    int aborts = 0, ends = 0;
    void operator()(const descent::Progress<V>&) {}
    void on_abort() { ++aborts; }
    void on_end(V&, const descent::Report&) { ++ends; }
  };
  int calls = 0;
  std::vector<V> evaluated;
  auto f = [&](const V& x, V& g) {
    if (++calls == 5) throw std::runtime_error("objective failed");
    evaluated.push_back(x);
    g = x;
    return 0.5 * x.squaredNorm();
  };
  V x = V::Ones(3);
  Watch watch;
  descent::History history;
  CHECK_THROWS_WITH(descent::minimize(f, x, descent::GradientDescent<V>({.lr = 0.1}), {}, watch, history),
                    "objective failed");
  CHECK((x.array() == evaluated.back().array()).all());
  CHECK(watch.aborts == 1);
  CHECK(watch.ends == 0);

  int batches = 0;
  std::vector<V> seen;
  struct Stochastic {
    int* batches;
    std::vector<V>* seen;
    Eigen::Index size() const { return 10; }
    double operator()(const V& x, descent::Batch, V& g) const {
      if (++*batches == 4) throw std::runtime_error("batch failed");
      seen->push_back(x);
      g = x;
      return 0.5 * x.squaredNorm();
    }
  };
  x = V::Ones(3);
  CHECK_THROWS_WITH(descent::train(Stochastic{&batches, &seen}, x, descent::GradientDescent<V>({.lr = 0.1}),
                                   descent::MinibatchSampler(10, {.batch_size = 2}), {}, watch),
                    "batch failed");
  CHECK((x.array() == seen.back().array()).all());
  CHECK(watch.aborts == 2);

  // A callback that throws after a step: in minimize the new point was evaluated, so it stays.
  auto thrower = [](const descent::Progress<V>& p) {
    if (p.iteration == 3) throw std::logic_error("callback failed");
  };
  x = V::Ones(3);
  calls = -100;
  evaluated.clear();
  CHECK_THROWS_WITH(descent::minimize(f, x, descent::GradientDescent<V>({.lr = 0.1}), {}, thrower),
                    "callback failed");
  CHECK((x.array() == evaluated.back().array()).all());
}

// F13: the norm of a finite float gradient overflowed float.
TEST_CASE("hardening F13: the gradient norm of finite float gradients is finite", "[hardening]") {
  auto f = [](const VF&, VF& g) {
    g = VF::Constant(2, 3e38f);
    return 1.0f;
  };
  VF x = VF::Zero(2);
  const auto r = descent::minimize(f, x, descent::GradientDescent<VF>({.lr = 0.0}), {.max_iterations = 1});
  CHECK(r.reason == descent::StopReason::MaxIterations);
  CHECK(r.gradient_norm == Approx(std::sqrt(2.0) * double(3e38f)));
}

// F14: train's epoch loss summed loss × batch size, which overflows for finite losses of 1e307.
TEST_CASE("hardening F14: train's epoch mean of large finite losses is finite", "[hardening]") {
  struct Huge {
    Eigen::Index size() const { return 64; }
    double operator()(const V&, descent::Batch, V& g) const {
      g.setZero();
      return 1e307;
    }
  };
  V x = V::Zero(2);
  const auto r = descent::train(Huge{}, x, descent::GradientDescent<V>{},
                                descent::MinibatchSampler(64, {.batch_size = 32}), {.max_epochs = 2});
  CHECK(r.reason == descent::StopReason::MaxEpochs);
  CHECK(r.loss == Approx(1e307));
}

// F15: a finite-difference step that rounds away reported an exact gradient as infinitely wrong.
TEST_CASE("hardening F15: check_gradient refuses a step that rounds away", "[hardening]") {
  auto f = [](const VF& x, VF& g) {
    g = 2 * x;
    return x.squaredNorm();
  };
  const VF x = VF::Constant(2, 1.0f);
  CHECK_THROWS_WITH(descent::check_gradient(f, x, {.step = 1e-9}),
                    Catch::Contains("step") && Catch::Contains("rounds to x in float"));
  CHECK(descent::check_gradient(f, x).norm_relative_error < 1e-3);
}

// F16: a gradient overlapping the parameters' memory at an offset gave SIMD-width-dependent
// results. It is now read before anything is written, as if it had been copied.
TEMPLATE_TEST_CASE("hardening F16: gradients that partially overlap the parameters are read first", "[hardening]",
                   DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  constexpr Eigen::Index n = 29;
  std::vector<double> buffer(n + 1), copy_buffer(n + 1);
  for (Eigen::Index i = 0; i <= n; ++i) buffer[std::size_t(i)] = std::cos(0.3 * double(i));
  copy_buffer = buffer;
  Eigen::Map<V> params(buffer.data() + 1, n);
  Eigen::Map<const V> grads(buffer.data(), n);
  Eigen::Map<V> expected(copy_buffer.data() + 1, n);
  const V grads_copy = Eigen::Map<const V>(copy_buffer.data(), n);
  auto opt = TestType::template make<V>();
  auto ref = TestType::template make<V>();
  opt.step(params, grads);
  ref.step(expected, grads_copy);
  CHECK((params.array() == expected.array()).all());
}

// Issue 9, 1: an objective that cannot write its gradient is no Objective; one that forgets to
// write it stops with NonFinite and a message instead of reading uninitialized memory.
TEST_CASE("hardening: gradients taken by const reference or by value are not Objectives", "[hardening]") {
  auto by_const_ref = [](const V& x, const V&) { return x.squaredNorm(); };
  auto by_value = [](const V& x, V) { return x.squaredNorm(); };
  auto writable = [](const V& x, V& g) {
    g = x;
    return x.squaredNorm();
  };
  auto ref = [](const V& x, Eigen::Ref<V> g) {
    g = x;
    return x.squaredNorm();
  };
  STATIC_REQUIRE_FALSE(descent::Objective<decltype(by_const_ref), V>);
  STATIC_REQUIRE_FALSE(descent::Objective<decltype(by_value), V>);
  STATIC_REQUIRE(descent::Objective<decltype(writable), V>);
  STATIC_REQUIRE(descent::Objective<decltype(ref), V>);
  STATIC_REQUIRE(descent::Objective<HalfNorm, V>);
  auto sto_const = [](const V& x, descent::Batch, const V&) { return x.squaredNorm(); };
  struct StoConst {
    Eigen::Index size() const { return 1; }
    double operator()(const V& x, descent::Batch, const V&) const { return x.squaredNorm(); }
  };
  (void)sto_const;
  STATIC_REQUIRE_FALSE(descent::StochasticObjective<StoConst, V>);
  STATIC_REQUIRE(descent::StochasticObjective<HalfNormSum, V>);
  auto separate_const = descent::make_objective([](const V& x) { return x.squaredNorm(); },
                                                [](const V&, const V&) {});
  STATIC_REQUIRE_FALSE(descent::Objective<decltype(separate_const), V>);

  auto forgets = [](const V& x, V& g) {
    g.head(1).setZero();  // coefficients 1 and 2 never written
    return x.squaredNorm();
  };
  V x = V::Ones(3);
  const auto r = descent::minimize(forgets, x, descent::Adam<V>{});
  CHECK(r.reason == descent::StopReason::NonFinite);
  CHECK(r.iterations == 0);
  CHECK_THAT(r.message, Catch::Contains("gradient coefficient 1 is nan") && Catch::Contains("write every"));
  CHECK((x.array() == 1.0).all());
}

// Issue 9, 2: EarlyStopping restored the best parameters only when it ended the run itself, and
// could not be reused.
TEST_CASE("hardening: EarlyStopping restores the best at the end of any run and can be reused", "[hardening]") {
  const V preferred = V::Constant(2, 2.0);
  auto validation = [&](const V& p) { return (p - preferred).squaredNorm(); };
  auto early = descent::early_stopping<V>(validation, {.patience = 1000});
  V x = V::Constant(2, 5.0);
  descent::MinibatchSampler sampler(100, {.batch_size = 50});
  const auto r = descent::train(HalfNormSum{}, x, descent::SGD<V>({.lr = 0.05}), sampler, {.max_epochs = 60}, early);
  CHECK(r.reason == descent::StopReason::MaxEpochs);  // not stopped early...
  CHECK_FALSE(early.stopped());
  CHECK(early.best_epoch() < 60);
  CHECK((x.array() == early.best_params().array()).all());  // ...but the best is back
  CHECK(validation(x) == early.best_loss());

  // Reused: a second, identical run searches afresh and ends exactly like the first.
  auto impatient = descent::early_stopping<V>(validation, {.patience = 2});
  std::vector<descent::Report> reports;
  std::vector<V> ends;
  for (int run = 0; run < 2; ++run) {
    x = V::Constant(2, 5.0);
    reports.push_back(descent::train(HalfNormSum{}, x, descent::SGD<V>({.lr = 0.05}),
                                     descent::MinibatchSampler(100, {.batch_size = 50}), {.max_epochs = 60},
                                     impatient));
    ends.push_back(x);
    CHECK(reports.back().reason == descent::StopReason::Callback);
    CHECK(impatient.stopped());
    CHECK(impatient.validation_history().size() == std::size_t(reports.back().epochs));
  }
  CHECK(reports[1].epochs == reports[0].epochs);
  CHECK(reports[0].epochs > 3);
  CHECK((ends[1].array() == ends[0].array()).all());
  impatient.reset();
  CHECK(impatient.validation_history().empty());
  CHECK_FALSE(impatient.stopped());
}

// Issue 9, 3: History reserved max_iterations entries up front.
TEST_CASE("hardening: History never allocates from a limit", "[hardening]") {
  for (std::int64_t limit : {std::int64_t(1000000000), std::numeric_limits<std::int64_t>::max()}) {
    descent::History history;
    V x = V::Ones(2);
    const auto r = descent::minimize(HalfNorm{}, x, descent::GradientDescent<V>({.lr = 0.5}),
                                     {.max_iterations = limit, .gradient_tolerance = 1e-6}, history);
    CHECK(r.reason == descent::StopReason::GradientTolerance);
    CHECK(history.steps().size() == std::size_t(r.iterations));
    CHECK(history.steps().capacity() < 1000);
  }
}

// Issue 9, 4: {.max_epochs = 1000} stopped at the default max_iterations (10000 steps).
TEST_CASE("hardening: train's defaults mean what a user writes", "[hardening]") {
  V x = V::Ones(2);
  const auto r = descent::train(HalfNormSum{}, x, descent::GradientDescent<V>({.lr = 1e-6}),
                                descent::MinibatchSampler(100, {.batch_size = 5}), {.max_epochs = 1000});
  CHECK(r.reason == descent::StopReason::MaxEpochs);
  CHECK(r.epochs == 1000);
  CHECK(r.iterations == 20000);
  // Without an epoch or time limit, the automatic cap is 10000 steps, as in minimize.
  const auto capped = descent::train(HalfNormSum{}, x, descent::GradientDescent<V>({.lr = 1e-6}),
                                     descent::MinibatchSampler(100, {.batch_size = 5}), {});
  CHECK(capped.reason == descent::StopReason::MaxIterations);
  CHECK(capped.iterations == 10000);
  CHECK(descent::StopCriteria{}.resolved<double>(false).max_iterations == 10000);
  CHECK(descent::StopCriteria{.max_epochs = 3}.resolved<double>(true).max_iterations == 0);
  CHECK(descent::StopCriteria{.max_iterations = 7, .max_epochs = 3}.resolved<double>(true).max_iterations == 7);
  CHECK_THROWS_WITH(descent::StopCriteria{.max_iterations = -1}.validate(), Catch::Contains("max_iterations = -1"));
}

// Issue 9, 5: gradient_tolerance = 1e-6 is out of float's reach; the default is scaled, and a run
// that cannot move any more says so.
TEST_CASE("hardening: float runs get a reachable default tolerance, and a report when one is not", "[hardening]") {
  CHECK(descent::StopCriteria{}.resolved<double>(false).gradient_tolerance == 1e-6);
  CHECK(descent::StopCriteria{}.resolved<float>(false).gradient_tolerance == 1e-3);
  CHECK(descent::StopCriteria{}.resolved<float>(true).gradient_tolerance == 0.0);
  CHECK_THROWS_WITH(descent::StopCriteria{.gradient_tolerance = -1}.validate(),
                    Catch::Contains("gradient_tolerance = -1"));

  auto f = [](const VF& x, VF& g) {
    g = x - VF::Constant(x.size(), 3.0f);
    return 0.5f * g.squaredNorm();
  };
  VF x = VF::Zero(5);
  const auto r = descent::minimize(f, x, descent::GradientDescent<VF>({.lr = 0.01}));
  CHECK(r.reason == descent::StopReason::GradientTolerance);

  x = VF::Constant(5, 1.0f);
  const auto stuck = descent::minimize(f, x, descent::GradientDescent<VF>({.lr = 1e-12}),
                                       {.max_iterations = 50, .gradient_tolerance = 1e-9});
  CHECK(stuck.reason == descent::StopReason::MaxIterations);
  CHECK_THAT(stuck.message, Catch::Contains("out of reach"));
  std::ostringstream printed;
  printed << stuck;
  CHECK_THAT(printed.str(), Catch::Contains("out of reach"));
}

// Issue 9: a callback written for Progress<V> works whatever holds the parameters.
TEST_CASE("hardening: a Progress<V> callback works with Map and Ref parameters", "[hardening]") {
  std::vector<double> memory(3, 1.0);
  Eigen::Map<V> mapped(memory.data(), 3);
  int calls = 0;
  auto callback = [&](const descent::Progress<V>& p) {
    ++calls;
    CHECK(p.params.data() == memory.data());  // a view of x, not a copy
  };
  descent::minimize(HalfNorm{}, mapped, descent::GradientDescent<V>({.lr = 0.1}), {.max_iterations = 5}, callback);
  CHECK(calls == 5);
  V storage = V::Ones(3);
  Eigen::Ref<V> ref(storage);
  descent::KeepBest<V> best;
  auto on_ref = [&](const descent::Progress<V>& p) {
    ++calls;
    CHECK(p.params.data() == storage.data());
  };
  descent::minimize(HalfNorm{}, ref, descent::GradientDescent<V>({.lr = 0.1}), {.max_iterations = 5}, on_ref, best);
  CHECK(calls == 10);
  CHECK((best.best_params().array() == storage.array()).all());
}

// F10 (options side): ProgressBarOptions accepted NaN and negative intervals.
TEST_CASE("hardening: ProgressBar refuses NaN and negative intervals", "[hardening]") {
  using Options = descent::ProgressBarOptions;
  CHECK_THROWS_WITH(descent::ProgressBar(Options{.redraw_interval = kNaN}), Catch::Contains("redraw_interval"));
  CHECK_THROWS_WITH(descent::ProgressBar(Options{.line_interval = -1.0}), Catch::Contains("line_interval"));
  CHECK_NOTHROW(descent::ProgressBar(Options{.redraw_interval = 0.0}));
}

// The drivers' finiteness checks (detail::all_finite, a vectorized x·0 sum) must agree with
// Eigen's coefficient-by-coefficient allFinite() wherever the bad value sits: in the packet part or
// the scalar tail, at either end, in a strided view, for every kind of non-finite value.
TEMPLATE_TEST_CASE("detail::all_finite agrees with allFinite", "[hardening][finite]", float, double) {
  using T = TestType;
  using V = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  const T bad[] = {std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity(),
                   std::numeric_limits<T>::quiet_NaN()};
  for (const Eigen::Index n : {0, 1, 2, 3, 7, 8, 9, 16, 17, 33, 1000}) {
    V v = V::LinSpaced(n, T(-3e3), std::numeric_limits<T>::max() / T(2));
    CHECK(descent::detail::all_finite(v));
    for (const T b : bad)
      for (Eigen::Index i = 0; i < n; ++i) {
        V w = v;
        w[i] = b;
        REQUIRE_FALSE(descent::detail::all_finite(w));
      }
  }
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> m = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>::Ones(5, 7);
  CHECK(descent::detail::all_finite(m.row(2)));
  m(2, 6) = bad[2];
  CHECK_FALSE(descent::detail::all_finite(m.row(2)));
  CHECK(descent::detail::all_finite(m.topLeftCorner(5, 6)));
  CHECK(descent::detail::all_finite(Eigen::Matrix<T, 2, 1>(T(1), T(-1))));
  CHECK_FALSE(descent::detail::all_finite(Eigen::Matrix<T, 2, 1>(T(1), bad[0])));
}
