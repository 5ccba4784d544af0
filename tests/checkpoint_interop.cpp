// The C++ half of the checkpoint interoperability test (the other half: checkpoint_interop.py,
// which resumes these runs in torch 1.13 from the files written here).
//
//     descent_checkpoint_interop OUTDIR
//
// For every case of the table in main(): K steps (K = 5, or 0 for the cases of the state before
// the first step) of one descent optimizer (double, n = 7) on
//
//     f(x) = 0.5 Σ a_i (x_i − b_i)² + c Σ sin(x_i),   g_i = a_i (x_i − b_i) + c cos(x_i)
//
// then OUTDIR/<case>.ckpt (entries "params" and "optimizer"), then the run resumed from that file
// up to N = 12 steps, which must be bitwise the uninterrupted run's, saved as
// OUTDIR/<case>.final.ckpt (entry "params"). OUTDIR/manifest.json tells the Python side everything
// else: N, a, b, c, x0 (as exact doubles) and each case's optimizer, complete options (descent's
// field names), K and what else it does. The table of cases lives here only.
//
// Exit status: 0, 1 if a resumed run differs from the uninterrupted one or anything throws, 2 on
// a usage error.

#include <Eigen/Core>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <descent/checkpoint.hpp>
#include <descent/descent.hpp>
#include <exception>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Vec = Eigen::VectorXd;

constexpr int n = 7;
constexpr int k_steps = 5;  // steps before the checkpoint
constexpr int n_steps = 12;  // steps in all
constexpr double c = 0.1;

// Without FP contraction (GCC fuses a·b + c into an FMA under -march=native by default): the
// problem and the gradient must be the formulas as written, whatever the flags, which is also what
// torch computes.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
struct Problem {
  Vec a = Vec(n), b = Vec(n), x0 = Vec(n);
  Problem() {
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
    for (int i = 0; i < n; ++i) {
      a[i] = 0.5 + 0.25 * i;
      b[i] = 0.3 * (i - 3);
      x0[i] = 1.5 - 0.45 * i;
    }
  }
};

[[gnu::noinline]] void gradient(const Problem& p, const Vec& x, Vec& g) {
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
  for (int i = 0; i < n; ++i) g[i] = p.a[i] * (x[i] - p.b[i]) + c * std::cos(x[i]);
}

// The loss, for L-BFGS: summed left to right, as the Python side sums it.
[[gnu::noinline]] double loss(const Problem& p, const Vec& x) {
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
  double f = 0.0;
  for (int i = 0; i < n; ++i) f += 0.5 * p.a[i] * (x[i] - p.b[i]) * (x[i] - p.b[i]) + c * std::sin(x[i]);
  return f;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

// Every option, in descent's field names (the Python side maps them to torch's).
nlohmann::json describe(const descent::AdamOptions& o) {
  return {{"lr", o.lr},       {"beta1", o.beta1},     {"beta2", o.beta2},
          {"eps", o.eps},     {"weight_decay", o.weight_decay}, {"amsgrad", o.amsgrad},
          {"decoupled_weight_decay", o.decoupled_weight_decay}, {"maximize", o.maximize}};
}
nlohmann::json describe(const descent::AdamWOptions& o) { return describe(o.to_adam()); }
nlohmann::json describe(const descent::SGDOptions& o) {
  return {{"lr", o.lr},           {"momentum", o.momentum}, {"dampening", o.dampening},
          {"weight_decay", o.weight_decay}, {"nesterov", o.nesterov}, {"maximize", o.maximize}};
}
nlohmann::json describe(const descent::AdagradOptions& o) {
  return {{"lr", o.lr},
          {"lr_decay", o.lr_decay},
          {"weight_decay", o.weight_decay},
          {"initial_accumulator_value", o.initial_accumulator_value},
          {"eps", o.eps},
          {"maximize", o.maximize}};
}
nlohmann::json describe(const descent::RMSPropOptions& o) {
  return {{"lr", o.lr},           {"alpha", o.alpha},       {"eps", o.eps},        {"weight_decay", o.weight_decay},
          {"momentum", o.momentum}, {"centered", o.centered}, {"maximize", o.maximize}};
}
nlohmann::json describe(const descent::NAdamOptions& o) {
  return {{"lr", o.lr},   {"beta1", o.beta1}, {"beta2", o.beta2}, {"eps", o.eps}, {"weight_decay", o.weight_decay},
          {"momentum_decay", o.momentum_decay}};
}
nlohmann::json describe(const descent::RAdamOptions& o) {
  return {{"lr", o.lr}, {"beta1", o.beta1}, {"beta2", o.beta2}, {"eps", o.eps}, {"weight_decay", o.weight_decay}};
}
nlohmann::json describe(const descent::AdamaxOptions& o) {
  return {{"lr", o.lr},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay},
          {"maximize", o.maximize}};
}
nlohmann::json describe(const descent::AdadeltaOptions& o) {
  return {{"lr", o.lr}, {"rho", o.rho}, {"eps", o.eps}, {"weight_decay", o.weight_decay}, {"maximize", o.maximize}};
}
nlohmann::json describe(const descent::ASGDOptions& o) {
  return {{"lr", o.lr},
          {"lambd", o.lambd},
          {"alpha", o.alpha},
          {"t0", o.t0},
          {"weight_decay", o.weight_decay},
          {"maximize", o.maximize}};
}
nlohmann::json describe(const descent::RpropOptions& o) {
  return {{"lr", o.lr},
          {"eta_minus", o.eta_minus},
          {"eta_plus", o.eta_plus},
          {"step_size_min", o.step_size_min},
          {"step_size_max", o.step_size_max},
          {"maximize", o.maximize}};
}

