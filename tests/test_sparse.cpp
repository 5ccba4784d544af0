// Sparse gradients: SGD, Adagrad and SparseAdam against torch.optim 1.13 with sparse grads (the
// trajectories of tests/data/sparse/, written by tools/make_sparse_reference.py, which documents
// the file format), and what the sparse steps promise besides: O(nonzeros) updates that leave every
// other coefficient (parameters and state) bitwise as it was, the same numbers as the dense step on
// the densified gradient where torch's two paths agree, and errors before anything is written.
//
// A case's gradient is stored as torch was given it, uncoalesced (an index may repeat, in any
// order). It is replayed twice: summed into an Eigen::SparseVector with coeffRef(i) += v (torch's
// coalesce), and with every entry kept (insert(i), which keeps a repeated index's entries in their
// order). After every step, for both:
//   max_i |x_i − ref_i| / max(max_i |ref_i|, 1e-30)  <=  1e-10 (double), 1e-5 (float).

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <descent/descent.hpp>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "reference_io.hpp"

#ifndef DESCENT_TEST_DATA_DIR
#error "DESCENT_TEST_DATA_DIR must be defined as a string literal: the path of tests/data"
#endif

namespace {

namespace reference = descent_test::reference;

const std::string kSource = "sparse reference data";
const std::string kReferenceDir = std::string(DESCENT_TEST_DATA_DIR) + "/sparse";

struct Step {
  std::vector<int> indices;
  std::vector<double> values;
};

struct SparseCase {
  std::string name, descent_class, dtype;
  int n = 0;
  int steps = 0;
  std::map<std::string, double> options;
  std::vector<double> initial;
  std::vector<Step> grads;
  std::vector<std::vector<double>> params;
};

SparseCase read_case(const std::string& file) {
  const std::string path = kReferenceDir + "/" + file;
  std::ifstream in(path);
  if (!in.is_open()) reference::parse_error(kSource, path, "cannot open");
  SparseCase c;
  std::string line;
  int number = 0;
  bool ended = false;
  auto numbers = [&](std::istringstream& words, int count, const std::string& where) {
    if (c.dtype != "float64" && c.dtype != "float32") reference::parse_error(kSource, where, "missing dtype");
    std::vector<double> v;
    std::string token;
    for (int i = 0; i < count && words >> token; ++i)
      v.push_back(reference::parse_number(kSource, token, c.dtype == "float32", where));
    if (int(v.size()) != count) reference::parse_error(kSource, where, "too few values");
    return v;
  };
  while (std::getline(in, line)) {
    ++number;
    const std::string where = path + ":" + std::to_string(number);
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (number == 1) {
      if (line != "descent-sparse-reference 1") reference::parse_error(kSource, where, "not a version 1 file");
    } else if (key == "case") {
      words >> c.name;
    } else if (key == "descent") {
      words >> c.descent_class;
    } else if (key == "dtype") {
      words >> c.dtype;
    } else if (key == "n" || key == "steps") {
      std::string token;
      words >> token;
      (key == "n" ? c.n : c.steps) = reference::parse_int(kSource, token, where);
    } else if (key == "option") {
      std::string name, value, kind;
      words >> name >> value >> kind;
      c.options[name] = value == "true"    ? 1.0
                        : value == "false" ? 0.0
                                           : reference::parse_number(kSource, value, false, where);
    } else if (key == "initial") {
      c.initial = numbers(words, c.n, where);
    } else if (key == "grad") {
      std::string t, k;
      words >> t >> k;
      const int count = reference::parse_int(kSource, k, where);
      Step s;
      for (int i = 0; i < count; ++i) {
        std::string token;
        words >> token;
        s.indices.push_back(reference::parse_int(kSource, token, where));
      }
      s.values = numbers(words, count, where);
      c.grads.push_back(s);
    } else if (key == "params") {
      std::string t;
      words >> t;
      c.params.push_back(numbers(words, c.n, where));
    } else if (key == "end") {
      ended = true;
    }
  }
  if (!ended || int(c.grads.size()) != c.steps || int(c.params.size()) != c.steps)
    reference::parse_error(kSource, path, "truncated");
  return c;
}

/// The gradient with a repeated index summed, in file order (torch's coalesce).
template <class Scalar>
Eigen::SparseVector<Scalar> coalesced(const Step& s, int n) {
  Eigen::SparseVector<Scalar> g(n);
  for (std::size_t k = 0; k < s.indices.size(); ++k) g.coeffRef(s.indices[k]) += Scalar(s.values[k]);
  return g;
}

/// Every entry kept: sorted by index, a repeated index's entries in file order.
template <class Scalar>
Eigen::SparseVector<Scalar> uncoalesced(const Step& s, int n) {
  std::vector<std::size_t> order(s.indices.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return s.indices[a] < s.indices[b]; });
  Eigen::SparseVector<Scalar> g(n);
  g.reserve(Eigen::Index(order.size()));
  for (std::size_t k : order) g.insertBack(s.indices[k]) = Scalar(s.values[k]);
  return g;
}

