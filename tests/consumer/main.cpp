// A downstream program: minimizes a quadratic with Adam through the installed/added package.
#include <descent/descent.hpp>

#include <cstdio>

int main() {
  Eigen::VectorXd x = Eigen::VectorXd::Constant(5, 3.0);
  descent::Adam<Eigen::VectorXd> opt({.lr = 0.1});
  for (int i = 0; i < 2000; ++i) opt.step(x, 2.0 * x);
  std::printf("|x| = %g after %lld steps\n", x.norm(), static_cast<long long>(opt.steps()));
  return x.norm() < 1e-3 ? 0 : 1;
}
