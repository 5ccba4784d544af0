// Where do optimizers go on a landscape with several minima? Six 2-D test functions
// (descent/problems/: Himmelblau, Beale, six-hump camel, Ackley, Rastrigin, Styblinski–Tang) and
// six optimizers (GD, SGD with momentum, Nesterov, Adam, Adagrad, RMSProp). From 200 seeded
// random starts on each function the table says how often each optimizer ends at a global
// minimum, at another local minimum, or at neither; then the same with Gaussian noise added to
// the gradient. The paths from one start per function go to a CSV for tools/plot_landscapes.py.
//
//   landscapes [--quick] [--csv PATH]
//
// PATH defaults to landscapes.csv; --quick (for ctest) runs 50 starts and tunes on 20. The exit
// status is 1 if a check at the end fails. docs/landscapes.md shows the output and the picture.
//
// The choices, and why:
// - Starts are uniform in each function's usual domain (the box the picture shows). Every run is
//   the hand loop `f(x, g); opt.step(x, g);` for a fixed 2000 steps, no stopping rule: where the
//   optimizer is after the budget is the outcome.
// - "Reached" means within 0.01 (Euclidean) of a known local minimizer, global or not: the one
//   nearest_minimizer(x) returns; "global" if its value is the global minimum. Anything else
//   (still moving, stuck on a plateau, oscillating around a kink wider than 0.01, gone more than 1
//   outside the domain, or not finite) is "neither".
// - Learning rates: for each function and optimizer, of the rates in the grid 1e-4, 3e-4, …, 0.3
//   at which the most of 50 separate tuning starts (20 with --quick; not the table's starts) reach
//   some minimum without noise, the middle one (see tune). It rewards converging, not finding the
//   global minimum, so the table shows where a well-tuned optimizer settles. Other options are
//   torch's defaults; momentum 0.9 for both SGD variants.
// - Noise: each step's gradient gets N(0, σ²·I) added, independently per step, for the first 1500
//   of the 2000 steps; the last 500 are clean, so that the run settles and the table says which
//   basin the noise left it in, not how far noise keeps it from the bottom. σ per function is the
//   median, over the table's starts, of ‖∇f(x₀)‖/√2: the noise is as large as a typical gradient
//   where the runs begin (E‖noise‖² = median ‖∇f(x₀)‖²). The rates are those tuned without noise.
// - Seeds are fixed (descent's SplitMix64, the same on every platform): the table is reproducible.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <descent/descent.hpp>
#include <descent/problems/problems.hpp>
#include <exception>
#include <fstream>
#include <functional>
#include <memory>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using V = Eigen::Vector2d;
using Random = descent::detail::SplitMix64;

constexpr int kSteps = 2000;
constexpr int kNoisySteps = 1500;
constexpr double kRadius = 0.01;
constexpr double kDomainMargin = 1.0;
constexpr std::array<double, 8> kGrid = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3};
constexpr std::array<const char*, 6> kOptimizers = {"GD", "SGD+momentum", "Nesterov", "Adam", "Adagrad", "RMSProp"};

enum class Outcome { global, local, neither };

// One test function, type-erased so that the six can sit in one table.
struct Landscape {
  std::string name;
  std::function<double(const V&, V&)> f;
  std::function<V(const V&)> nearest;  // the problem's nearest_minimizer
  double minimum = 0.0;
  V lo, hi;               // the usual domain, where the starts are drawn
  V path_start;           // the start of the pictured paths
  std::vector<V> minima;  // the known local minimizers in the domain

  double value(const V& x) const {
    V g;
    return f(x, g);
  }
  bool is_global(const V& m) const { return value(m) <= minimum + 1e-9 * (1.0 + std::abs(minimum)); }
  bool inside(const V& x, double margin) const {
    return (x.array() >= lo.array() - margin).all() && (x.array() <= hi.array() + margin).all();
  }

  Outcome classify(const V& x) const {
    if (!x.allFinite() || !inside(x, kDomainMargin)) return Outcome::neither;
    const V m = nearest(x);
    if ((x - m).norm() > kRadius) return Outcome::neither;
    return is_global(m) ? Outcome::global : Outcome::local;
  }
};

template <class Problem>
Landscape make_landscape(std::string name, Problem problem, V lo, V hi, V path_start) {
  auto p = std::make_shared<Problem>(std::move(problem));
  Landscape l{std::move(name),
              [p](const V& x, V& g) { return (*p)(x, g); },
              [p](const V& x) { return V(p->nearest_minimizer(x)); },
              double(p->minimum()),
              lo,
              hi,
              path_start,
              {}};
  // The minimizers in the domain, for the picture: those nearest to the points of a fine grid
  // (0.1 apart, finer than any two minima here are close).
  for (double x = lo[0]; x <= hi[0]; x += 0.1) {
    for (double y = lo[1]; y <= hi[1]; y += 0.1) {
      const V m = l.nearest(V(x, y));
      if (l.inside(m, 0.0) && std::find(l.minima.begin(), l.minima.end(), m) == l.minima.end()) l.minima.push_back(m);
    }
  }
  return l;
}

