// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// it must fail with a diagnostic that names descent::Optimizer.
#include <descent/descent.hpp>

namespace {

// Looks like an optimizer but has no reset(): not one.
struct NotAnOptimizer {
  template <class P, class G>
  void step(P&&, const G&) {}
};

template <descent::Optimizer<Eigen::VectorXd> O>
void take_one_step(O& optimizer, Eigen::VectorXd& x) {
  optimizer.step(x, Eigen::VectorXd::Ones(x.size()).eval());
}

}  // namespace

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(3);
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  NotAnOptimizer optimizer;
#else
  descent::Adam<Eigen::VectorXd> optimizer;
#endif
  take_one_step(optimizer, x);
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
