// Quick start: minimize the 2-D Rosenbrock function with a hand-written loop around opt.step.
#include <cstdio>
#include <descent/descent.hpp>

int main() {
  using Vec = Eigen::Vector2d;

  // f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, minimum 0 at (1, 1).
  auto loss = [](const Vec& p) {
    return (1 - p.x()) * (1 - p.x()) + 100 * (p.y() - p.x() * p.x()) * (p.y() - p.x() * p.x());
  };
  auto gradient = [](const Vec& p) {
    return Vec(-2 * (1 - p.x()) - 400 * p.x() * (p.y() - p.x() * p.x()), 200 * (p.y() - p.x() * p.x()));
  };

  Vec x(-1.5, 2.0);
  descent::Adam<Vec> opt({.lr = 0.02});
  for (int i = 1; i <= 20000; ++i) {
    const Vec g = gradient(x);
    if (g.norm() < 1e-8) break;
    opt.step(x, g);
    if (i % 2000 == 0) std::printf("step %5d  f = %.3e  x = (%.6f, %.6f)\n", i, loss(x), x.x(), x.y());
  }
  std::printf("Adam stopped after %lld steps at (%.6f, %.6f), f = %.3e\n", static_cast<long long>(opt.steps()), x.x(),
              x.y(), loss(x));
  return (x - Vec(1, 1)).norm() < 1e-3 ? 0 : 1;
}
