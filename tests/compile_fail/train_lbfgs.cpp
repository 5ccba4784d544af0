// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be train's sentence about an optimizer that needs the objective.
#include <descent/descent.hpp>

struct Mean {
  Eigen::Index size() const { return 4; }
  double operator()(const Eigen::VectorXd& x, descent::Batch, Eigen::VectorXd& grad) const {
    grad = x;
    return 0.5 * x.squaredNorm();
  }
};

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(2);
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  descent::LBFGS<Eigen::VectorXd> optimizer;
#else
  descent::SGD<Eigen::VectorXd> optimizer;
#endif
  descent::train(Mean{}, x, optimizer, descent::MinibatchSampler(4), {.max_epochs = 2});
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
