// Step throughput of every optimizer against a hand-written fused loop doing the same arithmetic.
//
// For each optimizer variant, scalar type (float, double) and size n (1e2 ... 1e7) three kinds of
// benchmark are registered, in this order so that each pair lines up in the output:
//   descent/<Variant>/<type>/<n>      opt.step(x, g) on Eigen::Matrix<T, Dynamic, 1>
//   hand/<Variant>/<type>/<n>         one loop over raw T* __restrict pointers, same formula, same
//                                     per-step constants computed in double per call
//   eigen_naive/Adam/<type>/<n>       (Adam only) the same update as separate Eigen statements
//                                     with a temporary, as a user would write it without fusing
//
// bytes_per_second counts the minimal memory traffic of one step (every array the formula reads
// or writes, touched once), so it is the same figure for the three kinds and "GB/s" is an
// effective bandwidth. ns_per_param is the time of one step divided by n, in nanoseconds (the
// console prints it with a trailing "s", Google Benchmark's unit for inverted rates).
//
// Before any benchmark runs, main() steps every descent optimizer and its hand loop side by side
// on the same data and stops if they disagree, so the hand loops really are the library's
// arithmetic (to rounding: relative 1e-5 for float, 1e-12 for double; FMA contraction may differ).
//
// Values stay sane over millions of steps: gradients are random with 0.05 <= |g| <= 1 (no
// denormals in g², no zero gradients letting AdamW's shrink decay params into denormals), lr is
// small, and every benchmark checks afterwards that the parameters are still finite. Centered
// RMSProp alternates g and -g between steps: with a constant gradient its variance estimate
// v - ga² decays to rounding noise and goes negative (sqrt -> NaN).

// GCC 12 reports its own AVX-512 intrinsics, which start from _mm512_undefined_*() on purpose, as
// "may be used uninitialized" once they are inlined into a loop (-march=native -O3): a known false
// positive of GCC 12 (google/highway#710). Plain Eigen code in this file triggers it (the naive
// baseline's sqrt, maxCoeff in the agreement check). The warning is attributed to lines of
// avx512fintrin.h, so it is silenced around the includes only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <descent/descent.hpp>

#include "common.hpp"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>

namespace {

using Index = Eigen::Index;
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

using bench::grad_floor;
using bench::type_name;

// ---------------------------------------------------------------------------------------------
// Data (bench/common.hpp, shared with torch_steps.cpp)

template <class T>
Vec<T> random_values(Index n, std::uint64_t seed, double lo) {
  Vec<T> x(n);
  bench::random_values(x.data(), n, seed, lo);
  return x;
}

/// The parameters and the gradient(s) of one benchmark.
template <class T>
struct Workload {
  Vec<T> p, g, g_neg;
  bool alternate;