template <class Scalar>
struct Optimizers {
  using V = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  descent::SGD<V> sgd;
  descent::Adagrad<V> adagrad;
  descent::SparseAdam<V> adam;
};

/// The case's optimizer (the member its descent class names), every option from the file.
template <class Scalar>
Optimizers<Scalar> make_optimizer(const SparseCase& c) {
  using V = typename Optimizers<Scalar>::V;
  const auto& o = c.options;
  Optimizers<Scalar> any;
  if (c.descent_class == "SGD") {
    any.sgd = descent::SGD<V>({.lr = o.at("lr"), .maximize = o.at("maximize") != 0.0});
  } else if (c.descent_class == "Adagrad") {
    any.adagrad = descent::Adagrad<V>({.lr = o.at("lr"),
                                       .lr_decay = o.at("lr_decay"),
                                       .initial_accumulator_value = o.at("initial_accumulator_value"),
                                       .eps = o.at("eps"),
                                       .maximize = o.at("maximize") != 0.0});
  } else {
    any.adam = descent::SparseAdam<V>({.lr = o.at("lr"),
                                       .beta1 = o.at("beta1"),
                                       .beta2 = o.at("beta2"),
                                       .eps = o.at("eps"),
                                       .maximize = o.at("maximize") != 0.0});
  }
  return any;
}

template <class Scalar>
double tolerance() {
  return std::is_same_v<Scalar, double> ? 1e-10 : 1e-5;
}

/// Replays a case; returns the largest relative error over its steps.
template <class Scalar, bool Coalesce>
double replay(const SparseCase& c) {
  using V = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  auto opt = make_optimizer<Scalar>(c);
  V x = reference::to_vector<V>(c.initial);
  double worst = 0.0;
  for (int t = 0; t < c.steps; ++t) {
    const auto g =
        Coalesce ? coalesced<Scalar>(c.grads[std::size_t(t)], c.n) : uncoalesced<Scalar>(c.grads[std::size_t(t)], c.n);
    if (c.descent_class == "SGD")
      opt.sgd.step(x, g);
    else if (c.descent_class == "Adagrad")
      opt.adagrad.step(x, g);
    else
      opt.adam.step(x, g);
    const double err = reference::relative_error(x, c.params[std::size_t(t)]);
    worst = std::max(worst, err);
    if (!(err <= tolerance<Scalar>())) {
      INFO(c.name << (Coalesce ? " (coalesced)" : " (uncoalesced)") << ": step " << t + 1 << ": relative error "
                  << reference::sci(err));
      FAIL_CHECK("relative error above tolerance");
      return worst;
    }
  }
  return worst;
}

using VD = Eigen::VectorXd;
using SVD = Eigen::SparseVector<double>;

