#pragma once
// What ScheduleFreeAdamW and ScheduleFreeSGD share (Defazio et al., 2024, "The Road Less
// Scheduled", and the authors' reference code, facebookresearch/schedule_free): the per-step
// scalars (warmup, the averaging weight c_{t+1} from lr_max and weight_sum), torch.lerp's
// arithmetic, and the kernel that moves the user's vector between y and x for train()/eval().

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"

namespace descent::detail {

/// The linear warmup factor of step k + 1 (k steps taken): (k + 1) / warmup_steps while
/// k < warmup_steps, then 1; as the reference computes it, in double.
inline double schedule_free_warmup(std::int64_t k, std::int64_t warmup_steps) {
  return k < warmup_steps ? double(k + 1) / double(warmup_steps) : 1.0;
}

/// The averaging bookkeeping of one step, in double: the running maximum of the step's lr, the
/// weight (k + 1)^r · lr_max^weight_lr_power added to weight_sum, and c_{t+1} = weight / weight_sum
/// (0 when weight_sum is 0: every lr so far was 0, the reference's ZeroDivisionError case).
struct ScheduleFreeWeights {
  double lr_max;
  double weight_sum;
  double ckp1;
};

inline ScheduleFreeWeights schedule_free_weights(double lr, std::int64_t k, double r, double weight_lr_power,
                                                 double lr_max, double weight_sum) {
  ScheduleFreeWeights w{};
  w.lr_max = std::max(lr, lr_max);
  const double weight = std::pow(double(k + 1), r) * std::pow(w.lr_max, weight_lr_power);
  w.weight_sum = weight_sum + weight;
  w.ckp1 = w.weight_sum == 0.0 ? 0.0 : weight / w.weight_sum;
  return w;
}

/// Whether torch.lerp(a, b, w) takes its small-weight form a + w·(b − a) (|w| < 0.5) rather than
/// b − (b − a)·(1 − w): torch's two forms, chosen on the scalar weight, exact at w = 0 and w = 1.
inline bool lerp_weight_small(double w) { return std::abs(w) < 0.5; }

/// The message of a step taken in eval mode.
[[noreturn, gnu::cold]] inline void schedule_free_step_in_eval_mode(std::string_view optimizer) {
  throw std::logic_error(concat("descent::", optimizer,
                                "::step: the optimizer is in eval mode (the parameters hold x, the averaged "
                                "iterate, not y, where gradients are taken); call train(params) before the next "
                                "step, as the schedule_free reference requires optimizer.train()"));
}

/// eval/train on parameters of another shape than the state z.
[[noreturn, gnu::cold]] inline void schedule_free_mode_shape(std::string_view optimizer, std::string_view function,
                                                             Eigen::Index prows, Eigen::Index pcols,
                                                             Eigen::Index zrows, Eigen::Index zcols) {
  throw std::invalid_argument(concat("descent::", optimizer, "::", function, ": params is ", shape_text(prows, pcols),
                                     " but the optimizer's state is ", shape_text(zrows, zcols)));
}

}  // namespace descent::detail

DESCENT_DETAIL_KERNELS_BEGIN

namespace descent::detail {

/// p ← torch.lerp(p, z, weight), in Scalar, over the spans (their gradient is not read): what
/// eval() (weight 1 − 1/beta, y → x) and train() (weight 1 − beta, x → y) do to the parameters.
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void schedule_free_interpolate(const Spans<Scalar, N>& x, double weight, Scalar* z) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto w = Scalar(weight);
  const auto rest = Scalar(1) - w;
  detail::dispatch(
      [&](auto small_weight) {
        constexpr bool small = small_weight;
        detail::for_each_coefficient(
            x,
            [=](auto& p, auto, auto& zi) DESCENT_DETAIL_LANE_INLINE {
              if constexpr (small)
                p = p + w * (zi - p);
              else
                p = zi - (zi - p) * rest;
            },
            z);
      },
      lerp_weight_small(weight));
}

}  // namespace descent::detail

DESCENT_DETAIL_KERNELS_END
