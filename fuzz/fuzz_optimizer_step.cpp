// Fuzzes the optimizers' public API: construction from options (valid ones must be accepted,
// invalid ones refused with std::invalid_argument), then a program of operations read from the
// bytes -- steps through many kinds of parameter and gradient holders, steps with mismatched
// shapes, set_lr, reset, gradient expressions that throw, gradients overlapping the parameters.
//
// Every successful step is checked coefficient by coefficient against a scalar model of the
// formula in the options struct's comment, computed in the optimizer's scalar type from the
// parameters and state read just before the step: parameters and every state array the
// optimizer exposes. Coefficients of the parent storage outside the parameter view must never
// change. A refused step (std::invalid_argument) or one whose gradient throws must leave the
// parameters, the state, steps() and lr() as they were.
//
// Parameter types: VectorXd, ArrayXf and a row-major MatrixXd for every optimizer; also VectorXf,
// RowVectorXd, MatrixXd and a fixed-size Matrix<double, 5, 1> for SGD and Adam/AdamW. Shapes up
// to 33 coefficients (vectors) or 6×6, including empty ones.
//
// Known findings are tagged (see fuzz_common.hpp): F1 blocks along a row of a row-major matrix
// (or a column of a column-major one), F3 exception safety of step, F7 options that overflow the
// optimizer's scalar type, F16 gradients overlapping the parameters.

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <descent/descent.hpp>

#include "fuzz_common.hpp"

namespace {

using Eigen::Index;
constexpr int Dyn = Eigen::Dynamic;
using fuzz::Field;
using fuzz::Input;
using fuzz::num;

// ---------------------------------------------------------------------------------------------
// What the options should do at construction.

enum class Validity {
  valid,     // must be accepted
  either,    // not specified (e.g. lr_decay above float's range: it is only used in double)
  overflow,  // finite in double but not in the scalar type: must be refused (issue 16, F7)
  invalid,   // must be refused
};

[[maybe_unused]] Validity worst(std::initializer_list<Validity> all) {
  Validity w = Validity::valid;
  for (Validity v : all) w = std::max(w, v);
  return w;
}

/// A field documented "finite and >= 0", used in the scalar type S.
template <class S>
Validity nonnegative(double v) {
  if (!(v >= 0.0) || !std::isfinite(v)) return Validity::invalid;
  if (v > double(std::numeric_limits<S>::max())) return Validity::overflow;
  return Validity::valid;
}

/// A field documented "finite and >= 0" that is only ever used in double arithmetic.
template <class S>
Validity nonnegative_double(double v) {
  if (!(v >= 0.0) || !std::isfinite(v)) return Validity::invalid;
  if (v > double(std::numeric_limits<S>::max())) return Validity::either;
  return Validity::valid;
}

[[maybe_unused]] Validity half_open(double v, double lo, double hi) { return v >= lo && v < hi ? Validity::valid : Validity::invalid; }
[[maybe_unused]] Validity closed(double v, double lo, double hi) { return v >= lo && v <= hi ? Validity::valid : Validity::invalid; }

[[maybe_unused]] const char* to_string(Validity v) {
  switch (v) {
    case Validity::valid:
      return "valid";
    case Validity::either:
      return "unspecified";
    case Validity::overflow:
      return "invalid (overflows the scalar type, F7)";
    case Validity::invalid:
      return "invalid";
  }
  return "?";
}

[[maybe_unused]] const char* b(bool x) { return x ? "true" : "false"; }

template <class S>
S nan_max(S a, S b) {
  if (a != a || b != b) return a + b;
  return a < b ? b : a;
}

// ---------------------------------------------------------------------------------------------
// Scalar models, one per optimizer: the formula of its options struct, per coefficient, in the
// scalar type S (constants converted from double exactly as the comment says). `st` holds the
// coefficient of each state array, in the order of state().

template <class V_>
struct GDModel {
  using V = V_;
  using S = typename V::Scalar;
  using Opt = descent::GradientDescent<V>;
  using Options = descent::GradientDescentOptions;
  static constexpr const char* name = "GradientDescent";

  struct Draw {
    Options eff;
    Validity validity;
    Opt make() const { return Opt(eff); }
  };
  static Draw draw(Input& in) {
    Options o;
    o.lr = in.option(Field::rate);
    o.weight_decay = in.option(Field::rate);
    o.maximize = in.flag();
    return {o, worst({nonnegative<S>(o.lr), nonnegative<S>(o.weight_decay)})};
  }
  static std::string describe(const Options& o) {
    return std::string(name) + "({.lr = " + num(o.lr) + ", .weight_decay = " + num(o.weight_decay) +
           ", .maximize = " + b(o.maximize) + "})";
  }
  static bool same(const Options& a, const Options& o) {
    return a.lr == o.lr && a.weight_decay == o.weight_decay && a.maximize == o.maximize;
  }
  static Validity lr_validity(const Options&, double lr) { return nonnegative<S>(lr); }
  static bool stateful(const Options&) { return false; }
  static int states(const Options&) { return 0; }
  static std::vector<const V*> all_states(const Opt&) { return {}; }
  static const V& state(const Opt&, const Options&, int) { throw std::logic_error("no state"); }
  static S initial(const Options&, int) { return S(0); }
  static void coeff(const Options& o, std::int64_t, bool, S& p, S g, S*) {
    const auto lr = S(o.lr), wd = S(o.weight_decay);
    if (o.maximize) g = -g;
    if (o.weight_decay != 0.0) g = g + wd * p;
    p = p - lr * g;
  }
};

template <class V_>
struct SGDModel {
  using V = V_;
  using S = typename V::Scalar;
  using Opt = descent::SGD<V>;
  using Options = descent::SGDOptions;
  static constexpr const char* name = "SGD";

  struct Draw {
    Options eff;
    Validity validity;
    Opt make() const { return Opt(eff); }
  };
  static Draw draw(Input& in) {
    Options o;
    o.lr = in.option(Field::rate);
    o.momentum = in.option(Field::unit);
    o.dampening = in.flag() ? 0.0 : in.option(Field::unit);
    o.weight_decay = in.option(Field::rate);
    o.nesterov = in.flag();
    o.maximize = in.flag();
    Validity v = worst({nonnegative<S>(o.lr), nonnegative<S>(o.momentum), closed(o.dampening, 0.0, 1.0),
                        nonnegative<S>(o.weight_decay)});
    if (o.nesterov && !(o.momentum > 0.0)) v = Validity::invalid;
    if (o.nesterov && o.dampening != 0.0) v = Validity::invalid;
    return {o, v};
  }
  static std::string describe(const Options& o) {
    return std::string(name) + "({.lr = " + num(o.lr) + ", .momentum = " + num(o.momentum) +
           ", .dampening = " + num(o.dampening) + ", .weight_decay = " + num(o.weight_decay) +
           ", .nesterov = " + b(o.nesterov) + ", .maximize = " + b(o.maximize) + "})";
  }
  static bool same(const Options& a, const Options& o) {
    return a.lr == o.lr && a.momentum == o.momentum && a.dampening == o.dampening &&
           a.weight_decay == o.weight_decay && a.nesterov == o.nesterov && a.maximize == o.maximize;
  }
  static Validity lr_validity(const Options&, double lr) { return nonnegative<S>(lr); }
  static bool stateful(const Options& o) { return o.momentum != 0.0; }
  static int states(const Options& o) { return o.momentum != 0.0 ? 1 : 0; }
  static std::vector<const V*> all_states(const Opt& opt) { return {&opt.momentum_buffer()}; }
  static const V& state(const Opt& opt, const Options&, int) { return opt.momentum_buffer(); }
  static S initial(const Options&, int) { return S(0); }
  static void coeff(const Options& o, std::int64_t, bool first, S& p, S g, S* st) {
    const auto lr = S(o.lr), wd = S(o.weight_decay), mu = S(o.momentum), keep = S(1.0 - o.dampening);
    if (o.maximize) g = -g;
    if (o.weight_decay != 0.0) g = g + wd * p;
    if (o.momentum != 0.0) {
      S& buf = st[0];
      buf = first ? g : mu * buf + keep * g;
      g = o.nesterov ? g + mu * buf : buf;
    }
    p = p - lr * g;
  }
};

template <class V_>
struct AdamModel {
  using V = V_;
  using S = typename V::Scalar;
  using Opt = descent::Adam<V>;  // AdamW<V> is an Adam<V>: it is built as one and sliced
  using Options = descent::AdamOptions;
  static constexpr const char* name = "Adam";

