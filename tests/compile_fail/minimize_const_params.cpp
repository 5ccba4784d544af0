// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be minimize's sentence about const parameters.
#include <descent/descent.hpp>

void compile_fail_snippet() {
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  const Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
#else
  Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
#endif
  auto f = [](const Eigen::VectorXd& z, Eigen::VectorXd& g) {
    g = 2 * z;
    return z.squaredNorm();
  };
  descent::minimize(f, x, descent::Adam<Eigen::VectorXd>{}, {.max_iterations = 10});
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