nlohmann::json describe(const descent::LBFGSOptions& o) {
  return {{"lr", o.lr},
          {"max_iter", o.max_iter},
          {"max_eval", o.max_eval},
          {"tolerance_grad", o.tolerance_grad},
          {"tolerance_change", o.tolerance_change},
          {"history_size", o.history_size},
          {"line_search", std::string(descent::to_string(o.line_search))}};
}

nlohmann::json values(const Vec& v) {
  nlohmann::json out = nlohmann::json::array();
  for (double x : v) out.push_back(x);  // nlohmann writes the shortest text that reads back exactly
  return out;
}

/// What a case does besides K steps of its optimizer.
struct Extra {
  /// Steps before the checkpoint (0: the state before the first step).
  int k = k_steps;
  /// Set the momentum to this after the k steps, before saving (RMSProp: a momentum given after
  /// steps without one, which torch 1.13 cannot do itself).
  std::optional<double> momentum_at_k = std::nullopt;
};

/// One step of `opt` on the problem: from the gradient, or (L-BFGS) one step(closure) on the objective.
template <class O>
void advance(const Problem& p, O& opt, Vec& x, Vec& g) {
  if constexpr (descent::ObjectiveOptimizer<O, Vec>) {
    const auto objective = [&p](const Vec& at, Vec& grad) {
      gradient(p, at, grad);
      return loss(p, at);
    };
    opt.step(objective, x);
  } else {
    gradient(p, x, g);
    opt.step(x, g);
  }
}

class Runner {
 public:
  explicit Runner(fs::path dir) : dir_(std::move(dir)) {}