SVD sparse(Eigen::Index n, std::initializer_list<std::pair<int, double>> entries) {
  SVD g(n);
  for (const auto& [i, v] : entries) g.coeffRef(i) += v;
  return g;
}

template <class X>
bool bitwise_equal(const X& a, const X& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), sizeof(typename X::Scalar) * std::size_t(a.size())) == 0;
}

}  // namespace

TEST_CASE("sparse: SGD, Adagrad and SparseAdam replay torch's sparse trajectories", "[sparse][torch]") {
  const auto entries = reference::read_index(kSource, kReferenceDir + "/index.txt");
  REQUIRE(entries.size() >= 26);
  for (const auto& e : entries) {
    const SparseCase c = read_case(e.file);
    REQUIRE(c.descent_class == e.family);
    double summed = 0.0, kept = 0.0;
    if (c.dtype == "float64") {
      summed = replay<double, true>(c);
      kept = replay<double, false>(c);
    } else {
      summed = replay<float, true>(c);
      kept = replay<float, false>(c);
    }
    // The measured errors, for docs/sparse.md (run with -s to see them).
    INFO(c.name << ": max relative error " << reference::sci(summed) << " coalesced, " << reference::sci(kept)
                << " uncoalesced");
    CHECK(true);
  }
}

TEST_CASE("sparse: Adagrad and SparseAdam give the same numbers from a gradient coalesced or not", "[sparse][torch]") {
  // Adagrad and SparseAdam sum a repeated index first, so both replays give the same numbers.
  for (const std::string file : {"adagrad_lrd_acc_eps_max_f32.txt", "sparse_adam_betas_eps_f32.txt"}) {
    const SparseCase c = read_case(file);
    using V = Eigen::VectorXf;
    auto a = make_optimizer<float>(c);
    auto b = make_optimizer<float>(c);
    V x = reference::to_vector<V>(c.initial), y = x;
    for (int t = 0; t < c.steps; ++t) {
      const auto& s = c.grads[std::size_t(t)];
      if (c.descent_class == "Adagrad") {
        a.adagrad.step(x, coalesced<float>(s, c.n));
        b.adagrad.step(y, uncoalesced<float>(s, c.n));
      } else {
        a.adam.step(x, coalesced<float>(s, c.n));
        b.adam.step(y, uncoalesced<float>(s, c.n));
      }
    }
    CHECK(bitwise_equal(x, y));
  }
}

TEST_CASE("sparse: coefficients the gradient does not store stay bitwise unchanged, params and state", "[sparse]") {
  const Eigen::Index n = 40;
  VD x0 = VD::LinSpaced(n, -2.0, 3.0);
  descent::SGD<VD> sgd({.lr = 0.1});
  descent::Adagrad<VD> adagrad({.lr = 0.1, .lr_decay = 0.01, .initial_accumulator_value = 0.2});
  descent::SparseAdam<VD> adam({.lr = 0.05});
  VD xs = x0, xa = x0, xm = x0;
  const SVD g1 = sparse(n, {{3, 0.5}, {17, -1.0}, {39, 2.0}});
  const SVD g2 = sparse(n, {{0, 0.25}, {17, 0.75}});
  for (const SVD* g : {&g1, &g2, &g1}) {
    sgd.step(xs, *g);
    adagrad.step(xa, *g);
    adam.step(xm, *g);
  }
  const VD acc0 = VD::Constant(n, 0.2);
  for (Eigen::Index i = 0; i < n; ++i) {
    const bool touched = i == 0 || i == 3 || i == 17 || i == 39;
    INFO("coefficient " << i);
    CHECK((xs(i) == x0(i)) == !touched);
    CHECK((xa(i) == x0(i)) == !touched);
    CHECK((xm(i) == x0(i)) == !touched);
    CHECK((adagrad.sum_of_squares()(i) == acc0(i)) == !touched);
    CHECK((adam.exp_avg()(i) == 0.0) == !touched);
    CHECK((adam.exp_avg_sq()(i) == 0.0) == !touched);
    if (!touched) {
      CHECK(std::signbit(adam.exp_avg()(i)) == false);
      CHECK(std::memcmp(&xa(i), &x0(i), sizeof(double)) == 0);
    }
  }
  CHECK(sgd.steps() == 3);
  CHECK(adagrad.steps() == 3);
  CHECK(adam.steps() == 3);
}

