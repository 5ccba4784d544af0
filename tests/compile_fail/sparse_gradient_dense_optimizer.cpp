// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be the sentence naming the optimizers that take a sparse gradient.
#include <descent/descent.hpp>

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(4);
  Eigen::SparseVector<double> g(4);
  g.coeffRef(1) = 1.0;
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  descent::Adam<Eigen::VectorXd> optimizer;
#else
  descent::Adagrad<Eigen::VectorXd> optimizer;
#endif
  optimizer.step(x, g);
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
