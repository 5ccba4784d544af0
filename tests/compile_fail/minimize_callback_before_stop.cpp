// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be minimize's sentence about a callback passed where the StopCriteria belongs.
#include <descent/descent.hpp>

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
  auto f = [](const Eigen::VectorXd& z, Eigen::VectorXd& g) {
    g = 2 * z;
    return z.squaredNorm();
  };
  descent::History history;
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  descent::minimize(f, x, descent::Adam<Eigen::VectorXd>{}, history);
#else
  descent::minimize(f, x, descent::Adam<Eigen::VectorXd>{}, {}, history);
#endif
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