  Workload(Index n, bool alternate_sign)
      : p(random_values<T>(n, bench::params_seed, 0.0)),
        g(random_values<T>(n, bench::grads_seed, grad_floor)),
        alternate(alternate_sign) {
    if (alternate) g_neg = -g;
  }
  /// The gradient of step k.
  const Vec<T>& grad(std::uint64_t k) const { return alternate && (k & 1) ? g_neg : g; }
};

// ---------------------------------------------------------------------------------------------
// Hand-written fused loops: one pass, raw restrict pointers, the formula of the library's kernel
// lambda written out per coefficient in the same order of operations. Not inlined, so that the
// restrict guarantees hold for the whole loop whatever the caller looks like.

template <class T>
[[gnu::noinline]] void hand_gd(Index n, T* __restrict p, const T* __restrict g, T lr) {
  for (Index i = 0; i < n; ++i) p[i] = p[i] - lr * g[i];
}

template <bool Start, bool Nesterov, class T>
[[gnu::noinline]] void hand_sgd(Index n, T* __restrict p, const T* __restrict g, T* __restrict buf, T lr, T mu,
                                T keep) {
  for (Index i = 0; i < n; ++i) {
    T gi = g[i];
    T b;
    if constexpr (Start)
      b = gi;
    else
      b = mu * buf[i] + keep * gi;
    buf[i] = b;
    if constexpr (Nesterov)
      gi = gi + mu * b;
    else
      gi = b;
    p[i] = p[i] - lr * gi;
  }
}

// The library's scalar max: NaN-propagating like torch.maximum.
template <class T>
inline T nan_max(T a, T b) {
  if (a != a || b != b) return a + b;
  return a < b ? b : a;
}

template <bool Decoupled, bool AmsGrad, class T>
[[gnu::noinline]] void hand_adam(Index n, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                                 T* __restrict vmax, T b1, T c1, T b2, T c2, T step_size, T bc2_sqrt, T eps, T shrink) {
  for (Index i = 0; i < n; ++i) {
    const T gi = g[i];
    T pi = p[i];
    if constexpr (Decoupled) pi = pi * shrink;
    const T mi = b1 * m[i] + c1 * gi;
    const T vi = b2 * v[i] + c2 * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    T denom_v = vi;
    if constexpr (AmsGrad) {
      denom_v = nan_max(vmax[i], vi);
      vmax[i] = denom_v;
    }
    p[i] = pi - step_size * (mi / (std::sqrt(denom_v) / bc2_sqrt + eps));
  }
}

template <class T>
[[gnu::noinline]] void hand_adagrad(Index n, T* __restrict p, const T* __restrict g, T* __restrict sum, T clr, T eps) {
  for (Index i = 0; i < n; ++i) {
    const T gi = g[i];
    const T s = sum[i] + gi * gi;
    sum[i] = s;
    p[i] = p[i] - clr * (gi / (std::sqrt(s) + eps));
  }
}

template <bool Centered, bool Momentum, class T>
[[gnu::noinline]] void hand_rmsprop(Index n, T* __restrict p, const T* __restrict g, T* __restrict v, T* __restrict ga,
                                    T* __restrict buf, T lr, T a, T c, T eps, T mu) {
  for (Index i = 0; i < n; ++i) {
    const T gi = g[i];
    const T vi = a * v[i] + c * (gi * gi);
    v[i] = vi;
    T avg;
    if constexpr (Centered) {
      const T gai = a * ga[i] + c * gi;
      ga[i] = gai;
      avg = std::sqrt(vi - gai * gai) + eps;
    } else {
      avg = std::sqrt(vi) + eps;
    }
    if constexpr (Momentum) {
      const T b = mu * buf[i] + gi / avg;
      buf[i] = b;
      p[i] = p[i] - lr * b;
    } else {
      p[i] = p[i] - lr * (gi / avg);
    }
  }
}

template <class T>
[[gnu::noinline]] void hand_nadam(Index n, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                                  T b1, T c1, T b2, T c2, T bc2, T eps, T grad_size, T avg_size) {
  for (Index i = 0; i < n; ++i) {
    const T gi = g[i];
    const T mi = b1 * m[i] + c1 * gi;
    const T vi = b2 * v[i] + c2 * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    const T denom = std::sqrt(vi / bc2) + eps;
    T pi = p[i] - grad_size * (gi / denom);
    p[i] = pi - avg_size * (mi / denom);
  }
}

template <bool Rectified, class T>
[[gnu::noinline]] void hand_radam(Index n, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                                  T b1, T c1, T b2, T c2, T bc1, T lr, T bc2_sqrt, T eps, T rect) {
  for (Index i = 0; i < n; ++i) {
    const T gi = g[i];
    const T mi = b1 * m[i] + c1 * gi;
    const T vi = b2 * v[i] + c2 * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    if constexpr (Rectified)
      p[i] = p[i] - (mi / bc1) * lr * ((T(1) / (std::sqrt(vi) + eps)) * bc2_sqrt) * rect;
    else
      p[i] = p[i] - (mi / bc1) * lr;
  }
}

// ASGD (averaging on) and Rprop.
template <class T>
[[gnu::noinline]] void hand_asgd(Index n, T* __restrict p, const T* __restrict g, T* __restrict ax, T shrink, T eta,
                                 T mu) {
  for (Index i = 0; i < n; ++i) {
    T pi = p[i] * shrink;
    pi = pi - eta * g[i];
    p[i] = pi;
    ax[i] = ax[i] + (pi - ax[i]) * mu;
  }
}

template <class T>
[[gnu::noinline]] void hand_rprop(Index n, T* __restrict p, const T* __restrict g, T* __restrict prev,
                                  T* __restrict step_size, T up, T down, T lo, T hi) {
  for (Index i = 0; i < n; ++i) {
    T gi = g[i];
    const T product = gi * prev[i];
    const T f = product > T(0) ? up : (product < T(0) ? down : T(1));
    const T s = std::min(std::max(step_size[i] * f, lo), hi);
    step_size[i] = s;
    gi = product < T(0) ? T(0) : gi;
    p[i] = p[i] - (T(T(0) < gi) - T(gi < T(0))) * s;
    prev[i] = gi;
  }
}

// Lion, Schedule-Free AdamW and Schedule-Free SGD. The schedule-free loops take torch.lerp's
// form chosen on the scalar weight c (|c| < 0.5: y + c·(z − y), else z − (z − y)·(1 − c)).
template <bool Decay, class T>
[[gnu::noinline]] void hand_lion(Index n, T* __restrict p, const T* __restrict g, T* __restrict m, T shrink, T lr, T b1,
                                 T c1, T b2, T c2) {
  for (Index i = 0; i < n; ++i) {
    const T gi = g[i];
    T pi = p[i];
    if constexpr (Decay) pi = pi * shrink;
    const T c = b1 * m[i] + c1 * gi;
    p[i] = pi - lr * (T(T(0) < c) - T(c < T(0)));
    m[i] = b2 * m[i] + c2 * gi;
  }
}

template <bool Small, class T>
[[gnu::noinline]] void hand_sf_adamw(Index n, T* __restrict p, const T* __restrict g, T* __restrict z,
                                     T* __restrict v, T b2, T c2, T eps, T c, T rest, T y_step, T z_step) {
  for (Index i = 0; i < n; ++i) {
    const T gi = g[i];
    const T vi = b2 * v[i] + c2 * (gi * gi);
    v[i] = vi;
    const T u = gi / (std::sqrt(vi) + eps);
    const T zi = z[i];
    T yi = p[i];
    if constexpr (Small)
      yi = yi + c * (zi - yi);
    else
      yi = zi - (zi - yi) * rest;
    p[i] = yi + y_step * u;
    z[i] = zi - z_step * u;
  }
}

template <bool Small, class T>
[[gnu::noinline]] void hand_sf_sgd(Index n, T* __restrict p, const T* __restrict g, T* __restrict z, T c, T rest,
                                   T y_step, T z_step) {
  for (Index i = 0; i < n; ++i) {
    const T gi = g[i];
    const T zi = z[i];
    T yi = p[i];
    if constexpr (Small)
      yi = yi + c * (zi - yi);
    else
      yi = zi - (zi - yi) * rest;
    p[i] = yi + y_step * gi;
    z[i] = zi - z_step * gi;
  }
}

/// A copy of `options` the compiler cannot see through, as in a program that reads its options at
/// run time: neither descent's step nor a hand loop gets specialised on this file's constant
/// option values (folding dampening = 0, i.e. keep = 1, out of SGD's formula, say).
template <class Options>
Options opaque(Options options) {
  benchmark::DoNotOptimize(options);
  return options;
}

// ---------------------------------------------------------------------------------------------
// The variants. Each one has: a name; the minimal number of arrays of n scalars a step reads plus
// writes; whether the gradient alternates sign; the options, in the library's own options type;
// make<T>(), the descent optimizer built from them; and Hand<T>, which keeps the same state and
// computes the same per-step constants from the same option fields, in double, per call.

struct GD {
  static constexpr const char* name = "GD";
  static constexpr int arrays = 3;  // read p, g; write p
  static constexpr bool alternate = false;
  static constexpr descent::GradientDescentOptions options{.lr = 1e-4};
  template <class T>
  static auto make() {
    return descent::GradientDescent<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    explicit Hand(Index n) : size(n) {}
    void step(T* p, const T* g) { hand_gd<T>(size, p, g, T(o.lr)); }
    Index size;
    descent::GradientDescentOptions o = opaque(options);
  };
};

template <bool Nesterov>
struct SGDMomentum {
  static constexpr const char* name = Nesterov ? "SGD_nesterov" : "SGD_momentum";
  static constexpr int arrays = 5;  // read p, g, buf; write p, buf
  static constexpr bool alternate = false;
  static constexpr descent::SGDOptions options{.lr = 1e-4, .momentum = 0.9, .nesterov = Nesterov};
  template <class T>
  static auto make() {
    return descent::SGD<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    explicit Hand(Index n) : buf(Vec<T>::Zero(n)) {}
    void step(T* p, const T* g) {
      const auto lr = T(o.lr), mu = T(o.momentum), keep = T(1.0 - o.dampening);
      if (!started) {  // the first step copies g into the buffer, as torch does
        hand_sgd<true, Nesterov, T>(buf.size(), p, g, buf.data(), lr, mu, keep);
        started = true;
      } else {
        hand_sgd<false, Nesterov, T>(buf.size(), p, g, buf.data(), lr, mu, keep);
      }
    }
    Vec<T> buf;
    bool started = false;
    descent::SGDOptions o = opaque(options);
  };
};

template <bool AmsGrad, bool W>
struct AdamFamily {
  static constexpr const char* name = W ? "AdamW" : (AmsGrad ? "Adam_amsgrad" : "Adam");
  static constexpr int arrays = AmsGrad ? 9 : 7;  // read p, g, m, v (, vmax); write p, m, v (, vmax)
  static constexpr bool alternate = false;
  // AdamW: torch's defaults (weight_decay = 1e-2, decoupled).
  using Options = std::conditional_t<W, descent::AdamWOptions, descent::AdamOptions>;
  static constexpr Options options{.lr = 1e-4, .amsgrad = AmsGrad};
  template <class T>
  static auto make() {
    if constexpr (W)
      return descent::AdamW<Vec<T>>(opaque(options));
    else
      return descent::Adam<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    // Every array sized in its initializer: resizing one afterwards (setZero(n)) draws a false
    // -Wuse-after-free from GCC 12 inside Eigen's aligned_free in SSE-only builds.
    explicit Hand(Index n) : m(Vec<T>::Zero(n)), v(Vec<T>::Zero(n)), vmax(AmsGrad ? Vec<T>::Zero(n) : Vec<T>()) {}
    void step(T* p, const T* g) {
      ++t;
      const double bc1 = 1.0 - std::pow(o.beta1, double(t));
      const double bc2 = 1.0 - std::pow(o.beta2, double(t));
      hand_adam<W, AmsGrad, T>(m.size(), p, g, m.data(), v.data(), vmax.data(), T(o.beta1), T(1.0 - o.beta1),
                               T(o.beta2), T(1.0 - o.beta2), T(o.lr / bc1), T(std::sqrt(bc2)), T(o.eps),
                               T(1.0 - o.lr * o.weight_decay));
    }
    Vec<T> m, v, vmax;
    std::int64_t t = 0;
    Options o = opaque(options);
  };
};

struct Adagrad {
  static constexpr const char* name = "Adagrad";
  static constexpr int arrays = 5;  // read p, g, sum; write p, sum
  static constexpr bool alternate = false;
  static constexpr descent::AdagradOptions options{.lr = 1e-4};
  template <class T>
  static auto make() {
    return descent::Adagrad<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    explicit Hand(Index n) : sum(Vec<T>::Constant(n, T(options.initial_accumulator_value))) {}
    void step(T* p, const T* g) {
      ++t;
      const auto clr = T(o.lr / (1.0 + double(t - 1) * o.lr_decay));
      hand_adagrad<T>(sum.size(), p, g, sum.data(), clr, T(o.eps));
    }
    Vec<T> sum;
    std::int64_t t = 0;
    descent::AdagradOptions o = opaque(options);
  };
};

template <bool Centered, bool Momentum>
struct RMSProp {
  static constexpr const char* name = Centered ? (Momentum ? "RMSProp_centered_momentum" : "RMSProp_centered")
                                               : (Momentum ? "RMSProp_momentum" : "RMSProp");
  // read p, g, v (, ga) (, buf); write p, v (, ga) (, buf)
  static constexpr int arrays = 5 + (Centered ? 2 : 0) + (Momentum ? 2 : 0);
  static constexpr bool alternate = Centered;
  static constexpr descent::RMSPropOptions options{.lr = 1e-4, .momentum = Momentum ? 0.9 : 0.0, .centered = Centered};
  template <class T>
  static auto make() {
    return descent::RMSProp<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    explicit Hand(Index n)
        : v(Vec<T>::Zero(n)), ga(Centered ? Vec<T>::Zero(n) : Vec<T>()), buf(Momentum ? Vec<T>::Zero(n) : Vec<T>()) {}
    void step(T* p, const T* g) {
      hand_rmsprop<Centered, Momentum, T>(v.size(), p, g, v.data(), ga.data(), buf.data(), T(o.lr), T(o.alpha),
                                          T(1.0 - o.alpha), T(o.eps), T(o.momentum));
    }
    Vec<T> v, ga, buf;
    descent::RMSPropOptions o = opaque(options);
  };
};

struct NAdam {
  static constexpr const char* name = "NAdam";
  static constexpr int arrays = 7;  // read p, g, m, v; write p, m, v
  static constexpr bool alternate = false;
  static constexpr descent::NAdamOptions options{.lr = 1e-4};
  template <class T>
  static auto make() {
    return descent::NAdam<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    explicit Hand(Index n) : m(Vec<T>::Zero(n)), v(Vec<T>::Zero(n)) {}
    void step(T* p, const T* g) {
      ++t;
      const double bc2 = 1.0 - std::pow(o.beta2, double(t));
      const double mu = o.beta1 * (1.0 - 0.5 * std::pow(0.96, double(t) * o.momentum_decay));
      const double mu_next = o.beta1 * (1.0 - 0.5 * std::pow(0.96, double(t + 1) * o.momentum_decay));
      mu_product *= mu;
      const double mu_product_next = mu_product * mu * mu_next;  // torch 1.13's single-tensor code
      hand_nadam<T>(m.size(), p, g, m.data(), v.data(), T(o.beta1), T(1.0 - o.beta1), T(o.beta2), T(1.0 - o.beta2),
                    T(bc2), T(o.eps), T(o.lr * (1.0 - mu) / (1.0 - mu_product)),
                    T(o.lr * mu_next / (1.0 - mu_product_next)));
    }
    Vec<T> m, v;
    double mu_product = 1.0;
    std::int64_t t = 0;
    descent::NAdamOptions o = opaque(options);
  };
};

struct RAdam {
  static constexpr const char* name = "RAdam";
  static constexpr int arrays = 7;  // read p, g, m, v; write p, m, v
  static constexpr bool alternate = false;
  static constexpr descent::RAdamOptions options{.lr = 1e-4};
  template <class T>
  static auto make() {
    return descent::RAdam<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    explicit Hand(Index n) : m(Vec<T>::Zero(n)), v(Vec<T>::Zero(n)) {}
    void step(T* p, const T* g) {
      ++t;
      const double bc1 = 1.0 - std::pow(o.beta1, double(t));
      const double bc2 = 1.0 - std::pow(o.beta2, double(t));
      const double rho_inf = 2.0 / (1.0 - o.beta2) - 1.0;
      const double rho_t = rho_inf - 2.0 * double(t) * std::pow(o.beta2, double(t)) / bc2;
      const auto b1 = T(o.beta1), c1 = T(1.0 - o.beta1), b2 = T(o.beta2), c2 = T(1.0 - o.beta2);
      if (rho_t > 5.0) {
        const double rect =
            std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t));
        hand_radam<true, T>(m.size(), p, g, m.data(), v.data(), b1, c1, b2, c2, T(bc1), T(o.lr), T(std::sqrt(bc2)),
                            T(o.eps), T(rect));
      } else {
        hand_radam<false, T>(m.size(), p, g, m.data(), v.data(), b1, c1, b2, c2, T(bc1), T(o.lr), T(0), T(0), T(0));
      }
    }
    Vec<T> m, v;
    std::int64_t t = 0;
    descent::RAdamOptions o = opaque(options);
  };
};

