#pragma once
// Shared by the tests: one factory per optimizer variant, a deterministic gradient that depends on
// the parameters (so trajectories are realistic), and a small stochastic objective for the drivers.

#include <descent/descent.hpp>

#include <cmath>
#include <limits>

namespace descent_test {

// clang-format off
struct GD          { static constexpr bool stateful = false; static constexpr const char* name = "GradientDescent"; template <class V> static auto make() { return descent::GradientDescent<V>({.lr = 0.05, .weight_decay = 0.01}); } };
struct GDMax       { static constexpr bool stateful = false; static constexpr const char* name = "GradientDescent maximize"; template <class V> static auto make() { return descent::GradientDescent<V>({.lr = 0.05, .maximize = true}); } };
struct SGDMomentum { static constexpr bool stateful = true; static constexpr const char* name = "SGD momentum"; template <class V> static auto make() { return descent::SGD<V>({.lr = 0.05, .momentum = 0.9, .dampening = 0.2, .weight_decay = 0.01}); } };
struct SGDNesterov { static constexpr bool stateful = true; static constexpr const char* name = "SGD nesterov"; template <class V> static auto make() { return descent::SGD<V>({.lr = 0.05, .momentum = 0.9, .nesterov = true, .maximize = true}); } };
struct AdamPlain { static constexpr bool stateful = true; static constexpr const char* name = "Adam"; template <class V> static auto make() { return descent::Adam<V>({.lr = 0.05}); } };
struct AdamAms { static constexpr bool stateful = true; static constexpr const char* name = "Adam amsgrad L2"; template <class V> static auto make() { return descent::Adam<V>({.lr = 0.05, .weight_decay = 0.05, .amsgrad = true}); } };
struct AdamWDecay { static constexpr bool stateful = true; static constexpr const char* name = "AdamW"; template <class V> static auto make() { return descent::AdamW<V>({.lr = 0.05, .weight_decay = 0.1, .maximize = true}); } };
struct AdagradCfg { static constexpr bool stateful = true; static constexpr const char* name = "Adagrad"; template <class V> static auto make() { return descent::Adagrad<V>({.lr = 0.1, .lr_decay = 0.01, .weight_decay = 0.01, .initial_accumulator_value = 0.1}); } };
struct RMSPlain { static constexpr bool stateful = true; static constexpr const char* name = "RMSProp"; template <class V> static auto make() { return descent::RMSProp<V>({.lr = 0.01}); } };
struct RMSCentered { static constexpr bool stateful = true; static constexpr const char* name = "RMSProp centered momentum"; template <class V> static auto make() { return descent::RMSProp<V>({.lr = 0.01, .weight_decay = 0.01, .momentum = 0.5, .centered = true}); } };
struct NAdamPlain { static constexpr bool stateful = true; static constexpr const char* name = "NAdam"; template <class V> static auto make() { return descent::NAdam<V>({.lr = 0.05}); } };
struct NAdamDecay { static constexpr bool stateful = true; static constexpr const char* name = "NAdam L2 momentum_decay"; template <class V> static auto make() { return descent::NAdam<V>({.lr = 0.05, .weight_decay = 0.05, .momentum_decay = 0.1}); } };
struct RAdamPlain { static constexpr bool stateful = true; static constexpr const char* name = "RAdam"; template <class V> static auto make() { return descent::RAdam<V>({.lr = 0.05}); } };
struct RAdamDecay { static constexpr bool stateful = true; static constexpr const char* name = "RAdam L2 beta2 0.99"; template <class V> static auto make() { return descent::RAdam<V>({.lr = 0.05, .beta2 = 0.99, .weight_decay = 0.05}); } };
struct AdamaxPlain { static constexpr bool stateful = true; static constexpr const char* name = "Adamax"; template <class V> static auto make() { return descent::Adamax<V>({.lr = 0.05}); } };
struct AdamaxDecayMax { static constexpr bool stateful = true; static constexpr const char* name = "Adamax L2 maximize"; template <class V> static auto make() { return descent::Adamax<V>({.lr = 0.05, .eps = 1e-3, .weight_decay = 0.05, .maximize = true}); } };
struct AdadeltaPlain { static constexpr bool stateful = true; static constexpr const char* name = "Adadelta"; template <class V> static auto make() { return descent::Adadelta<V>({.lr = 1.0}); } };
struct AdadeltaDecayMax { static constexpr bool stateful = true; static constexpr const char* name = "Adadelta lr L2 maximize"; template <class V> static auto make() { return descent::Adadelta<V>({.lr = 0.5, .rho = 0.8, .weight_decay = 0.05, .maximize = true}); } };
struct ASGDAveraged { static constexpr bool stateful = true; static constexpr const char* name = "ASGD averaged L2"; template <class V> static auto make() { return descent::ASGD<V>({.lr = 0.05, .lambd = 0.01, .t0 = 2, .weight_decay = 0.01}); } };
struct ASGDMax { static constexpr bool stateful = true; static constexpr const char* name = "ASGD maximize"; template <class V> static auto make() { return descent::ASGD<V>({.lr = 0.05, .maximize = true}); } };
struct RpropPlain { static constexpr bool stateful = true; static constexpr const char* name = "Rprop"; template <class V> static auto make() { return descent::Rprop<V>({.lr = 0.01}); } };
struct RpropBounded { static constexpr bool stateful = true; static constexpr const char* name = "Rprop bounded maximize"; template <class V> static auto make() { return descent::Rprop<V>({.lr = 0.02, .eta_minus = 0.3, .eta_plus = 1.5, .step_size_min = 1e-3, .step_size_max = 0.1, .maximize = true}); } };
struct LionPlain { static constexpr bool stateful = true; static constexpr const char* name = "Lion"; template <class V> static auto make() { return descent::Lion<V>({.lr = 0.01}); } };
struct LionDecayMax { static constexpr bool stateful = true; static constexpr const char* name = "Lion decay maximize"; template <class V> static auto make() { return descent::Lion<V>({.lr = 0.01, .beta1 = 0.8, .beta2 = 0.9, .weight_decay = 0.1, .maximize = true}); } };
struct SFAdamWPlain { static constexpr bool stateful = true; static constexpr const char* name = "ScheduleFreeAdamW"; template <class V> static auto make() { return descent::ScheduleFreeAdamW<V>({.lr = 0.05}); } };
struct SFAdamWWarmup { static constexpr bool stateful = true; static constexpr const char* name = "ScheduleFreeAdamW decay warmup r"; template <class V> static auto make() { return descent::ScheduleFreeAdamW<V>({.lr = 0.05, .beta1 = 0.3, .weight_decay = 0.01, .warmup_steps = 5, .r = 1.0}); } };
struct SFSGDPlain { static constexpr bool stateful = true; static constexpr const char* name = "ScheduleFreeSGD"; template <class V> static auto make() { return descent::ScheduleFreeSGD<V>({.lr = 0.1}); } };
struct SFSGDWarmup { static constexpr bool stateful = true; static constexpr const char* name = "ScheduleFreeSGD L2 warmup power 1"; template <class V> static auto make() { return descent::ScheduleFreeSGD<V>({.lr = 0.2, .momentum = 0.8, .weight_decay = 0.01, .warmup_steps = 10, .weight_lr_power = 1.0}); } };
// clang-format on

#define DESCENT_TEST_ALL_VARIANTS                                                                                 \
  descent_test::GD, descent_test::GDMax, descent_test::SGDMomentum, descent_test::SGDNesterov,                    \
      descent_test::AdamPlain, descent_test::AdamAms, descent_test::AdamWDecay, descent_test::AdagradCfg,         \
      descent_test::RMSPlain, descent_test::RMSCentered, descent_test::NAdamPlain, descent_test::NAdamDecay,      \
      descent_test::RAdamPlain, descent_test::RAdamDecay, descent_test::AdamaxPlain, descent_test::AdamaxDecayMax, \
      descent_test::AdadeltaPlain, descent_test::AdadeltaDecayMax, descent_test::ASGDAveraged, descent_test::ASGDMax, \
      descent_test::RpropPlain, descent_test::RpropBounded, descent_test::LionPlain, descent_test::LionDecayMax,     \
      descent_test::SFAdamWPlain, descent_test::SFAdamWWarmup, descent_test::SFSGDPlain, descent_test::SFSGDWarmup

// The gradient and the start are computed without FP contraction, like descent's kernels: with
// GCC's default -ffp-contract=fast and -march=native, each instantiation (one per holder type)
// could otherwise fuse differently, and holders that must give bitwise the same numbers would be
// fed different gradients.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

/// g_i = (x_i − c_i) + a small oscillation that depends on the step: a noisy quadratic.
template <class G, class X>
void gradient(G&& g, const X& x, int t) {
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    using S = typename std::remove_cvref_t<X>::Scalar;
    const double c = std::sin(0.37 * double(i) + 1.0);
    g.coeffRef(i) = S((double(x.coeff(i)) - c) * (1.0 + 0.1 * double(i % 3)) + 0.3 * std::cos(0.9 * double(t) + double(i)));
  }
}