TEST_CASE("sparse: SGD's sparse step is its dense step on the densified gradient, bitwise", "[sparse]") {
  const Eigen::Index n = 37;
  for (bool maximize : {false, true}) {
    descent::SGD<VD> a({.lr = 0.3, .maximize = maximize}), b({.lr = 0.3, .maximize = maximize});
    VD x = VD::LinSpaced(n, -1.0, 1.0), y = x;
    for (int t = 0; t < 20; ++t) {
      const SVD g = sparse(n, {{t % 37, 0.1 * t - 0.7}, {(5 * t + 3) % 37, 1.5}, {36, -0.01 * t}});
      a.step(x, g);
      b.step(y, VD(g));
    }
    CHECK(bitwise_equal(x, y));
  }
}

TEST_CASE("sparse: Adagrad's sparse step is its dense step on the densified gradient when eps > 0", "[sparse]") {
  // Where the dense gradient is 0 the dense step adds 0 to the sum and subtracts clr·0/(√sum + eps)
  // = 0 from p: exactly nothing, as long as √sum + eps is not 0.
  const Eigen::Index n = 37;
  for (double acc : {0.0, 0.3}) {
    const descent::AdagradOptions o{.lr = 0.2, .lr_decay = 0.05, .initial_accumulator_value = acc, .maximize = true};
    descent::Adagrad<VD> a(o), b(o);
    VD x = VD::LinSpaced(n, -1.0, 1.0), y = x;
    for (int t = 0; t < 20; ++t) {
      const SVD g = sparse(n, {{t % 37, 0.1 * t - 0.7}, {(5 * t + 3) % 37, 1.5}, {36, -0.01 * t}});
      a.step(x, g);
      b.step(y, VD(g));
    }
    CHECK(bitwise_equal(x, y));
    CHECK(bitwise_equal(a.sum_of_squares(), b.sum_of_squares()));
  }
  SECTION("with eps = 0 and a zero sum the dense step divides 0 by 0, the sparse step leaves p alone") {
    const descent::AdagradOptions o{.lr = 0.2, .eps = 0.0};
    descent::Adagrad<VD> a(o), b(o);
    VD x = VD::Ones(5), y = x;
    const SVD g = sparse(5, {{1, 0.5}});
    a.step(x, g);
    b.step(y, VD(g));
    CHECK(x(0) == 1.0);
    CHECK(std::isnan(y(0)));
    CHECK(x(1) == y(1));
  }
}

TEST_CASE("sparse: SparseAdam with every coefficient in every gradient is Adam up to rounding", "[sparse]") {
  // Up to eps too: torch's Adam adds eps to √v/√bc2, SparseAdam to √v (its step size carries √bc2),
  // so the two agree only where eps is negligible.
  const Eigen::Index n = 9;
  descent::SparseAdam<VD> s2({.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-300});
  descent::Adam<VD> a2({.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-300});
  VD p = VD::LinSpaced(n, -1.0, 2.0), q = p;
  for (int t = 0; t < 50; ++t) {
    const VD g = VD::LinSpaced(n, -1.0, 1.0) * std::cos(0.3 * t);
    SVD sg(n);
    for (Eigen::Index i = 0; i < n; ++i) sg.coeffRef(i) = g(i);
    s2.step(p, sg);
    a2.step(q, g);
  }
  CHECK((p - q).cwiseAbs().maxCoeff() <= 1e-12 * q.cwiseAbs().maxCoeff());
  CHECK((p - VD::LinSpaced(n, -1.0, 2.0)).cwiseAbs().maxCoeff() > 0.1);
}