template <class T>
[[gnu::noinline]] void hand_adamax(Index n, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict u,
                                   T b1, T c1, T b2, T clr, T eps) {
  for (Index i = 0; i < n; ++i) {
    const T gi = g[i];
    const T mi = b1 * m[i] + c1 * gi;
    const T ui = nan_max(b2 * u[i], std::abs(gi) + eps);
    m[i] = mi;
    u[i] = ui;
    p[i] = p[i] - clr * (mi / ui);
  }
}

template <class T>
[[gnu::noinline]] void hand_adadelta(Index n, T* __restrict p, const T* __restrict g, T* __restrict v, T* __restrict a,
                                     T lr, T r, T c, T eps) {
  for (Index i = 0; i < n; ++i) {
    const T gi = g[i];
    const T vi = r * v[i] + c * (gi * gi);
    const T d = (std::sqrt(a[i] + eps) / std::sqrt(vi + eps)) * gi;
    v[i] = vi;
    a[i] = r * a[i] + c * (d * d);
    p[i] = p[i] - lr * d;
  }
}

struct Adamax {
  static constexpr const char* name = "Adamax";
  static constexpr int arrays = 7;  // read p, g, m, u; write p, m, u
  static constexpr bool alternate = false;
  static constexpr descent::AdamaxOptions options{.lr = 1e-4};
  template <class T>
  static auto make() {
    return descent::Adamax<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    explicit Hand(Index n) : m(Vec<T>::Zero(n)), u(Vec<T>::Zero(n)) {}
    void step(T* p, const T* g) {
      ++t;
      const double bc1 = 1.0 - std::pow(o.beta1, double(t));
      hand_adamax<T>(m.size(), p, g, m.data(), u.data(), T(o.beta1), T(1.0 - o.beta1), T(o.beta2), T(o.lr / bc1),
                     T(o.eps));
    }
    Vec<T> m, u;
    std::int64_t t = 0;
    descent::AdamaxOptions o = opaque(options);
  };
};

