// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be minimize's sentence about a float objective for double parameters.
#include <descent/descent.hpp>

#ifdef DESCENT_EXPECT_COMPILE_ERROR
using Vec = Eigen::VectorXf;
#else
using Vec = Eigen::VectorXd;
#endif

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
  auto f = [](const Vec& z, Vec& g) {
    g = 2 * z;
    return z.squaredNorm();
  };
  descent::minimize(f, x, descent::Adam<Eigen::VectorXd>{}, {.max_iterations = 10});
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