  /// The derived numbers that must be finite in S too (documented with validate_for): the first
  /// step's lr / (1 − beta1), and the decoupled decay's lr·weight_decay.
  static Validity product(const Options& o, double lr) {
    const double max = double(std::numeric_limits<S>::max());
    if (!(std::abs(lr / (1.0 - o.beta1)) <= max)) return Validity::overflow;
    if (o.decoupled_weight_decay && !(std::abs(lr * o.weight_decay) <= max)) return Validity::overflow;
    return Validity::valid;
  }
  static Validity fields(const Options& o) {
    return worst({nonnegative<S>(o.lr), half_open(o.beta1, 0.0, 1.0), half_open(o.beta2, 0.0, 1.0),
                  nonnegative<S>(o.eps), nonnegative<S>(o.weight_decay)});
  }
  static void draw_fields(Input& in, double& lr, double& beta1, double& beta2, double& eps, double& wd) {
    lr = in.option(Field::rate);
    beta1 = in.option(Field::unit);
    beta2 = in.option(Field::unit);
    eps = in.option(Field::small);
    wd = in.option(Field::rate);
  }

  struct Draw {
    Options eff;
    Validity validity;
    Opt make() const { return Opt(eff); }
  };
  static Draw draw(Input& in) {
    Options o;
    draw_fields(in, o.lr, o.beta1, o.beta2, o.eps, o.weight_decay);
    o.amsgrad = in.flag();
    o.decoupled_weight_decay = in.flag();
    o.maximize = in.flag();
    const Validity f = fields(o);
    return {o, worst({f, f == Validity::invalid ? Validity::valid : product(o, o.lr)})};
  }
  static std::string describe(const Options& o) {
    return std::string(o.decoupled_weight_decay ? "AdamW" : "Adam") + "({.lr = " + num(o.lr) +
           ", .beta1 = " + num(o.beta1) + ", .beta2 = " + num(o.beta2) + ", .eps = " + num(o.eps) +
           ", .weight_decay = " + num(o.weight_decay) + ", .amsgrad = " + b(o.amsgrad) +
           ", .decoupled_weight_decay = " + b(o.decoupled_weight_decay) + ", .maximize = " + b(o.maximize) + "})";
  }
  static bool same(const Options& a, const Options& o) {
    return a.lr == o.lr && a.beta1 == o.beta1 && a.beta2 == o.beta2 && a.eps == o.eps &&
           a.weight_decay == o.weight_decay && a.amsgrad == o.amsgrad &&
           a.decoupled_weight_decay == o.decoupled_weight_decay && a.maximize == o.maximize;
  }
  static Validity lr_validity(const Options& o, double lr) {
    const Validity v = nonnegative<S>(lr);
    return v == Validity::invalid ? v : worst({v, product(o, lr)});
  }
  static bool stateful(const Options&) { return true; }
  static int states(const Options& o) { return o.amsgrad ? 3 : 2; }
  static std::vector<const V*> all_states(const Opt& opt) {
    return {&opt.first_moment(), &opt.second_moment(), &opt.max_second_moment()};
  }
  static const V& state(const Opt& opt, const Options&, int k) {
    return k == 0 ? opt.first_moment() : k == 1 ? opt.second_moment() : opt.max_second_moment();
  }
  static S initial(const Options&, int) { return S(0); }
  static void coeff(const Options& o, std::int64_t steps, bool, S& p, S g, S* st) {
    const double t = double(steps);
    const double bc1 = 1.0 - std::pow(o.beta1, t);
    const double bc2 = 1.0 - std::pow(o.beta2, t);
    const auto step_size = S(o.lr / bc1);
    const auto bc2_sqrt = S(std::sqrt(bc2));
    const auto b1 = S(o.beta1), c1 = S(1.0 - o.beta1), b2 = S(o.beta2), c2 = S(1.0 - o.beta2);
    const auto eps = S(o.eps), wd = S(o.weight_decay), shrink = S(1.0 - o.lr * o.weight_decay);
    const bool decay = o.weight_decay != 0.0;
    S &m = st[0], &v = st[1];
    if (o.maximize) g = -g;
    if (decay && o.decoupled_weight_decay) p = p * shrink;
    if (decay && !o.decoupled_weight_decay) g = g + wd * p;
    m = b1 * m + c1 * g;
    v = b2 * v + c2 * (g * g);
    if (o.amsgrad) {
      S& vmax = st[2];
      vmax = nan_max(vmax, v);
      p = p - step_size * (m / (std::sqrt(vmax) / bc2_sqrt + eps));
    } else {
      p = p - step_size * (m / (std::sqrt(v) / bc2_sqrt + eps));
    }
  }
};

/// AdamW: built from an AdamWOptions (which refuses decoupled_weight_decay = false) or from an
/// AdamOptions (whose decay is then always decoupled); modelled as the Adam it is.
template <class V_>
struct AdamWModel : AdamModel<V_> {
  using Base = AdamModel<V_>;
  using typename Base::Opt;
  using typename Base::Options;
  using typename Base::S;
  using typename Base::V;

  struct Draw {
    Options eff;
    Validity validity;
    bool from_adamw_options;
    descent::AdamWOptions w;
    Opt make() const {
      if (from_adamw_options) return Opt(descent::AdamW<V>(w));
      Options a = eff;
      a.decoupled_weight_decay = false;  // AdamW(AdamOptions) decouples anyway
      return Opt(descent::AdamW<V>(a));
    }
  };
  static Draw draw(Input& in) {
    Draw d{};
    d.from_adamw_options = in.flag();
    Options& o = d.eff;
    if (d.from_adamw_options) {
      Base::draw_fields(in, d.w.lr, d.w.beta1, d.w.beta2, d.w.eps, d.w.weight_decay);
      if (in.rarely()) d.w = descent::AdamWOptions{};  // the defaults: weight_decay = 1e-2
      d.w.amsgrad = in.flag();
      d.w.decoupled_weight_decay = !in.rarely();
      d.w.maximize = in.flag();
      o = {.lr = d.w.lr,
           .beta1 = d.w.beta1,
           .beta2 = d.w.beta2,
           .eps = d.w.eps,
           .weight_decay = d.w.weight_decay,
           .amsgrad = d.w.amsgrad,
           .decoupled_weight_decay = true,
           .maximize = d.w.maximize};
    } else {
      Base::draw_fields(in, o.lr, o.beta1, o.beta2, o.eps, o.weight_decay);
      o.amsgrad = in.flag();
      o.maximize = in.flag();
      o.decoupled_weight_decay = true;
    }
    const Validity f = Base::fields(o);
    d.validity = worst({f, f == Validity::invalid ? Validity::valid : Base::product(o, o.lr)});
    if (d.from_adamw_options && !d.w.decoupled_weight_decay) d.validity = Validity::invalid;
    return d;
  }
};

template <class V_>
struct AdagradModel {
  using V = V_;
  using S = typename V::Scalar;
  using Opt = descent::Adagrad<V>;
  using Options = descent::AdagradOptions;
  static constexpr const char* name = "Adagrad";