std::vector<Landscape> landscapes() {
  namespace p = descent::problems;
  std::vector<Landscape> out;
  out.push_back(make_landscape("Himmelblau", p::Himmelblau<>(), V(-5, -5), V(5, 5), V(0.25, -4.75)));
  out.push_back(make_landscape("Beale", p::Beale<>(), V(-4.5, -4.5), V(4.5, 4.5), V(-1.0, 1.6)));
  out.push_back(make_landscape("Six-hump camel", p::SixHumpCamel<>(), V(-3, -2), V(3, 2), V(-2.75, -0.75)));
  out.push_back(make_landscape("Ackley", p::Ackley<>(), V(-5, -5), V(5, 5), V(2.6, -1.8)));
  out.push_back(make_landscape("Rastrigin", p::Rastrigin<>(2), V(-5.12, -5.12), V(5.12, 5.12), V(2.4, -1.7)));
  out.push_back(make_landscape("Styblinski-Tang", p::StyblinskiTang<>(2), V(-5, -5), V(5, 5), V(0.3, 0.6)));
  return out;
}

// A standard normal pair by Box–Muller, from the platform-independent generator.
V gaussian(Random& rng) {
  const double radius = std::sqrt(-2.0 * std::log(1.0 - rng.uniform()));  // 1 − u is in (0, 1]
  const double angle = 2.0 * std::numbers::pi * rng.uniform();
  return V(radius * std::cos(angle), radius * std::sin(angle));
}

template <class Visit>
void with_optimizer(int kind, double lr, Visit&& visit) {
  switch (kind) {
    case 0:
      return visit(descent::GradientDescent<V>({.lr = lr}));
    case 1:
      return visit(descent::SGD<V>({.lr = lr, .momentum = 0.9}));
    case 2:
      return visit(descent::SGD<V>({.lr = lr, .momentum = 0.9, .nesterov = true}));
    case 3:
      return visit(descent::Adam<V>({.lr = lr}));
    case 4:
      return visit(descent::Adagrad<V>({.lr = lr}));
    case 5:
      return visit(descent::RMSProp<V>({.lr = lr}));
    default:
      throw std::logic_error("no such optimizer");
  }
}

struct Noise {
  double sigma = 0.0;  // 0: none
  std::uint64_t seed = 0;
};

// The hand loop, kSteps steps from x. Stops early only when x has left any sensible region (the
// outcome is then "neither" anyway, and the next gradient could overflow). Appends every iterate to
// `path` when given.
V descend(const Landscape& l, int kind, double lr, V x, const Noise& noise, std::vector<V>* path = nullptr) {
  with_optimizer(kind, lr, [&](auto opt) {
    Random rng(noise.seed);
    V g;
    for (int t = 0; t < kSteps; ++t) {
      l.f(x, g);
      if (noise.sigma > 0.0 && t < kNoisySteps) g += noise.sigma * gaussian(rng);
      opt.step(x, g);
      if (path) path->push_back(x);
      if (!x.allFinite() || !l.inside(x, 1e3)) break;
    }
  });
  return x;
}

std::vector<V> starts(const Landscape& l, int count, std::uint64_t seed) {
  Random rng(seed);
  std::vector<V> out;
  for (int k = 0; k < count; ++k) out.emplace_back(rng.uniform(l.lo[0], l.hi[0]), rng.uniform(l.lo[1], l.hi[1]));
  return out;
}

struct Counts {
  int global = 0, local = 0, neither = 0;
  int left = 0;  // of the neither: not finite, or more than kDomainMargin outside the domain
  int total() const { return global + local + neither; }
  int reached() const { return global + local; }
  bool operator==(const Counts&) const = default;
};

Counts count(const Landscape& l, int kind, double lr, const std::vector<V>& from, double sigma, std::uint64_t seed) {
  Counts c;
  for (std::size_t k = 0; k < from.size(); ++k) {
    const Noise noise{sigma, seed * 1000003u + k};
    const V end = descend(l, kind, lr, from[k], noise);
    if (!end.allFinite() || !l.inside(end, kDomainMargin)) ++c.left;
    switch (l.classify(end)) {
      case Outcome::global:
        ++c.global;
        break;
      case Outcome::local:
        ++c.local;
        break;
      case Outcome::neither:
        ++c.neither;
        break;
    }
  }
  return c;
}

