// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be the Scheduler's sentence saying that S is not a schedule.
#include <descent/descent.hpp>

struct MySchedule {
  double gamma = 0.5;
};

void compile_fail_snippet() {
  descent::SGD<Eigen::VectorXd> opt({.lr = 0.1});
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  descent::Scheduler sched(opt, MySchedule{});
#else
  descent::Scheduler sched(opt, descent::ExponentialLR{.gamma = 0.5});
#endif
  sched.step();
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
