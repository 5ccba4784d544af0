// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be the Scheduler's sentence naming the lr members it needs.
#include <descent/descent.hpp>

// An optimizer of one's own that steps but has no learning rate a schedule could set.
struct FixedStep {
  void step(Eigen::VectorXd& x, const Eigen::VectorXd& g) { x -= 0.1 * g; }
  void reset() {}
#ifndef DESCENT_EXPECT_COMPILE_ERROR
  double lr_ = 0.1;
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
#endif
};

void compile_fail_snippet() {
  FixedStep opt;
  descent::Scheduler sched(opt, descent::StepLR{.step_size = 2});
  sched.step();
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
