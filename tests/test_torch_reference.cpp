// descent against torch.optim 1.13 (single-tensor path, foreach=False): replays the reference
// trajectories of tests/data/torch_reference/ (written by tools/make_torch_reference.py, which
// documents the file format) and checks the parameters after every step.
//
// Each case stores torch's initial parameters, the gradient torch handed to every step and the
// parameters torch produced after it. descent replays exactly those gradients, so any drift comes
// from the optimizer alone. After every step:
//   max_i |x_i − ref_i| / max(max_i |ref_i|, 1e-30)  <=  1e-10 (double), 1e-5 (float).
// Every case is replayed a second time with the parameters in an Eigen::Map over a std::vector
// (offset by one element, so the packets are not aligned to the buffer) and must give a bitwise
// identical trajectory. AdamW cases are replayed by descent::AdamW and by descent::Adam with
// decoupled_weight_decay = true, which must agree bitwise too.
//
// Options that torch was given explicitly are set from the file; the others keep descent's own
// defaults, which are checked against torch's (so the trajectories also test the defaults).

#include <descent/descent.hpp>

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "reference_io.hpp"

#ifndef DESCENT_TEST_DATA_DIR
#error "DESCENT_TEST_DATA_DIR must be defined as a string literal: the path of tests/data"
#endif

namespace {

namespace reference = descent_test::reference;
using reference::IndexEntry;
using reference::relative_error;
using reference::sci;
using reference::to_vector;

const std::string kSource = "torch reference data";
const std::string kReferenceDir = std::string(DESCENT_TEST_DATA_DIR) + "/torch_reference";

// ---------------------------------------------------------------------------------------------
// Reading the data.

struct Option {
  double value = 0.0;
  bool is_bool = false;
  bool is_explicit = false;  // passed to torch; otherwise torch's default
};

struct ReferenceCase {
  std::string file, name, torch_class, descent_class, dtype, torch_call;
  int n = 0;
  int steps = 0;
  std::map<std::string, Option> options;
  // Values as written (float32 files are parsed as float, then widened exactly).
  std::vector<double> initial;
  std::vector<std::vector<double>> grads;   // grads[t - 1]: the gradient of step t
  std::vector<std::vector<double>> params;  // params[t - 1]: the parameters after step t
};

[[noreturn]] void parse_error(const std::string& where, const std::string& what) {
  reference::parse_error(kSource, where, what);
}

std::vector<IndexEntry> read_index() {
  const std::string path = kReferenceDir + "/index.txt";
  INFO("index file: " << path << " (regenerate with: /usr/bin/python3 tools/make_torch_reference.py)");
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
  bool header_done = false;  // numbers can only be parsed once dtype and n are known
  auto values = [&](std::istringstream& words, const std::string& where) {
    if (!header_done) {
      if (c.dtype != "float64" && c.dtype != "float32") parse_error(where, "missing or unknown dtype");
      if (c.n <= 0 || c.steps <= 0) parse_error(where, "n and steps must come before the data");
      header_done = true;
    }
    std::vector<double> v;
    std::string token;
    while (words >> token) v.push_back(reference::parse_number(kSource, token, c.dtype == "float32", where));
    if (int(v.size()) != c.n)
      parse_error(where, "expected " + std::to_string(c.n) + " values, found " + std::to_string(v.size()));
    return v;
  };
  while (std::getline(in, line)) {
    ++number;
    const std::string where = path + ":" + std::to_string(number);
    if (line.empty() || line[0] == '#') continue;
    if (ended) parse_error(where, "data after 'end'");
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (number == 1) {
      if (line != "descent-torch-reference 1") parse_error(where, "not a version 1 reference file");
    } else if (key == "case") {
      words >> c.name;
    } else if (key == "torch") {
      words >> c.torch_class;
    } else if (key == "descent") {
      words >> c.descent_class;
    } else if (key == "torch_call") {
      std::getline(words >> std::ws, c.torch_call);
    } else if (key == "torch_version" || key == "seed") {
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
    } else if (key == "grad" || key == "params") {
      std::string token;
      words >> token;
      const int t = reference::parse_int(kSource, token, where);
      auto& list = key == "grad" ? c.grads : c.params;
      if (t != int(list.size()) + 1) parse_error(where, key + " of step " + std::to_string(t) + " out of order");
      if (key == "params" && c.grads.size() != list.size() + 1) parse_error(where, "params before its grad");
      list.push_back(values(words, where));
    } else if (key == "end") {
      ended = true;
    } else {
      parse_error(where, "unknown line '" + key + "'");
    }
  }
  if (!ended) parse_error(path, "truncated (no 'end' line)");
  if (int(c.initial.size()) != c.n) parse_error(path, "missing initial parameters");
  if (int(c.grads.size()) != c.steps || int(c.params.size()) != c.steps)
    parse_error(path, "expected " + std::to_string(c.steps) + " steps, found " + std::to_string(c.params.size()));
  if (c.name + ".txt" != file) parse_error(path, "case name '" + c.name + "' does not match the file name");
  return c;
}

// ---------------------------------------------------------------------------------------------
// Building options from a case.

/// Fills an options struct field by field. In `Mode::torch_defaults`, options torch was given are
/// set from the file and the others keep descent's defaults, which must equal torch's; in
/// `Mode::all_from_file` every field is set from the file.
class OptionReader {
 public:
  enum class Mode { torch_defaults, all_from_file };

