// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be train's sentence about a stochastic objective whose size() is not const.
#include <descent/descent.hpp>

struct Mean {
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  Eigen::Index size() { return 4; }
#else
  Eigen::Index size() const { return 4; }
#endif
  double operator()(const Eigen::VectorXd& x, descent::Batch batch, Eigen::VectorXd& grad) const {
    grad.setZero();
    double loss = 0;
    for (Eigen::Index i : batch) {
      grad.array() += x.array() - double(i);
      loss += 0.5 * (x.array() - double(i)).square().sum();
    }
    grad /= double(batch.size());
    return loss / double(batch.size());
  }
};

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(2);
  descent::train(Mean{}, x, descent::SGD<Eigen::VectorXd>{}, descent::MinibatchSampler(4), {.max_epochs = 2});
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
