// Gradient clipping against torch.nn.utils.clip_grad_norm_ / clip_grad_value_ 1.13: replays
// tests/data/clip_reference.txt (written by tools/make_clip_reference.py, which documents the
// format) on a flat vector with the tensors as Layout blocks, on one tensor as a matrix Map and
// as a segment of a longer vector; replays torch training runs (SGD, Adam with clip_grad_norm_
// before every step) with descent::Clipped. Then the options' validation, the block checks, every
// kind of Eigen expression, and the adapter's forwarding, concepts and guarantees.
//
// Tolerances against torch, per coefficient: |x − ref| / max(|ref|, smallest normal) <= 1e-12 in
// double and 1e-6 in float, for the total norm and every clipped coefficient (infinities and NaNs
// must be where torch has them); trajectories: the norm at every step as above, and the parameters
// max_i |x_i − ref_i| / max_i |ref_i| <= 1e-12 (double) / 1e-5 (float) after every step.
// Set DESCENT_CLIP_REPORT=1 to print the worst errors per norm type.

#include <catch2/catch.hpp>
#include <descent/clipping.hpp>
#include <descent/descent.hpp>
#include <descent/layout.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#ifndef DESCENT_TEST_DATA_DIR
#error "DESCENT_TEST_DATA_DIR must be defined as a string literal: the path of tests/data"
#endif