struct Adadelta {
  static constexpr const char* name = "Adadelta";
  static constexpr int arrays = 7;  // read p, g, v, a; write p, v, a
  static constexpr bool alternate = false;
  static constexpr descent::AdadeltaOptions options{.lr = 1e-2};
  template <class T>
  static auto make() {
    return descent::Adadelta<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    explicit Hand(Index n) : v(Vec<T>::Zero(n)), a(Vec<T>::Zero(n)) {}
    void step(T* p, const T* g) {
      hand_adadelta<T>(v.size(), p, g, v.data(), a.data(), T(o.lr), T(o.rho), T(1.0 - o.rho), T(o.eps));
    }
    Vec<T> v, a;
    descent::AdadeltaOptions o = opaque(options);
  };
};

// ASGD with averaging from the second step on (t0 = 0), and Rprop.
struct ASGD {
  static constexpr const char* name = "ASGD";
  static constexpr int arrays = 5;  // read p, g, ax; write p, ax
  static constexpr bool alternate = false;
  static constexpr descent::ASGDOptions options{.lr = 1e-4, .t0 = 0};
  template <class T>
  static auto make() {
    return descent::ASGD<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    explicit Hand(Index n) : ax(Vec<T>::Zero(n)) {}
    void step(T* p, const T* g) {
      ++t;
      if (t == 1) eta = o.lr;
      hand_asgd<T>(ax.size(), p, g, ax.data(), T(1.0 - o.lambd * eta), T(eta), T(mu));
      eta = o.lr / std::pow(1.0 + o.lambd * o.lr * double(t), o.alpha);
      mu = 1.0 / std::max(1.0, double(t) - o.t0);
    }
    Vec<T> ax;
    std::int64_t t = 0;
    double eta = 0.0, mu = 1.0;
    descent::ASGDOptions o = opaque(options);
  };
};