template <class X>
void fill_start(X&& x) {
  for (Eigen::Index i = 0; i < x.size(); ++i) x.coeffRef(i) = typename std::remove_cvref_t<X>::Scalar(std::cos(1.7 * double(i)) * 2.0);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/// A stochastic objective: samples a_i in R^d (the columns of a); loss_i(x) = ½‖x − a_i‖², whose
/// mean over all samples is minimized at mean(a).
struct Centroid {
  Eigen::MatrixXd a;  // d × n, one sample per column
  Eigen::Index size() const { return a.cols(); }
  template <class X, class G>
  double operator()(const X& x, descent::Batch batch, G& grad) const {
    grad.setZero();
    double loss = 0;
    for (Eigen::Index i : batch) {
      grad += x - a.col(i);
      loss += 0.5 * (x - a.col(i)).squaredNorm();
    }
    grad /= double(batch.size());
    return loss / double(batch.size());
  }
};

inline Centroid make_centroid(Eigen::Index d, Eigen::Index n) {
  Centroid c{Eigen::MatrixXd(d, n)};
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < d; ++i) c.a(i, j) = std::sin(0.7 * double(i) + 1.3 * double(j));
  return c;
}

/// Mean of ½‖x − t_i‖² over the batch, t_i = (i + 1)·linspace(−1, 1), with its gradient, on 8
/// samples; `kind` makes call number `at` (counting from 1) return a NaN loss, a NaN or infinite
/// gradient coefficient, or a gradient so large that a plain SGD step overflows.
template <class S>
struct Poisoned {
  using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  enum class Kind { none, nan_loss, nan_gradient, inf_gradient, huge_gradient };
  Eigen::Index n = descent::detail::fused_guard_min_size + 37;  // the guard's sizes; packets and a tail
  Kind kind = Kind::none;
  int at = -1;
  mutable int calls = 0;

  Eigen::Index size() const { return 8; }
  S operator()(const Vector& x, descent::Batch batch, Vector& g) const {
    ++calls;
    g.setZero();
    double loss = 0.0;
    for (Eigen::Index i : batch) {
      const Vector t = Vector::LinSpaced(n, S(-1), S(1)) * S(i + 1);
      g += (x - t) / S(batch.size());
      loss += 0.5 * double((x - t).squaredNorm()) / double(batch.size());
    }
    if (calls == at) {
      if (kind == Kind::nan_loss) loss = std::numeric_limits<double>::quiet_NaN();
      if (kind == Kind::nan_gradient) g(n / 2) = std::numeric_limits<S>::quiet_NaN();
      if (kind == Kind::inf_gradient) g(3) = std::numeric_limits<S>::infinity();
      if (kind == Kind::huge_gradient) g.setConstant(std::numeric_limits<S>::max() / S(4));
    }
    return S(loss);
  }
};

}  // namespace descent_test
