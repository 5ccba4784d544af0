// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be minimize's sentence about an objective that takes the gradient by pointer.
#include <descent/descent.hpp>

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  auto f = [](const Eigen::VectorXd& z, Eigen::VectorXd* g) {
    *g = 2 * z;
    return z.squaredNorm();
  };
#else
  auto f = [](const Eigen::VectorXd& z, Eigen::VectorXd& g) {
    g = 2 * z;
    return z.squaredNorm();
  };
#endif
  descent::minimize(f, x, descent::Adam<Eigen::VectorXd>{}, {.max_iterations = 10});
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