struct Rprop {
  static constexpr const char* name = "Rprop";
  static constexpr int arrays = 7;  // read p, g, prev, step_size; write p, prev, step_size
  static constexpr bool alternate = true;  // sign changes: both branches of the formula
  static constexpr descent::RpropOptions options{.lr = 1e-4, .step_size_max = 1e-3};
  template <class T>
  static auto make() {
    return descent::Rprop<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    explicit Hand(Index n) : prev(Vec<T>::Zero(n)), step_size(Vec<T>::Constant(n, T(options.lr))) {}
    void step(T* p, const T* g) {
      hand_rprop<T>(prev.size(), p, g, prev.data(), step_size.data(), T(o.eta_plus), T(o.eta_minus),
                    T(o.step_size_min), T(o.step_size_max));
    }
    Vec<T> prev, step_size;
    descent::RpropOptions o = opaque(options);
  };
};

// Lion with decoupled weight decay.
struct Lion {
  static constexpr const char* name = "Lion";
  static constexpr int arrays = 5;  // read p, g, m; write p, m
  static constexpr bool alternate = false;
  static constexpr descent::LionOptions options{.lr = 1e-5, .weight_decay = 0.1};
  template <class T>
  static auto make() {
    return descent::Lion<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    explicit Hand(Index n) : m(Vec<T>::Zero(n)) {}
    void step(T* p, const T* g) {
      hand_lion<true, T>(m.size(), p, g, m.data(), T(1.0 - o.lr * o.weight_decay), T(o.lr), T(o.beta1),
                         T(1.0 - o.beta1), T(o.beta2), T(1.0 - o.beta2));
    }
    Vec<T> m;
    descent::LionOptions o = opaque(options);
  };
};