TEST_CASE("sparse: refused options, indices and shapes throw before anything is written", "[sparse]") {
  const Eigen::Index n = 6;
  const VD x0 = VD::LinSpaced(n, 1.0, 2.0);
  const SVD good = sparse(n, {{1, 0.5}, {4, -0.5}});

  descent::SGD<VD> sgd_momentum({.lr = 0.1, .momentum = 0.9});
  descent::SGD<VD> sgd_decay({.lr = 0.1, .weight_decay = 0.01});
  descent::Adagrad<VD> adagrad_decay({.lr = 0.1, .weight_decay = 0.01});
  VD x = x0;
  CHECK_THROWS_WITH(sgd_momentum.step(x, good), Catch::Contains("descent::SGD::step: momentum = 0.9") &&
                                                    Catch::Contains("not compatible with a sparse gradient"));
  CHECK_THROWS_WITH(sgd_decay.step(x, good),
                    Catch::Contains("descent::SGD::step: weight_decay = 0.01") && Catch::Contains("sparse gradient"));
  CHECK_THROWS_WITH(adagrad_decay.step(x, good), Catch::Contains("descent::Adagrad::step: weight_decay = 0.01") &&
                                                     Catch::Contains("torch refuses it too"));
  CHECK(bitwise_equal(x, x0));
  CHECK(sgd_momentum.steps() == 0);
  CHECK(adagrad_decay.steps() == 0);

  SVD out_of_range(n);
  out_of_range.data().append(0.5, 2);
  out_of_range.data().append(0.5, 6);
  SVD negative(n);
  negative.data().append(0.5, -1);
  SVD unsorted(n);
  unsorted.data().append(0.5, 3);
  unsorted.data().append(0.5, 1);
  const SVD too_long = sparse(n + 1, {{1, 0.5}});

  descent::Adagrad<VD> adagrad({.lr = 0.1});
  descent::SparseAdam<VD> adam({.lr = 0.1});
  descent::SGD<VD> sgd({.lr = 0.1});
  x = x0;
  adagrad.step(x, good);
  adam.step(x, good);
  sgd.step(x, good);
  const VD x1 = x;
  const VD sum1 = adagrad.sum_of_squares(), m1 = adam.exp_avg(), v1 = adam.exp_avg_sq();
  auto unchanged = [&] {
    CHECK(bitwise_equal(x, x1));
    CHECK(bitwise_equal(adagrad.sum_of_squares(), sum1));
    CHECK(bitwise_equal(adam.exp_avg(), m1));
    CHECK(bitwise_equal(adam.exp_avg_sq(), v1));
    CHECK(adagrad.steps() == 1);
    CHECK(adam.steps() == 1);
    CHECK(sgd.steps() == 1);
  };
  CHECK_THROWS_WITH(adagrad.step(x, out_of_range),
                    "descent::Adagrad::step: the sparse gradient's nonzero 1 has index 6, outside the 6 parameters");
  CHECK_THROWS_WITH(adam.step(x, negative),
                    Catch::Contains("descent::SparseAdam::step") && Catch::Contains("index -1"));
  CHECK_THROWS_WITH(sgd.step(x, unsorted),
                    Catch::Contains("descent::SGD::step: the sparse gradient's indices are not in "
                                    "increasing order (nonzero 1 has index 1 after 3)"));
  CHECK_THROWS_WITH(adam.step(x, too_long), "descent::SparseAdam::step: params is 6x1 but grads is 7x1");
  VD longer = VD::Zero(n + 1);
  CHECK_THROWS_WITH(adagrad.step(longer, too_long),
                    Catch::Contains("the optimizer's state is 6x1 (call reset() before stepping parameters"));
  CHECK_THROWS_AS(adam.step(longer, too_long), std::invalid_argument);
  unchanged();
}