  struct Draw {
    Options eff;
    Validity validity;
    Opt make() const { return Opt(eff); }
  };
  static Draw draw(Input& in) {
    Options o;
    o.lr = in.option(Field::rate);
    o.lr_decay = in.option(Field::rate);
    o.weight_decay = in.option(Field::rate);
    o.initial_accumulator_value = in.option(Field::rate);
    o.eps = in.option(Field::small);
    o.maximize = in.flag();
    return {o, worst({nonnegative<S>(o.lr), nonnegative_double<S>(o.lr_decay), nonnegative<S>(o.weight_decay),
                      nonnegative<S>(o.initial_accumulator_value), nonnegative<S>(o.eps)})};
  }
  static std::string describe(const Options& o) {
    return std::string(name) + "({.lr = " + num(o.lr) + ", .lr_decay = " + num(o.lr_decay) +
           ", .weight_decay = " + num(o.weight_decay) +
           ", .initial_accumulator_value = " + num(o.initial_accumulator_value) + ", .eps = " + num(o.eps) +
           ", .maximize = " + b(o.maximize) + "})";
  }
  static bool same(const Options& a, const Options& o) {
    return a.lr == o.lr && a.lr_decay == o.lr_decay && a.weight_decay == o.weight_decay &&
           a.initial_accumulator_value == o.initial_accumulator_value && a.eps == o.eps && a.maximize == o.maximize;
  }
  static Validity lr_validity(const Options&, double lr) { return nonnegative<S>(lr); }
  static bool stateful(const Options&) { return true; }
  static int states(const Options&) { return 1; }
  static std::vector<const V*> all_states(const Opt& opt) { return {&opt.sum_of_squares()}; }
  static const V& state(const Opt& opt, const Options&, int) { return opt.sum_of_squares(); }
  static S initial(const Options& o, int) { return S(o.initial_accumulator_value); }
  static void coeff(const Options& o, std::int64_t steps, bool, S& p, S g, S* st) {
    const auto clr = S(o.lr / (1.0 + double(steps - 1) * o.lr_decay));
    const auto wd = S(o.weight_decay), eps = S(o.eps);
    S& sum = st[0];
    if (o.maximize) g = -g;
    if (o.weight_decay != 0.0) g = g + wd * p;
    sum = sum + g * g;
    p = p - clr * (g / (std::sqrt(sum) + eps));
  }
};

template <class V_>
struct RMSPropModel {
  using V = V_;
  using S = typename V::Scalar;
  using Opt = descent::RMSProp<V>;
  using Options = descent::RMSPropOptions;
  static constexpr const char* name = "RMSProp";

