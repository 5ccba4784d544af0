// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be train's sentence about a sparse gradient and an optimizer that
// does not take one.
#include <descent/descent.hpp>

struct Sparse {
  Eigen::Index size() const { return 4; }
  double operator()(const Eigen::VectorXd& x, descent::Batch, Eigen::SparseVector<double>& grad) const {
    grad.coeffRef(0) = x(0);
    return 0.5 * x(0) * x(0);
  }
};

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Ones(2);
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  descent::Adam<Eigen::VectorXd> optimizer;
#else
  descent::SparseAdam<Eigen::VectorXd> optimizer;
#endif
  descent::train(Sparse{}, x, optimizer, descent::MinibatchSampler(4), {.max_epochs = 2});
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