TEST_CASE("sparse: a column of a SparseMatrix, compressed or not, a row vector, Map, segment and fixed size",
          "[sparse]") {
  const Eigen::Index n = 12;
  const SVD g = sparse(n, {{2, 1.0}, {5, -0.5}, {11, 0.25}});
  Eigen::SparseMatrix<double> m(n, 3);
  m.insert(2, 1) = 1.0;
  m.insert(5, 1) = -0.5;
  m.insert(11, 1) = 0.25;
  m.insert(4, 0) = 9.0;
  m.insert(7, 2) = 9.0;
  Eigen::SparseMatrix<double> compressed = m;
  compressed.makeCompressed();
  REQUIRE(!m.isCompressed());

  const VD x0 = VD::LinSpaced(n, -1.0, 1.0);
  auto run = [&](auto&& step) {
    descent::SparseAdam<VD> opt({.lr = 0.1, .maximize = true});
    VD x = x0;
    for (int t = 0; t < 3; ++t) step(opt, x);
    return x;
  };
  const VD reference_x = run([&](auto& opt, VD& x) { opt.step(x, g); });
  CHECK(bitwise_equal(run([&](auto& opt, VD& x) { opt.step(x, m.col(1)); }), reference_x));
  CHECK(bitwise_equal(run([&](auto& opt, VD& x) { opt.step(x, compressed.col(1)); }), reference_x));
  CHECK(bitwise_equal(run([&](auto& opt, VD& x) {
                        std::vector<double> buffer(std::size_t(n) + 1, 0.0);
                        Eigen::Map<VD> mapped(buffer.data() + 1, n);
                        mapped = x;
                        opt.step(mapped, g);
                        x = mapped;
                      }),
                      reference_x));
  CHECK(bitwise_equal(run([&](auto& opt, VD& x) {
                        VD longer = VD::Zero(n + 4);
                        longer.segment(2, n) = x;
                        opt.step(longer.segment(2, n), g);
                        x = longer.segment(2, n);
                      }),
                      reference_x));
  // A column of a row-major matrix: the coefficients are a whole row apart.
  CHECK(bitwise_equal(run([&](auto& opt, VD& x) {
                        Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows(n, 3);
                        rows.setZero();
                        rows.col(1) = x;
                        opt.step(rows.col(1), g);
                        x = rows.col(1);
                      }),
                      reference_x));

  using Row = Eigen::RowVectorXd;
  descent::Adagrad<Row> row_opt({.lr = 0.1});
  Row r = x0.transpose();
  Eigen::SparseVector<double, Eigen::RowMajor> rg(n);
  rg.coeffRef(5) = 1.0;
  row_opt.step(r, rg);
  CHECK(r(5) != x0(5));
  CHECK(r(4) == x0(4));

  using V8 = Eigen::Matrix<float, 8, 1>;
  descent::SGD<V8> fixed({.lr = 0.5});
  V8 f = V8::Ones();
  Eigen::SparseVector<float> fg(8);
  fg.coeffRef(7) = 2.0f;
  fixed.step(f, fg);
  CHECK(f(7) == 0.0f);
  CHECK(f(6) == 1.0f);
}

TEST_CASE("sparse: an empty gradient changes nothing but counts as a step", "[sparse]") {
  descent::Adagrad<VD> adagrad({.lr = 0.1, .lr_decay = 0.5});
  descent::SparseAdam<VD> adam({.lr = 0.1});
  VD x = VD::Ones(4), y = x;
  const SVD empty(4);
  adagrad.step(x, empty);
  adam.step(y, empty);
  CHECK(x == VD::Ones(4));
  CHECK(y == VD::Ones(4));
  CHECK(adagrad.steps() == 1);
  CHECK(adam.steps() == 1);
  CHECK(adagrad.sum_of_squares().size() == 4);
}

