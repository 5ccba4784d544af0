#pragma once
// AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, torch.optim.AdamW.

#include <concepts>

#include "descent/optimizers/adam.hpp"

namespace descent {

/// The options of AdamW (`AdamW<V>::Options`): the fields of AdamOptions, in the same order, with
/// torch.optim.AdamW's defaults (weight_decay = 1e-2, decay always decoupled), so that
/// `AdamW<V>({.lr = 1e-3})` and the groups of a `Grouped<AdamW<V>>` keep weight_decay = 1e-2 as in
/// torch. The formula is AdamOptions' with decoupled weight decay.
struct AdamWOptions {
  /// Step size. Default 1e-3.
  double lr = 1e-3;
  /// Decay rate of the first-moment average. Default 0.9.
  double beta1 = 0.9;
  /// Decay rate of the second-moment average. Default 0.999.
  double beta2 = 0.999;
  /// Added to the bias-corrected √v. Default 1e-8.
  double eps = 1e-8;
  /// The weights shrink by the factor (1 − lr·weight_decay) before each update. Default 1e-2.
  double weight_decay = 1e-2;
  /// AMSGrad variant. Default false.
  bool amsgrad = false;
  /// Always true for AdamW; setting it to false is an error (use Adam for an L2 term).
  bool decoupled_weight_decay = true;
  /// Ascend the objective. Default false.
  bool maximize = false;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const { to_adam().validate("AdamWOptions"); }
  /// validate(), and that the numbers entering the formula are finite in Scalar (as AdamOptions).
  template <class Scalar>
  void validate_for() const {
    to_adam().template validate_for<Scalar>("AdamWOptions");
  }

  /// The AdamWOptions of an AdamOptions with decoupled weight decay (field by field).
  static AdamWOptions from_adam(const AdamOptions& o) {
    return {.lr = o.lr,
            .beta1 = o.beta1,
            .beta2 = o.beta2,
            .eps = o.eps,
            .weight_decay = o.weight_decay,
            .amsgrad = o.amsgrad,
            .decoupled_weight_decay = true,
            .maximize = o.maximize};
  }

  /// The same options as an AdamOptions; throws if decoupled_weight_decay was switched off.
  AdamOptions to_adam() const {
    if (!decoupled_weight_decay)
      detail::invalid_option("AdamWOptions", "decoupled_weight_decay", "false",
                             "AdamW always decouples weight decay; use descent::Adam for an L2 term");
    return {.lr = lr,
            .beta1 = beta1,
            .beta2 = beta2,
            .eps = eps,
            .weight_decay = weight_decay,
            .amsgrad = amsgrad,
            .decoupled_weight_decay = true,
            .maximize = maximize};
  }
};

/// AdamW: exactly Adam with decoupled_weight_decay = true and torch's AdamW defaults.
template <class V>
class AdamW : public Adam<V> {
 public:
  using Options = AdamWOptions;

  AdamW() : Adam<V>(AdamWOptions{}.to_adam()) {}
  /// From braces: `AdamW<V> opt({.lr = 3e-4})` (weight_decay stays 1e-2).
  explicit AdamW(const AdamWOptions& options) : Adam<V>(options.to_adam()) {}
  /// From an AdamOptions: taken as given, except that the decay is always decoupled (note that an
  /// AdamOptions defaults to weight_decay = 0).
  template <std::same_as<AdamOptions> O>
  explicit AdamW(const O& options) : Adam<V>(decoupled(options)) {}

  /// The options, as AdamWOptions (a copy).
  Options options() const { return AdamWOptions::from_adam(Adam<V>::options()); }

 private:
  static AdamOptions decoupled(AdamOptions options) {
    options.decoupled_weight_decay = true;
    return options;
  }
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<AdamW<V>> = true;
}  // namespace detail

}  // namespace descent
