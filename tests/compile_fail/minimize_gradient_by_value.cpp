// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be minimize's sentence about an objective that takes the gradient by value.
#include <descent/descent.hpp>

// A function object, not a lambda: the signature is read from its operator().
struct Objective {
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  double operator()(const Eigen::VectorXd& z, Eigen::VectorXd g) const {
#else
  double operator()(const Eigen::VectorXd& z, Eigen::VectorXd& g) const {
#endif
    g = 2 * z;
    return z.squaredNorm();
  }
};

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
  descent::minimize(Objective{}, x, descent::Adam<Eigen::VectorXd>{}, {.max_iterations = 10});
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
