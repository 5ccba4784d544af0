// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be minimize's sentence about an optimizer for float parameters given double ones.
#include <descent/descent.hpp>

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
  auto f = [](const Eigen::VectorXd& z, Eigen::VectorXd& g) {
    g = 2 * z;
    return z.squaredNorm();
  };
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  descent::Adam<Eigen::VectorXf> optimizer;
#else
  descent::Adam<Eigen::VectorXd> optimizer;
#endif
  descent::minimize(f, x, optimizer, {.max_iterations = 10});
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