  OptionReader(const ReferenceCase& c, Mode mode) : c_(c), mode_(mode) {}

  void field(double& f, const std::string& key) {
    const Option& o = lookup(key, false);
    set(f, o.value, key, o.is_explicit);
  }
  void field(bool& f, const std::string& key) {
    const Option& o = lookup(key, true);
    set(f, o.value != 0.0, key, o.is_explicit);
  }

  /// Every option in the file was used: nothing torch was told is ignored here.
  void finish() const {
    for (const auto& [key, option] : c_.options) {
      INFO("case " << c_.name << ": option '" << key << "' in the file is not a field of descent::" << c_.descent_class
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
    if (is_explicit || mode_ == Mode::all_from_file) {
      f = value;
      return;
    }
    INFO("case " << c_.name << ": descent::" << c_.descent_class << "'s default " << key
                 << " differs from torch.optim." << c_.torch_class << "'s");
    CHECK(f == value);
  }

  const ReferenceCase& c_;
  Mode mode_;
  std::set<std::string> used_;
};

/// One field of an options struct O under its name in the reference files (torch's keyword; the
/// same as descent's field name for every optimizer here).
template <class O>
struct Field {
  const char* key;
  std::variant<double O::*, bool O::*> member;
};
template <class O>
using Fields = std::vector<Field<O>>;

/// The options of a case: `fields` read in order (see OptionReader for `mode`), and no option of
/// the file left unread.
template <class O>
O read_options(const ReferenceCase& c, const Fields<O>& fields, OptionReader::Mode mode) {
  O o{};
  OptionReader r(c, mode);
  for (const Field<O>& f : fields) std::visit([&](auto member) { r.field(o.*member, f.key); }, f.member);
  r.finish();
  return o;
}

// ---------------------------------------------------------------------------------------------
// Replaying a case.

template <class V>
double tolerance() {
  return std::is_same_v<typename V::Scalar, double> ? 1e-10 : 1e-5;
}

/// Steps `opt` through the case with `x` (a V or a Map<V>, holding the initial parameters) and
/// checks every step against torch. Returns the largest relative error seen and appends the
/// parameters after each step to `trajectory`.
template <class V, class Opt, class X>
double replay(const ReferenceCase& c, const std::string& label, Opt& opt, X& x, std::vector<V>& trajectory) {
  const double tol = tolerance<V>();
  double worst = 0.0;
  trajectory.clear();
  trajectory.reserve(std::size_t(c.steps));
  for (int t = 1; t <= c.steps; ++t) {
    const V g = to_vector<V>(c.grads[std::size_t(t - 1)]);
    opt.step(x, g);
    trajectory.push_back(x);
    const double err = relative_error(x, c.params[std::size_t(t - 1)]);
    worst = std::max(worst, err);
    if (!(err <= tol)) {
      INFO("case " << c.name << " (" << c.torch_call << ") replayed by " << label << " with " << c.dtype
                   << " parameters: mismatch at step " << t << " of " << c.steps << ", relative error " << sci(err)
                   << " > tolerance " << sci(tol));
      CAPTURE(t, err, tol);
      FAIL_CHECK("relative error above tolerance");
      return err;  // the first failing step is the informative one
    }
  }
  CHECK(opt.steps() == c.steps);
  return worst;
}

template <class V>
bool bitwise_equal(const std::vector<V>& a, const std::vector<V>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t t = 0; t < a.size(); ++t) {
    if (a[t].size() != b[t].size()) return false;
    if (std::memcmp(a[t].data(), b[t].data(), std::size_t(a[t].size()) * sizeof(typename V::Scalar)) != 0)
      return false;
  }
  return true;
}

/// Replays the case twice with optimizers from `make`: parameters in a V, then in a Map<V> over a
/// std::vector. Both must match torch, and each other bitwise. Returns the V trajectory.
template <class V, class Make>
std::vector<V> verify(const ReferenceCase& c, const std::string& label, Make make) {
  using Scalar = typename V::Scalar;
  const double tol = tolerance<V>();

  std::vector<V> plain;
  {
    auto opt = make();
    V x = to_vector<V>(c.initial);
    const double worst = replay<V>(c, label, opt, x, plain);
    INFO("case " << c.name << " (" << c.torch_call << ") replayed by " << label << " with " << c.dtype
                 << " parameters: largest relative error over all steps " << sci(worst));
    CAPTURE(worst, tol);
    CHECK(worst <= tol);
  }

  std::vector<V> mapped;
  {
    auto opt = make();
    // One sentinel on each side; the Map starts one element into the buffer.
    const Scalar sentinel = Scalar(-12345.0);
    std::vector<Scalar> buffer(std::size_t(c.n) + 2, sentinel);
    Eigen::Map<V> x(buffer.data() + 1, c.n);
    x = to_vector<V>(c.initial);
    replay<V>(c, label + " (Eigen::Map params)", opt, x, mapped);
    INFO("case " << c.name << ": " << label << " with Eigen::Map params vs plain " << c.dtype << " params");
    CHECK(buffer.front() == sentinel);
    CHECK(buffer.back() == sentinel);
    CHECK(bitwise_equal(plain, mapped));
  }
  return plain;
}

/// One descent class with reference cases: its torch class, the number of cases per dtype that
/// tools/make_torch_reference.py writes for it, and the replay of one case.
struct Family {
  std::string descent_class, torch_class;
  std::size_t per_dtype = 0;
  std::function<void(const ReferenceCase&)> run;
};

template <class V>
struct As {};

/// The replay of a case in double or in float, as its dtype says.
template <class Run>
std::function<void(const ReferenceCase&)> by_dtype(Run run) {
  return [run](const ReferenceCase& c) {
    if (c.dtype == "float64")
      run(c, As<Eigen::VectorXd>{});
    else
      run(c, As<Eigen::VectorXf>{});
  };
}

template <template <class> class Optimizer>
using OptionsOf = typename Optimizer<Eigen::VectorXd>::Options;

/// The usual family: the options from the file (torch's defaults for the rest), then one
/// descent::<Optimizer> replayed. `check` adds a family's own requirements on the case or options.
template <template <class> class Optimizer>
Family make_family(const char* descent_class, const char* torch_class, std::size_t per_dtype,
                   Fields<OptionsOf<Optimizer>> fields,
                   void (*check)(const ReferenceCase&, const OptionsOf<Optimizer>&) = nullptr) {
  const std::string label = std::string("descent::") + descent_class;
  return {descent_class, torch_class, per_dtype, by_dtype([=]<class V>(const ReferenceCase& c, As<V>) {
            const auto o = read_options(c, fields, OptionReader::Mode::torch_defaults);
            if (check) check(c, o);
            verify<V>(c, label, [&] { return Optimizer<V>(o); });
          })};
}

template <class O>
Fields<O> adam_fields() {
  return {{"lr", &O::lr},
          {"beta1", &O::beta1},
          {"beta2", &O::beta2},
          {"eps", &O::eps},
          {"weight_decay", &O::weight_decay},
          {"amsgrad", &O::amsgrad},
          {"maximize", &O::maximize}};
}

/// AdamW twice: descent::AdamW with torch's AdamW defaults for whatever torch was not given, and
/// descent::Adam with decoupled weight decay and every value from the file; bitwise alike.
Family adamw_family(std::size_t per_dtype) {
  return {"AdamW", "AdamW", per_dtype, by_dtype([]<class V>(const ReferenceCase& c, As<V>) {
            const auto ow = read_options(c, adam_fields<descent::AdamWOptions>(), OptionReader::Mode::torch_defaults);
            const auto by_adamw = verify<V>(c, "descent::AdamW", [&] { return descent::AdamW<V>(ow); });
            auto oa = read_options(c, adam_fields<descent::AdamOptions>(), OptionReader::Mode::all_from_file);
            oa.decoupled_weight_decay = true;
            const auto by_adam =
                verify<V>(c, "descent::Adam{.decoupled_weight_decay = true}", [&] { return descent::Adam<V>(oa); });
            INFO("case " << c.name << ": descent::AdamW vs descent::Adam with decoupled_weight_decay");
            CHECK(bitwise_equal(by_adamw, by_adam));
          })};
}

/// Every descent class with reference cases, in the order of its test case; each field's key is
/// torch's keyword argument, which is the field's own name in every descent options struct.
const std::vector<Family>& families() {
  using GD = descent::GradientDescentOptions;
  using SGD = descent::SGDOptions;
  using Adagrad = descent::AdagradOptions;
  using RMSProp = descent::RMSPropOptions;
  using NAdam = descent::NAdamOptions;
  using RAdam = descent::RAdamOptions;
  using Adamax = descent::AdamaxOptions;
  using Adadelta = descent::AdadeltaOptions;
  using ASGD = descent::ASGDOptions;
  using Rprop = descent::RpropOptions;
  // clang-format off
  static const std::vector<Family> table = {
      make_family<descent::GradientDescent>("GradientDescent", "SGD", 4,
          {{"lr", &GD::lr}, {"weight_decay", &GD::weight_decay}, {"maximize", &GD::maximize}},
          [](const ReferenceCase& c, const GD&) { REQUIRE(c.torch_call.find("momentum=0.0") != std::string::npos); }),
      make_family<descent::SGD>("SGD", "SGD", 20,
          {{"lr", &SGD::lr}, {"momentum", &SGD::momentum}, {"dampening", &SGD::dampening},
           {"weight_decay", &SGD::weight_decay}, {"nesterov", &SGD::nesterov}, {"maximize", &SGD::maximize}}),
      make_family<descent::Adam>("Adam", "Adam", 8, adam_fields<descent::AdamOptions>(),
          [](const ReferenceCase&, const descent::AdamOptions& o) { REQUIRE_FALSE(o.decoupled_weight_decay); }),
      adamw_family(5),
      make_family<descent::Adagrad>("Adagrad", "Adagrad", 16,
          {{"lr", &Adagrad::lr}, {"lr_decay", &Adagrad::lr_decay}, {"weight_decay", &Adagrad::weight_decay},
           {"initial_accumulator_value", &Adagrad::initial_accumulator_value}, {"eps", &Adagrad::eps},
           {"maximize", &Adagrad::maximize}}),
      make_family<descent::RMSProp>("RMSProp", "RMSprop", 18,
          {{"lr", &RMSProp::lr}, {"alpha", &RMSProp::alpha}, {"eps", &RMSProp::eps},
           {"weight_decay", &RMSProp::weight_decay}, {"momentum", &RMSProp::momentum},
           {"centered", &RMSProp::centered}, {"maximize", &RMSProp::maximize}}),
      make_family<descent::NAdam>("NAdam", "NAdam", 8,
          {{"lr", &NAdam::lr}, {"beta1", &NAdam::beta1}, {"beta2", &NAdam::beta2}, {"eps", &NAdam::eps},
           {"weight_decay", &NAdam::weight_decay}, {"momentum_decay", &NAdam::momentum_decay}}),
      make_family<descent::RAdam>("RAdam", "RAdam", 7,
          {{"lr", &RAdam::lr}, {"beta1", &RAdam::beta1}, {"beta2", &RAdam::beta2}, {"eps", &RAdam::eps},
           {"weight_decay", &RAdam::weight_decay}}),
      make_family<descent::Adamax>("Adamax", "Adamax", 7,
          {{"lr", &Adamax::lr}, {"beta1", &Adamax::beta1}, {"beta2", &Adamax::beta2}, {"eps", &Adamax::eps},
           {"weight_decay", &Adamax::weight_decay}, {"maximize", &Adamax::maximize}}),
      make_family<descent::Adadelta>("Adadelta", "Adadelta", 8,
          {{"lr", &Adadelta::lr}, {"rho", &Adadelta::rho}, {"eps", &Adadelta::eps},
           {"weight_decay", &Adadelta::weight_decay}, {"maximize", &Adadelta::maximize}}),
      make_family<descent::ASGD>("ASGD", "ASGD", 22,
          {{"lr", &ASGD::lr}, {"lambd", &ASGD::lambd}, {"alpha", &ASGD::alpha}, {"t0", &ASGD::t0},
           {"weight_decay", &ASGD::weight_decay}, {"maximize", &ASGD::maximize}}),
      make_family<descent::Rprop>("Rprop", "Rprop", 9,
          {{"lr", &Rprop::lr}, {"eta_minus", &Rprop::eta_minus}, {"eta_plus", &Rprop::eta_plus},
           {"step_size_min", &Rprop::step_size_min}, {"step_size_max", &Rprop::step_size_max},
           {"maximize", &Rprop::maximize}}),
  };
  // clang-format on
  return table;
}

const Family* find_family(const std::string& descent_class) {
  for (const Family& f : families())
    if (f.descent_class == descent_class) return &f;
  return nullptr;
}

void run_family(const Family& family) {
  const std::vector<IndexEntry> index = read_index();
  std::vector<IndexEntry> mine;
  std::size_t f64 = 0, f32 = 0;
  for (const auto& e : index) {
    if (e.family != family.descent_class) continue;
    mine.push_back(e);
    (e.dtype == "float64" ? f64 : f32) += 1;
  }
  const std::size_t expected = family.per_dtype;
  INFO("torch reference cases of " << family.descent_class << " listed in " << kReferenceDir << "/index.txt");
  REQUIRE(f64 == expected);
  REQUIRE(f32 == expected);
  REQUIRE(mine.size() == 2 * expected);

  for (const auto& e : mine) {
    DYNAMIC_SECTION(e.file) {
      const ReferenceCase c = read_case(e.file);
      REQUIRE(c.descent_class == family.descent_class);
      REQUIRE(c.dtype == e.dtype);
      REQUIRE(c.torch_class == family.torch_class);
      family.run(c);
    }
  }
}

}  // namespace

TEST_CASE("torch reference: index", "[torch_reference]") {
  const std::vector<IndexEntry> index = read_index();
  std::size_t expected = 0;
  for (const Family& f : families()) expected += 2 * f.per_dtype;
  CHECK(index.size() == expected);
  std::set<std::string> files;
  for (const auto& e : index) {
    INFO("index entry " << e.file);
    CHECK(find_family(e.family) != nullptr);
    CHECK((e.dtype == "float64" || e.dtype == "float32"));
    CHECK(files.insert(e.file).second);
  }
}

namespace {

/// "torch reference: <descent class>": one Catch2 test case, so one ctest test, per entry of the
/// table, registered from it as TEST_CASE registers its body, so that a new optimizer is its
/// table entry alone.
class FamilyTest : public Catch::ITestInvoker {
 public:
  explicit FamilyTest(const Family& f) : family_(&f) {}
  void invoke() const override { run_family(*family_); }

 private:
  const Family* family_;
};

[[maybe_unused]] const bool registered = [] {
  static std::vector<std::string> names;  // Catch2 keeps references to them
  names.reserve(families().size());
  for (const Family& f : families()) {
    names.push_back("torch reference: " + f.descent_class);
    Catch::AutoReg(new FamilyTest(f), CATCH_INTERNAL_LINEINFO, Catch::StringRef(),
                   Catch::NameAndTags{names.back(), "[torch_reference]"});
  }
  return true;
}();

}  // namespace
