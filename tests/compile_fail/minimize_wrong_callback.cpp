// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be minimize's sentence about a callback of the wrong type (callback 2, argument 6).
#include <descent/descent.hpp>

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
  auto f = [](const Eigen::VectorXd& z, Eigen::VectorXd& g) {
    g = 2 * z;
    return z.squaredNorm();
  };
  descent::History history;
  // The second callback is written for float parameters; x holds double.
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  auto log = [](const descent::Progress<Eigen::VectorXf>&) {};
#else
  auto log = [](const descent::Progress<Eigen::VectorXd>&) {};
#endif
  descent::minimize(f, x, descent::Adam<Eigen::VectorXd>{}, {.max_iterations = 10}, history, log);
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
