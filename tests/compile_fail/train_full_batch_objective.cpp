// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be train's sentence about a full-batch objective.
#include <descent/descent.hpp>

struct Mean {
  Eigen::Index size() const { return 4; }
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  double operator()(const Eigen::VectorXd& x, Eigen::VectorXd& grad) const {
    grad = x;
    return 0.5 * x.squaredNorm();
  }
#else
  double operator()(const Eigen::VectorXd& x, descent::Batch, Eigen::VectorXd& grad) const {
    grad = x;
    return 0.5 * x.squaredNorm();
  }
#endif
};

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(2);
  descent::train(Mean{}, x, descent::SGD<Eigen::VectorXd>{}, descent::MinibatchSampler(4), {.max_epochs = 2});
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