namespace {

using descent::detail::concat;  // not "literal" + std::string, which GCC 12 misreports at -O3 (-Wrestrict)

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------------------
// The reference file.

struct Tensor {
  Eigen::Index rows = 0, cols = 0;
  std::vector<double> values;  // column-major; float32 values are parsed as float, widened exactly
};

struct Case {
  std::string kind;  // norm, value, trajectory
  std::string name, dtype, optimizer;
  double norm_type = 2.0, max_norm = 0.0, clip_value = 0.0, total = 0.0;
  std::vector<Tensor> tensors;                  // norm/value: gradients; trajectory: initial parameters
  std::vector<std::vector<double>> clipped;     // norm/value: per tensor
  std::map<std::string, double> options;        // trajectory: the optimizer's
  std::vector<std::vector<double>> grads, params;  // trajectory: per step, flat
  std::vector<double> totals;                   // trajectory: per step
};

double parse_number(const std::string& token, bool is_float) {
  if (token == "nan") return kNaN;
  if (token == "inf") return kInf;
  if (token == "-inf") return -kInf;
  char* end = nullptr;
  const double value = is_float ? double(std::strtof(token.c_str(), &end)) : std::strtod(token.c_str(), &end);
  if (end == token.c_str() || *end != '\0') throw std::runtime_error(concat("clip reference: not a number: ", token));
  return value;
}

std::vector<double> read_values(std::istringstream& in, bool is_float, std::size_t count) {
  std::vector<double> out;
  std::string token;
  while (in >> token) out.push_back(parse_number(token, is_float));
  if (count != std::size_t(-1) && out.size() != count)
    throw std::runtime_error(
        concat("clip reference: expected ", std::to_string(count), " values, got ", std::to_string(out.size())));
  return out;
}

const std::vector<Case>& reference_cases() {
  static const std::vector<Case> cases = [] {
    const std::string path = concat(DESCENT_TEST_DATA_DIR, "/clip_reference.txt");
    std::ifstream file(path);
    if (!file)
      throw std::runtime_error(
          concat("cannot open ", path, " (regenerate with: /usr/bin/python3 tools/make_clip_reference.py)"));
    std::vector<Case> out;
    std::string line, word;
    std::getline(file, line);
    if (line != "descent-clip-reference 1") throw std::runtime_error(concat("clip reference: bad header: ", line));
    Case current;
    bool open = false;
    while (std::getline(file, line)) {
      std::istringstream in(line);
      if (!(in >> word) || word[0] == '#' || word == "torch_version") continue;
      const bool is_float = current.dtype == "float32";
      if (word == "norm" || word == "value" || word == "trajectory") {
        current = Case{};
        current.kind = word;
        std::string a, b;
        std::size_t k = 0;
        in >> current.name >> current.dtype;
        if (word == "norm") {
          in >> a >> b >> k;
          current.norm_type = parse_number(a, false);
          current.max_norm = parse_number(b, false);
        } else if (word == "value") {
          in >> a >> k;
          current.clip_value = parse_number(a, false);
        } else {
          int steps = 0;
          in >> current.optimizer >> a >> b >> k >> steps;
          current.norm_type = parse_number(a, false);
          current.max_norm = parse_number(b, false);
        }
        if (!in) throw std::runtime_error(concat("clip reference: bad line: ", line));
        open = true;
      } else if (word == "tensor") {
        Tensor t;
        in >> t.rows >> t.cols;
        t.values = read_values(in, is_float, std::size_t(t.rows * t.cols));
        current.tensors.push_back(std::move(t));
      } else if (word == "clipped") {
        current.clipped.push_back(read_values(in, is_float, current.tensors.at(current.clipped.size()).values.size()));
      } else if (word == "total" && current.kind == "norm") {
        std::string v;
        in >> v;
        current.total = parse_number(v, is_float);
      } else if (word == "option") {
        std::string name, v;
        in >> name >> v;
        current.options[name] = parse_number(v, false);
      } else if (word == "grad" || word == "params" || word == "total") {
        int t = 0;
        in >> t;
        if (word == "total") {
          std::string v;
          in >> v;
          current.totals.push_back(parse_number(v, is_float));
        } else {
          (word == "grad" ? current.grads : current.params).push_back(read_values(in, is_float, std::size_t(-1)));
        }
      } else if (word == "end") {
        if (!open) throw std::runtime_error("clip reference: end without a case");
        out.push_back(std::move(current));
        open = false;
      } else {
        throw std::runtime_error(concat("clip reference: unknown line: ", line));
      }
    }
    return out;
  }();
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Errors, and the worst of them per (dtype, norm type).

template <class S>
double coefficient_error(double x, double ref) {
  if (std::isnan(ref)) return std::isnan(x) ? 0.0 : kInf;
  if (std::isinf(ref)) return x == ref ? 0.0 : kInf;
  if (!std::isfinite(x)) return kInf;
  return std::abs(x - ref) / std::max(std::abs(ref), double(std::numeric_limits<S>::min()));
}

std::map<std::string, double>& worst_errors() {
  static std::map<std::string, double> worst;
  return worst;
}

void record(const std::string& key, double error) {
  double& w = worst_errors()[key];
  w = std::max(w, error);
}

std::string norm_label(double p) { return std::isinf(p) ? std::string("inf") : descent::detail::format_number(p); }

template <class S>
constexpr double tolerance() {
  return std::is_same_v<S, float> ? 1e-6 : 1e-12;
}

// A trajectory accumulates 30 steps of rounding: in float, the 1e-5 of the optimizers' own torch
// replays (tests/test_torch_reference.cpp); in double the clipping tolerance still holds.
template <class S>
constexpr double trajectory_tolerance() {
  return std::is_same_v<S, float> ? 1e-5 : 1e-12;
}

void print_report() {
  if (!std::getenv("DESCENT_CLIP_REPORT")) return;
  for (const auto& [key, error] : worst_errors()) std::printf("worst relative error %-40s %.3g\n", key.c_str(), error);
}

// The flat vector of a case's tensors, one block each (named t0, t1, ...), in Scalar.
template <class S>
std::pair<descent::Layout, Eigen::Matrix<S, Eigen::Dynamic, 1>> flat_of(const std::vector<Tensor>& tensors) {
  descent::Layout layout;
  for (std::size_t i = 0; i < tensors.size(); ++i) layout.add(concat("t", std::to_string(i)), tensors[i].rows, tensors[i].cols);
  Eigen::Matrix<S, Eigen::Dynamic, 1> flat(layout.size());
  Eigen::Index at = 0;
  for (const Tensor& t : tensors)
    for (double v : t.values) flat[at++] = S(v);
  return {layout, flat};
}

template <class S>
void replay_norm_case(const Case& c) {
  using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  INFO("case " << c.name << ": norm_type " << c.norm_type << ", max_norm " << c.max_norm << ", "
               << c.tensors.size() << " tensor(s)");
  auto [layout, flat] = flat_of<S>(c.tensors);
  const Vec original = flat;
  const double total = descent::clip_grad_norm(flat, layout.blocks(), c.max_norm, c.norm_type);

  const std::string key = concat(c.dtype, " norm_type ", norm_label(c.norm_type));
  const double total_error = coefficient_error<S>(total, c.total);
  INFO("total " << total << ", torch " << c.total);
  CHECK(total_error <= tolerance<S>());
  record(concat(key, " (total norm)"), total_error);
  double worst = 0.0;
  Eigen::Index at = 0;
  for (std::size_t i = 0; i < c.tensors.size(); ++i)
    for (double ref : c.clipped[i]) worst = std::max(worst, coefficient_error<S>(double(flat[at++]), ref));
  CHECK(worst <= tolerance<S>());
  record(concat(key, " (clipped)"), worst);

  // The one-tensor overload on the same tensor, as a matrix Map over an offset buffer and as a
  // segment of a longer vector: bitwise the numbers of the block overload.
  if (c.tensors.size() == 1) {
    const Tensor& t = c.tensors[0];
    std::vector<S> buffer(std::size_t(t.rows * t.cols) + 3, S(-9));
    Eigen::Map<Mat> m(buffer.data() + 3, t.rows, t.cols);
    m = original.reshaped(t.rows, t.cols);
    const double total_m = descent::clip_grad_norm(m, c.max_norm, c.norm_type);
    CHECK((total_m == total || (std::isnan(total_m) && std::isnan(total))));
    CHECK(m.reshaped().cwiseEqual(flat).count() + (m.array().isNaN() && flat.reshaped(t.rows, t.cols).array().isNaN()).count() ==
          flat.size());
    CHECK(buffer[0] == S(-9));

    Vec longer = Vec::Constant(original.size() + 4, S(5));
    longer.segment(2, original.size()) = original;
    const double total_s = descent::clip_grad_norm(longer.segment(2, original.size()), c.max_norm, c.norm_type);
    CHECK((total_s == total || (std::isnan(total_s) && std::isnan(total))));
    CHECK(longer.head(2).isConstant(S(5)));
    CHECK(longer.tail(2).isConstant(S(5)));
  } else {
    // The same blocks in another order: the same total up to the rounding of the sum of norms.
    std::vector<descent::Block> reversed = layout.blocks();
    std::reverse(reversed.begin(), reversed.end());
    Vec again = original;
    const double total_r = descent::clip_grad_norm(again, reversed, c.max_norm, c.norm_type);
    CHECK(coefficient_error<S>(total_r, total) <= tolerance<S>());
  }
}

template <class S>
void replay_value_case(const Case& c) {
  INFO("case " << c.name << ": clip_value " << c.clip_value);
  auto [layout, flat] = flat_of<S>(c.tensors);
  auto copy = flat;
  descent::clip_grad_value(flat, layout.blocks(), c.clip_value);
  descent::clip_grad_value(copy, c.clip_value);
  Eigen::Index at = 0;
  for (std::size_t i = 0; i < c.tensors.size(); ++i)
    for (double ref : c.clipped[i]) {
      const double x = double(flat[at]), y = double(copy[at]);
      ++at;
      INFO("coefficient " << at - 1 << ": " << x << ", torch " << ref);
      CHECK((x == ref || (std::isnan(x) && std::isnan(ref))));  // clamping is exact
      CHECK((y == ref || (std::isnan(y) && std::isnan(ref))));
    }
  record(concat(c.dtype, " clip_grad_value"), 0.0);
}

template <class S, class O>
void replay_trajectory(const Case& c, O inner) {
  using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  INFO("trajectory " << c.name);
  auto [layout, x] = flat_of<S>(c.tensors);
  descent::Clipped<O> opt(std::move(inner), {.max_norm = c.max_norm, .norm_type = c.norm_type, .blocks = layout.blocks()});
  double worst = 0.0, worst_norm = 0.0;
  for (std::size_t t = 0; t < c.grads.size(); ++t) {
    INFO("step " << t + 1);
    const Vec g = Eigen::Map<const Eigen::VectorXd>(c.grads[t].data(), Eigen::Index(c.grads[t].size())).cast<S>();
    opt.step(x, g);
    const double norm_error = coefficient_error<S>(opt.last_norm(), c.totals[t]);
    CHECK(norm_error <= tolerance<S>());
    worst_norm = std::max(worst_norm, norm_error);
    const Eigen::VectorXd ref = Eigen::Map<const Eigen::VectorXd>(c.params[t].data(), Eigen::Index(c.params[t].size()));
    const double error = (x.template cast<double>() - ref).cwiseAbs().maxCoeff() / ref.cwiseAbs().maxCoeff();
    CHECK(error <= trajectory_tolerance<S>());
    worst = std::max(worst, error);
  }
  const std::string key = concat(c.dtype, " trajectory ", c.optimizer, " norm_type ", norm_label(c.norm_type));
  record(concat(key, " (params)"), worst);
  record(concat(key, " (norm)"), worst_norm);
}

template <class S>
void replay_trajectory_case(const Case& c) {
  using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  if (c.optimizer == "SGD")
    replay_trajectory<S>(c, descent::SGD<Vec>({.lr = c.options.at("lr"), .momentum = c.options.at("momentum")}));
  else if (c.optimizer == "Adam")
    replay_trajectory<S>(c, descent::Adam<Vec>({.lr = c.options.at("lr")}));
  else
    FAIL("unknown optimizer " << c.optimizer);
}

// Runs `make`, which must throw E whose message contains every piece.
template <class E, class Make>
void require_throws(Make make, const std::vector<std::string>& pieces) {
  try {
    make();
    FAIL("no exception");
  } catch (const E& e) {
    const std::string what = e.what();
    INFO("message: " << what);
    for (const std::string& piece : pieces) CHECK(what.find(piece) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("clipping: clip_grad_norm gives torch's numbers", "[clipping][torch]") {
  const auto& cases = reference_cases();
  std::size_t count = 0;
  for (const Case& c : cases) {
    if (c.kind != "norm") continue;
    ++count;
    if (c.dtype == "float64")
      replay_norm_case<double>(c);
    else
      replay_norm_case<float>(c);
  }
  CHECK(count == 2 * 5 * 17);  // dtypes × norm types × cases per norm type
}

TEST_CASE("clipping: clip_grad_value gives torch's numbers", "[clipping][torch]") {
  std::size_t count = 0;
  for (const Case& c : reference_cases()) {
    if (c.kind != "value") continue;
    ++count;
    if (c.dtype == "float64")
      replay_value_case<double>(c);
    else
      replay_value_case<float>(c);
  }
  CHECK(count == 14);
}

TEST_CASE("clipping: Clipped replays torch's training runs with clip_grad_norm_", "[clipping][torch]") {
  std::size_t count = 0;
  for (const Case& c : reference_cases()) {
    if (c.kind != "trajectory") continue;
    ++count;
    if (c.dtype == "float64")
      replay_trajectory_case<double>(c);
    else
      replay_trajectory_case<float>(c);
  }
  CHECK(count == 6);
  print_report();
}

TEST_CASE("clipping: hand-checked numbers", "[clipping]") {
  Eigen::VectorXd g(2);
  g << 3.0, 4.0;
  CHECK(descent::clip_grad_norm(g, 1.0) == 5.0);
  const double coef = (1.0 / (5.0 + 1e-6)) * 1.0;  // torch: reciprocal(total + 1e-6) · max_norm
  CHECK(g[0] == 3.0 * coef);
  CHECK(g[1] == 4.0 * coef);

  g << 3.0, 4.0;
  CHECK(descent::clip_grad_norm(g, 5.0) == 5.0);  // coef = 5 / (5 + 1e-6) < 1: clipped a little
  CHECK(g[0] == 3.0 * ((1.0 / (5.0 + 1e-6)) * 5.0));
  CHECK(g[0] < 3.0);

  g << 3.0, 4.0;
  CHECK(descent::clip_grad_norm(g, 6.0) == 5.0);  // coef clamped to 1: unchanged
  CHECK(g == Eigen::Vector2d(3.0, 4.0));

  g << 3.0, -4.0;
  CHECK(descent::clip_grad_norm(g, 1.0, 1.0) == 7.0);
  g << 3.0, -4.0;
  CHECK(descent::clip_grad_norm(g, 1.0, kInf) == 4.0);
  CHECK(g[1] == -4.0 * ((1.0 / (4.0 + 1e-6)) * 1.0));

  // A zero gradient stays zero; max_norm below 1e-6 scales it (by 0.1 here), still zero.
  Eigen::VectorXd zero = Eigen::VectorXd::Zero(5);
  CHECK(descent::clip_grad_norm(zero, 1e-7) == 0.0);
  CHECK(zero.isZero());

  // clip_grad_value
  Eigen::VectorXd v(5);
  v << -3.0, -0.5, 0.0, 0.5, 3.0;
  descent::clip_grad_value(v, 1.0);
  CHECK(v == (Eigen::VectorXd(5) << -1.0, -0.5, 0.0, 0.5, 1.0).finished());
}

TEST_CASE("clipping: float gradients are clipped in float, as torch does", "[clipping]") {
  // The 2-norm of 1e20 overflows float (1e40), so torch reports inf and scales by 0.
  Eigen::VectorXf g(2);
  g << 1e20f, 1.0f;
  CHECK(std::isinf(descent::clip_grad_norm(g, 1.0)));
  CHECK(g.isZero());
  // In double the same gradient has a finite norm.
  Eigen::VectorXd gd(2);
  gd << 1e20, 1.0;
  CHECK(descent::clip_grad_norm(gd, 1.0) == 1e20);
  // max_norm beyond float's range is infinite in float: never clips.
  Eigen::VectorXf h = Eigen::VectorXf::Constant(3, 2.0f);
  CHECK(descent::clip_grad_norm(h, 1e300) == Approx(std::sqrt(12.0)).epsilon(1e-6));
  CHECK(h.isConstant(2.0f));
  descent::clip_grad_value(h, 1e300);
  CHECK(h.isConstant(2.0f));
}

TEST_CASE("clipping: non-finite norms", "[clipping]") {
  Eigen::VectorXd g(3);
  g << 1.0, kInf, 2.0;
  const Eigen::VectorXd before = g;
  require_throws<std::runtime_error>([&] { descent::clip_grad_norm(g, 1.0, 2.0, true); },
                                     {"descent::clip_grad_norm", "order 2", "inf", "non-finite", "error_if_nonfinite"});
  CHECK(g == before);  // nothing written
  require_throws<std::runtime_error>([&] { descent::clip_grad_norm(g, 1.0, kInf, true); }, {"order inf", "is inf"});
  g[1] = kNaN;
  require_throws<std::runtime_error>([&] { descent::clip_grad_norm(g, 1.0, 3.0, true); }, {"order 3", "nan"});
  CHECK(std::isnan(g[1]));
  CHECK(g[0] == 1.0);

  // Without error_if_nonfinite: torch's numbers, an infinite norm scales by 0 (inf · 0 = NaN).
  g << 1.0, kInf, -2.0;
  CHECK(std::isinf(descent::clip_grad_norm(g, 1.0)));
  CHECK(g[0] == 0.0);
  CHECK(std::isnan(g[1]));
  CHECK(g[2] == 0.0);
  // A NaN norm makes every coefficient NaN (clamp(NaN) is NaN).
  g << 1.0, kNaN, -2.0;
  CHECK(std::isnan(descent::clip_grad_norm(g, 1.0, kInf)));
  CHECK(g.array().isNaN().all());

  // Over blocks the check sees the total.
  Eigen::VectorXf f(4);
  f << 1.0f, 2.0f, std::numeric_limits<float>::infinity(), 3.0f;
  descent::Layout layout;
  layout.add("a", 2);
  layout.add("b", 2);
  require_throws<std::runtime_error>([&] { descent::clip_grad_norm(f, layout.blocks(), 1.0, 1.0, true); },
                                     {"order 1", "inf"});
  CHECK(f[0] == 1.0f);
  // A block without the inf is finite.
  CHECK(descent::clip_grad_norm(f, layout.blocks({"a"}), 100.0, 2.0, true) == Approx(std::sqrt(5.0)));
}

TEST_CASE("clipping: invalid options throw std::invalid_argument naming option and value", "[clipping]") {
  Eigen::VectorXd g = Eigen::VectorXd::Ones(3);
  const Eigen::VectorXd ones = g;
  using E = std::invalid_argument;
  require_throws<E>([&] { descent::clip_grad_norm(g, kNaN); }, {"descent::clip_grad_norm", "max_norm = nan"});
  require_throws<E>([&] { descent::clip_grad_norm(g, -1.0); }, {"max_norm = -1"});
  require_throws<E>([&] { descent::clip_grad_norm(g, -kInf); }, {"max_norm = -inf"});
  require_throws<E>([&] { descent::clip_grad_norm(g, 1.0, 0.0); }, {"norm_type = 0"});
  require_throws<E>([&] { descent::clip_grad_norm(g, 1.0, -2.0); }, {"norm_type = -2"});
  require_throws<E>([&] { descent::clip_grad_norm(g, 1.0, -kInf); }, {"norm_type = -inf"});
  require_throws<E>([&] { descent::clip_grad_norm(g, 1.0, kNaN); }, {"norm_type = nan"});
  require_throws<E>([&] { descent::clip_grad_norm(g, std::vector<descent::Block>{}, -1.0); }, {"max_norm = -1"});
  require_throws<E>([&] { descent::clip_grad_value(g, -0.5); }, {"descent::clip_grad_value", "clip_value = -0.5"});
  require_throws<E>([&] { descent::clip_grad_value(g, kNaN); }, {"clip_value = nan"});
  require_throws<E>([&] { descent::clip_grad_value(g, std::vector<descent::Block>{}, -1.0); }, {"clip_value = -1"});
  CHECK(g == ones);
  // The limits themselves are fine: max_norm 0 zeroes, inf never clips; clip_value 0 zeroes.
  CHECK(descent::clip_grad_norm(g, kInf) == Approx(std::sqrt(3.0)));
  CHECK(g == ones);
  CHECK(descent::clip_grad_norm(g, 0.0, 0.5) == Approx(9.0));
  CHECK(g.isZero());
  g = ones;
  descent::clip_grad_value(g, 0.0);
  CHECK(g.isZero());
}

TEST_CASE("clipping: blocks", "[clipping]") {
  descent::Layout layout;
  layout.add("W", 2, 2);
  layout.add("b", 2);
  layout.add("frozen", 3);
  Eigen::VectorXd g(layout.size());
  g << 1, 2, 3, 4, 5, 6, 100, 200, 300;
  const Eigen::VectorXd before = g;

  // Only the named blocks are counted and scaled.
  const auto trained = layout.blocks({"W", "b"});
  const double n = std::sqrt(std::pow(std::sqrt(1.0 + 4 + 9 + 16), 2) + std::pow(std::sqrt(25.0 + 36), 2));
  CHECK(descent::clip_grad_norm(g, trained, 1.0) == Approx(n).epsilon(1e-15));
  CHECK(g.tail(3) == before.tail(3));
  CHECK(g.head(6).norm() == Approx(1.0).epsilon(1e-6));
  // No blocks: a norm of 0 and nothing changed, as torch with no gradients.
  g = before;
  CHECK(descent::clip_grad_norm(g, std::vector<descent::Block>{}, 1.0) == 0.0);
  CHECK(g == before);
  descent::clip_grad_value(g, layout.blocks({"b"}), 5.5);
  CHECK(g[4] == 5.0);
  CHECK(g[5] == 5.5);
  CHECK(g[6] == 100.0);
  g = before;

  using E = std::invalid_argument;
  const descent::Block outside{"outside", 7, 3, 1};
  require_throws<E>([&] { descent::clip_grad_norm(g, {outside}, 1.0); },
                    {"clip_grad_norm", "'outside'", "offset 7", "3x1", "9 coefficients"});
  require_throws<E>([&] { descent::clip_grad_value(g, {outside}, 1.0); }, {"clip_grad_value", "'outside'"});
  require_throws<E>([&] { descent::clip_grad_norm(g, {descent::Block{"neg", -1, 2, 1}}, 1.0); }, {"'neg'"});
  const descent::Block overlap{"overlap", 3, 2, 1};
  require_throws<E>([&] { descent::clip_grad_norm(g, {layout.block("W"), overlap}, 1.0); },
                    {"'W'", "'overlap'", "overlap"});
  require_throws<E>([&] { descent::clip_grad_norm(g, {layout.block("frozen"), overlap, layout.block("W")}, 1.0); },
                    {"'W'", "'overlap'"});
  require_throws<E>([&] { descent::clip_grad_norm(g, {layout.block("b"), layout.block("b")}, 1.0); }, {"'b'"});
  CHECK(g == before);  // every check runs before anything is written
  // Blocks in any order that do not overlap are fine.
  CHECK_NOTHROW(descent::clip_grad_norm(g, {layout.block("frozen"), layout.block("W")}, 1e9));
  // An empty block counts nothing.
  CHECK(descent::clip_grad_norm(g, {descent::Block{"empty", 9, 0, 1}}, 1.0) == 0.0);
}

TEST_CASE("clipping: any writable Eigen expression", "[clipping]") {
  const Eigen::VectorXd start = Eigen::Vector4d(1.0, -2.0, 2.0, 4.0);  // 2-norm 5
  const double coef = (1.0 / (5.0 + 1e-6)) * 2.5;
  const Eigen::Vector4d expected = start * coef;

  Eigen::Vector4d fixed = start;
  CHECK(descent::clip_grad_norm(fixed, 2.5) == 5.0);
  CHECK(fixed == expected);

  Eigen::Array4d array = start.array();
  CHECK(descent::clip_grad_norm(array, 2.5) == 5.0);
  CHECK(array.matrix() == expected);

  Eigen::Matrix2d matrix = start.reshaped(2, 2);  // a matrix is one tensor
  CHECK(descent::clip_grad_norm(matrix, 2.5) == 5.0);
  CHECK(matrix.reshaped() == expected);

  Eigen::MatrixXd big = Eigen::MatrixXd::Constant(3, 4, 7.0);
  big.block(1, 1, 2, 2) = start.reshaped(2, 2);
  CHECK(descent::clip_grad_norm(big.block(1, 1, 2, 2), 2.5) == 5.0);
  CHECK(big(0, 0) == 7.0);
  CHECK(big.block(1, 1, 2, 2).reshaped() == expected);

  Eigen::MatrixXd rows = Eigen::MatrixXd::Zero(2, 4);
  rows.row(1) = start.transpose();  // strided: every other double
  CHECK(descent::clip_grad_norm(rows.row(1), 2.5) == 5.0);
  CHECK(rows.row(1).transpose() == expected);
  CHECK(rows.row(0).isZero());

  std::vector<double> buffer = {1.0, -2.0, 2.0, 4.0};
  Eigen::Map<Eigen::VectorXd> mapped(buffer.data(), 4);
  CHECK(descent::clip_grad_norm(mapped, 2.5) == 5.0);
  CHECK(buffer[3] == expected[3]);

  Eigen::VectorXd vec = start;
  Eigen::Ref<Eigen::VectorXd> ref(vec);
  CHECK(descent::clip_grad_norm(ref, 2.5) == 5.0);
  CHECK(vec == expected);

  Eigen::VectorXf f = start.cast<float>();
  CHECK(descent::clip_grad_norm(f, 2.5) == 5.0);
  const float coef_f = (1.0f / (5.0f + float(1e-6))) * 2.5f;  // in float, as torch
  CHECK(f == (start.cast<float>() * coef_f).eval());

  Eigen::VectorXd seg = Eigen::VectorXd::Zero(6);
  seg.segment(1, 4) = start;
  descent::clip_grad_value(seg.segment(1, 4), 1.5);
  CHECK(seg == (Eigen::VectorXd(6) << 0.0, 1.0, -1.5, 1.5, 1.5, 0.0).finished());
  Eigen::Array22f a22;
  a22 << -3, 0.25f, 2, -0.75f;
  descent::clip_grad_value(a22, 0.5);
  CHECK((a22 == (Eigen::Array22f() << -0.5f, 0.25f, 0.5f, -0.5f).finished()).all());
}

namespace {

using V = Eigen::VectorXd;

// An optimizer of the user's own, without a Vector typedef, lr or momentum.
struct PlainStep {
  template <class P, class G>
  void step(P&& p, const G& g) {
    p -= g;
  }
  void reset() {}
};

}  // namespace

// The adapter meets the contracts it forwards.
static_assert(descent::Optimizer<descent::Clipped<descent::Adam<V>>, V>);
static_assert(descent::LearningRateControl<descent::Clipped<descent::Adam<V>>>);
static_assert(descent::Optimizer<descent::Clipped<descent::SGD<Eigen::Vector3f>&>, Eigen::Vector3f>);
static_assert(descent::LearningRateControl<descent::Clipped<descent::SGD<Eigen::Vector3f>&>>);
static_assert(descent::Optimizer<descent::Clipped<PlainStep, V>, V>);
static_assert(!descent::LearningRateControl<descent::Clipped<PlainStep, V>>);
static_assert(std::is_same_v<decltype(descent::clipped(std::declval<descent::Adam<V>&>(), 1.0)),
                             descent::Clipped<descent::Adam<V>&>>);
static_assert(std::is_same_v<decltype(descent::clipped(descent::Adam<V>{}, 1.0)), descent::Clipped<descent::Adam<V>>>);

TEST_CASE("clipping: Clipped steps O with the clipped gradient", "[clipping][adapter]") {
  // GradientDescent with lr 1: the step is exactly minus the gradient it was handed.
  descent::Clipped<descent::GradientDescent<V>> opt(descent::GradientDescent<V>({.lr = 1.0}), 1.0);
  V x = V::Zero(2);
  const V g = (V(2) << 3.0, 4.0).finished();
  opt.step(x, g);
  V expected = -g * ((1.0 / (5.0 + 1e-6)) * 1.0);
  CHECK(x == expected);
  CHECK(opt.last_norm() == 5.0);
  CHECK(g == (V(2) << 3.0, 4.0).finished());  // the caller's gradient is untouched

  // A lazy gradient expression, and a Map of the parameters.
  std::vector<double> buffer(2, 0.0);
  Eigen::Map<V> mapped(buffer.data(), 2);
  opt.step(mapped, g * 0.1);  // norm 0.5: unclipped
  CHECK(mapped == -g * 0.1);
  CHECK(opt.last_norm() == Approx(0.5).epsilon(1e-15));

  // Forwarding.
  CHECK(opt.lr() == 1.0);
  opt.set_lr(0.5);
  CHECK(opt.optimizer().lr() == 0.5);
  CHECK(opt.options().lr == 0.5);
  require_throws<std::invalid_argument>([&] { opt.set_lr(-1.0); }, {"lr = -1"});
  CHECK(opt.lr() == 0.5);
  CHECK(opt.clip_options().max_norm == 1.0);
  CHECK(opt.clip_options().norm_type == 2.0);
  opt.set_max_norm(2.0);
  CHECK(opt.clip_options().max_norm == 2.0);
  require_throws<std::invalid_argument>([&] { opt.set_max_norm(-2.0); }, {"max_norm = -2"});
  CHECK(opt.clip_options().max_norm == 2.0);
  opt.reset();
  CHECK(std::isnan(opt.last_norm()));

  descent::Clipped<descent::Adam<V>> adam(descent::Adam<V>({.lr = 0.1, .beta1 = 0.8}), {.max_norm = 1.0});
  CHECK(adam.steps() == 0);
  adam.step(x, g);
  CHECK(adam.steps() == 1);
  CHECK(adam.optimizer().steps() == 1);
  adam.reset();
  CHECK(adam.steps() == 0);

  // The adapter over a named optimizer steps that optimizer itself.
  descent::SGD<V> sgd({.lr = 0.1, .momentum = 0.9});
  auto view = descent::clipped(sgd, 1.0, kInf);
  view.step(x, g);
  CHECK(sgd.momentum_buffer().size() == 2);
  view.set_lr(0.01);
  CHECK(sgd.lr() == 0.01);
  // ...and a temporary is moved in.
  auto owned = descent::clipped(descent::SGD<V>({.lr = 0.2}), descent::ClipOptions{.max_norm = 3.0});
  CHECK(owned.lr() == 0.2);

  // Class template argument deduction.
  descent::Clipped deduced(descent::SGD<V>({.lr = 0.1}), 1.0);
  static_assert(std::is_same_v<decltype(deduced), descent::Clipped<descent::SGD<V>>>);
  CHECK(deduced.lr() == 0.1);

  // A user's optimizer, with V given.
  descent::Clipped<PlainStep, V> plain(PlainStep{}, 1.0, 1.0);
  V y = V::Zero(2);
  plain.step(y, g);
  CHECK(y == -g * ((1.0 / (7.0 + 1e-6)) * 1.0));
}

TEST_CASE("clipping: Clipped equals clip_grad_norm then step, for every optimizer", "[clipping][adapter]") {
  auto check = [](auto make) {
    auto a = make();
    descent::Clipped<decltype(make())> clipped_opt(make(), {.max_norm = 0.7, .norm_type = 3.0});
    V x(5), y(5);
    x << 1.0, -2.0, 0.5, 3.0, -1.0;
    y = x;
    for (int t = 0; t < 20; ++t) {
      V g = (x.array() * x.array() - 0.5 * double(t % 3)).matrix();
      clipped_opt.step(y, g);
      descent::clip_grad_norm(g, 0.7, 3.0);
      a.step(x, g);
      CHECK(x == y);  // the same operations, bitwise
    }
  };
  check([] { return descent::GradientDescent<V>({.lr = 0.1}); });
  check([] { return descent::SGD<V>({.lr = 0.05, .momentum = 0.9, .nesterov = true}); });
  check([] { return descent::Adam<V>({.lr = 0.05, .amsgrad = true}); });
  check([] { return descent::AdamW<V>({.lr = 0.05}); });
  check([] { return descent::Adagrad<V>({.lr = 0.1}); });
  check([] { return descent::RMSProp<V>({.lr = 0.01, .momentum = 0.5, .centered = true}); });
}

TEST_CASE("clipping: Clipped errors leave everything as it was", "[clipping][adapter]") {
  using E = std::invalid_argument;
  require_throws<E>([] { descent::Clipped<descent::Adam<V>>(descent::Adam<V>{}, descent::ClipOptions{}); },
                    {"ClipOptions", "max_norm = nan"});  // max_norm has no default, as in torch
  require_throws<E>([] { descent::Clipped<descent::Adam<V>>(descent::Adam<V>{}, 1.0, 0.0); }, {"norm_type = 0"});
  descent::Layout layout;
  layout.add("a", 2);
  layout.add("b", 2);
  require_throws<E>(
      [&] {
        descent::clipped(descent::Adam<V>{},
                         descent::ClipOptions{.max_norm = 1.0, .blocks = {layout.block("a"), descent::Block{"c", 1, 2, 1}}});
      },
      {"ClipOptions", "'a'", "'c'", "overlap"});

  descent::Clipped<descent::Adam<V>> opt(descent::Adam<V>({.lr = 0.1}),
                                         {.max_norm = 1.0, .error_if_nonfinite = true, .blocks = layout.blocks()});
  V x = V::Ones(4);
  V g = V::Ones(4);
  opt.step(x, g);
  const V x1 = x;
  const V m1 = opt.optimizer().first_moment();
  g[3] = kNaN;
  require_throws<std::runtime_error>([&] { opt.step(x, g); }, {"non-finite", "nan"});
  CHECK(x == x1);
  CHECK(opt.steps() == 1);
  CHECK(opt.optimizer().first_moment() == m1);
  // Shapes: params and grads must agree, and the blocks must fit.
  V short_g = V::Ones(3);
  V short_x = V::Ones(3);
  require_throws<E>([&] { opt.step(x, short_g); }, {"Clipped", "4x1", "3x1"});
  require_throws<E>([&] { opt.step(short_x, short_g); }, {"Clipped::step", "'b'", "3 coefficients"});
  CHECK(x == x1);
  CHECK(opt.steps() == 1);
}

TEST_CASE("clipping: Clipped inside minimize and train", "[clipping][adapter]") {
  // f(x) = ½‖x − c‖² with c far away: clipped gradient descent moves at most lr·max_norm a step.
  const V c = V::Constant(4, 100.0);
  auto f = [&](const V& x, V& grad) {
    grad = x - c;
    return 0.5 * (x - c).squaredNorm();
  };
  V x = V::Zero(4);
  descent::GradientDescent<V> gd({.lr = 0.5});
  const descent::Report report = descent::minimize(f, x, descent::clipped(gd, 1.0), {.max_iterations = 10});
  CHECK(report.iterations == 10);
  CHECK(x.norm() == Approx(10 * 0.5 * (1.0 / (200.0 + 1e-6)) * 200.0).epsilon(1e-3));  // ≈ 10 steps of 0.5
  // Unclipped it converges, and the adapter reaches the same minimum.
  V y = V::Zero(4);
  const descent::Report r2 =
      descent::minimize(f, y, descent::Clipped<descent::GradientDescent<V>>(descent::GradientDescent<V>({.lr = 0.5}), 1.0),
                        {.max_iterations = 2000, .gradient_tolerance = 1e-9});
  CHECK(r2.reason == descent::StopReason::GradientTolerance);
  CHECK((y - c).norm() < 1e-8);

  // train with a minibatch objective: least squares on 8 samples, x in R^2.
  struct LeastSquares {
    Eigen::MatrixXd A;
    V b;
    Eigen::Index size() const { return A.rows(); }
    double operator()(const V& x, std::span<const Eigen::Index> batch, V& grad) const {
      grad.setZero();
      double loss = 0.0;
      for (Eigen::Index i : batch) {
        const double r = A.row(i).dot(x) - b[i];
        loss += 0.5 * r * r;
        grad += r * A.row(i).transpose();
      }
      grad /= double(batch.size());
      return loss / double(batch.size());
    }
  };
  LeastSquares ls{Eigen::MatrixXd::Random(8, 2), V::Random(8)};
  V w = V::Constant(2, 50.0);
  descent::MinibatchSampler sampler(8, {.batch_size = 4, .seed = 3});
  const descent::Report r3 = descent::train(ls, w, descent::clipped(descent::Adam<V>({.lr = 0.05}), 1.0), sampler,
                                            {.max_epochs = 200});
  CHECK(r3.reason == descent::StopReason::MaxEpochs);
  CHECK(std::isfinite(r3.loss));
  CHECK(w.norm() < 50.0);
}
