#pragma once
// descent: first-order optimizers on Eigen with torch.optim's semantics. Include this header for
// everything (optimizers, drivers, sampler, callbacks, check_gradient, layouts, parameter groups,
// learning-rate schedules, gradient clipping), or the header of one optimizer for just that. The
// test problems are in <descent/problems/problems.hpp>.

#include "descent/callbacks.hpp"
#include "descent/check_gradient.hpp"
#include "descent/clipping.hpp"
#include "descent/grouped.hpp"
#include "descent/layout.hpp"
#include "descent/minimize.hpp"
#include "descent/objective.hpp"
#include "descent/optimizer.hpp"
#include "descent/optimizers/adadelta.hpp"
#include "descent/optimizers/adagrad.hpp"
#include "descent/optimizers/adam.hpp"
#include "descent/optimizers/adamax.hpp"
#include "descent/optimizers/adamw.hpp"
#include "descent/optimizers/asgd.hpp"
#include "descent/optimizers/gradient_descent.hpp"
#include "descent/optimizers/lbfgs.hpp"
#include "descent/optimizers/lion.hpp"
#include "descent/optimizers/nadam.hpp"
#include "descent/optimizers/radam.hpp"
#include "descent/optimizers/rmsprop.hpp"
#include "descent/optimizers/rprop.hpp"
#include "descent/optimizers/schedule_free_adamw.hpp"
#include "descent/optimizers/schedule_free_sgd.hpp"
#include "descent/optimizers/sgd.hpp"
#include "descent/sampler.hpp"
#include "descent/scheduler.hpp"
#include "descent/stopping.hpp"
#include "descent/train.hpp"