  /// One case: K steps, the checkpoint, the resumed run to N steps (checked against the
  /// uninterrupted one), the final parameters.
  template <class O>
  void run(const std::string& name, const char* optimizer, const typename O::Options& options, Extra extra = {}) {
    O opt(options);
    const nlohmann::json given = describe(opt.options());  // complete, with the defaults
    Vec x = problem_.x0, g(n);
    for (int t = 0; t < extra.k; ++t) advance(problem_, opt, x, g);
    if (extra.momentum_at_k) {
      if constexpr (requires { opt.set_momentum(0.5); })
        opt.set_momentum(*extra.momentum_at_k);
      else
        throw std::logic_error(name + ": momentum_at_k for an optimizer without set_momentum");
    }
    const fs::path file = dir_ / (name + ".ckpt");
    descent::Checkpoint ck;
    ck.put("params", x);
    ck.put("optimizer", opt);
    ck.save(file);

    // resumed from the file, into a fresh optimizer of the same options
    const auto loaded = descent::Checkpoint::load(file);
    O resumed(options);
    Vec y;
    loaded.get("params", y);
    loaded.get("optimizer", resumed);
    for (int t = extra.k; t < n_steps; ++t) {
      advance(problem_, opt, x, g);
      advance(problem_, resumed, y, g);
    }
    const bool same = y.size() == x.size() && std::memcmp(x.data(), y.data(), sizeof(double) * std::size_t(n)) == 0;
    if (!same) {
      std::fprintf(stderr, "%s: the run resumed from %s differs from the uninterrupted one (max |diff| %.3g)\n",
                   name.c_str(), file.c_str(), y.size() == x.size() ? (x - y).cwiseAbs().maxCoeff() : INFINITY);
      ok_ = false;
    }
    descent::Checkpoint final_ck;
    final_ck.put("params", y);
    final_ck.save(dir_ / (name + ".final.ckpt"));

    nlohmann::json entry = {{"name", name},
                            {"optimizer", optimizer},
                            {"options", given},
                            {"k", extra.k},
                            {"checkpoint", name + ".ckpt"},
                            {"final", name + ".final.ckpt"}};
    if (extra.momentum_at_k) entry["momentum_at_k"] = *extra.momentum_at_k;
    cases_.push_back(std::move(entry));
    std::printf("%-28s %-8s %2d steps saved, resumed to %d: %s\n", name.c_str(), optimizer, extra.k, n_steps,
                same ? "bitwise the uninterrupted run" : "DIFFERS");
  }

  void write_manifest() const {
    const nlohmann::json manifest = {
        {"format", "descent-checkpoint-interop 1"},
        {"gradient", "g_i = a_i (x_i - b_i) + c cos(x_i)"},
        {"loss", "sum_i 0.5 a_i (x_i - b_i)^2 + c sin(x_i), summed left to right"},
        {"n", n},
        {"k", k_steps},  // the cases' default; each case has its own "k"
        {"N", n_steps},
        {"c", c},
        {"a", values(problem_.a)},
        {"b", values(problem_.b)},
        {"x0", values(problem_.x0)},
        {"cases", cases_},
    };
    std::ofstream out(dir_ / "manifest.json");
    out << manifest.dump(1) << "\n";
    if (!out) throw std::runtime_error("cannot write " + (dir_ / "manifest.json").string());
  }

  bool ok() const { return ok_; }