TEST_CASE("sparse: non-finite gradient values propagate as in the dense step, to their coefficients only", "[sparse]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  descent::SparseAdam<VD> adam({.lr = 0.1});
  descent::Adagrad<VD> adagrad({.lr = 0.1});
  VD x = VD::Ones(5), y = x;
  const SVD g = sparse(5, {{1, nan}, {3, 1.0}});
  adam.step(x, g);
  adagrad.step(y, g);
  CHECK(std::isnan(x(1)));
  CHECK(std::isnan(y(1)));
  CHECK(std::isfinite(x(3)));
  CHECK(x(0) == 1.0);
  CHECK(y(4) == 1.0);
}

TEST_CASE("sparse: SparseAdamOptions defaults are torch's and invalid values are refused", "[sparse][options]") {
  const descent::SparseAdamOptions o;
  CHECK(o.lr == 1e-3);
  CHECK(o.beta1 == 0.9);
  CHECK(o.beta2 == 0.999);
  CHECK(o.eps == 1e-8);
  CHECK(o.maximize == false);
  using S = descent::SparseAdam<VD>;
  CHECK_THROWS_WITH(S({.lr = 0.0}), "descent::SparseAdamOptions: invalid lr = 0 (must be a finite number > 0)");
  CHECK_THROWS_WITH(S({.beta1 = 1.0}), Catch::Contains("invalid beta1 = 1"));
  CHECK_THROWS_WITH(S({.beta2 = -0.1}), Catch::Contains("invalid beta2 = -0.1"));
  CHECK_THROWS_WITH(S({.eps = 0.0}), Catch::Contains("invalid eps = 0"));
  CHECK_THROWS_WITH(descent::SparseAdam<Eigen::VectorXf>({.lr = 1e39}), Catch::Contains("finite in float"));
  S opt;
  CHECK_THROWS_AS(opt.set_lr(-1.0), std::invalid_argument);
  opt.set_lr(0.5);
  CHECK(opt.lr() == 0.5);
  opt.set_momentum(0.5);
  CHECK(opt.momentum() == 0.5);
  CHECK(opt.options().beta1 == 0.5);
}

TEST_CASE("sparse: the SparseOptimizer concept holds for the three sparse optimizers only", "[sparse]") {
  STATIC_REQUIRE(descent::SparseOptimizer<descent::SGD<VD>, VD>);
  STATIC_REQUIRE(descent::SparseOptimizer<descent::Adagrad<Eigen::VectorXf>, Eigen::VectorXf>);
  STATIC_REQUIRE(descent::SparseOptimizer<descent::SparseAdam<VD>, VD>);
  STATIC_REQUIRE(!descent::SparseOptimizer<descent::Adam<VD>, VD>);
  STATIC_REQUIRE(!descent::SparseOptimizer<descent::AdamW<VD>, VD>);
  STATIC_REQUIRE(!descent::SparseOptimizer<descent::RMSProp<VD>, VD>);
  STATIC_REQUIRE(!descent::SparseOptimizer<descent::GradientDescent<VD>, VD>);
  STATIC_REQUIRE(descent::Optimizer<descent::Adam<VD>, VD>);
  STATIC_REQUIRE(descent::LearningRateControl<descent::SparseAdam<VD>>);
}