/// The schedule-free bookkeeping, written out (warmup, lr_max, weight_sum, c) in double per call.
struct ScheduleFreeScalars {
  std::int64_t k = 0;
  double lr_max = -1.0, weight_sum = 0.0;
  /// c for the step with lr `lr` (already warmed up and bias-corrected), then k advances.
  double next(double lr, double r, double power) {
    lr_max = std::max(lr, lr_max);
    const double weight = std::pow(double(k + 1), r) * std::pow(lr_max, power);
    weight_sum += weight;
    ++k;
    return weight_sum == 0.0 ? 0.0 : weight / weight_sum;
  }
  double warmup(std::int64_t steps) const { return k < steps ? double(k + 1) / double(steps) : 1.0; }
};

struct SFAdamW {
  static constexpr const char* name = "ScheduleFreeAdamW";
  static constexpr int arrays = 7;  // read p, g, z, v; write p, z, v
  static constexpr bool alternate = false;
  static constexpr descent::ScheduleFreeAdamWOptions options{.lr = 1e-4};
  template <class T>
  static auto make() {
    return descent::ScheduleFreeAdamW<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    explicit Hand(Index n) : z(Vec<T>::Zero(n)), v(Vec<T>::Zero(n)) {}
    void step(T* p, const T* g) {
      if (s.k == 0) std::copy(p, p + z.size(), z.data());
      const double bc2 = 1.0 - std::pow(o.beta2, double(s.k + 1));
      const double lr = o.lr * s.warmup(o.warmup_steps) * std::sqrt(bc2);
      const double c = s.next(lr, o.r, o.weight_lr_power);
      const T y_step = T(lr * (o.beta1 * (1.0 - c) - 1.0)), z_step = T(lr);
      if (std::abs(c) < 0.5)
        hand_sf_adamw<true, T>(z.size(), p, g, z.data(), v.data(), T(o.beta2), T(1.0 - o.beta2), T(o.eps), T(c),
                               T(1) - T(c), y_step, z_step);
      else
        hand_sf_adamw<false, T>(z.size(), p, g, z.data(), v.data(), T(o.beta2), T(1.0 - o.beta2), T(o.eps), T(c),
                                T(1) - T(c), y_step, z_step);
    }
    Vec<T> z, v;
    ScheduleFreeScalars s;
    descent::ScheduleFreeAdamWOptions o = opaque(options);
  };
};

