// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be train's sentence about a missing sampler (the StopCriteria given fourth).
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
  descent::train(Mean{}, x, descent::SGD<Eigen::VectorXd>{}, {.max_epochs = 2});
#else
  descent::train(Mean{}, x, descent::SGD<Eigen::VectorXd>{}, descent::MinibatchSampler(4), {.max_epochs = 2});
#endif
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