// The middle of the rates that reach a minimum from the most tuning starts (the lower of the two
// middle ones for an even number): well inside the range that works rather than at its edge, where
// added noise would be judged mostly on whether it tips the run into divergence.
double tune(const Landscape& l, int kind, const std::vector<V>& from) {
  std::vector<int> reached;
  for (const double lr : kGrid) reached.push_back(count(l, kind, lr, from, 0.0, 0).reached());
  const int best = *std::max_element(reached.begin(), reached.end());
  std::vector<double> tied;
  for (std::size_t k = 0; k < kGrid.size(); ++k)
    if (reached[k] == best) tied.push_back(kGrid[k]);
  return tied[(tied.size() - 1) / 2];
}

double noise_sigma(const Landscape& l, const std::vector<V>& from) {
  std::vector<double> norms;
  V g;
  for (const V& x : from) {
    l.f(x, g);
    norms.push_back(g.norm());
  }
  std::nth_element(norms.begin(), norms.begin() + std::ptrdiff_t(norms.size() / 2), norms.end());
  return norms[norms.size() / 2] / std::sqrt(2.0);
}

struct Row {
  std::string function;
  std::string optimizer;
  int kind = 0;
  double lr = 0.0;
  Counts clean, noisy;
};

double percent(int part, int total) { return 100.0 * part / total; }

void write_csv(const std::string& file, const std::vector<Landscape>& all, const std::vector<Row>& rows) {
  std::ofstream out(file);
  if (!out) throw std::runtime_error("cannot write " + file);
  out.precision(10);
  out << "kind,function,optimizer,lr,step,x,y,f\n";
  for (const Landscape& l : all) {
    out << "domain_lo," << l.name << ",,,," << l.lo[0] << ',' << l.lo[1] << ",\n";
    out << "domain_hi," << l.name << ",,,," << l.hi[0] << ',' << l.hi[1] << ",\n";
    for (const V& m : l.minima) {
      out << (l.is_global(m) ? "global" : "local") << ',' << l.name << ",,,," << m[0] << ',' << m[1] << ','
          << l.value(m) << '\n';
    }
  }
  for (const Row& r : rows) {
    const Landscape& l =
        *std::find_if(all.begin(), all.end(), [&](const Landscape& c) { return c.name == r.function; });
    std::vector<V> path{l.path_start};
    descend(l, r.kind, r.lr, l.path_start, Noise{}, &path);
    for (std::size_t t = 0; t < path.size(); ++t) {
      out << "path," << r.function << ',' << r.optimizer << ',' << r.lr << ',' << t << ',' << path[t][0] << ','
          << path[t][1] << ',' << l.value(path[t]) << '\n';
    }
  }
  if (!out) throw std::runtime_error("error writing " + file);
}

int usage(const char* program) {
  std::fprintf(stderr, "usage: %s [--quick] [--csv PATH]\n", program);
  return 2;
}

}  // namespace