 private:
  fs::path dir_;
  Problem problem_;
  nlohmann::json cases_ = nlohmann::json::array();
  bool ok_ = true;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  try {
    const fs::path dir = argv[1];
    fs::create_directories(dir);
    Runner r(dir);
    // The cases. Options not given keep descent's defaults, which are torch 1.13's.
    r.run<descent::Adam<Vec>>("adam_default", "Adam", {});
    r.run<descent::Adam<Vec>>("adam_amsgrad_wd", "Adam", {.lr = 0.05, .weight_decay = 0.1, .amsgrad = true});
    r.run<descent::AdamW<Vec>>("adamw", "AdamW", {.lr = 0.05, .beta1 = 0.8, .beta2 = 0.99, .weight_decay = 0.1});
    r.run<descent::SGD<Vec>>("sgd_momentum_nesterov", "SGD", {.lr = 0.05, .momentum = 0.9, .nesterov = true});
    r.run<descent::SGD<Vec>>("sgd_momentum_dampening", "SGD", {.lr = 0.05, .momentum = 0.8, .dampening = 0.3});
    r.run<descent::Adagrad<Vec>>("adagrad_lr_decay_acc", "Adagrad",
                                 {.lr = 0.1, .lr_decay = 0.05, .initial_accumulator_value = 0.2});
    r.run<descent::RMSProp<Vec>>("rmsprop_centered_momentum", "RMSProp",
                                 {.lr = 0.01, .momentum = 0.5, .centered = true});
    r.run<descent::RMSProp<Vec>>("rmsprop_plain", "RMSProp", {});
    // The corners of the mapping to torch: the state before the first step (descent's arrays are
    // empty; torch's Adagrad made its sum at construction, its SGD has no momentum buffer yet), and
    // an RMSProp momentum given after steps without one (descent starts a zero buffer).
    r.run<descent::Adam<Vec>>("adam_before_first_step", "Adam", {.lr = 0.05}, {.k = 0});
    r.run<descent::SGD<Vec>>("sgd_before_first_step", "SGD", {.lr = 0.05, .momentum = 0.9}, {.k = 0});
    r.run<descent::Adagrad<Vec>>("adagrad_before_first_step", "Adagrad", {.lr = 0.1, .initial_accumulator_value = 0.2},
                                 {.k = 0});
    r.run<descent::RMSProp<Vec>>("rmsprop_momentum_at_k", "RMSProp", {.lr = 0.01, .centered = true},
                                 {.momentum_at_k = 0.5});
    // NAdam (mu_product: a double in descent, a 0-d tensor in torch) and RAdam (K = 5: the last
    // step before the rectified ones with beta2 = 0.999).
    r.run<descent::NAdam<Vec>>("nadam_wd_momentum_decay", "NAdam", {.lr = 0.05, .weight_decay = 0.1, .momentum_decay = 0.1});
    r.run<descent::NAdam<Vec>>("nadam_before_first_step", "NAdam", {.lr = 0.05}, {.k = 0});
    r.run<descent::RAdam<Vec>>("radam", "RAdam", {.lr = 0.05});
    r.run<descent::RAdam<Vec>>("radam_wd_beta2", "RAdam", {.lr = 0.05, .beta2 = 0.99, .weight_decay = 0.1});
    // Adamax (exp_inf, a running max), Adadelta (torch's step a Python int), ASGD (eta and mu:
    // doubles in descent, 0-d tensors in torch; t0 = 2 and t0 = 0 so that the average is a running
    // mean before K and after it, where torch's default t0 = 1e6 would only ever copy p into ax) and
    // Rprop (prev, step_size; the second case's step sizes are at both bounds by K).
    r.run<descent::Adamax<Vec>>("adamax", "Adamax", {.lr = 0.05});
    r.run<descent::Adamax<Vec>>("adamax_wd_betas", "Adamax",
                                {.lr = 0.05, .beta1 = 0.8, .beta2 = 0.99, .weight_decay = 0.1});
    r.run<descent::Adadelta<Vec>>("adadelta_default", "Adadelta", {});
    r.run<descent::Adadelta<Vec>>("adadelta_wd_rho", "Adadelta", {.lr = 0.5, .rho = 0.8, .weight_decay = 0.1});
    r.run<descent::ASGD<Vec>>("asgd_t0_2", "ASGD", {.lr = 0.05, .lambd = 1e-2, .t0 = 2});
    r.run<descent::ASGD<Vec>>("asgd_t0_0_alpha_wd", "ASGD",
                              {.lr = 0.1, .lambd = 0.1, .alpha = 0.5, .t0 = 0, .weight_decay = 0.1});
    r.run<descent::ASGD<Vec>>("asgd_before_first_step", "ASGD", {.lr = 0.05, .t0 = 2}, {.k = 0});
    r.run<descent::Rprop<Vec>>("rprop", "Rprop", {.lr = 0.05});
    r.run<descent::Rprop<Vec>>(
        "rprop_etas_bounds", "Rprop",
        {.lr = 0.1, .eta_minus = 0.3, .eta_plus = 1.5, .step_size_min = 0.02, .step_size_max = 0.2});
    r.run<descent::Rprop<Vec>>("rprop_before_first_step", "Rprop", {.lr = 0.05}, {.k = 0});
    // L-BFGS: a step is one torch step(closure). Histories of 2 or 3 pairs, so that by K the ring
    // has wrapped and the saved lists are in age order, not storage order; few iterations, so that
    // the gradient at K is not yet down to the rounding of a_i (x_i - b_i) + c cos(x_i), whose terms
    // are O(1) (there, cos's last bit, SLEEF's in torch, would dominate the relative error).
    r.run<descent::LBFGS<Vec>>("lbfgs_fixed_steps", "LBFGS", {.lr = 0.5, .max_iter = 2, .history_size = 3});
    r.run<descent::LBFGS<Vec>>("lbfgs_strong_wolfe", "LBFGS",
                               {.max_iter = 1, .history_size = 2, .line_search = descent::LineSearch::StrongWolfe});
    r.run<descent::LBFGS<Vec>>("lbfgs_before_first_step", "LBFGS", {.max_iter = 2, .history_size = 3}, {.k = 0});
    r.write_manifest();
    return r.ok() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "descent_checkpoint_interop: %s\n", e.what());
    return 1;
  }
}