struct SFSGD {
  static constexpr const char* name = "ScheduleFreeSGD";
  static constexpr int arrays = 5;  // read p, g, z; write p, z
  static constexpr bool alternate = false;
  static constexpr descent::ScheduleFreeSGDOptions options{.lr = 1e-4};
  template <class T>
  static auto make() {
    return descent::ScheduleFreeSGD<Vec<T>>(opaque(options));
  }
  template <class T>
  struct Hand {
    explicit Hand(Index n) : z(Vec<T>::Zero(n)) {}
    void step(T* p, const T* g) {
      if (s.k == 0) std::copy(p, p + z.size(), z.data());
      const double lr = o.lr * s.warmup(o.warmup_steps);
      const double c = s.next(lr, o.r, o.weight_lr_power);
      const T y_step = T(lr * (o.momentum * (1.0 - c) - 1.0)), z_step = T(lr);
      if (std::abs(c) < 0.5)
        hand_sf_sgd<true, T>(z.size(), p, g, z.data(), T(c), T(1) - T(c), y_step, z_step);
      else
        hand_sf_sgd<false, T>(z.size(), p, g, z.data(), T(c), T(1) - T(c), y_step, z_step);
    }
    Vec<T> z;
    ScheduleFreeScalars s;
    descent::ScheduleFreeSGDOptions o = opaque(options);
  };
};

/// Adam as separate Eigen statements, the way it is written without a fused kernel: descent::Adam's
/// formula (except that Eigen's own sqrt() is an estimate refined by Newton steps under its default
/// EIGEN_FAST_MATH), but four passes over memory (12 arrays of traffic instead of 7) and a
/// temporary for the denominator, allocated every step.
template <class T>
struct NaiveAdam {
  explicit NaiveAdam(Index n) : m(Vec<T>::Zero(n)), v(Vec<T>::Zero(n)) {}
  void step(Vec<T>& p, const Vec<T>& g) {
    ++t;
    const double bc1 = 1.0 - std::pow(o.beta1, double(t));
    const double bc2 = 1.0 - std::pow(o.beta2, double(t));
    const auto step_size = T(o.lr / bc1), bc2_sqrt = T(std::sqrt(bc2)), eps = T(o.eps);
    m = T(o.beta1) * m + T(1.0 - o.beta1) * g;
    v = T(o.beta2) * v + T(1.0 - o.beta2) * g.cwiseAbs2();
    const Vec<T> denom = (v.array().sqrt() / bc2_sqrt + eps).matrix();
    p -= step_size * m.cwiseQuotient(denom);
  }
  Vec<T> m, v;
  std::int64_t t = 0;
  descent::AdamOptions o = opaque(AdamFamily<false, false>::options);
};

// ---------------------------------------------------------------------------------------------
// Benchmark bodies

template <class T>
void finish(benchmark::State& state, Index n, int arrays, const Vec<T>& p) {
  if (!p.allFinite()) state.SkipWithError("parameters became non-finite");
  bench::report_step<T>(state, n, arrays);
}

template <class Case, class T>
void bench_descent(benchmark::State& state) {
  const Index n = state.range(0);
  Workload<T> w(n, Case::alternate);
  auto opt = Case::template make<T>();
  opt.step(w.p, w.grad(0));  // the first step allocates and fills the state: not timed
  std::uint64_t k = 1;
  for (auto _ : state) {
    opt.step(w.p, w.grad(k++));
    benchmark::DoNotOptimize(w.p.data());
    benchmark::ClobberMemory();
  }
  finish<T>(state, n, Case::arrays, w.p);
}

