// No heap allocation in step(): none after the first step for dynamic V, none at all for
// fixed-size V. Checked two ways: Eigen's run-time malloc guard (Eigen allocates through malloc,
// not operator new) and a count of global operator new calls.
#undef NDEBUG  // the guard reports through eigen_assert, which NDEBUG would silence
#define EIGEN_RUNTIME_NO_MALLOC
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <new>
#include <vector>

#include "support.hpp"

namespace {
std::atomic<long> g_news{0};
}  // namespace

// AddressSanitizer replaces operator new itself and objects to ours (it sees its own allocations
// freed through ours); under it only Eigen's guard is used.
#if defined(__SANITIZE_ADDRESS__)
#define DESCENT_COUNT_NEW 0
#else
#define DESCENT_COUNT_NEW 1
#endif

#if DESCENT_COUNT_NEW
// The replacements below pair malloc with free, which GCC cannot see through the operator names.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t size) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace {

// Counts operator new calls and forbids Eigen's mallocs while `body` runs.
template <class Body>
long allocations_in(Body&& body) {
  const long before = g_news.load();
  Eigen::internal::set_is_malloc_allowed(false);
  body();
  Eigen::internal::set_is_malloc_allowed(true);
  return g_news.load() - before;
}

}  // namespace

TEMPLATE_TEST_CASE("allocation: dynamic V allocates on the first step only", "[allocation]",
                   DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  using V = Eigen::VectorXf;
  auto opt = TestType::template make<V>();
  V x = V::LinSpaced(1000, -1.0f, 1.0f);
  V g = V::Ones(1000);
  std::vector<float> buffer(1000, 0.5f);
  Eigen::Map<V> mapped(buffer.data(), 1000);
  opt.step(x, g);
  const long news = allocations_in([&] {
    for (int i = 0; i < 10; ++i) {
      opt.step(x, g);
      opt.step(x.segment(0, 1000), g);
      opt.step(mapped, g);
    }
  });
  CHECK(news == 0);
}

TEMPLATE_TEST_CASE("allocation: fixed-size V never allocates", "[allocation]", DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  using V = Eigen::Matrix<double, 7, 1>;
  using M = Eigen::Matrix<float, 3, 5>;
  const long news = allocations_in([&] {
    auto opt = TestType::template make<V>();
    V x = V::Constant(1.0);
    const V g = V::Constant(0.5);
    for (int i = 0; i < 10; ++i) opt.step(x, g);
    opt.reset();
    opt.step(x, g);
    auto mopt = TestType::template make<M>();
    M m = M::Constant(1.0f);
    const M gm = M::Constant(0.25f);
    for (int i = 0; i < 10; ++i) mopt.step(m, gm);
  });
  CHECK(news == 0);
}

TEST_CASE("allocation: the counter is live (it sees a deliberate allocation)", "[allocation]") {
  // Proves the test above could fail: count a deliberate allocation through operator new.
  if (!DESCENT_COUNT_NEW) SUCCEED("operator new is not counted under AddressSanitizer");
  static std::vector<double>* volatile sink = nullptr;
  const long news = allocations_in([] { sink = new std::vector<double>(3); });
  delete sink;
  CHECK(news == (DESCENT_COUNT_NEW ? 2 : 0));  // the vector object and its buffer
}

TEST_CASE("allocation: minimize on a fixed-size V allocates nothing", "[allocation]") {
  using V2 = Eigen::Vector2d;
  auto rosenbrock = [](const V2& p, V2& g) {
    const double a = 1 - p.x(), b = p.y() - p.x() * p.x();
    g << -2 * a - 400 * p.x() * b, 200 * b;
    return a * a + 100 * b * b;
  };
  V2 x(-1.5, 2.0);
  descent::Report report;
  const long news = allocations_in([&] {
    descent::Adam<V2> adam({.lr = 0.02});
    report = descent::minimize(rosenbrock, x, adam, {.max_iterations = 20000, .gradient_tolerance = 1e-8});
    V2 y(0.5, 0.5);
    descent::minimize(rosenbrock, y, descent::GradientDescent<V2>({.lr = 1e-3}), {.max_iterations = 100},
                      [](const descent::Progress<V2>& p) { return p.loss >= 0; });
  });
  CHECK(news == 0);
  CHECK(report.reason == descent::StopReason::GradientTolerance);
}

