// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be SparseAdam's refusal of a dense gradient (torch's SparseAdam
// refuses one too).
#include <descent/descent.hpp>

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(4);
  Eigen::SparseVector<double> g(4);
  g.coeffRef(1) = 1.0;
  descent::SparseAdam<Eigen::VectorXd> optimizer;
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  optimizer.step(x, Eigen::VectorXd(g));
#else
  optimizer.step(x, g);
#endif
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
