// Lion, ScheduleFreeAdamW and ScheduleFreeSGD (issue 11, "Beyond torch.optim"): replays of the
// independent numpy trajectories of tests/data/numpy_reference/ (written by
// tools/make_numpy_reference.py, which documents the file format and the formulas), defaults,
// option validation, the train/eval switch of the schedule-free pair, Grouped and Scheduler,
// checkpoints and convergence. The generic step, allocation and checkpoint tests run them through
// DESCENT_TEST_ALL_VARIANTS.

#include <catch2/catch.hpp>
#include <descent/descent.hpp>
#include <descent/problems/problems.hpp>

#include <Eigen/Core>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

// The checkpoint parts need <descent/checkpoint.hpp>'s dependencies (descent::checkpoint in CMake).
#if __has_include(<nlohmann/json.hpp>) && __has_include(<xxhash.h>)
#define DESCENT_TEST_CHECKPOINTS 1
#include <descent/checkpoint.hpp>
#else
#define DESCENT_TEST_CHECKPOINTS 0
#endif

#include "reference_io.hpp"

#ifndef DESCENT_TEST_DATA_DIR
#error "DESCENT_TEST_DATA_DIR must be defined as a string literal: the path of tests/data"
#endif

using Catch::Matchers::Contains;

namespace {

using V = Eigen::VectorXd;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

namespace reference = descent_test::reference;
using reference::IndexEntry;
using reference::relative_error;
using reference::to_vector;

const std::string kSource = "numpy reference data";
const std::string kReferenceDir = std::string(DESCENT_TEST_DATA_DIR) + "/numpy_reference";

// ---------------------------------------------------------------------------------------------
// Reading the numpy reference data.


struct Option {
  double value = 0.0;
  bool is_bool = false;
  bool is_explicit = false;  // set by the case; otherwise the reference's default
};

/// One line after 'initial', in file order: what the replay does and checks.
struct Event {
  enum Kind { SetLr, SetMomentum, Eval, Train, Grad, Params, X } kind;
  int t = 0;
  double value = 0.0;          // SetLr, SetMomentum
  std::vector<double> values;  // the others
};

struct ReferenceCase {
  std::string file, name, descent_class, dtype;
  int n = 0;
  int steps = 0;
  std::map<std::string, Option> options;
  std::vector<double> initial;  // float32 files are parsed as float, then widened exactly
  std::vector<Event> events;
};

[[noreturn]] void parse_error(const std::string& where, const std::string& what) {
  reference::parse_error(kSource, where, what);
}

std::vector<IndexEntry> read_index() {
  const std::string path = kReferenceDir + "/index.txt";
  INFO("index file: " << path << " (regenerate with: /usr/bin/python3 tools/make_numpy_reference.py)");
  return reference::read_index(kSource, path);
}

ReferenceCase read_case(const std::string& file) {
  const std::string path = kReferenceDir + "/" + file;
  std::ifstream in(path);
  if (!in.is_open()) parse_error(path, "cannot open");
  ReferenceCase c;
  c.file = file;
  std::string line;
  int number = 0;
  bool ended = false;
  int grads = 0, params = 0;
  auto values = [&](std::istringstream& words, const std::string& where) {
    if (c.dtype != "float64" && c.dtype != "float32") parse_error(where, "missing or unknown dtype");
    if (c.n <= 0 || c.steps <= 0) parse_error(where, "n and steps must come before the data");
    std::vector<double> v;
    std::string token;
    while (words >> token) v.push_back(reference::parse_number(kSource, token, c.dtype == "float32", where));
    if (int(v.size()) != c.n)
      parse_error(where, "expected " + std::to_string(c.n) + " values, found " + std::to_string(v.size()));
    return v;
  };
  const std::map<std::string, Event::Kind> kinds = {
      {"set_lr", Event::SetLr}, {"set_momentum", Event::SetMomentum}, {"eval", Event::Eval}, {"train", Event::Train},
      {"grad", Event::Grad},    {"params", Event::Params},            {"x", Event::X}};
  while (std::getline(in, line)) {
    ++number;
    const std::string where = path + ":" + std::to_string(number);
    if (line.empty() || line[0] == '#') continue;
    if (ended) parse_error(where, "data after 'end'");
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (number == 1) {
      if (line != "descent-numpy-reference 1") parse_error(where, "not a version 1 numpy reference file");
    } else if (key == "case") {
      words >> c.name;
    } else if (key == "descent") {
      words >> c.descent_class;
    } else if (key == "reference" || key == "numpy_version" || key == "seed") {
      // for humans
    } else if (key == "dtype") {
      words >> c.dtype;
    } else if (key == "n" || key == "steps") {
      std::string token;
      words >> token;
      (key == "n" ? c.n : c.steps) = reference::parse_int(kSource, token, where);
    } else if (key == "option") {
      std::string name, value, kind;
      if (!(words >> name >> value >> kind)) parse_error(where, "expected 'option <name> <value> <kind>'");
      Option o;
      o.is_bool = value == "true" || value == "false";
      o.value = o.is_bool ? (value == "true" ? 1.0 : 0.0) : reference::parse_number(kSource, value, false, where);
      if (kind != "explicit" && kind != "default") parse_error(where, "option kind must be explicit or default");
      o.is_explicit = kind == "explicit";
      if (!c.options.emplace(name, o).second) parse_error(where, "option " + name + " given twice");
    } else if (key == "initial") {
      c.initial = values(words, where);
    } else if (kinds.count(key)) {
      Event e{kinds.at(key), 0, 0.0, {}};
      std::string token;
      words >> token;
      e.t = reference::parse_int(kSource, token, where);
      if (e.kind == Event::SetLr || e.kind == Event::SetMomentum) {
        words >> token;
        e.value = reference::parse_number(kSource, token, false, where);
      } else {
        e.values = values(words, where);
      }
      if (e.kind == Event::Grad && e.t != ++grads) parse_error(where, "grad of step " + token + " out of order");
      if (e.kind == Event::Params && e.t != ++params) parse_error(where, "params out of order");
      if (e.kind == Event::Params && grads != params) parse_error(where, "params before its grad");
      c.events.push_back(std::move(e));
    } else if (key == "end") {
      ended = true;
    } else {
      parse_error(where, "unknown line '" + key + "'");
    }
  }
  if (!ended) parse_error(path, "truncated (no 'end' line)");
  if (int(c.initial.size()) != c.n) parse_error(path, "missing initial parameters");
  if (grads != c.steps || params != c.steps)
    parse_error(path, "expected " + std::to_string(c.steps) + " steps, found " + std::to_string(params));
  if (c.name + ".txt" != file) parse_error(path, "case name '" + c.name + "' does not match the file name");
  return c;
}

/// Sets option fields from a case: explicit ones from the file, the others must equal descent's
/// defaults (so the trajectories also test that the defaults are the reference's).
class OptionReader {
 public:
  explicit OptionReader(const ReferenceCase& c) : c_(c) {}