int main(int argc, char** argv) try {
  bool quick = false;
  std::string csv_path = "landscapes.csv";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (arg == "--csv" && i + 1 < argc) {
      csv_path = argv[++i];
    } else {
      return usage(argv[0]);
    }
  }
  const int n_starts = quick ? 50 : 200;
  const int n_tuning = quick ? 20 : 50;

  const std::vector<Landscape> all = landscapes();
  std::vector<Row> rows;
  std::vector<double> sigmas;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Landscape& l = all[i];
    const auto tuning = starts(l, n_tuning, 2000 + i);
    const auto table = starts(l, n_starts, 1000 + i);
    const double sigma = noise_sigma(l, table);
    sigmas.push_back(sigma);
    for (int kind = 0; kind < int(kOptimizers.size()); ++kind) {
      Row r{l.name, kOptimizers[std::size_t(kind)], kind, tune(l, kind, tuning), {}, {}};
      r.clean = count(l, kind, r.lr, table, 0.0, 0);
      r.noisy = count(l, kind, r.lr, table, sigma, 3000 + i);
      rows.push_back(r);
    }
  }

  std::printf("Where %d seeded starts end after %d steps%s: %% at a global minimum, at another local one, neither\n",
              n_starts, kSteps, quick ? " (--quick)" : "");
  std::printf(
      "(reached = within %.2g of a minimizer; noise: N(0, sigma^2 I) on the gradient for the first %d steps)\n\n",
      kRadius, kNoisySteps);
  std::printf("%-16s %-13s %7s | %27s | %27s\n", "function", "optimizer", "lr", "no noise: global local neither",
              "noise: global local neither");
  std::string previous;
  for (const Row& r : rows) {
    const int n = r.clean.total();
    if (r.function != previous && !previous.empty()) std::printf("\n");
    previous = r.function;
    std::printf("%-16s %-13s %7.0e | %15.1f %5.1f %7.1f | %12.1f %5.1f %7.1f\n", r.function.c_str(),
                r.optimizer.c_str(), r.lr, percent(r.clean.global, n), percent(r.clean.local, n),
                percent(r.clean.neither, n), percent(r.noisy.global, n), percent(r.noisy.local, n),
                percent(r.noisy.neither, n));
  }
  std::printf("\nOf the neither, runs that left the domain (by more than %g, or not finite):\n", kDomainMargin);
  bool any_left = false;
  for (const Row& r : rows) {
    for (const auto& [counts, label] : {std::pair{&r.clean, "no noise"}, std::pair{&r.noisy, "noise"}}) {
      if (counts->left == 0) continue;
      std::printf("  %s, %s, %s: %.1f%%\n", r.function.c_str(), r.optimizer.c_str(), label,
                  percent(counts->left, counts->total()));
      any_left = true;
    }
  }
  if (!any_left) std::printf("  none\n");
  std::printf("\nnoise sigma:");
  for (std::size_t i = 0; i < all.size(); ++i)
    std::printf(" %s %.3g%s", all[i].name.c_str(), sigmas[i], i + 1 < all.size() ? "," : "\n");

  write_csv(csv_path, all, rows);
  std::printf("Paths from one start per function (each optimizer at its rate, no noise): %s\n", csv_path.c_str());

  // What must hold on any run, --quick included, whatever the seeds: facts about the landscapes,
  // not about tuned numbers.
  bool ok = true;
  auto check = [&ok](bool condition, const std::string& what) {
    if (!condition) {
      std::fprintf(stderr, "check failed: %s\n", what.c_str());
      ok = false;
    }
  };
  auto row = [&](const std::string& function, const std::string& optimizer) -> const Row& {
    return *std::find_if(rows.begin(), rows.end(),
                         [&](const Row& r) { return r.function == function && r.optimizer == optimizer; });
  };
  auto landscape = [&](const std::string& name) -> const Landscape& {
    return *std::find_if(all.begin(), all.end(), [&](const Landscape& l) { return l.name == name; });
  };
  // Every minimum of Himmelblau is global: a method that converges at all finds one.
  for (const char* o : kOptimizers) {
    const Row& r = row("Himmelblau", o);
    check(r.clean.global >= 0.9 * r.clean.total(),
          r.optimizer + " on Himmelblau: a global minimum from >= 90% of starts");
  }
  // GD at its rate is a descent method with a step below 2/L at the bottom of each basin: started
  // 0.05 away from any minimizer of the domain, it ends at that minimizer (not a deeper one).
  // Ackley's origin is left out: its gradient has length 2√2 right up to the kink, so GD circles it
  // at a distance of about lr·√2, which the radius need not cover.
  for (const Landscape& l : all) {
    const double lr = row(l.name, "GD").lr;
    for (const V& m : l.minima) {
      if (l.name == "Ackley" && m.isZero(0.0)) continue;
      const V end = descend(l, 0, lr, m + V(0.03, -0.04), Noise{});
      check((end - m).norm() <= kRadius, "GD on " + l.name + " from 0.05 off a minimizer ends at it");
    }
  }
  // Without noise GD stays in the basin it starts in; Rastrigin's central basin is about 1% of the
  // domain, Styblinski–Tang's global basin 26.6% ((5 + 0.157)/10 squared).
  const Row& gd_rastrigin = row("Rastrigin", "GD");
  check(gd_rastrigin.clean.global <= 0.1 * gd_rastrigin.clean.total(),
        "GD on Rastrigin without noise: the global minimum from <= 10% of starts");
  const Row& gd_st = row("Styblinski-Tang", "GD");
  check(gd_st.clean.global >= 0.1 * gd_st.clean.total() && gd_st.clean.global <= 0.45 * gd_st.clean.total(),
        "GD on Styblinski-Tang without noise: the global minimum from 10% to 45% of starts");
  // Noise as large as the gradient moves runs between Rastrigin's basins.
  bool noise_matters = false;
  for (const char* o : kOptimizers)
    noise_matters = noise_matters || !(row("Rastrigin", o).clean == row("Rastrigin", o).noisy);
  check(noise_matters, "noise changes where some optimizer ends on Rastrigin");
  check(landscape("Six-hump camel").minima.size() == 6, "the six minima of the six-hump camel are in its domain");
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "landscapes: %s\n", e.what());
  return 1;
}