  struct Draw {
    Options eff;
    Validity validity;
    Opt make() const { return Opt(eff); }
  };
  static Draw draw(Input& in) {
    Options o;
    o.lr = in.option(Field::rate);
    o.alpha = in.option(Field::unit);
    o.eps = in.option(Field::small);
    o.weight_decay = in.option(Field::rate);
    o.momentum = in.flag() ? 0.0 : in.option(Field::unit);
    o.centered = in.flag();
    o.maximize = in.flag();
    return {o, worst({nonnegative<S>(o.lr), closed(o.alpha, 0.0, 1.0), nonnegative<S>(o.eps),
                      nonnegative<S>(o.weight_decay), nonnegative<S>(o.momentum)})};
  }
  static std::string describe(const Options& o) {
    return std::string(name) + "({.lr = " + num(o.lr) + ", .alpha = " + num(o.alpha) + ", .eps = " + num(o.eps) +
           ", .weight_decay = " + num(o.weight_decay) + ", .momentum = " + num(o.momentum) +
           ", .centered = " + b(o.centered) + ", .maximize = " + b(o.maximize) + "})";
  }
  static bool same(const Options& a, const Options& o) {
    return a.lr == o.lr && a.alpha == o.alpha && a.eps == o.eps && a.weight_decay == o.weight_decay &&
           a.momentum == o.momentum && a.centered == o.centered && a.maximize == o.maximize;
  }
  static Validity lr_validity(const Options&, double lr) { return nonnegative<S>(lr); }
  static bool stateful(const Options&) { return true; }
  // v, then ga when centered, then the buffer when momentum > 0.
  static int states(const Options& o) { return 1 + int(o.centered) + int(o.momentum > 0.0); }
  static std::vector<const V*> all_states(const Opt& opt) {
    return {&opt.square_average(), &opt.gradient_average(), &opt.momentum_buffer()};
  }
  static const V& state(const Opt& opt, const Options& o, int k) {
    if (k == 0) return opt.square_average();
    if (k == 1 && o.centered) return opt.gradient_average();
    return opt.momentum_buffer();
  }
  static S initial(const Options&, int) { return S(0); }
  static void coeff(const Options& o, std::int64_t, bool, S& p, S g, S* st) {
    const auto lr = S(o.lr), a = S(o.alpha), c = S(1.0 - o.alpha), eps = S(o.eps), wd = S(o.weight_decay),
               mu = S(o.momentum);
    if (o.maximize) g = -g;
    if (o.weight_decay != 0.0) g = g + wd * p;
    S& v = st[0];
    v = a * v + c * (g * g);
    S avg;
    if (o.centered) {
      S& ga = st[1];
      ga = a * ga + c * g;
      avg = std::sqrt(v - ga * ga) + eps;
    } else {
      avg = std::sqrt(v) + eps;
    }
    if (o.momentum > 0.0) {
      S& buf = st[o.centered ? 2 : 1];
      buf = mu * buf + g / avg;
      p = p - lr * buf;
    } else {
      p = p - lr * (g / avg);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Holders. Each calls f(view, parent storage, its size, a name, the finding it is known to
// trigger or nullptr). The parent storage holds the view's coefficients and others around them.

template <class V>
constexpr bool col_vector = V::ColsAtCompileTime == 1;
template <class V>
constexpr bool row_vector = V::RowsAtCompileTime == 1 && V::ColsAtCompileTime != 1;
template <class V>
constexpr bool dynamic_size = V::SizeAtCompileTime == Dyn;

/// Storage for n coefficients from `offset`, with room around them; never empty.
template <class S>
std::vector<S> buffer(Index offset, Index n, Index pad) {
  return std::vector<S>(std::size_t(offset + n + pad + 1));
}

/// Extent (last index + 1) of an r×c layout with the given strides; 0 when empty.
[[maybe_unused]] Index extent(Index r, Index c, Index row_stride, Index col_stride) {
  return r == 0 || c == 0 ? 0 : (r - 1) * row_stride + (c - 1) * col_stride + 1;
}

/// A matrix expression as an array one when V is an Array (Ref binds only to its own kind).
template <class V, class X>
auto same_kind(X&& x) {
  if constexpr (std::is_base_of_v<Eigen::ArrayBase<V>, V>)
    return x.array();
  else
    return x;
}

template <class V, class F>
void with_params(Input& in, Index r, Index c, F&& f) {
  using S = typename V::Scalar;
  using ColM = Eigen::Matrix<S, Dyn, Dyn, Eigen::ColMajor>;
  using RowM = Eigen::Matrix<S, Dyn, Dyn, Eigen::RowMajor>;
  const Index off = Index(in.below(3)), pad = Index(in.below(3));
  const Index k = 1 + Index(in.below(3)), j = Index(in.below(std::size_t(k)));
  std::size_t kind = in.below(13);
  // Eigen itself offsets the null data pointer of an empty matrix when taking a block of it (UB),
  // so empty views are plain objects or maps only.
  if (r * c == 0 && kind > 2) kind = 0;
  if constexpr (col_vector<V> || row_vector<V>) {
    // n coefficients along a column (column vector) or a row (row vector). "Across" parents are
    // matrices whose storage order makes the vector strided: row-major for a column, and so on.
    constexpr bool col = col_vector<V>;
    using Across = std::conditional_t<col, RowM, ColM>;
    using Along = std::conditional_t<col, ColM, RowM>;
    using Big = Eigen::Matrix<S, col ? Dyn : 1, col ? 1 : Dyn>;
    const Index n = col ? r : c;
    auto across = [&](Index extra) { return col ? Across(n + extra, k) : Across(k, n + extra); };
    switch (kind) {
      case 0:
        break;
      case 1: {
        auto buf = buffer<S>(off, n, pad);
        Eigen::Map<V> m(buf.data() + off, r, c);
        return f(m, buf.data(), Index(buf.size()), "Map<V>", nullptr);
      }
      case 2: {
        const Index s = 1 + Index(in.below(4));
        auto buf = buffer<S>(off, extent(n, 1, s, 0), pad);
        Eigen::Map<V, 0, Eigen::InnerStride<>> m(buf.data() + off, r, c, Eigen::InnerStride<>(s));
        return f(m, buf.data(), Index(buf.size()), "Map<V, 0, InnerStride<>>", nullptr);
      }
      case 3:
        if constexpr (dynamic_size<V>) {
          auto buf = buffer<S>(off, n, pad);
          Eigen::Map<V> m(buf.data() + off, r, c);
          Eigen::Ref<V> ref(m);
          return f(ref, buf.data(), Index(buf.size()), "Ref<V>", nullptr);
        }
        break;
      case 4: {
        Big big(off + n + pad);
        auto v = big.segment(off, n);
        return f(v, big.data(), big.size(), "segment", nullptr);
      }
      case 5: {
        Big big(off + n + pad);
        auto v = big.segment(off, n).reverse();
        return f(v, big.data(), big.size(), "segment().reverse()", nullptr);
      }
      case 6: {
        Across m = across(0);
        if constexpr (col) {
          auto v = m.middleCols(j, 1);
          return f(v, m.data(), m.size(), "row-major W.middleCols(j, 1)", "F1");
        } else {
          auto v = m.middleRows(j, 1);
          return f(v, m.data(), m.size(), "column-major W.middleRows(i, 1)", "F1");
        }
      }
      case 7: {
        Across m = across(0);
        if constexpr (col) {
          auto v = m.leftCols(1);
          return f(v, m.data(), m.size(), "row-major W.leftCols(1)", "F1");
        } else {
          auto v = m.topRows(1);
          return f(v, m.data(), m.size(), "column-major W.topRows(1)", "F1");
        }
      }
      case 8: {
        Across m = across(0);
        if constexpr (col) {
          auto v = m.col(j);
          return f(v, m.data(), m.size(), "row-major W.col(j)", nullptr);
        } else {
          auto v = m.row(j);
          return f(v, m.data(), m.size(), "column-major W.row(i)", nullptr);
        }
      }
      case 9: {
        Across m = across(off + pad);
        if constexpr (col) {
          auto v = m.block(off, j, n, 1);
          return f(v, m.data(), m.size(), "row-major W.block(i, j, n, 1)", "F1");
        } else {
          auto v = m.block(j, off, 1, n);
          return f(v, m.data(), m.size(), "column-major W.block(i, j, 1, n)", "F1");
        }
      }
      case 10:
        if constexpr (dynamic_size<V>) {
          Across m = across(0);
          if constexpr (col) {
            Eigen::Ref<V, 0, Eigen::InnerStride<>> ref(same_kind<V>(m.col(j)));
            return f(ref, m.data(), m.size(), "Ref<V, 0, InnerStride<>> of row-major W.col(j)", nullptr);
          } else {
            Eigen::Ref<V, 0, Eigen::InnerStride<>> ref(same_kind<V>(m.row(j)));
            return f(ref, m.data(), m.size(), "Ref<V, 0, InnerStride<>> of column-major W.row(i)", nullptr);
          }
        }
        break;
      case 11: {
        Along m = col ? Along(off + n + pad, k) : Along(k, off + n + pad);
        if constexpr (col) {
          auto v = m.block(off, j, n, 1);
          return f(v, m.data(), m.size(), "column-major M.block(i, j, n, 1)", nullptr);
        } else {
          auto v = m.block(j, off, 1, n);
          return f(v, m.data(), m.size(), "row-major M.block(i, j, 1, n)", nullptr);
        }
      }
      case 12: {
        Along m = col ? Along(k, n) : Along(n, k);  // the transpose of a strided vector
        if constexpr (col) {
          auto v = m.row(j).transpose();
          return f(v, m.data(), m.size(), "column-major M.row(i).transpose()", nullptr);
        } else {
          auto v = m.col(j).transpose();
          return f(v, m.data(), m.size(), "row-major M.col(j).transpose()", nullptr);
        }
      }
      default:
        break;
    }
  } else {
    // A matrix V: Same has V's storage order, Other the opposite one.
    using Same = std::conditional_t<bool(V::IsRowMajor), RowM, ColM>;
    using Other = std::conditional_t<bool(V::IsRowMajor), ColM, RowM>;
    const Index inner = V::IsRowMajor ? c : r, outer = V::IsRowMajor ? r : c;
    const Index off2 = Index(in.below(3));
    switch (kind % 10) {
      case 0:
        break;
      case 1: {
        auto buf = buffer<S>(off, r * c, pad);
        Eigen::Map<V> m(buf.data() + off, r, c);
        return f(m, buf.data(), Index(buf.size()), "Map<V>", nullptr);
      }
      case 2: {
        const Index os = inner + pad;
        auto buf = buffer<S>(off, extent(inner, outer, 1, os), pad);
        Eigen::Map<V, 0, Eigen::OuterStride<>> m(buf.data() + off, r, c, Eigen::OuterStride<>(os));
        return f(m, buf.data(), Index(buf.size()), "Map<V, 0, OuterStride<>>", nullptr);
      }
      case 3: {
        const Index is = 2 + Index(in.below(2)), os = inner * is + pad;
        auto buf = buffer<S>(off, extent(inner, outer, is, os), pad);
        Eigen::Map<V, 0, Eigen::Stride<Dyn, Dyn>> m(buf.data() + off, r, c, Eigen::Stride<Dyn, Dyn>(os, is));
        return f(m, buf.data(), Index(buf.size()), "Map<V, 0, Stride<Dynamic, Dynamic>>", nullptr);
      }
      case 4: {
        Same m(r + off + pad, c + off2 + pad);
        auto v = m.block(off, off2, r, c);
        return f(v, m.data(), m.size(), "same-order M.block(i, j, r, c)", nullptr);
      }
      case 5: {
        Other m(r + off + pad, c + off2 + pad);
        auto v = m.block(off, off2, r, c);
        return f(v, m.data(), m.size(), "opposite-order M.block(i, j, r, c)", nullptr);
      }
      case 6: {
        Same m(r + off + pad, c + off2 + pad);
        Eigen::Ref<V, 0, Eigen::OuterStride<>> ref(m.block(off, off2, r, c));
        return f(ref, m.data(), m.size(), "Ref<V, 0, OuterStride<>> of a block", nullptr);
      }
      case 7: {
        Other m(c + off2 + pad, r + off + pad);
        auto v = m.block(off2, off, c, r).transpose();
        return f(v, m.data(), m.size(), "opposite-order M.block(j, i, c, r).transpose()", nullptr);
      }
      case 8: {
        Same m(r + off + pad, c + off2 + pad);
        auto v = m.block(off, off2, r, c).reverse();
        return f(v, m.data(), m.size(), "same-order M.block(i, j, r, c).reverse()", nullptr);
      }
      case 9: {
        V m = V::Zero(r, c);
        Eigen::Ref<V> ref(m);
        return f(ref, m.data(), m.size(), "Ref<V> of a V", nullptr);
      }
      default:
        break;
    }
  }
  V v = V::Zero(r, c);
  f(v, v.data(), v.size(), "V", nullptr);
}

template <class Dst, class Src>
void store(Dst&& dst, const Src& src) {
  for (Index j = 0; j < src.cols(); ++j)
    for (Index i = 0; i < src.rows(); ++i) dst.coeffRef(i, j) = src.coeff(i, j);
}

/// Fills `m` with values that no real gradient coefficient has, so that reading the wrong one shows.
template <class M>
void fill_sentinels(M& m, typename M::Scalar base) {
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = base + typename M::Scalar(i);
}

/// Calls f(gradient expression holding `g`, a name, the finding it is known to trigger). With
/// `all` false (parameters in an unusual holder already) only a plain V and a lazy expression.
template <class V, bool all, class F>
void with_grads(std::size_t kind, const V& g, Input& in, F&& f) {
  using S = typename V::Scalar;
  const Index r = g.rows(), c = g.cols();
  if (r * c == 0) kind = 0;  // no blocks of empty matrices (see with_params)
  if constexpr (!all) {
    (void)in;
    if (kind % 2 == 0) return f(g, "V", nullptr);
    return f(g * S(1), "lazy g * 1", nullptr);
  } else {
    using ColM = Eigen::Matrix<S, Dyn, Dyn, Eigen::ColMajor>;
    using RowM = Eigen::Matrix<S, Dyn, Dyn, Eigen::RowMajor>;
    const Index k = 1 + Index(in.below(3)), j = Index(in.below(std::size_t(k)));
    switch (kind % 8) {
      case 0:
        return f(g, "V", nullptr);
      case 1: {
        auto buf = buffer<S>(0, r * c, 0);
        store(Eigen::Map<V>(buf.data(), r, c), g);
        return f(Eigen::Map<const V>(buf.data(), r, c), "Map<const V>", nullptr);
      }
      case 2: {
        const Index s = 2 + Index(in.below(2));
        if constexpr (col_vector<V> || row_vector<V>) {
          auto buf = buffer<S>(0, extent(g.size(), 1, s, 0), 0);
          store(Eigen::Map<V, 0, Eigen::InnerStride<>>(buf.data(), r, c, Eigen::InnerStride<>(s)), g);
          return f(Eigen::Map<const V, 0, Eigen::InnerStride<>>(buf.data(), r, c, Eigen::InnerStride<>(s)),
                   "Map<const V, 0, InnerStride<>>", nullptr);
        } else {
          const Index inner = V::IsRowMajor ? c : r, outer = V::IsRowMajor ? r : c, os = inner * s + 1;
          auto buf = buffer<S>(0, extent(inner, outer, s, os), 0);
          const Eigen::Stride<Dyn, Dyn> stride(os, s);
          store(Eigen::Map<V, 0, Eigen::Stride<Dyn, Dyn>>(buf.data(), r, c, stride), g);
          return f(Eigen::Map<const V, 0, Eigen::Stride<Dyn, Dyn>>(buf.data(), r, c, stride),
                   "Map<const V, 0, Stride<Dynamic, Dynamic>>", nullptr);
        }
      }
      case 3:
        return f(g * S(1), "lazy g * 1", nullptr);
      case 4: {
        if constexpr (col_vector<V>) {
          RowM m(r, k);
          fill_sentinels(m, S(500));
          store(m.middleCols(j, 1), g);
          return f(std::as_const(m).middleCols(j, 1), "row-major G.middleCols(j, 1)", "F1");
        } else if constexpr (row_vector<V>) {
          ColM m(k, c);
          fill_sentinels(m, S(500));
          store(m.middleRows(j, 1), g);
          return f(std::as_const(m).middleRows(j, 1), "column-major G.middleRows(i, 1)", "F1");
        } else {
          using Other = std::conditional_t<bool(V::IsRowMajor), ColM, RowM>;
          Other m(r + 1, c + 2);
          fill_sentinels(m, S(500));
          store(m.block(1, j % 2, r, c), g);
          return f(std::as_const(m).block(1, j % 2, r, c), "opposite-order G.block", nullptr);
        }
      }
      case 5: {
        if constexpr (col_vector<V>) {
          ColM m(r, k);
          fill_sentinels(m, S(500));
          store(m.col(j), g);
          return f(std::as_const(m).col(j), "column-major G.col(j)", nullptr);
        } else if constexpr (row_vector<V>) {
          RowM m(k, c);
          fill_sentinels(m, S(500));
          store(m.row(j), g);
          return f(std::as_const(m).row(j), "row-major G.row(i)", nullptr);
        } else {
          using Same = std::conditional_t<bool(V::IsRowMajor), RowM, ColM>;
          Same m(r + 2, c + 1);
          fill_sentinels(m, S(500));
          store(m.block(j % 2, 1, r, c), g);
          return f(std::as_const(m).block(j % 2, 1, r, c), "same-order G.block", nullptr);
        }
      }
      case 6: {
        const V reversed = g.reverse();
        return f(reversed.reverse(), "reverse()", nullptr);
      }
      default: {
        const auto transposed = g.transpose().eval();
        return f(transposed.transpose(), "transpose() of the transposed plain object", nullptr);
      }
    }
  }
}

/// A gradient coefficient functor that throws at its `at`-th call (counting from 0).
struct GradientThrows {};
template <class S>
struct ThrowAt {
  int* calls;
  int at;
  S operator()(S x) const {
    if ((*calls)++ == at) throw GradientThrows{};
    return x;
  }
};

/// r×c values: usually generated from a 2-byte seed (so that a step costs the input a few bytes
/// whatever its size, and short inputs still make long programs) with a few coefficients then set
/// from the input; sometimes every coefficient from the input.
template <class V>
V draw_values(Input& in, Index r, Index c) {
  using S = typename V::Scalar;
  V v(r, c);
  const std::uint8_t mode = in.byte();
  if (mode < 48) {
    for (Index j = 0; j < c; ++j)
      for (Index i = 0; i < r; ++i) v(i, j) = in.value<S>();
    return v;
  }
  std::uint64_t state = (std::uint64_t(mode) << 8 | in.byte()) * 0x9E3779B97F4A7C15ULL;
  std::vector<std::uint8_t> bytes(std::size_t(4 * r * c));
  for (auto& x : bytes) {
    state ^= state >> 31;
    state *= 0xBF58476D1CE4E5B9ULL;
    state ^= state >> 29;
    x = std::uint8_t(state >> 56);
  }
  Input generated(bytes.data(), bytes.size());
  for (Index j = 0; j < c; ++j)
    for (Index i = 0; i < r; ++i) v(i, j) = generated.value<S>();
  for (std::size_t k = in.below(3); k > 0 && r * c > 0; --k)
    v.data()[in.below(std::size_t(r * c))] = in.value<S>();
  return v;
}

template <class S>
Eigen::Matrix<S, Dyn, Dyn> draw_matrix(Input& in, Index r, Index c) {
  return draw_values<Eigen::Matrix<S, Dyn, Dyn>>(in, r, c);
}

/// A non-owning reference to a callable: one small function per lambda, where std::function
/// would compile four (this file is compile-time bound).
template <class Signature>
class FunctionRef;
template <class R, class... A>
class FunctionRef<R(A...)> {
 public:
  FunctionRef() = default;
  template <class F>
  FunctionRef(F& f) : object_(&f), call_([](void* o, A... a) -> R { return (*static_cast<F*>(o))(a...); }) {}
  R operator()(A... a) const { return call_(object_, a...); }
  explicit operator bool() const { return call_ != nullptr; }

 private:
  void* object_ = nullptr;
  R (*call_)(void*, A...) = nullptr;
};

// ---------------------------------------------------------------------------------------------
// One optimizer on one parameter view: the program of operations and the checks.
//
// Only the calls to step depend on the view's and the gradient's types; everything else reads
// and writes the view's coefficients through their positions in the parent storage, so that it
// is compiled once per optimizer and V rather than once per holder (which would make this file
// take many minutes to compile).

template <class M>
class Session {
 public:
  using V = typename M::V;
  using S = typename V::Scalar;
  using Opt = typename M::Opt;
  using Options = typename M::Options;
  using Step = FunctionRef<void()>;

  Session(Input& in, Opt& opt, Options eff) : in_(in), opt_(opt), eff_(eff) {}

  template <class View>
  void run(View& view, S* base, Index size, const char* holder, const char* holder_tag) {
    constexpr bool plain_holder = std::is_same_v<View, V> || std::is_same_v<View, Eigen::Map<V>>;
    std::vector<Index> positions;
    for (Index j = 0; j < view.cols(); ++j)
      for (Index i = 0; i < view.rows(); ++i) positions.push_back(Index(&view.coeffRef(i, j) - base));
    start(view.rows(), view.cols(), base, size, std::move(positions), holder);

    // The only code compiled per holder: the calls to step.
    auto step = [&](std::size_t kind, const V& g) {
      with_grads<V, plain_holder>(kind, g, in_, [&](const auto& grads, const char* gname, const char* gtag) {
        auto call = [&] { opt_.step(view, grads); };
        checked_step(g, "step with grads held as ", gname, holder_tag ? holder_tag : gtag, call);
      });
    };
    auto mismatched = [&](const Eigen::Matrix<S, Dyn, Dyn>& g) { opt_.step(view, g); };
    auto throwing = [&](const V& g, int* calls, int at) { opt_.step(view, g.unaryExpr(ThrowAt<S>{calls, at})); };
    auto overlapping = [&](Index shift) {
      // Grads overlapping the parameters' memory: shifted by a few coefficients, or the same view.
      if constexpr ((int(View::Flags) & Eigen::DirectAccessBit) != 0) {
        if (r_ == 0 || c_ == 0) return;
        const Index rs = view.rowStride(), cs = view.colStride();
        const Index first = Index(view.data() - base) + shift;
        if (first < 0 || first + extent(r_, c_, rs, cs) > size_) return;
        using Map = Eigen::Map<const Eigen::Matrix<S, Dyn, Dyn>, 0, Eigen::Stride<Dyn, Dyn>>;
        const Map grads(base + first, r_, c_, Eigen::Stride<Dyn, Dyn>(cs, rs));
        V g(r_, c_);
        store(g, grads);
        auto call = [&] { opt_.step(view, grads); };
        checked_step(g, "step with grads overlapping the params, shifted by ", std::to_string(shift).c_str(), "F16",
                     call);
      } else {
        (void)shift;
      }
    };
    Hooks hooks{step, mismatched, throwing, overlapping};
    program(hooks, holder_tag);
  }

 private:
  struct Hooks {
    FunctionRef<void(std::size_t, const V&)> step;
    FunctionRef<void(const Eigen::Matrix<S, Dyn, Dyn>&)> mismatched;
    FunctionRef<void(const V&, int*, int)> throwing;
    FunctionRef<void(Index)> overlapping;
  };

  void program(const Hooks& hooks, const char* holder_tag) {
    for (int op = 0; op < 40 && !in_.empty(); ++op) {
      const std::size_t what = in_.below(11);
      if (what <= 3) {
        const std::size_t kind = in_.below(8);
        hooks.step(kind, draw_values<V>(in_, r_, c_));
      } else if (what == 4) {
        const auto g = mismatched_grads();
        auto call = [&] { hooks.mismatched(g); };
        refused_step("step with grads of shape " + std::to_string(g.rows()) + "x" + std::to_string(g.cols()), call);
      } else if (what == 5) {
        other_params();
      } else if (what == 6) {
        set_lr();
      } else if (what == 7) {
        reset();
      } else if (what == 8) {
        // The user writes new values into the parameters between steps.
        const V values = draw_values<V>(in_, r_, c_);
        for (Index j = 0; j < c_; ++j)
          for (Index i = 0; i < r_; ++i) param(i, j) = values(i, j);
      } else if (what == 9) {
        // A gradient expression that throws while it is evaluated (F3).
        const V g = draw_values<V>(in_, r_, c_);
        int calls = 0;
        const int at = int(in_.below(std::size_t(r_ * c_ + 1)));
        auto call = [&] { hooks.throwing(g, &calls, at); };
        throwing_step(g, at, holder_tag, call);
      } else {
        hooks.overlapping(Index(in_.range(-3, 3)));
      }
    }
  }

 private:
  struct Snapshot {
    std::vector<S> parent;
    std::int64_t steps;
    double lr;
    std::vector<V> states;
  };

  S& param(Index k) const { return base_[positions_[std::size_t(k)]]; }
  S& param(Index i, Index j) const { return param(i + j * r_); }

  V params() const {
    V p(r_, c_);
    for (Index j = 0; j < c_; ++j)
      for (Index i = 0; i < r_; ++i) p(i, j) = param(i, j);
    return p;
  }

  /// The parent storage: sentinels everywhere, then the view's coefficients from the input.
  void start(Index r, Index c, S* base, Index size, std::vector<Index> positions, const char* holder) {
    r_ = r;
    c_ = c;
    base_ = base;
    size_ = size;
    positions_ = std::move(positions);
    view_name_ = holder;
    for (Index k = 0; k < size; ++k) base[k] = S(-1000) - S(k) * S(0.25);
    inside_.assign(std::size_t(size), false);
    for (const Index at : positions_) {
      FUZZ_CHECK(at >= 0 && at < size && !inside_[std::size_t(at)], "harness: the view is not inside its parent");
      inside_[std::size_t(at)] = true;
    }
    const V first_values = draw_values<V>(in_, r_, c_);
    for (Index j = 0; j < c_; ++j)
      for (Index i = 0; i < r_; ++i) param(i, j) = first_values(i, j);
    outside_.assign(base, base + size);
  }

  std::string context(const std::string& op) const {
    return M::describe(eff_) + " on " + view_name_ + " " + std::to_string(r_) + "x" + std::to_string(c_) +
           " (V = " + type_name() + "), after " + std::to_string(t_) + " step(s) since construction/reset" +
           (fresh_ ? " (no state)" : "") + ", " + op;
  }
  static std::string type_name() {
    std::string s = std::is_same_v<S, float> ? "float" : "double";
    s += " " + (V::RowsAtCompileTime == Dyn ? std::string("X") : std::to_string(V::RowsAtCompileTime));
    s += "x" + (V::ColsAtCompileTime == Dyn ? std::string("X") : std::to_string(V::ColsAtCompileTime));
    s += V::IsRowMajor ? " row-major" : " column-major";
    if constexpr (std::is_base_of_v<Eigen::ArrayBase<V>, V>) s += " Array";
    return s;
  }

  Snapshot snapshot() const {
    Snapshot s{std::vector<S>(base_, base_ + size_), opt_.steps(), opt_.lr(), {}};
    for (const V* a : M::all_states(opt_)) s.states.push_back(*a);
    return s;
  }

  /// Nothing observable changed: parent storage, steps(), lr(), and the state while it exists.
  void check_unchanged(const Snapshot& s, const std::string& what, const char* tag) const {
    for (Index k = 0; k < size_; ++k)
      FUZZ_CHECK_KNOWN(tag, fuzz::same_bits(base_[k], s.parent[std::size_t(k)]),
                       context(what) + ": parent coefficient " + std::to_string(k) + " changed from " +
                           num(double(s.parent[std::size_t(k)])) + " to " + num(double(base_[k])));
    FUZZ_CHECK_KNOWN(tag, opt_.steps() == s.steps,
                     context(what) + ": steps() changed from " + std::to_string(s.steps) + " to " +
                         std::to_string(opt_.steps()));
    FUZZ_CHECK_KNOWN(tag, fuzz::same_bits(opt_.lr(), s.lr), context(what) + ": lr() changed");
    if (fresh_) return;
    const auto now = M::all_states(opt_);
    for (std::size_t k = 0; k < now.size(); ++k) {
      const V& a = *now[k];
      const V& before = s.states[k];
      bool same = a.rows() == before.rows() && a.cols() == before.cols();
      for (Index i = 0; same && i < a.size(); ++i) same = fuzz::same_bits(a.data()[i], before.data()[i]);
      FUZZ_CHECK_KNOWN(tag, same, context(what) + ": state array " + std::to_string(k) + " changed");
    }
  }

  void check_outside(const std::string& what, const char* tag) const {
    for (Index k = 0; k < size_; ++k) {
      if (inside_[std::size_t(k)]) continue;
      FUZZ_CHECK_KNOWN(tag, fuzz::same_bits(base_[k], outside_[std::size_t(k)]),
                       context(what) + ": coefficient " + std::to_string(k) +
                           " of the parent storage, outside the view, changed from " +
                           num(double(outside_[std::size_t(k)])) + " to " + num(double(base_[k])));
    }
  }

  /// The state before a step: the optimizer's arrays, or their initial values when it has none.
  std::vector<V> state_before() const {
    std::vector<V> st;
    for (int k = 0; k < M::states(eff_); ++k) {
      if (fresh_)
        st.push_back(V::Constant(r_, c_, M::initial(eff_, k)));
      else
        st.push_back(M::state(opt_, eff_, k));
    }
    return st;
  }

  /// Runs `step` (which must succeed) and checks its result against the model with gradient `g`.
  void checked_step(const V& g, const char* what1, const char* what2, const char* tag, const Step& step) {
    const std::string what = std::string(what1) + what2;
    const V before = params();
    const std::vector<V> st = state_before();
    try {
      step();
    } catch (const std::invalid_argument& e) {
      FUZZ_CHECK(false, context(what) + ": a valid step threw: " + e.what());
    }
    verify(before, g, st, what, tag);
  }

  void verify(const V& before, const V& g, const std::vector<V>& st, const std::string& what, const char* tag) {
    const bool first = fresh_;
    ++t_;
    fresh_ = false;
    FUZZ_CHECK_KNOWN(tag, opt_.steps() == t_,
                     context(what) + ": steps() = " + std::to_string(opt_.steps()) + ", expected " +
                         std::to_string(t_));
    check_outside(what, tag);
    const int K = M::states(eff_);
    for (int k = 0; k < K; ++k) {
      const V& a = M::state(opt_, eff_, k);
      FUZZ_CHECK(a.rows() == r_ && a.cols() == c_,
                 context(what) + ": state array " + std::to_string(k) + " is " + std::to_string(a.rows()) + "x" +
                     std::to_string(a.cols()));
    }
    for (Index j = 0; j < c_; ++j) {
      for (Index i = 0; i < r_; ++i) {
        S p = before(i, j);
        S s[3] = {S(0), S(0), S(0)};
        for (int k = 0; k < K; ++k) s[k] = st[std::size_t(k)](i, j);
        const S s_before[3] = {s[0], s[1], s[2]};
        M::coeff(eff_, t_, first, p, g(i, j), s);
        auto where = [&] {
          std::string w = " at (" + std::to_string(i) + ", " + std::to_string(j) + "): param before " +
                          num(double(before(i, j))) + ", grad " + num(double(g(i, j)));
          for (int k = 0; k < K; ++k) w += ", state[" + std::to_string(k) + "] before " + num(double(s_before[k]));
          return w;
        };
        const S actual = param(i, j);
        FUZZ_CHECK_KNOWN(tag, fuzz::agree(p, actual, S(std::abs(before(i, j)))),
                         context(what) + where() + ": param " + num(double(actual)) + ", model " + num(double(p)));
        for (int k = 0; k < K; ++k) {
          const S a = M::state(opt_, eff_, k)(i, j);
          FUZZ_CHECK_KNOWN(tag, fuzz::agree(s[k], a, S(std::abs(s_before[k]))),
                           context(what) + where() + ": state[" + std::to_string(k) + "] " + num(double(a)) +
                               ", model " + num(double(s[k])));
        }
      }
    }
  }

  /// Grads of another shape than the parameters.
  Eigen::Matrix<S, Dyn, Dyn> mismatched_grads() {
    Index r2 = r_, c2 = c_;
    switch (in_.below(4)) {
      case 0:
        r2 = r_ + 1 + Index(in_.below(2));
        break;
      case 1:
        c2 = c_ + 1;
        break;
      case 2:
        if (r_ != c_) {
          std::swap(r2, c2);
          break;
        }
        [[fallthrough]];
      default:
        if (r_ > 0)
          r2 = r_ - 1;
        else
          c2 = c_ + 2;
    }
    return draw_matrix<S>(in_, r2, c2);
  }

  /// `step` must throw std::invalid_argument and change nothing.
  void refused_step(const std::string& what, const Step& step) {
    const Snapshot s = snapshot();
    bool threw = false;
    try {
      step();
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    FUZZ_CHECK(threw, context(what) + ": not refused");
    check_unchanged(s, what, nullptr);
  }

  /// Parameters (and grads) of another shape: refused when the state has the old shape or V's
  /// compile-time shape does not allow it; otherwise (stateless) a normal step of those.
  void other_params() {
    const Index r2 = Index(in_.below(5)), c2 = Index(in_.below(5));
    const bool compatible = (V::RowsAtCompileTime == Dyn || r2 == V::RowsAtCompileTime) &&
                            (V::ColsAtCompileTime == Dyn || c2 == V::ColsAtCompileTime);
    const bool has_state = M::stateful(eff_) && !fresh_;
    if ((r2 == r_ && c2 == c_) || (compatible && M::stateful(eff_) && fresh_)) return;
    auto p = draw_matrix<S>(in_, r2, c2);
    const auto g = draw_matrix<S>(in_, r2, c2);
    const auto p0 = p;
    const std::string what = "step of other parameters " + std::to_string(r2) + "x" + std::to_string(c2);
    if (!compatible || has_state) {
      auto call = [&] { opt_.step(p, g); };
      refused_step(what, call);
      for (Index i = 0; i < p.size(); ++i)
        FUZZ_CHECK(fuzz::same_bits(p.data()[i], p0.data()[i]), context(what) + ": refused but wrote the params");
      return;
    }
    try {
      opt_.step(p, g);
    } catch (const std::invalid_argument& e) {
      FUZZ_CHECK(false, context(what) + ": refused, but the optimizer has no state: " + e.what());
    }
    ++t_;
    FUZZ_CHECK(opt_.steps() == t_, context(what) + ": steps() = " + std::to_string(opt_.steps()));
    check_outside(what, nullptr);
    for (Index i = 0; i < p.size(); ++i) {
      S expected = p0.data()[i];
      M::coeff(eff_, t_, true, expected, g.data()[i], nullptr);
      FUZZ_CHECK(fuzz::agree(expected, p.data()[i], S(std::abs(p0.data()[i]))),
                 context(what) + ": coefficient " + std::to_string(i) + " is " + num(double(p.data()[i])) +
                     ", model " + num(double(expected)));
    }
  }

  void set_lr() {
    const double lr = in_.option(Field::rate);
    const Validity validity = M::lr_validity(eff_, lr);
    const Snapshot s = snapshot();
    const std::string what = "set_lr(" + num(lr) + ")";
    bool threw = false;
    std::string message;
    try {
      opt_.set_lr(lr);
    } catch (const std::invalid_argument& e) {
      threw = true;
      message = e.what();
    }
    if (validity == Validity::valid) FUZZ_CHECK(!threw, context(what) + ": refused a valid lr: " + message);
    if (validity == Validity::invalid) FUZZ_CHECK(threw, context(what) + ": accepted an invalid lr");
    if (validity == Validity::overflow)
      FUZZ_CHECK_KNOWN("F7", threw, context(what) + ": accepted an lr that overflows");
    if (threw) {
      check_unchanged(s, what, nullptr);
      return;
    }
    FUZZ_CHECK(opt_.lr() == lr && opt_.options().lr == lr, context(what) + ": lr() = " + num(opt_.lr()));
    FUZZ_CHECK(opt_.steps() == s.steps, context(what) + ": steps() changed");
    eff_.lr = lr;
    check_outside(what, nullptr);
  }

  void reset() {
    opt_.reset();
    fresh_ = true;
    t_ = 0;
    FUZZ_CHECK(opt_.steps() == 0, context("reset") + ": steps() = " + std::to_string(opt_.steps()));
    check_outside("reset", nullptr);
  }

  /// `step` evaluates a gradient expression that throws GradientThrows at coefficient `at`
  /// (unless `at` is past the end): the step must then have no effect (the strong guarantee,
  /// F3), so that the next step is the one a fresh call would make.
  void throwing_step(const V& g, int at, const char* holder_tag, const Step& step) {
    const Snapshot s = snapshot();
    const V before = params();
    const std::vector<V> st = state_before();
    bool threw = false;
    try {
      step();
    } catch (const GradientThrows&) {
      threw = true;
    } catch (const std::invalid_argument& e) {
      FUZZ_CHECK(false, context("step with a throwing gradient expression") + ": threw " + e.what());
    }
    if (threw) {
      check_unchanged(s, "step whose gradient expression throws at coefficient " + std::to_string(at), "F3");
      return;
    }
    verify(before, g, st, "step with a gradient expression that did not throw", holder_tag);
  }

  Input& in_;
  Opt& opt_;
  Options eff_;
  const char* view_name_ = "";
  Index r_ = 0, c_ = 0;
  S* base_ = nullptr;
  Index size_ = 0;
  std::vector<Index> positions_;  // of the view's coefficients in the parent, column by column
  std::vector<bool> inside_;
  std::vector<S> outside_;
  bool fresh_ = true;
  std::int64_t t_ = 0;
};

template <class M>
void fuzz_one(Input& in) {
  using V = typename M::V;
  const auto d = M::draw(in);
  std::optional<typename M::Opt> opt;
  std::string message;
  try {
    opt.emplace(d.make());
  } catch (const std::invalid_argument& e) {
    message = e.what();
  }
  const std::string what = M::describe(d.eff) + " (" + to_string(d.validity) + ")";
  if (d.validity == Validity::valid) FUZZ_CHECK(opt.has_value(), what + ": refused: " + message);
  if (d.validity == Validity::invalid) FUZZ_CHECK(!opt.has_value(), what + ": accepted");
  if (d.validity == Validity::overflow) FUZZ_CHECK_KNOWN("F7", !opt.has_value(), what + ": accepted");
  if (!opt) {
    FUZZ_CHECK(message.rfind("descent::", 0) == 0, what + ": message does not name descent: " + message);
    return;
  }
  FUZZ_CHECK(opt->steps() == 0 && opt->lr() == d.eff.lr, what + ": a new optimizer has steps or another lr");
  FUZZ_CHECK(M::same(opt->options(), d.eff), what + ": options() differ from the options given");

  Index r = 0, c = 0;
  if constexpr (col_vector<V>) {
    r = V::RowsAtCompileTime == Dyn ? Index(in.below(34)) : Index(V::RowsAtCompileTime);
    c = 1;
  } else if constexpr (row_vector<V>) {
    r = 1;
    c = Index(in.below(34));
  } else {
    r = Index(in.below(7));
    c = Index(in.below(7));
  }
  // AdamW is checked as the Adam it is, so that the session is compiled once for both.
  using Model = std::conditional_t<std::is_base_of_v<AdamModel<V>, M>, AdamModel<V>, M>;
  Session<Model> session(in, *opt, d.eff);
  with_params<V>(in, r, c, [&](auto& view, auto* base, Index size, const char* name, const char* tag) {
    session.run(view, base, size, name, tag);
  });
}

/// The parameter types: every optimizer on a double vector, a float array and a row-major matrix;
/// SGD and Adam (AdamW) on all of them. (Every optimizer on every type would make this file take
/// minutes to compile; what the holders exercise -- with_spans -- is the same code for all.)
template <template <class> class M, bool all_types>
void fuzz_types(Input& in) {
  using RowMajor = Eigen::Matrix<double, Dyn, Dyn, Eigen::RowMajor>;
  const std::size_t type = in.below(all_types ? 7 : 3);
  if (type == 0) return fuzz_one<M<Eigen::VectorXd>>(in);
  if (type == 1) return fuzz_one<M<Eigen::ArrayXf>>(in);
  if (type == 2) return fuzz_one<M<RowMajor>>(in);
  if constexpr (all_types) {
    if (type == 3) return fuzz_one<M<Eigen::VectorXf>>(in);
    if (type == 4) return fuzz_one<M<Eigen::RowVectorXd>>(in);
    if (type == 5) return fuzz_one<M<Eigen::MatrixXd>>(in);
    return fuzz_one<M<Eigen::Matrix<double, 5, 1>>>(in);
  }
}

}  // namespace

// The optimizers are split into three parts, compiled as separate translation units
// (DESCENT_FUZZ_PART = 0, 1, 2, see CMakeLists.txt) so that two cores build this target in half
// the time; without the macro, one translation unit has everything.
#ifndef DESCENT_FUZZ_PART
#define DESCENT_FUZZ_PART -1
#endif

namespace fuzz_step {
void gd_adagrad_rmsprop(Input& in, std::size_t which);
void sgd(Input& in);
void adam(Input& in, bool adamw);
}  // namespace fuzz_step

#if DESCENT_FUZZ_PART == -1 || DESCENT_FUZZ_PART == 0
void fuzz_step::gd_adagrad_rmsprop(Input& in, std::size_t which) {
  if (which == 0) return fuzz_types<GDModel, false>(in);
  if (which == 1) return fuzz_types<AdagradModel, false>(in);
  return fuzz_types<RMSPropModel, false>(in);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  try {
    switch (const std::size_t which = in.below(6)) {
      case 1:
        fuzz_step::sgd(in);
        break;
      case 2:
      case 3:
        fuzz_step::adam(in, which == 3);
        break;
      default:
        fuzz_step::gd_adagrad_rmsprop(in, which == 0 ? 0 : which == 4 ? 1 : 2);
    }
  } catch (const fuzz::Abandon&) {
  }
  return 0;
}
#endif

#if DESCENT_FUZZ_PART == -1 || DESCENT_FUZZ_PART == 1
void fuzz_step::sgd(Input& in) { fuzz_types<SGDModel, true>(in); }
#endif

#if DESCENT_FUZZ_PART == -1 || DESCENT_FUZZ_PART == 2
void fuzz_step::adam(Input& in, bool adamw) {
  if (adamw)
    fuzz_types<AdamWModel, true>(in);
  else
    fuzz_types<AdamModel, true>(in);
}
#endif