TEST_CASE("allocation: LBFGS allocates its buffers at the first step only, with either line search", "[allocation]") {
  auto rosenbrock = [](const Eigen::VectorXd& p, Eigen::VectorXd& g) {
    double f = 0;
    g.setZero();
    for (Eigen::Index i = 0; i + 1 < p.size(); ++i) {
      const double a = p[i + 1] - p[i] * p[i], b = 1 - p[i];
      f += 10 * a * a + b * b;
      g[i] += -40 * p[i] * a - 2 * b;
      g[i + 1] += 20 * a;
    }
    return f;
  };
  for (auto search : {descent::LineSearch::None, descent::LineSearch::StrongWolfe}) {
    INFO("line search " << search);
    Eigen::VectorXd x = Eigen::VectorXd::Constant(9, -0.5);
    descent::LBFGS<Eigen::VectorXd> opt({.lr = search == descent::LineSearch::None ? 0.1 : 1.0, .max_iter = 3,
                                         .tolerance_change = 0, .history_size = 4, .line_search = search});
    opt.step(rosenbrock, x);
    // the history ring (4 + 1 pairs) fills and wraps around within these steps
    CHECK(allocations_in([&] {
            for (int k = 0; k < 10; ++k) opt.step(rosenbrock, x);
          }) == 0);
    CHECK(opt.iterations() > 20);
    // minimize: its own buffers and the optimizer's are allocated before or in its first
    // iteration; from then on Eigen's guard forbids allocation (an allocation would abort)
    Eigen::VectorXd y = Eigen::VectorXd::Constant(9, -0.5);
    descent::LBFGS<Eigen::VectorXd> fresh(opt.options());
    const long before = g_news.load();
    const auto report = descent::minimize(rosenbrock, y, fresh, {.max_iterations = 15, .gradient_tolerance = 0},
                                          [](const descent::Progress<Eigen::VectorXd>& p) {
                                            if (p.iteration == 1) Eigen::internal::set_is_malloc_allowed(false);
                                            return true;
                                          });
    Eigen::internal::set_is_malloc_allowed(true);
    CHECK(g_news.load() == before);
    CHECK(report.iterations == 15);
  }
}

TEST_CASE("allocation: sparse steps allocate on the first step only (SGD, Adagrad, SparseAdam)", "[allocation][sparse]") {
  using V = Eigen::VectorXf;
  Eigen::SparseVector<float> g(1000);
  for (int i = 0; i < 1000; i += 7) g.coeffRef(i) = 0.01f * float(i % 13) - 0.05f;
  Eigen::SparseMatrix<float> columns(1000, 2);
  for (int i = 3; i < 1000; i += 11) columns.insert(i, 1) = 0.5f;
  columns.makeCompressed();
  auto exercise = [&](auto opt) {
    V x = V::LinSpaced(1000, -1.0f, 1.0f);
    std::vector<float> buffer(1000, 0.5f);
    Eigen::Map<V> mapped(buffer.data(), 1000);
    opt.step(x, g);
    return allocations_in([&] {
      for (int i = 0; i < 10; ++i) {
        opt.step(x, g);
        opt.step(x.segment(0, 1000), g);
        opt.step(mapped, g);
        opt.step(x, columns.col(1));
      }
    });
  };
  CHECK(exercise(descent::SGD<V>({.lr = 0.1, .maximize = true})) == 0);
  CHECK(exercise(descent::Adagrad<V>({.lr = 0.1, .lr_decay = 0.01, .initial_accumulator_value = 0.1})) == 0);
  CHECK(exercise(descent::SparseAdam<V>({.lr = 0.01})) == 0);
  // Fixed size: never, not even the first step.
  using F = Eigen::Matrix<double, 6, 1>;
  const long news = allocations_in([&] {
    descent::SparseAdam<F> opt({.lr = 0.1});
    descent::Adagrad<F> adagrad({.lr = 0.1});
    F x = F::Ones();
    Eigen::SparseVector<double> empty(6);  // no storage: building it allocates nothing
    for (int i = 0; i < 5; ++i) {
      opt.step(x, empty);
      adagrad.step(x, empty);
    }
  });
  CHECK(news == 0);
}
