// Every learning-rate schedule of descent over 100 steps, from descent's own Scheduler: the lr
// (and, for CyclicLR and OneCycleLR, the momentum) after construction and after each step, as a
// CSV that tools/plot_schedules.py draws into docs/images/schedules.png:
//
//   schedules [--csv path]     (default: schedules.csv in the working directory)
//   /usr/bin/python3 tools/plot_schedules.py schedules.csv docs/images/schedules.png
//
// Exit code 0 only if every schedule's curve has the landmarks its formula promises.
#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <descent/descent.hpp>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::int64_t steps = 100;
constexpr double lr0 = 0.1;

struct Curve {
  std::string name;
  std::vector<double> lr, momentum;
};

// Binds `schedule` to an SGD with lr 0.1 and momentum 0.9 and records `steps` steps.
template <class S>
Curve record(const std::string& name, S schedule) {
  descent::SGD<Eigen::VectorXd> opt({.lr = lr0, .momentum = 0.9});
  descent::Scheduler sched(opt, std::move(schedule));
  Curve c{name, {opt.lr()}, {opt.momentum()}};
  for (std::int64_t t = 1; t < steps; ++t) {
    sched.step();
    c.lr.push_back(opt.lr());
    c.momentum.push_back(opt.momentum());
  }
  return c;
}

bool near(double a, double b) { return std::abs(a - b) <= 1e-12 * lr0; }

}  // namespace

int main(int argc, char** argv) {
  std::string path = "schedules.csv";
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string_view(argv[i]) == "--csv") path = argv[i + 1];

  std::vector<Curve> curves;
  curves.push_back(record("StepLR(step_size=30, gamma=0.5)", descent::StepLR{.step_size = 30, .gamma = 0.5}));
  curves.push_back(record("MultiStepLR(milestones=[20, 50, 50], gamma=0.5)",
                          descent::MultiStepLR{.milestones = {20, 50, 50}, .gamma = 0.5}));
  curves.push_back(record("ConstantLR(factor=0.5, total_iters=20)", descent::ConstantLR{.factor = 0.5, .total_iters = 20}));
  curves.push_back(record("LinearLR(start_factor=0.1, total_iters=40)",
                          descent::LinearLR{.start_factor = 0.1, .total_iters = 40}));
  curves.push_back(record("ExponentialLR(gamma=0.97)", descent::ExponentialLR{.gamma = 0.97}));
  curves.push_back(record("PolynomialLR(total_iters=80, power=2)", descent::PolynomialLR{.total_iters = 80, .power = 2.0}));
  curves.push_back(record("CosineAnnealingLR(T_max=40, eta_min=0.01)",
                          descent::CosineAnnealingLR{.T_max = 40, .eta_min = 0.01}));
  curves.push_back(record("CosineAnnealingWarmRestarts(T_0=10, T_mult=2)",
                          descent::CosineAnnealingWarmRestarts{.T_0 = 10, .T_mult = 2}));
  curves.push_back(record("CyclicLR(0.01, 0.1, step_size_up=15, Triangular2)",
                          descent::CyclicLR{.base_lr = 0.01, .max_lr = 0.1, .step_size_up = 15,
                                            .mode = descent::CyclicMode::Triangular2}));
  curves.push_back(record("OneCycleLR(max_lr=0.1, total_steps=100)", descent::OneCycleLR{.max_lr = 0.1, .total_steps = 100}));
  curves.push_back(record("LambdaLR(1 / (1 + 0.05 t))",
                          descent::LambdaLR{[](std::int64_t t) { return 1.0 / (1.0 + 0.05 * double(t)); }}));
  curves.push_back(record("MultiplicativeLR(0.98)", descent::MultiplicativeLR{[](std::int64_t) { return 0.98; }}));
  curves.push_back(record("SequentialLR(LinearLR warmup 10, CosineAnnealingLR T_max=90)",
                          descent::SequentialLR{{descent::LinearLR{.start_factor = 0.01, .total_iters = 10},
                                                 descent::CosineAnnealingLR{.T_max = 90}},
                                                {10}}));

  std::ofstream out(path);
  out << "schedule,step,lr,momentum\n";
  out.precision(17);
  for (const Curve& c : curves)
    for (std::size_t t = 0; t < c.lr.size(); ++t)
      out << '"' << c.name << "\"," << t << ',' << c.lr[t] << ',' << c.momentum[t] << '\n';
  out.close();
  std::cout << "wrote " << curves.size() << " schedules x " << steps << " steps to " << path << '\n';

  // Landmarks of each formula, from the recorded curves.
  std::vector<std::string> failures;
  const auto check = [&failures](bool ok, const std::string& what) {
    std::printf("  [%s] %s\n", ok ? "pass" : "FAIL", what.c_str());
    if (!ok) failures.push_back(what);
  };
  const auto& c = curves;
  check(near(c[0].lr[29], lr0) && near(c[0].lr[30], lr0 / 2) && near(c[0].lr[60], lr0 / 4), "StepLR halves at 30, 60");
  check(near(c[1].lr[49], lr0 / 2) && near(c[1].lr[50], lr0 / 8), "MultiStepLR counts the repeated milestone 50 twice");
  check(near(c[2].lr[19], lr0 / 2) && near(c[2].lr[20], lr0), "ConstantLR is back to the initial lr at total_iters");
  check(near(c[3].lr[0], lr0 / 10) && near(c[3].lr[40], lr0), "LinearLR warms up from 0.1 lr0 to lr0 in 40 steps");
  check(near(c[5].lr[80], 0.0) && near(c[5].lr[99], 0.0), "PolynomialLR reaches 0 at total_iters and stays");
  check(near(c[6].lr[40], 0.01) && near(c[6].lr[80], lr0), "CosineAnnealingLR reaches eta_min at T_max and climbs back");
  check(near(c[7].lr[10], lr0) && near(c[7].lr[30], lr0) && near(c[7].lr[70], lr0),
        "CosineAnnealingWarmRestarts restarts at 10, 30, 70 (T_mult = 2)");
  check(near(c[8].lr[15], 0.1) && near(c[8].lr[45], 0.055) && std::abs(c[8].momentum[15] - 0.8) < 1e-12,
        "CyclicLR peaks at 0.1, then 0.055 (Triangular2), momentum 0.8 at the peak");
  check(near(c[9].lr[0], 0.1 / 25) && near(c[9].lr[29], 0.1) && std::abs(c[9].momentum[29] - 0.85) < 1e-12,
        "OneCycleLR starts at max_lr / 25 and peaks at step 29 with momentum 0.85");
  check(near(c[12].lr[0], lr0 / 100) && near(c[12].lr[10], lr0) && near(c[12].lr[99], lr0 * (1 + std::cos(M_PI * 89 / 90)) / 2),
        "SequentialLR: warmup to lr0 at the milestone, then the cosine from its own step 0");
  std::cout << (failures.empty() ? "all checks passed\n" : "SOME CHECKS FAILED\n");
  return failures.empty() ? 0 : 1;
}