template <class Case, class T>
void bench_hand(benchmark::State& state) {
  const Index n = state.range(0);
  Workload<T> w(n, Case::alternate);
  typename Case::template Hand<T> opt(n);
  opt.step(w.p.data(), w.grad(0).data());
  std::uint64_t k = 1;
  for (auto _ : state) {
    opt.step(w.p.data(), w.grad(k++).data());
    benchmark::DoNotOptimize(w.p.data());
    benchmark::ClobberMemory();
  }
  finish<T>(state, n, Case::arrays, w.p);
}

template <class T>
void bench_naive_adam(benchmark::State& state) {
  const Index n = state.range(0);
  Workload<T> w(n, false);
  NaiveAdam<T> opt(n);
  opt.step(w.p, w.grad(0));
  std::uint64_t k = 1;
  for (auto _ : state) {
    opt.step(w.p, w.grad(k++));
    benchmark::DoNotOptimize(w.p.data());
    benchmark::ClobberMemory();
  }
  finish<T>(state, n, AdamFamily<false, false>::arrays, w.p);
}

// ---------------------------------------------------------------------------------------------
// Registration and the agreement check

using bench::configure;
using bench::sizes;

template <class Case, class T>
void register_case() {
  const auto name = [](const char* kind) { return std::string(kind) + "/" + Case::name + "/" + type_name<T>(); };
  for (const Index n : sizes) {
    configure(benchmark::RegisterBenchmark(name("descent").c_str(), bench_descent<Case, T>), n);
    configure(benchmark::RegisterBenchmark(name("hand").c_str(), bench_hand<Case, T>), n);
    if constexpr (std::is_same_v<Case, AdamFamily<false, false>>)
      configure(benchmark::RegisterBenchmark(name("eigen_naive").c_str(), bench_naive_adam<T>), n);
  }
}

/// Steps descent and the hand loop side by side from params = 0 (so p is the accumulated update
/// and a relative comparison is meaningful) with a different gradient each step, on a size with
/// a scalar tail. Returns false and reports if they disagree.
template <class Case, class T>
bool agrees() {
  constexpr Index n = 1'003;
  const double rtol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  Vec<T> pd = Vec<T>::Zero(n), ph = Vec<T>::Zero(n);
  auto opt = Case::template make<T>();
  typename Case::template Hand<T> hand(n);
  for (int k = 0; k < 10; ++k) {
    const Vec<T> g = random_values<T>(n, 100 + k, grad_floor);
    opt.step(pd, g);
    hand.step(ph.data(), g.data());
  }
  const double scale = double(ph.cwiseAbs().maxCoeff());
  const double diff = double((pd - ph).cwiseAbs().maxCoeff());
  if (!(scale > 0.0) || !(diff <= rtol * scale)) {
    std::fprintf(stderr, "hand loop disagrees with descent: %s/%s max |diff| = %g, max |p| = %g\n", Case::name,
                 type_name<T>(), diff, scale);
    return false;
  }
  return true;
}

template <class Case>
bool register_and_check() {
  register_case<Case, float>();
  register_case<Case, double>();
  const bool f = agrees<Case, float>();
  const bool d = agrees<Case, double>();
  return f && d;
}

}  // namespace

int main(int argc, char** argv) {
  bool ok = true;
  ok &= register_and_check<GD>();
  ok &= register_and_check<SGDMomentum<false>>();
  ok &= register_and_check<SGDMomentum<true>>();
  ok &= register_and_check<AdamFamily<false, false>>();
  ok &= register_and_check<AdamFamily<true, false>>();
  ok &= register_and_check<AdamFamily<false, true>>();
  ok &= register_and_check<Adagrad>();
  ok &= register_and_check<RMSProp<false, false>>();
  ok &= register_and_check<RMSProp<true, false>>();
  ok &= register_and_check<RMSProp<false, true>>();
  ok &= register_and_check<RMSProp<true, true>>();
  ok &= register_and_check<ASGD>();
  ok &= register_and_check<Rprop>();
  ok &= register_and_check<Adamax>();
  ok &= register_and_check<Adadelta>();
  ok &= register_and_check<NAdam>();
  ok &= register_and_check<RAdam>();
  ok &= register_and_check<Lion>();
  ok &= register_and_check<SFAdamW>();
  ok &= register_and_check<SFSGD>();
  if (!ok) return 1;

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