  void field(double& f, const std::string& key) {
    const Option& o = lookup(key, false);
    set(f, o.value, key, o.is_explicit);
  }
  void field(std::int64_t& f, const std::string& key) {
    const Option& o = lookup(key, false);
    REQUIRE(o.value == std::floor(o.value));
    set(f, std::int64_t(o.value), key, o.is_explicit);
  }
  void field(bool& f, const std::string& key) {
    const Option& o = lookup(key, true);
    set(f, o.value != 0.0, key, o.is_explicit);
  }
  void finish() const {
    for (const auto& [key, option] : c_.options) {
      INFO("case " << c_.name << ": option '" << key << "' is not a field of descent::" << c_.descent_class
                   << "'s options");
      CHECK(used_.count(key) == 1);
    }
  }

 private:
  const Option& lookup(const std::string& key, bool is_bool) {
    const auto it = c_.options.find(key);
    if (it == c_.options.end()) parse_error(c_.file, "option '" + key + "' is missing");
    if (it->second.is_bool != is_bool) parse_error(c_.file, "option '" + key + "' has the wrong type");
    used_.insert(key);
    return it->second;
  }
  template <class T>
  void set(T& f, T value, const std::string& key, bool is_explicit) {
    if (is_explicit) {
      f = value;
      return;
    }
    INFO("case " << c_.name << ": descent::" << c_.descent_class << "'s default " << key
                 << " differs from the reference's");
    CHECK(f == value);
  }