namespace {

/// Least squares over samples that each touch three of n features: the gradient of a batch's mean
/// loss has at most 3·batch nonzeros. Written once for a sparse and once for a dense gradient.
struct SparseLeastSquares {
  Eigen::Index n = 50;
  Eigen::Index samples = 40;
  Eigen::Index size() const { return samples; }
  Eigen::Index feature(Eigen::Index j, int f) const { return (j * 7 + f * 13) % n; }
  double target(Eigen::Index j) const { return std::sin(double(j)); }
  template <class G>
  double evaluate(const VD& x, descent::Batch batch, G&& add) const {
    double loss = 0.0;
    const double scale = 1.0 / double(batch.size());
    for (const auto j : batch) {
      double r = -target(j);
      for (int f = 0; f < 3; ++f) r += x(feature(j, f));
      loss += 0.5 * r * r * scale;
      for (int f = 0; f < 3; ++f) add(feature(j, f), r * scale);
    }
    return loss;
  }
};

struct SparseObjective : SparseLeastSquares {
  double nan_at_call = -1;
  mutable int calls = 0;
  double operator()(const VD& x, descent::Batch batch, SVD& grad) const {
    ++calls;
    if (calls == int(nan_at_call)) grad.coeffRef(3) = std::numeric_limits<double>::quiet_NaN();
    return evaluate(x, batch, [&](Eigen::Index i, double v) { grad.coeffRef(i) += v; });
  }
};

struct DenseObjective : SparseLeastSquares {
  double operator()(const VD& x, descent::Batch batch, VD& grad) const {
    grad.setZero();
    return evaluate(x, batch, [&](Eigen::Index i, double v) { grad(i) += v; });
  }
};

}  // namespace

TEST_CASE("sparse: train steps sparsely from a SparseVector gradient, as the dense train on the same gradients",
          "[sparse][train]") {
  STATIC_REQUIRE(descent::SparseStochasticObjective<SparseObjective, VD>);
  STATIC_REQUIRE(!descent::StochasticObjective<SparseObjective, VD>);
  const SparseObjective sparse_f;
  const DenseObjective dense_f;
  VD x = VD::Zero(50), y = x;
  descent::MinibatchSampler a(40, {.batch_size = 4, .seed = 3}), b(40, {.batch_size = 4, .seed = 3});
  descent::History history;
  const auto rs = descent::train(sparse_f, x, descent::SGD<VD>({.lr = 0.1}), a, {.max_epochs = 5}, history);
  const auto rd = descent::train(dense_f, y, descent::SGD<VD>({.lr = 0.1}), b, {.max_epochs = 5});
  CHECK(rs.reason == descent::StopReason::MaxEpochs);
  CHECK(rs.iterations == 50);
  CHECK(rs.iterations == rd.iterations);
  CHECK(rs.loss == rd.loss);
  CHECK(bitwise_equal(x, y));
  CHECK(history.steps().size() == 50);
  CHECK(history.epochs().size() == 5);

  // SparseAdam has no dense step at all: only the sparse path can drive it.
  VD z = VD::Zero(50);
  descent::SparseAdam<VD> adam({.lr = 0.05});
  const auto r =
      descent::train(sparse_f, z, adam, descent::MinibatchSampler(40, {.batch_size = 8}), {.max_epochs = 30});
  CHECK(r.loss < 0.5 * descent::train(sparse_f, y = VD::Zero(50), descent::SparseAdam<VD>({.lr = 0.05}),
                                      descent::MinibatchSampler(40, {.batch_size = 8}), {.max_iterations = 1})
                           .loss);
  CHECK(adam.steps() == r.iterations);
}

TEST_CASE("sparse: train stops on a non-finite sparse gradient and undoes the step that led there", "[sparse][train]") {
  SparseObjective f;
  f.nan_at_call = 4;
  VD x = VD::Zero(50), expected = x;
  descent::Adagrad<VD> adagrad({.lr = 0.1});
  const auto r =
      descent::train(f, x, adagrad, descent::MinibatchSampler(40, {.batch_size = 4, .seed = 1}), {.max_epochs = 2});
  CHECK(r.reason == descent::StopReason::NonFinite);
  CHECK(r.iterations == 3);
  CHECK_THAT(r.message, Catch::Contains("gradient coefficient 3 is nan after step 3") &&
                            Catch::Contains("(that step was undone)"));
  // x is where the third call's loss was finite: after two steps.
  SparseObjective clean;
  descent::Adagrad<VD> again({.lr = 0.1});
  descent::train(clean, expected, again, descent::MinibatchSampler(40, {.batch_size = 4, .seed = 1}),
                 {.max_iterations = 2});
  CHECK(bitwise_equal(x, expected));
}
