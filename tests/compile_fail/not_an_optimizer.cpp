// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be minimize's sentence about an optimizer without reset().
#include <descent/descent.hpp>

namespace {

// Looks like an optimizer but has no reset(): not one.
struct NotAnOptimizer {
  template <class P, class G>
  void step(P&&, const G&) {}
};
static_assert(!descent::Optimizer<NotAnOptimizer, Eigen::VectorXd>);
static_assert(descent::Optimizer<descent::Adam<Eigen::VectorXd>, Eigen::VectorXd>);

}  // namespace

void compile_fail_snippet() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(3);
  auto f = [](const Eigen::VectorXd& z, Eigen::VectorXd& g) {
    g = 2 * z;
    return z.squaredNorm();
  };
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  NotAnOptimizer optimizer;
#else
  descent::Adam<Eigen::VectorXd> optimizer;
#endif
  descent::minimize(f, x, optimizer, {.max_iterations = 10});
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