  const ReferenceCase& c_;
  std::set<std::string> used_;
};

descent::LionOptions lion_options(const ReferenceCase& c) {
  descent::LionOptions o{};
  OptionReader r(c);
  r.field(o.lr, "lr");
  r.field(o.beta1, "beta1");
  r.field(o.beta2, "beta2");
  r.field(o.weight_decay, "weight_decay");
  r.field(o.maximize, "maximize");
  r.finish();
  return o;
}

descent::ScheduleFreeAdamWOptions sf_adamw_options(const ReferenceCase& c) {
  descent::ScheduleFreeAdamWOptions o{};
  OptionReader r(c);
  r.field(o.lr, "lr");
  r.field(o.beta1, "beta1");
  r.field(o.beta2, "beta2");
  r.field(o.eps, "eps");
  r.field(o.weight_decay, "weight_decay");
  r.field(o.warmup_steps, "warmup_steps");
  r.field(o.r, "r");
  r.field(o.weight_lr_power, "weight_lr_power");
  r.finish();
  return o;
}

descent::ScheduleFreeSGDOptions sf_sgd_options(const ReferenceCase& c) {
  descent::ScheduleFreeSGDOptions o{};
  OptionReader r(c);
  r.field(o.lr, "lr");
  r.field(o.momentum, "momentum");
  r.field(o.weight_decay, "weight_decay");
  r.field(o.warmup_steps, "warmup_steps");
  r.field(o.r, "r");
  r.field(o.weight_lr_power, "weight_lr_power");
  r.finish();
  return o;
}

template <class O>
concept ScheduleFree = descent::EvalModeOptimizer<O, typename O::Vector>;

/// The worst relative error per optimizer and dtype over every replayed case, reported at the end.
std::map<std::string, double>& worst_errors() {
  static std::map<std::string, double> worst;
  return worst;
}

/// Replays the case on `x` (a V or a Map over a buffer), checking every recorded vector; returns
/// the worst relative error. `trajectory` receives x after every event (for a bitwise comparison
/// between holders).
template <class O, class X>
double replay(const ReferenceCase& c, O opt, X& x, std::vector<std::vector<double>>& trajectory) {
  using Scalar = typename O::Scalar;
  const double tolerance = std::is_same_v<Scalar, float> ? 1e-5 : 1e-10;
  for (int i = 0; i < c.n; ++i) x[i] = Scalar(c.initial[std::size_t(i)]);
  typename O::Vector g(c.n);
  double worst = 0.0;
  auto check = [&](const auto& values, const Event& e, const char* what) {
    const double err = relative_error(values, e.values);
    worst = std::max(worst, err);
    if (!(err <= tolerance)) {
      INFO("case " << c.name << ": " << what << " of step " << e.t << ": relative error " << err << " > "
                   << tolerance);
      CHECK(err <= tolerance);
    }
  };
  for (const Event& e : c.events) {
    switch (e.kind) {
      case Event::SetLr:
        opt.set_lr(e.value);
        break;
      case Event::SetMomentum:
        opt.set_momentum(e.value);
        break;
      case Event::Grad:
        for (int i = 0; i < c.n; ++i) g[i] = Scalar(e.values[std::size_t(i)]);
        opt.step(x, g);
        break;
      case Event::Params:
        check(x, e, "params");
        break;
      case Event::Eval:
      case Event::Train:
      case Event::X:
        if constexpr (ScheduleFree<O>) {
          if (e.kind == Event::Eval) {
            opt.eval(x);
            CHECK_FALSE(opt.training());
            check(x, e, "params after eval()");
          } else if (e.kind == Event::Train) {
            opt.train(x);
            CHECK(opt.training());
            check(x, e, "params after train()");
          } else {  // the average x now, from a copy of the optimizer
            auto probe = opt;
            typename O::Vector average = x;
            probe.eval(average);
            check(average, e, "x");
          }
        } else {
          FAIL("case " << c.name << ": eval, train and x lines are for schedule-free optimizers");
        }
        break;
    }
    std::vector<double> now(std::size_t(c.n));
    for (int i = 0; i < c.n; ++i) now[std::size_t(i)] = double(x[i]);
    trajectory.push_back(std::move(now));
  }
  CHECK(opt.steps() == c.steps);
  return worst;
}

template <class VX, class O>
void verify(const ReferenceCase& c, const O& fresh) {
  std::vector<std::vector<double>> plain, mapped;
  VX x(c.n);
  const double worst = replay(c, fresh, x, plain);
  // again through a Map over a buffer, one element in (packets not aligned to the buffer): bitwise the same
  std::vector<typename VX::Scalar> buffer(std::size_t(c.n + 1));
  Eigen::Map<VX> view(buffer.data() + 1, c.n);
  replay(c, fresh, view, mapped);
  CHECK(plain == mapped);
  double& w = worst_errors()[c.descent_class + " " + c.dtype];
  w = std::max(w, worst);
}

template <class VX>
void run_case(const ReferenceCase& c) {
  if (c.descent_class == "Lion")
    verify<VX>(c, descent::Lion<VX>(lion_options(c)));
  else if (c.descent_class == "ScheduleFreeAdamW")
    verify<VX>(c, descent::ScheduleFreeAdamW<VX>(sf_adamw_options(c)));
  else if (c.descent_class == "ScheduleFreeSGD")
    verify<VX>(c, descent::ScheduleFreeSGD<VX>(sf_sgd_options(c)));
  else
    FAIL("case " << c.name << ": unknown descent class '" << c.descent_class << "'");
}

/// Cases per family and dtype written by tools/make_numpy_reference.py.
const std::map<std::string, std::size_t> kExpectedPerDtype = {
    {"Lion", 7}, {"ScheduleFreeAdamW", 11}, {"ScheduleFreeSGD", 10}};

void run_family(const std::string& family) {
  const std::vector<IndexEntry> index = read_index();
  std::size_t f64 = 0, f32 = 0;
  for (const auto& e : index) {
    if (e.family != family) continue;
    (e.dtype == "float64" ? f64 : f32) += 1;
    const ReferenceCase c = read_case(e.file);
    REQUIRE(c.descent_class == family);
    REQUIRE(c.dtype == e.dtype);
    if (c.dtype == "float64")
      run_case<Eigen::VectorXd>(c);
    else
      run_case<Eigen::VectorXf>(c);
  }
  CHECK(f64 == kExpectedPerDtype.at(family));
  CHECK(f32 == kExpectedPerDtype.at(family));
  for (const char* dtype : {"float64", "float32"}) {
    const std::string key = family + " " + dtype;
    WARN("numpy reference: worst relative error of " << key << " over its cases and steps: "
                                                     << worst_errors()[key]);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers of the other tests.

// The message names the options struct, the field and the offending value.
template <class Make>
void require_rejected(Make make, const std::string& options, const std::string& field, const std::string& value) {
  INFO(options << "." << field << " = " << value);
  try {
    make();
    FAIL("no exception for " << field << " = " << value);
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    INFO("message: " << what);
    CHECK(what.find("descent::" + options) != std::string::npos);
    CHECK(what.find("invalid " + field + " = " + value) != std::string::npos);
  }
}

// A deterministic, noise-free gradient of ½ Σ a_i (x_i − c_i)², a_i in [0.5, 2].
V quadratic_gradient(const V& x) {
  V g(x.size());
  for (Eigen::Index i = 0; i < x.size(); ++i)
    g[i] = (0.5 + 1.5 * double(i) / double(x.size())) * (x[i] - std::sin(double(i)));
  return g;
}

V start(Eigen::Index n) {
  V x(n);
  for (Eigen::Index i = 0; i < n; ++i) x[i] = 2.0 * std::cos(1.7 * double(i));
  return x;
}

#if DESCENT_TEST_CHECKPOINTS
std::string bytes_of(const descent::Checkpoint& ck) {
  std::stringstream out(std::ios::in | std::ios::out | std::ios::binary);
  ck.save(out);
  return out.str();
}
descent::Checkpoint round_trip(const descent::Checkpoint& ck) {
  std::stringstream bytes(bytes_of(ck), std::ios::in | std::ios::out | std::ios::binary);
  return descent::Checkpoint::load(bytes);
}
template <class T>
std::string state_of(const T& x) {
  descent::Checkpoint ck;
  ck.put("x", x);
  return bytes_of(ck);
}
#endif

}  // namespace

// ---- the numpy reference trajectories --------------------------------------------------------

TEST_CASE("modern: numpy reference index", "[modern]") {
  const std::vector<IndexEntry> index = read_index();
  std::size_t expected = 0;
  for (const auto& [family, count] : kExpectedPerDtype) expected += 2 * count;
  CHECK(index.size() == expected);
  std::set<std::string> files;
  for (const auto& e : index) {
    INFO("index entry " << e.file);
    CHECK(kExpectedPerDtype.count(e.family) == 1);
    CHECK((e.dtype == "float64" || e.dtype == "float32"));
    CHECK(files.insert(e.file).second);
  }
}

TEST_CASE("modern: numpy reference, Lion", "[modern]") { run_family("Lion"); }
TEST_CASE("modern: numpy reference, ScheduleFreeAdamW", "[modern]") { run_family("ScheduleFreeAdamW"); }
TEST_CASE("modern: numpy reference, ScheduleFreeSGD", "[modern]") { run_family("ScheduleFreeSGD"); }

// ---- defaults, validation, momentum ------------------------------------------------------------

TEST_CASE("modern: defaults are the papers' and the reference code's", "[modern]") {
  const descent::LionOptions l;
  CHECK(l.lr == 1e-4);
  CHECK(l.beta1 == 0.9);
  CHECK(l.beta2 == 0.99);
  CHECK(l.weight_decay == 0.0);
  CHECK_FALSE(l.maximize);
  const descent::ScheduleFreeAdamWOptions a;
  CHECK(a.lr == 0.0025);
  CHECK(a.beta1 == 0.9);
  CHECK(a.beta2 == 0.999);
  CHECK(a.eps == 1e-8);
  CHECK(a.weight_decay == 0.0);
  CHECK(a.warmup_steps == 0);
  CHECK(a.r == 0.0);
  CHECK(a.weight_lr_power == 2.0);
  const descent::ScheduleFreeSGDOptions s;
  CHECK(s.lr == 1.0);
  CHECK(s.momentum == 0.9);
  CHECK(s.weight_decay == 0.0);
  CHECK(s.warmup_steps == 0);
  CHECK(s.r == 0.0);
  CHECK(s.weight_lr_power == 2.0);

  // field order: designated initializers in declaration order compile
  [[maybe_unused]] const descent::LionOptions l2{.lr = 0.1, .beta1 = 0.5, .beta2 = 0.9, .weight_decay = 0.1,
                                                 .maximize = true};
  [[maybe_unused]] const descent::ScheduleFreeAdamWOptions a2{.lr = 0.1, .beta1 = 0.5, .beta2 = 0.9, .eps = 1e-6,
                                                              .weight_decay = 0.1, .warmup_steps = 3, .r = 1.0,
                                                              .weight_lr_power = 1.0};
  [[maybe_unused]] const descent::ScheduleFreeSGDOptions s2{
      .lr = 0.1, .momentum = 0.5, .weight_decay = 0.1, .warmup_steps = 3, .r = 1.0, .weight_lr_power = 1.0};

  STATIC_REQUIRE(descent::Optimizer<descent::Lion<V>, V>);
  STATIC_REQUIRE(descent::Optimizer<descent::ScheduleFreeAdamW<V>, V>);
  STATIC_REQUIRE(descent::Optimizer<descent::ScheduleFreeSGD<V>, V>);
  STATIC_REQUIRE(descent::LearningRateControl<descent::Lion<V>>);
  STATIC_REQUIRE(descent::LearningRateControl<descent::ScheduleFreeAdamW<V>>);
  STATIC_REQUIRE(descent::LearningRateControl<descent::ScheduleFreeSGD<V>>);
  STATIC_REQUIRE(descent::detail::HasMomentum<descent::Lion<V>>);
  STATIC_REQUIRE(descent::detail::HasMomentum<descent::ScheduleFreeAdamW<V>>);
  STATIC_REQUIRE(descent::detail::HasMomentum<descent::ScheduleFreeSGD<V>>);
  STATIC_REQUIRE(descent::detail::HasMomentum<descent::Grouped<descent::ScheduleFreeSGD<V>>>);
}

TEST_CASE("modern: invalid options are rejected with the field and the value", "[modern]") {
  using LO = descent::LionOptions;
  using Lion = descent::Lion<V>;
  require_rejected([] { Lion(LO{.lr = -0.1}); }, "LionOptions", "lr", "-0.10000000000000001");
  require_rejected([] { Lion(LO{.lr = kNaN}); }, "LionOptions", "lr", "nan");
  require_rejected([] { Lion(LO{.beta1 = 1.0}); }, "LionOptions", "beta1", "1");
  require_rejected([] { Lion(LO{.beta1 = -0.5}); }, "LionOptions", "beta1", "-0.5");
  require_rejected([] { Lion(LO{.beta2 = 1.0}); }, "LionOptions", "beta2", "1");
  require_rejected([] { Lion(LO{.beta2 = kNaN}); }, "LionOptions", "beta2", "nan");
  require_rejected([] { Lion(LO{.weight_decay = -1.0}); }, "LionOptions", "weight_decay", "-1");
  require_rejected([] { Lion(LO{.weight_decay = kInf}); }, "LionOptions", "weight_decay", "inf");
  require_rejected([] { descent::Lion<Eigen::VectorXf>(LO{.lr = 1e39}); }, "LionOptions", "lr",
                   "9.9999999999999994e+38");
  require_rejected([] { descent::Lion<Eigen::VectorXf>(LO{.lr = 1e20, .weight_decay = 1e20}); }, "LionOptions",
                   "lr * weight_decay", "1e+40");
  CHECK_NOTHROW(Lion(LO{.lr = 0.0, .beta1 = 0.0, .beta2 = 0.0}));

  using AO = descent::ScheduleFreeAdamWOptions;
  using SFA = descent::ScheduleFreeAdamW<V>;
  require_rejected([] { SFA(AO{.lr = -1.0}); }, "ScheduleFreeAdamWOptions", "lr", "-1");
  require_rejected([] { SFA(AO{.lr = kInf}); }, "ScheduleFreeAdamWOptions", "lr", "inf");
  require_rejected([] { SFA(AO{.beta1 = 0.0}); }, "ScheduleFreeAdamWOptions", "beta1", "0");
  require_rejected([] { SFA(AO{.beta1 = 1.0}); }, "ScheduleFreeAdamWOptions", "beta1", "1");
  require_rejected([] { SFA(AO{.beta2 = 1.0}); }, "ScheduleFreeAdamWOptions", "beta2", "1");
  require_rejected([] { SFA(AO{.beta2 = -0.1}); }, "ScheduleFreeAdamWOptions", "beta2", "-0.10000000000000001");
  require_rejected([] { SFA(AO{.eps = -1e-8}); }, "ScheduleFreeAdamWOptions", "eps", "-1e-08");
  require_rejected([] { SFA(AO{.weight_decay = kNaN}); }, "ScheduleFreeAdamWOptions", "weight_decay", "nan");
  require_rejected([] { SFA(AO{.warmup_steps = -1}); }, "ScheduleFreeAdamWOptions", "warmup_steps", "-1");
  require_rejected([] { SFA(AO{.r = -1.0}); }, "ScheduleFreeAdamWOptions", "r", "-1");
  require_rejected([] { SFA(AO{.r = kInf}); }, "ScheduleFreeAdamWOptions", "r", "inf");
  require_rejected([] { SFA(AO{.weight_lr_power = kNaN}); }, "ScheduleFreeAdamWOptions", "weight_lr_power", "nan");
  require_rejected([] { descent::ScheduleFreeAdamW<Eigen::VectorXf>(AO{.eps = 1e40}); }, "ScheduleFreeAdamWOptions",
                   "eps", "1e+40");
  CHECK_NOTHROW(SFA(AO{.lr = 0.0, .beta2 = 0.0, .eps = 0.0, .weight_lr_power = 0.0}));

  using SO = descent::ScheduleFreeSGDOptions;
  using SFS = descent::ScheduleFreeSGD<V>;
  require_rejected([] { SFS(SO{.lr = -1.0}); }, "ScheduleFreeSGDOptions", "lr", "-1");
  require_rejected([] { SFS(SO{.momentum = 0.0}); }, "ScheduleFreeSGDOptions", "momentum", "0");
  require_rejected([] { SFS(SO{.momentum = 1.0}); }, "ScheduleFreeSGDOptions", "momentum", "1");
  require_rejected([] { SFS(SO{.momentum = kNaN}); }, "ScheduleFreeSGDOptions", "momentum", "nan");
  require_rejected([] { SFS(SO{.weight_decay = -0.5}); }, "ScheduleFreeSGDOptions", "weight_decay", "-0.5");
  require_rejected([] { SFS(SO{.warmup_steps = -3}); }, "ScheduleFreeSGDOptions", "warmup_steps", "-3");
  require_rejected([] { SFS(SO{.r = kNaN}); }, "ScheduleFreeSGDOptions", "r", "nan");
  require_rejected([] { SFS(SO{.weight_lr_power = -2.0}); }, "ScheduleFreeSGDOptions", "weight_lr_power", "-2");
  require_rejected([] { descent::ScheduleFreeSGD<Eigen::VectorXf>(SO{.weight_decay = 1e39}); },
                   "ScheduleFreeSGDOptions", "weight_decay", "9.9999999999999994e+38");

  // set_lr and set_momentum validate and keep the old value on a refusal
  Lion lion({.lr = 0.1});
  require_rejected([&] { lion.set_lr(-1.0); }, "LionOptions", "lr", "-1");
  require_rejected([&] { lion.set_momentum(1.0); }, "LionOptions", "beta1", "1");
  CHECK(lion.lr() == 0.1);
  CHECK(lion.momentum() == 0.9);
  lion.set_momentum(0.5);
  CHECK(lion.options().beta1 == 0.5);
  SFA sfa;
  require_rejected([&] { sfa.set_lr(kNaN); }, "ScheduleFreeAdamWOptions", "lr", "nan");
  require_rejected([&] { sfa.set_momentum(0.0); }, "ScheduleFreeAdamWOptions", "beta1", "0");
  CHECK(sfa.lr() == 0.0025);
  CHECK(sfa.momentum() == 0.9);
  sfa.set_momentum(0.95);
  CHECK(sfa.options().beta1 == 0.95);
  SFS sfs;
  require_rejected([&] { sfs.set_lr(-2.0); }, "ScheduleFreeSGDOptions", "lr", "-2");
  require_rejected([&] { sfs.set_momentum(1.0); }, "ScheduleFreeSGDOptions", "momentum", "1");
  CHECK(sfs.lr() == 1.0);
  CHECK(sfs.momentum() == 0.9);
  sfs.set_lr(0.5);
  CHECK(sfs.options().lr == 0.5);
}

// ---- Lion by hand ------------------------------------------------------------------------------

TEST_CASE("modern: Lion steps by lr times the sign of the interpolation, sign(0) = 0", "[modern]") {
  using V3 = Eigen::Vector3d;
  descent::Lion<V3> opt({.lr = 0.1, .beta1 = 0.5, .beta2 = 0.75, .weight_decay = 2.0});
  V3 x(1.0, -1.0, 0.5);
  opt.step(x, V3(2.0, -3.0, 0.0));
  // decay by 1 - 0.1 * 2 = 0.8 first; c = 0.5 * g (m = 0): signs +, -, 0
  CHECK(x(0) == 0.8 - 0.1);
  CHECK(x(1) == -0.8 + 0.1);
  CHECK(x(2) == 0.4);  // c = 0: no move but the decay
  CHECK(opt.first_moment() == V3(0.5, -0.75, 0.0));
  // next: c = 0.5 * m + 0.5 * g with g = (-1, 1.5, 0): c = (−0.25, 0.375, 0); m = 0.75 m + 0.25 g
  opt.step(x, V3(-1.0, 1.5, 0.0));
  CHECK(x(0) == Approx(0.7 * 0.8 + 0.1).epsilon(1e-15));
  CHECK(x(1) == Approx(-0.7 * 0.8 - 0.1).epsilon(1e-15));
  CHECK(opt.first_moment()(0) == 0.75 * 0.5 - 0.25);
  CHECK(opt.steps() == 2);

  // maximize negates g; NaN in c gives sign 0 (torch.sign): the coefficient stays, m is NaN
  descent::Lion<V3> up({.lr = 0.25, .maximize = true});
  V3 y = V3::Zero();
  up.step(y, V3(1.0, -1.0, kNaN));
  CHECK(y == V3(0.25, -0.25, 0.0));
  CHECK(std::isnan(up.first_moment()(2)));

  // every lane of a packet and the scalar tail agree: a vector of 37 with each sign in every lane
  Eigen::VectorXf z = Eigen::VectorXf::Zero(37), g(37);
  for (int i = 0; i < 37; ++i) g[i] = float(i % 3) - 1.0f;  // -1, 0, 1, ...
  descent::Lion<Eigen::VectorXf> lanes({.lr = 0.5f});
  lanes.step(z, g);
  for (int i = 0; i < 37; ++i) CHECK(z[i] == -0.5f * g[i]);
}

// ---- the schedule-free train/eval switch ---------------------------------------------------------

TEMPLATE_TEST_CASE("modern: eval gives the average x, train gives y back, step in eval mode throws", "[modern]",
                   descent::ScheduleFreeAdamW<Eigen::VectorXd>, descent::ScheduleFreeSGD<Eigen::VectorXd>,
                   descent::ScheduleFreeAdamW<Eigen::VectorXf>, descent::ScheduleFreeSGD<Eigen::VectorXf>) {
  using O = TestType;
  using VX = typename O::Vector;
  using S = typename O::Scalar;
  using Options = typename O::Options;
  constexpr bool adam = std::is_same_v<Options, descent::ScheduleFreeAdamWOptions>;
  Options o{};
  o.lr = adam ? 0.05 : 0.2;
  o.weight_lr_power = 0.0;  // uniform weights (r = 0, no warmup): x is the plain mean of the z's
  O opt(o);
  const Eigen::Index n = 13;
  VX x = start(n).cast<S>();
  const VX x0 = x;

  SECTION("x is the mean of the z's after each step") {
    V mean = V::Zero(n);  // in double
    const int steps = 40;
    for (int t = 1; t <= steps; ++t) {
      opt.step(x, quadratic_gradient(x.template cast<double>()).template cast<S>());
      mean += opt.z().template cast<double>();
      CHECK(opt.weight_sum() == double(t));
      CHECK(opt.lr_max() > 0.0);
    }
    mean /= double(steps);
    opt.eval(x);
    const double scale = mean.cwiseAbs().maxCoeff();
    const double tol = std::is_same_v<S, float> ? 1e-5 : 1e-12;
    CHECK((x.template cast<double>() - mean).cwiseAbs().maxCoeff() / scale <= tol);
    // y = (1 - beta)·z + beta·x: the identity eval inverts
    opt.train(x);
    const double beta = opt.momentum();
    const V y = (1.0 - beta) * opt.z().template cast<double>() + beta * mean;
    CHECK((x.template cast<double>() - y).cwiseAbs().maxCoeff() / scale <= tol);
  }

  SECTION("eval then train restores y to within a few ulps") {
    for (int t = 0; t < 25; ++t) opt.step(x, quadratic_gradient(x.template cast<double>()).template cast<S>());
    const VX y = x;
    opt.eval(x);
    CHECK_FALSE(opt.training());
    CHECK((x.array() != y.array()).any());
    opt.eval(x);  // already in eval mode: nothing
    const VX held = x;
    opt.eval(x);
    CHECK((x.array() == held.array()).all());
    opt.train(x);
    CHECK(opt.training());
    // not bitwise in general (two roundings through z); the bound is in ulps of max(|y|, |z|)
    double ulps = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const double unit = std::numeric_limits<S>::epsilon() * std::max(std::abs(double(y[i])), std::abs(double(opt.z()[i])));
      ulps = std::max(ulps, std::abs(double(x[i]) - double(y[i])) / unit);
    }
    INFO("eval then train moved y by " << ulps << " ulps");
    CHECK(ulps <= 2.0);  // measured: at most ~1.5 ulps for beta = 0.9 (the error grows like 1/beta)
    opt.train(x);  // already in train mode: nothing
    CHECK(opt.training());
  }

  SECTION("step in eval mode throws std::logic_error and changes nothing") {
    for (int t = 0; t < 3; ++t) opt.step(x, quadratic_gradient(x.template cast<double>()).template cast<S>());
    opt.eval(x);
    const VX held = x;
    const O before = opt;
    CHECK_THROWS_AS(opt.step(x, VX::Ones(n)), std::logic_error);
    CHECK_THROWS_WITH(opt.step(x, VX::Ones(n)), Contains("eval mode") && Contains("train(params)"));
    CHECK((x.array() == held.array()).all());
    CHECK(opt.steps() == 3);
    CHECK(opt.z() == before.z());
    CHECK(opt.weight_sum() == before.weight_sum());
    CHECK(opt.lr_max() == before.lr_max());
    // eval/train of another shape: invalid_argument, nothing changes
    VX other = VX::Ones(n + 1);
    CHECK_THROWS_WITH(opt.train(other), Contains("::train: params is 14x1 but the optimizer's state is 13x1"));
    CHECK_FALSE(opt.training());
    CHECK((other.array() == S(1)).all());
    opt.train(x);
    opt.step(x, VX::Ones(n));
    CHECK(opt.steps() == 4);
  }

  SECTION("before the first step eval and train only switch the mode, and step in eval mode throws") {
    opt.eval(x);
    CHECK_FALSE(opt.training());
    CHECK((x.array() == x0.array()).all());
    CHECK_THROWS_AS(opt.step(x, VX::Ones(n)), std::logic_error);
    CHECK(opt.steps() == 0);
    opt.train(x);
    CHECK(opt.training());
    CHECK((x.array() == x0.array()).all());
  }

  SECTION("reset in eval mode returns to train mode: the next step is a first step from what x holds") {
    for (int t = 0; t < 5; ++t) opt.step(x, quadratic_gradient(x.template cast<double>()).template cast<S>());
    opt.eval(x);
    opt.reset();
    CHECK(opt.training());
    CHECK(opt.steps() == 0);
    CHECK(opt.weight_sum() == 0.0);
    CHECK(opt.lr_max() == -1.0);
    O fresh(o);
    VX a = x, b = x;
    for (int t = 0; t < 5; ++t) {
      opt.step(a, quadratic_gradient(a.template cast<double>()).template cast<S>());
      fresh.step(b, quadratic_gradient(b.template cast<double>()).template cast<S>());
    }
    CHECK((a.array() == b.array()).all());
  }

  SECTION("any holder: a strided map and a reversed view switch like the plain vector") {
    for (int t = 0; t < 6; ++t) opt.step(x, quadratic_gradient(x.template cast<double>()).template cast<S>());
    O copy1 = opt, copy2 = opt;
    std::vector<S> buffer(std::size_t(2 * n), S(-5));
    Eigen::Map<VX, 0, Eigen::InnerStride<2>> strided(buffer.data(), n);
    strided = x;
    VX reversed = x.reverse();
    opt.eval(x);
    copy1.eval(strided);
    copy2.eval(reversed.reverse());
    CHECK((VX(strided).array() == x.array()).all());
    CHECK((VX(reversed.reverse()).array() == x.array()).all());
    CHECK(buffer[1] == S(-5));
  }
}

TEST_CASE("modern: a changed momentum moves the x implied by y, as the reference", "[modern]") {
  descent::ScheduleFreeSGD<V> opt({.lr = 0.2}), twin({.lr = 0.2});
  V x = start(5), y = start(5);
  for (int t = 0; t < 10; ++t) {
    opt.step(x, quadratic_gradient(x));
    twin.step(y, quadratic_gradient(y));
  }
  // in train mode the parameters keep y; x = (y − (1 − beta)·z) / beta with the new beta
  opt.set_momentum(0.5);
  V average = x;
  opt.eval(average);
  const V expected = (x - 0.5 * opt.z()) / 0.5;
  CHECK((average - expected).cwiseAbs().maxCoeff() <= 1e-12 * expected.cwiseAbs().maxCoeff());
  // while in eval mode, the parameters keep x, and train() forms y with the beta of that moment
  V xt = y;
  twin.eval(xt);
  const V x_before = xt;
  twin.set_momentum(0.5);
  twin.train(xt);
  const V y_expected = 0.5 * twin.z() + 0.5 * x_before;
  CHECK((xt - y_expected).cwiseAbs().maxCoeff() <= 1e-12 * y_expected.cwiseAbs().maxCoeff());
}

TEST_CASE("modern: warmup, lr_max and weight_sum follow the reference's bookkeeping", "[modern]") {
  descent::ScheduleFreeAdamW<V> opt({.lr = 0.1, .beta2 = 0.99, .warmup_steps = 4, .r = 1.0, .weight_lr_power = 2.0});
  V x = start(3);
  double lr_max = -1.0, weight_sum = 0.0;
  for (int k = 0; k < 8; ++k) {
    if (k == 6) opt.set_lr(0.01);  // lower: lr_max keeps the peak
    const double sched = k < 4 ? double(k + 1) / 4.0 : 1.0;
    const double lr_t = opt.lr() * sched * std::sqrt(1.0 - std::pow(0.99, double(k + 1)));
    lr_max = std::max(lr_max, lr_t);
    weight_sum += double(k + 1) * lr_max * lr_max;
    opt.step(x, quadratic_gradient(x));
    INFO("step " << k + 1);
    CHECK(opt.lr_max() == lr_max);
    CHECK(opt.weight_sum() == Approx(weight_sum).epsilon(1e-15));
  }
  CHECK(opt.lr_max() == Approx(0.1 * std::sqrt(1.0 - std::pow(0.99, 6.0))));

  // lr = 0: weight_sum stays 0 and c = 0 (the reference's ZeroDivisionError): nothing moves
  descent::ScheduleFreeSGD<V> still({.lr = 0.0});
  V y = start(3);
  const V y0 = y;
  for (int t = 0; t < 3; ++t) still.step(y, quadratic_gradient(y));
  CHECK(y == y0);
  CHECK(still.weight_sum() == 0.0);
  CHECK(still.lr_max() == 0.0);
  CHECK(still.z() == y0);
}

// ---- Grouped, Scheduler, drivers -------------------------------------------------------------------

TEMPLATE_TEST_CASE("modern: Grouped + OneCycleLR equals one optimizer per block with its own scheduler", "[modern]",
                   descent::Lion<Eigen::VectorXd>, descent::ScheduleFreeAdamW<Eigen::VectorXd>,
                   descent::ScheduleFreeSGD<Eigen::VectorXf>) {
  using O = TestType;
  using VX = typename O::Vector;
  using S = typename O::Scalar;
  using Options = typename O::Options;
  Options first{}, second{};
  first.weight_decay = 0.0;
  second.weight_decay = 0.01;
  const std::vector<descent::Block> a{{"a", 0, 4, 1}}, b{{"b", 4, 3, 1}};
  const descent::OneCycleLR cycle{.max_lr = std::is_same_v<Options, descent::ScheduleFreeSGDOptions> ? 0.2 : 0.02,
                                  .total_steps = 20};
  descent::Grouped<O> grouped({{a, first}, {b, second}});
  descent::Scheduler sched(grouped, cycle);
  O one(first), two(second);
  descent::Scheduler s1(one, cycle), s2(two, cycle);
  VX x = start(7).cast<S>(), y = x;
  for (int t = 0; t < 19; ++t) {
    CHECK(grouped.momentum(1) == two.momentum());
    CHECK(grouped.lr(0) == one.lr());
    grouped.step(x, quadratic_gradient(x.template cast<double>()).template cast<S>());
    const VX g = quadratic_gradient(y.template cast<double>()).template cast<S>();
    one.step(y.head(4), g.head(4));
    two.step(y.tail(3), g.tail(3));
    sched.step();
    s1.step();
    s2.step();
  }
  CHECK(one.momentum() != 0.9);  // cycled
  CHECK((x.array() == y.array()).all());  // bitwise
  if constexpr (ScheduleFree<O>) {
    // the blocks switch together, each like its own optimizer
    CHECK(grouped.training());
    grouped.eval(x);
    one.eval(y.head(4));
    two.eval(y.tail(3));
    CHECK_FALSE(grouped.training());
    CHECK((x.array() == y.array()).all());
    CHECK_THROWS_AS(grouped.step(x, x), std::logic_error);
    VX short_x = x.head(5);
    CHECK_THROWS_WITH(grouped.train(short_x), Contains("block 'b'"));
    CHECK_FALSE(grouped.training());
    grouped.train(x);
    one.train(y.head(4));
    two.train(y.tail(3));
    CHECK(grouped.training());
    CHECK((x.array() == y.array()).all());
    grouped.eval(x);
    grouped.reset();
    CHECK(grouped.training());
  }
}

TEST_CASE("modern: EvalModeOptimizer names the optimizers with an evaluation mode", "[modern]") {
  using descent::EvalModeOptimizer;
  STATIC_REQUIRE(EvalModeOptimizer<descent::ScheduleFreeAdamW<V>, V>);
  STATIC_REQUIRE(EvalModeOptimizer<descent::ScheduleFreeSGD<Eigen::VectorXf>, Eigen::VectorXf>);
  STATIC_REQUIRE(EvalModeOptimizer<descent::Grouped<descent::ScheduleFreeSGD<V>>, V>);
  STATIC_REQUIRE(!EvalModeOptimizer<descent::Lion<V>, V>);
  STATIC_REQUIRE(!EvalModeOptimizer<descent::Adam<V>, V>);
  STATIC_REQUIRE(!EvalModeOptimizer<descent::Grouped<descent::Adam<V>>, V>);
}

TEST_CASE("modern: minimize and train drive the schedule-free optimizers, evaluated at x", "[modern]") {
  // minimize calls step (train mode throughout); the user switches to x for the result
  const auto f = descent::problems::Quadratic<double>::ill_conditioned(20, 10.0, 3);
  descent::ScheduleFreeSGD<V> sgd({.lr = 0.5});
  V x = V::Zero(20);
  descent::minimize(f, x, sgd, {.max_iterations = 3000, .gradient_tolerance = 0});
  sgd.eval(x);
  V g(20);
  const double excess = f(x, g) - f(f.minimizer(), g);
  CAPTURE(excess);
  CHECK(excess <= 1e-6 * std::max(1.0, std::abs(f(f.minimizer(), g))));
  V elsewhere = V::Ones(20);  // still in eval mode: the first step throws
  CHECK_THROWS_AS(descent::minimize(f, elsewhere, sgd, {.max_iterations = 1}), std::logic_error);
  CHECK(sgd.steps() == 3000);
}

// ---- convergence ----------------------------------------------------------------------------------

namespace {

descent::problems::LogisticRegression<double> logistic_problem() {
  descent::detail::SplitMix64 random(12);
  Eigen::MatrixXd X(5, 300);
  for (Eigen::Index j = 0; j < X.cols(); ++j)
    for (Eigen::Index i = 0; i < X.rows(); ++i) X(i, j) = random.uniform(-1.0, 1.0);
  const V w = V::LinSpaced(5, -2.0, 2.0);
  V y(300);
  for (Eigen::Index j = 0; j < 300; ++j) y(j) = X.col(j).dot(w) + 0.5 * random.uniform(-1.0, 1.0) > 0.2 ? 1.0 : 0.0;
  return descent::problems::LogisticRegression<double>(X, y, {.l2 = 1e-2});
}

// f(x) − f(x*) relative to max(1, |f(x*)|).
template <class F>
double excess_loss(const F& f, const V& x, const V& star) {
  V g(x.size());
  const double best = f(star, g);
  return (f(x, g) - best) / std::max(1.0, std::abs(best));
}

}  // namespace

TEST_CASE("modern: convergence on a quadratic and on logistic regression", "[modern]") {
  const auto quadratic = descent::problems::Quadratic<double>::ill_conditioned(30, 30.0, 5);
  const auto logistic = logistic_problem();
  const V logistic_star = logistic.minimizer();
  V g;

  SECTION("Lion, with a decaying lr (sign steps hover at lr from the optimum)") {
    descent::Lion<V> opt({.lr = 0.01});
    V x = V::Zero(30);
    g.resize(30);
    for (int t = 0; t < 20000; ++t) {
      opt.set_lr(0.01 / (1.0 + t / 100.0));
      quadratic(x, g);
      opt.step(x, g);
    }
    CHECK(excess_loss(quadratic, x, quadratic.minimizer()) <= 1e-6);
    descent::Lion<V> lopt({.lr = 0.01, .weight_decay = 0.0});
    V w = V::Zero(logistic.dimension());
    g.resize(w.size());
    for (int t = 0; t < 20000; ++t) {
      lopt.set_lr(0.01 / (1.0 + t / 200.0));
      logistic(w, g);
      lopt.step(w, g);
    }
    CHECK(excess_loss(logistic, w, logistic_star) <= 1e-6);
  }
  SECTION("ScheduleFreeAdamW and ScheduleFreeSGD at a constant lr, judged at x") {
    descent::ScheduleFreeAdamW<V> adam({.lr = 0.05, .warmup_steps = 100});
    V x = V::Zero(30);
    g.resize(30);
    for (int t = 0; t < 20000; ++t) {
      quadratic(x, g);
      adam.step(x, g);
    }
    adam.eval(x);
    CHECK(excess_loss(quadratic, x, quadratic.minimizer()) <= 1e-6);

    descent::ScheduleFreeSGD<V> sgd({.lr = 1.0, .warmup_steps = 50});
    V w = V::Zero(logistic.dimension());
    g.resize(w.size());
    for (int t = 0; t < 20000; ++t) {
      logistic(w, g);
      sgd.step(w, g);
    }
    sgd.eval(w);
    CHECK(excess_loss(logistic, w, logistic_star) <= 1e-6);

    descent::ScheduleFreeAdamW<V> ladam({.lr = 0.05, .warmup_steps = 100});
    V u = V::Zero(logistic.dimension());
    for (int t = 0; t < 20000; ++t) {
      logistic(u, g);
      ladam.step(u, g);
    }
    ladam.eval(u);
    CHECK(excess_loss(logistic, u, logistic_star) <= 1e-6);
  }
  SECTION("minibatch training of logistic regression, evaluated at x") {
    descent::ScheduleFreeAdamW<V> opt({.lr = 0.02, .warmup_steps = 50});
    V w = V::Zero(logistic.dimension());
    descent::MinibatchSampler sampler(logistic.size(), {.batch_size = 20, .seed = 2});
    descent::train(logistic, w, opt, sampler, {.max_iterations = 0, .max_epochs = 300});
    opt.eval(w);
    CHECK(excess_loss(logistic, w, logistic_star) <= 1e-3);
  }
}

// ---- checkpoints ------------------------------------------------------------------------------------

#if DESCENT_TEST_CHECKPOINTS
TEMPLATE_TEST_CASE("modern: checkpoints mid-run, also in eval mode, continue bit-identically", "[modern]",
                   descent::Lion<Eigen::VectorXd>, descent::ScheduleFreeAdamW<Eigen::VectorXd>,
                   descent::ScheduleFreeSGD<Eigen::VectorXf>, descent::ScheduleFreeAdamW<Eigen::VectorXf>) {
  using O = TestType;
  using VX = typename O::Vector;
  using S = typename O::Scalar;
  using Options = typename O::Options;
  Options o{};
  o.lr = 0.05;
  o.weight_decay = 0.01;
  O opt(o);
  VX x = start(9).cast<S>();
  auto grad = [](const VX& p) { return VX(quadratic_gradient(p.template cast<double>()).template cast<S>()); };
  for (int t = 0; t < 5; ++t) opt.step(x, grad(x));
  opt.set_lr(0.03);
  opt.set_momentum(0.8);
  if constexpr (ScheduleFree<O>) opt.eval(x);  // the reference says: checkpoint in eval mode

  descent::Checkpoint ck;
  ck.put("params", x);
  ck.put("o", opt);
  const std::string file = bytes_of(ck);
  if constexpr (std::is_same_v<Options, descent::LionOptions>) {
    CHECK(file.find("\"o.exp_avg\"") != std::string::npos);
  } else {
    CHECK(file.find("\"o.z\"") != std::string::npos);
    CHECK(file.find("train_mode") != std::string::npos);
    CHECK(file.find("weight_sum") != std::string::npos);
    CHECK(file.find("lr_max") != std::string::npos);
    if constexpr (std::is_same_v<Options, descent::ScheduleFreeAdamWOptions>)
      CHECK(file.find("\"o.exp_avg_sq\"") != std::string::npos);
  }
  const auto back = round_trip(ck);
  O restored(o);  // lr and momentum come from the checkpoint
  VX y;
  back.get("params", y);
  back.get("o", restored);
  CHECK(restored.lr() == 0.03);
  CHECK(restored.momentum() == 0.8);
  CHECK(restored.steps() == 5);
  CHECK(state_of(restored) == state_of(opt));
  if constexpr (ScheduleFree<O>) {
    CHECK_FALSE(restored.training());
    CHECK_THROWS_AS(restored.step(y, grad(y)), std::logic_error);
    opt.train(x);
    restored.train(y);
  }
  for (int t = 0; t < 6; ++t) {
    opt.step(x, grad(x));
    restored.step(y, grad(y));
  }
  CHECK((x.array() == y.array()).all());
  CHECK(state_of(restored) == state_of(opt));

  // options whose change would change the state's meaning are refused, the target untouched
  Options other_options = o;
  other_options.weight_decay = 0.5;
  O other(other_options);
  CHECK_THROWS_WITH(back.get("o", other), Contains("weight_decay"));
  CHECK(other.steps() == 0);
  descent::Adam<VX> wrong;
  CHECK_THROWS_AS(back.get("o", wrong), descent::CheckpointError);
}
#endif
