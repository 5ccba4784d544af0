// Quick start: minimize the 2-D Rosenbrock function, first with a hand-written loop around
// opt.step, then with descent::minimize, which adds stopping criteria, checks and a report.
#include <descent/descent.hpp>

#include <cstdio>
#include <iostream>

using Vec = Eigen::Vector2d;

// f(x, y) = (1 − x)² + 100 (y − x²)², minimum 0 at (1, 1). Loss and gradient in one call.
double rosenbrock(const Vec& p, Vec& grad) {
  const double a = 1 - p.x(), b = p.y() - p.x() * p.x();
  grad << -2 * a - 400 * p.x() * b, 200 * b;
  return a * a + 100 * b * b;
}

int main() {
  // 1. A hand-written loop: any optimizer's step(params, grads) updates params in place.
  Vec x(-1.5, 2.0), g;
  descent::Adam<Vec> adam({.lr = 0.02});
  for (int i = 1; i <= 20000; ++i) {
    const double loss = rosenbrock(x, g);
    if (g.norm() < 1e-8) break;
    adam.step(x, g);
    if (i % 1000 == 0) std::printf("step %5d  f = %.3e  x = (%.6f, %.6f)\n", i, loss, x.x(), x.y());
  }
  std::printf("hand loop: Adam took %lld steps to (%.6f, %.6f)\n\n", static_cast<long long>(adam.steps()), x.x(),
              x.y());

  // 2. The same with the driver, and a second optimizer for comparison.
  Vec y(-1.5, 2.0);
  const descent::StopCriteria stop{.max_iterations = 100000, .gradient_tolerance = 1e-8};
  const descent::Report adam_report = descent::minimize(rosenbrock, y, descent::Adam<Vec>({.lr = 0.02}), stop);
  std::cout << "minimize, Adam:     " << adam_report << "\n  x = " << y.transpose() << "\n";

  Vec z(-1.5, 2.0);
  const descent::Report sgd_report =
      descent::minimize(rosenbrock, z, descent::SGD<Vec>({.lr = 2e-4, .momentum = 0.9}), stop);
  std::cout << "minimize, SGD+mom.: " << sgd_report << "\n  x = " << z.transpose() << "\n";

  const bool ok = (x - Vec(1, 1)).norm() < 1e-6 && (y - Vec(1, 1)).norm() < 1e-6 &&
                  adam_report.reason == descent::StopReason::GradientTolerance &&
                  sgd_report.reason == descent::StopReason::GradientTolerance;
  return ok ? 0 : 1;
}
