// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be minimize's sentence about an objective that takes only x.
#include <descent/descent.hpp>

#ifdef DESCENT_EXPECT_COMPILE_ERROR
constexpr bool defined_expect_error = true;
#else
constexpr bool defined_expect_error = false;
#endif

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  // Returns the gradient instead of writing it: not an Objective.
  auto f = [](const Eigen::VectorXd& z) -> Eigen::VectorXd { return 2 * z; };
#else
  auto f = [](const Eigen::VectorXd& z, Eigen::VectorXd& g) {
    g = 2 * z;
    return z.squaredNorm();
  };
#endif
  // The concept itself still answers, in both builds.
  static_assert(descent::Objective<decltype(f), Eigen::VectorXd> == !defined_expect_error);
  descent::minimize(f, x, descent::Adam<Eigen::VectorXd>{}, {.max_iterations = 10});
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
