// Built twice by tests/CMakeLists.txt: as is, it must compile; with DESCENT_EXPECT_COMPILE_ERROR,
// the first error line must be Checkpoint::put's sentence saying how a type becomes checkpointable.
#include <descent/checkpoint.hpp>

namespace mine {
struct Model {  // no descent_checkpoint_save / descent_checkpoint_load
  Eigen::VectorXd weights = Eigen::VectorXd::Zero(3);
};
}  // namespace mine

void compile_fail_snippet() {
  descent::Checkpoint ck;
  mine::Model model;
#ifdef DESCENT_EXPECT_COMPILE_ERROR
  ck.put("model", model);
#else
  ck.put("model", model.weights);
#endif
}

#ifdef DESCENT_EXPECT_COMPILE_ERROR
int main() { compile_fail_snippet(); }
#endif
