// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be train's sentence about a callback of the wrong type (callback 1, argument 6).
#include <descent/descent.hpp>

#include <string>

struct Mean {
  Eigen::Index size() const { return 4; }
  double operator()(const Eigen::VectorXd& x, descent::Batch, Eigen::VectorXd& grad) const {
    grad = x;
    return 0.5 * x.squaredNorm();
  }
};

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(2);
  // Returns a string: neither void nor a bool.
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  auto log = [](const descent::Progress<Eigen::VectorXd>& p) { return std::to_string(p.loss); };
#else
  auto log = [](const descent::Progress<Eigen::VectorXd>& p) { return p.loss < 1e9; };
#endif
  descent::History history;
  descent::train(Mean{}, x, descent::SGD<Eigen::VectorXd>{}, descent::MinibatchSampler(4), {.max_epochs = 2}, log,
                 history);
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
