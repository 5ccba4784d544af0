#pragma once
// Test problems for optimizers, each with its analytic gradient (check it with
// descent::check_gradient, in descent/check_gradient.hpp). All are class templates on the scalar
// type, `Scalar = double`, in namespace descent::problems:
//
//   Rosenbrock<S>(n)                                      minimizer() = (1, …, 1), minimum() = 0
//   Quadratic<S>(A, b), Quadratic<S>::ill_conditioned(n, κ, seed)   minimizer() = A⁻¹b, minimum()
//   LeastSquares<S>(X, b)                                 stochastic; solution(): min-norm least squares
//   LogisticRegression<S>(X, y, {.l2, .fit_intercept})    stochastic; labels y in {0, 1}; minimizer() by Newton
//   SoftmaxRegression<S>(X, y, K, {.l2, .fit_intercept})  stochastic; labels y in [0, K); minimizer() by Newton
//   SparseLogisticRegression<S>(X, y, {.l2, .fit_intercept})  stochastic; X a row-major SparseMatrix,
//                                                       one sample per ROW; sparse(): sparse minibatch
//                                                       gradients; minimizer() by Newton (small d)
//
// and the multimodal landscapes, each with global_minimizers(), the known local minima and
// nearest_minimizer(x), the known local minimizer (global or not) closest to x:
//
//   Himmelblau<S>()         2-D; four global minima, f = 0; no other local minimum
//   Beale<S>()              2-D; minimizer() = (3, 0.5), minimum() = 0; plateaus on x = 0 and y = 1
//   SixHumpCamel<S>()       2-D; two global minima, f = −1.0316285; four local ones (local_minimizers())
//   Ackley<S>()             2-D; minimizer() = 0 (a kink; ∇f(0) is taken as 0), minimum() = 0;
//                           a local minimum near every integer lattice point
//   Rastrigin<S>(n)         minimizer() = 0, minimum() = 0; a local minimum near every integer lattice point
//   StyblinskiTang<S>(n)    minimizer() = (−2.9035, …), minimum() = −39.166·n; 2ⁿ local minima
//
// Every problem is an Objective (`f(x, grad)` returns the loss and writes its gradient) and has
// `dimension()`, the number of parameters. The data-set problems are also StochasticObjectives:
// `size()` samples and `f(x, batch, grad)` returning the MEAN loss over the batch (any penalty
// added once) and writing the gradient of that mean; over the full index set it is the full loss.
//
// DATA LAYOUT: a data set is a d × m column-major matrix with the SAMPLES AS COLUMNS, so each
// sample is contiguous in memory and a minibatch is `samples(Eigen::all, batch)`, whole columns
// read in place. Constructors take that layout by value (move your matrix in); `from_rows(...)`
// takes the usual m × d layout, one sample per row, and transposes it once at construction.
//
// The problems keep small workspaces as mutable members (sized at the first call that needs them),
// so calls do not allocate; one object must therefore not be called from several threads at once
// (give each thread its own copy).

#include "descent/problems/ackley.hpp"
#include "descent/problems/beale.hpp"
#include "descent/problems/himmelblau.hpp"
#include "descent/problems/least_squares.hpp"
#include "descent/problems/logistic_regression.hpp"
#include "descent/problems/quadratic.hpp"
#include "descent/problems/rastrigin.hpp"
#include "descent/problems/rosenbrock.hpp"
#include "descent/problems/six_hump_camel.hpp"
#include "descent/problems/softmax_regression.hpp"
#include "descent/problems/sparse_logistic_regression.hpp"
#include "descent/problems/styblinski_tang.hpp"
