// Parameter groups (descent::Grouped) against torch.optim 1.13 with several param groups: replays
// tests/data/group_reference.txt (written by tools/make_group_reference.py, which documents the
// format): a flat vector of five Layout blocks (W1 3x4, b1, a frozen E 2x2, W2 2x3, b2), one torch
// tensor per block, one torch param group per Group, with each group's own options and mid-run
// set_lr / set_momentum on single groups and on all of them (SGD momentum 0 -> 0.9 -> 0 -> 0.5,
// RMSProp 0.5 -> 0 -> 0.7, Adam/AdamW beta1), for SGD, Adam, Adam AMSGrad, AdamW, Adagrad and
// RMSProp, in double and float.
//
// Every case is replayed with the flat parameters in a VectorX, an Eigen::Map over a std::vector
// (one element in, sentinels on both sides), a fixed-size Matrix<S, 27, 1> and an ArrayX: each
// must match torch after every step and the other holders bitwise, and the frozen block must stay
// bitwise what it was. AdamW cases are also replayed by Grouped<Adam> with decoupled weight decay.
// Tolerances, as in tests/test_torch_reference.cpp, per block (stricter than over the whole vector,
// so that a small bias block cannot hide behind a large weight block):
//   max_i |x_i − ref_i| / max(max_i |ref_i|, 1e-30)  <=  1e-10 (double), 1e-5 (float).
// Set DESCENT_GROUP_REPORT=1 to print the worst error of every case.
//
// Then: one group of every block is the plain optimizer on the whole vector, bitwise, for every
// optimizer (and so are several groups of the same options, in any order); the errors (overlap,
// no group, a block out of range at step, invalid group options, invalid set_lr / set_momentum in
// any group, a group index out of range), each leaving everything unchanged; reset(); SGD's
// momentum buffer started late and kept while the momentum is 0; RMSProp's zero buffer started
// late (torch raises a KeyError there: checked against a hand-computed model); AdamW groups'
// default weight_decay 1e-2; the concepts.

#include <descent/descent.hpp>
#include <descent/grouped.hpp>

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "reference_io.hpp"
#include "support.hpp"

#ifndef DESCENT_TEST_DATA_DIR
#error "DESCENT_TEST_DATA_DIR must be defined as a string literal: the path of tests/data"
#endif

namespace {

using descent::detail::concat;  // not "literal" + std::string, which GCC 12 misreports at -O3 (-Wrestrict)

constexpr Eigen::Index kN = 27;  // the reference layout's size (checked against the file)

// ---------------------------------------------------------------------------------------------
// The reference file.

struct Option {
  double value = 0.0;
  bool is_bool = false;
  bool is_explicit = false;  // in the torch group's dict; otherwise torch's default
};

struct Event {
  int t = 0;
  std::string kind;  // set_lr or set_momentum
  int group = -1;    // -1: every group
  double value = 0.0;
};

struct GroupCase {
  std::string name, dtype, torch_class, descent_class, torch_call;
  std::vector<std::vector<std::string>> groups;        // block names per group
  std::vector<std::map<std::string, Option>> options;  // per group
  std::vector<Event> events;
  std::vector<double> initial;  // float32 values are parsed as float, then widened exactly
  std::vector<std::vector<double>> grads, params;
};

struct BlockLine {
  std::string name;
  Eigen::Index offset = 0, rows = 0, cols = 0;
  bool frozen = false;
};

struct Reference {
  int n = 0, steps = 0;
  std::vector<BlockLine> blocks;
  descent::Layout layout;
  std::vector<GroupCase> cases;
};

const std::string kSource = "group reference data";

[[noreturn]] void parse_error(const std::string& where, const std::string& what) {
  descent_test::reference::parse_error(kSource, where, what);
}

Reference read_reference() {
  const std::string path = concat(DESCENT_TEST_DATA_DIR, "/group_reference.txt");
  std::ifstream in(path);
  if (!in.is_open())
    parse_error(path, "cannot open (regenerate with: /usr/bin/python3 tools/make_group_reference.py)");
  Reference ref;
  GroupCase c;
  bool open = false;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string where = concat(path, ":", std::to_string(number));
    std::istringstream words(line);
    std::string key;
    if (number == 1) {
      if (line != "descent-group-reference 1") parse_error(where, "not a version 1 group reference file");
      continue;
    }
    if (!(words >> key) || key[0] == '#' || key == "torch_version") continue;
    const bool single = c.dtype == "float32";
    auto values = [&]() {
      std::vector<double> v;
      std::string token;
      while (words >> token) v.push_back(descent_test::reference::parse_number(kSource, token, single, where));
      if (int(v.size()) != ref.n)
        parse_error(where, concat("expected ", std::to_string(ref.n), " values, found ", std::to_string(v.size())));
      return v;
    };
    auto step_number = [&](std::size_t expected) {
      std::string token;
      words >> token;
      const int t = descent_test::reference::parse_int(kSource, token, where);
      if (std::size_t(t) != expected) parse_error(where, concat(key, " of step ", token, " out of order"));
      return t;
    };
    if (key == "n" || key == "steps") {
      std::string token;
      words >> token;
      (key == "n" ? ref.n : ref.steps) = descent_test::reference::parse_int(kSource, token, where);
    } else if (key == "block") {
      BlockLine b;
      std::string kind;
      if (!(words >> b.name >> b.offset >> b.rows >> b.cols >> kind) || (kind != "frozen" && kind != "grouped"))
        parse_error(where, "expected 'block <name> <offset> <rows> <cols> grouped|frozen'");
      b.frozen = kind == "frozen";
      ref.blocks.push_back(b);
    } else if (key == "case") {
      if (open) parse_error(where, "case inside a case");
      c = GroupCase{};
      std::size_t count = 0;
      if (!(words >> c.name >> c.dtype >> c.torch_class >> c.descent_class >> count) || count == 0)
        parse_error(where, "expected 'case <name> <dtype> <torch class> <descent class> <group count>'");
      if (c.dtype != "float64" && c.dtype != "float32") parse_error(where, "unknown dtype");
      c.groups.resize(count);
      c.options.resize(count);
      open = true;
    } else if (!open) {
      parse_error(where, concat("'", key, "' outside a case"));
    } else if (key == "torch_call") {
      std::getline(words >> std::ws, c.torch_call);
    } else if (key == "group") {
      std::string token, block;
      words >> token;
      const int g = descent_test::reference::parse_int(kSource, token, where);
      if (g < 0 || std::size_t(g) >= c.groups.size() || !c.groups[std::size_t(g)].empty())
        parse_error(where, "bad or repeated group index");
      while (words >> block) c.groups[std::size_t(g)].push_back(block);
    } else if (key == "option") {
      std::string token, name, value, kind;
      if (!(words >> token >> name >> value >> kind)) parse_error(where, "expected 'option <g> <name> <value> <kind>'");
      const int g = descent_test::reference::parse_int(kSource, token, where);
      if (g < 0 || std::size_t(g) >= c.options.size()) parse_error(where, "bad group index");
      Option o;
      o.is_bool = value == "true" || value == "false";
      o.value = o.is_bool ? (value == "true" ? 1.0 : 0.0) : descent_test::reference::parse_number(kSource, value, false, where);
      if (kind != "explicit" && kind != "default") parse_error(where, "option kind must be explicit or default");
      o.is_explicit = kind == "explicit";
      if (!c.options[std::size_t(g)].emplace(name, o).second) parse_error(where, concat("option ", name, " given twice"));
    } else if (key == "initial") {
      c.initial = values();
    } else if (key == "event") {
      Event e;
      std::string t, group, value;
      if (!(words >> t >> e.kind >> group >> value) || (e.kind != "set_lr" && e.kind != "set_momentum"))
        parse_error(where, "expected 'event <t> set_lr|set_momentum <g|all> <value>'");
      e.t = descent_test::reference::parse_int(kSource, t, where);
      if (e.t != int(c.grads.size()) + 1) parse_error(where, "event not just before its step");
      e.group = group == "all" ? -1 : descent_test::reference::parse_int(kSource, group, where);
      if (e.group >= int(c.groups.size())) parse_error(where, "event of a group that does not exist");
      e.value = descent_test::reference::parse_number(kSource, value, false, where);
      c.events.push_back(e);
    } else if (key == "grad") {
      step_number(c.grads.size() + 1);
      c.grads.push_back(values());
    } else if (key == "params") {
      step_number(c.params.size() + 1);
      if (c.grads.size() != c.params.size() + 1) parse_error(where, "params before its grad");
      c.params.push_back(values());
    } else if (key == "end") {
      if (int(c.initial.size()) != ref.n || int(c.grads.size()) != ref.steps || int(c.params.size()) != ref.steps)
        parse_error(where, concat("case ", c.name, " is incomplete"));
      ref.cases.push_back(std::move(c));
      c = GroupCase{};
      open = false;
    } else {
      parse_error(where, concat("unknown line '", key, "'"));
    }
  }
  if (open) parse_error(path, "truncated (no 'end' line)");
  for (const BlockLine& b : ref.blocks) {
    const descent::Block added = ref.layout.add(b.name, b.rows, b.cols);
    if (added.offset != b.offset) parse_error(path, concat("block ", b.name, " is not where a Layout puts it"));
  }
  return ref;
}

const Reference& reference() {
  static const Reference ref = read_reference();
  return ref;
}

// ---------------------------------------------------------------------------------------------
// Options of a group.

/// Fills one group's options field by field. With `from_file`, every field is set from the file;
/// otherwise the options torch's group was given are set and the others keep descent's defaults,
/// which must equal torch's (so the trajectories also test the groups' defaults).
class OptionReader {
 public:
  OptionReader(const GroupCase& c, std::size_t g, bool from_file) : c_(c), g_(g), from_file_(from_file) {}

  void field(double& f, const std::string& key) {
    const Option& o = lookup(key, false);
    set(f, o.value, key, o.is_explicit);
  }
  void field(bool& f, const std::string& key) {
    const Option& o = lookup(key, true);
    set(f, o.value != 0.0, key, o.is_explicit);
  }
  void finish() const {
    for (const auto& [key, option] : c_.options[g_]) {
      INFO("case " << c_.name << " group " << g_ << ": option '" << key << "' is not a field of descent::"
                   << c_.descent_class << "'s options");
      CHECK(used_.count(key) == 1);
    }
  }

 private:
  const Option& lookup(const std::string& key, bool is_bool) {
    const auto& options = c_.options[g_];
    const auto it = options.find(key);
    if (it == options.end()) parse_error(c_.name, concat("group ", std::to_string(g_), ": option '", key, "' missing"));
    if (it->second.is_bool != is_bool) parse_error(c_.name, concat("option '", key, "' has the wrong type"));
    used_.insert(key);
    return it->second;
  }
  template <class T>
  void set(T& f, T value, const std::string& key, bool is_explicit) {
    if (is_explicit || from_file_) {
      f = value;
      return;
    }
    INFO("case " << c_.name << " group " << g_ << ": descent::" << c_.descent_class << "'s default " << key
                 << " differs from torch.optim." << c_.torch_class << "'s");
    CHECK(f == value);
  }

  const GroupCase& c_;
  std::size_t g_;
  bool from_file_;
  std::set<std::string> used_;
};

void read_fields(descent::SGDOptions& o, OptionReader& r) {
  r.field(o.lr, "lr");
  r.field(o.momentum, "momentum");
  r.field(o.dampening, "dampening");
  r.field(o.weight_decay, "weight_decay");
  r.field(o.nesterov, "nesterov");
  r.field(o.maximize, "maximize");
}
template <class O>
  requires std::is_same_v<O, descent::AdamOptions> || std::is_same_v<O, descent::AdamWOptions>
void read_fields(O& o, OptionReader& r) {
  r.field(o.lr, "lr");
  r.field(o.beta1, "beta1");
  r.field(o.beta2, "beta2");
  r.field(o.eps, "eps");
  r.field(o.weight_decay, "weight_decay");
  r.field(o.amsgrad, "amsgrad");
  r.field(o.maximize, "maximize");
}
void read_fields(descent::AdagradOptions& o, OptionReader& r) {
  r.field(o.lr, "lr");
  r.field(o.lr_decay, "lr_decay");
  r.field(o.weight_decay, "weight_decay");
  r.field(o.initial_accumulator_value, "initial_accumulator_value");
  r.field(o.eps, "eps");
  r.field(o.maximize, "maximize");
}
void read_fields(descent::RMSPropOptions& o, OptionReader& r) {
  r.field(o.lr, "lr");
  r.field(o.alpha, "alpha");
  r.field(o.eps, "eps");
  r.field(o.weight_decay, "weight_decay");
  r.field(o.momentum, "momentum");
  r.field(o.centered, "centered");
  r.field(o.maximize, "maximize");
}

/// The groups of a case, with the blocks from the layout and the options from the file.
template <class Options>
std::vector<descent::Group<Options>> make_groups(const GroupCase& c, bool from_file = false) {
  std::vector<descent::Group<Options>> groups;
  for (std::size_t g = 0; g < c.groups.size(); ++g) {
    Options o{};
    OptionReader r(c, g, from_file);
    read_fields(o, r);
    r.finish();
    groups.push_back({reference().layout.blocks(c.groups[g]), o});
  }
  return groups;
}

// ---------------------------------------------------------------------------------------------
// Replaying a case.

template <class V>
V to_vector(const std::vector<double>& values) {
  V v = V::Zero(Eigen::Index(values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) v[Eigen::Index(i)] = typename V::Scalar(values[i]);
  return v;
}

template <class S>
double tolerance() {
  return std::is_same_v<S, double> ? 1e-10 : 1e-5;
}

std::string sci(double x) {
  std::ostringstream out;
  out.precision(3);
  out << std::scientific << x;
  return out.str();
}

/// Worst errors: per case and holder label; printed with DESCENT_GROUP_REPORT=1.
std::map<std::string, double>& worst_errors() {
  static std::map<std::string, double> worst;
  return worst;
}

/// max_i |x_i − ref_i| / max(max_i |ref_i|, 1e-30) over [offset, offset + size), in double; NaN is inf.
template <class X>
double block_error(const X& x, const std::vector<double>& ref, Eigen::Index offset, Eigen::Index size) {
  double diff = 0.0, scale = 0.0;
  for (Eigen::Index i = offset; i < offset + size; ++i) {
    const double xi = double(x[i]);
    if (std::isnan(xi)) return std::numeric_limits<double>::infinity();
    diff = std::max(diff, std::abs(xi - ref[std::size_t(i)]));
    scale = std::max(scale, std::abs(ref[std::size_t(i)]));
  }
  return diff / std::max(scale, 1e-30);
}

template <class GO>
void apply_event(GO& opt, const Event& e) {
  if (e.kind == "set_lr") {
    if (e.group < 0)
      opt.set_lr(e.value);
    else
      opt.set_lr(std::size_t(e.group), e.value);
  } else {
    if constexpr (requires { opt.set_momentum(0.5); }) {
      if (e.group < 0)
        opt.set_momentum(e.value);
      else
        opt.set_momentum(std::size_t(e.group), e.value);
    } else {
      FAIL("set_momentum event for an optimizer without momentum");
    }
  }
  for (std::size_t g = 0; g < opt.group_count(); ++g) {
    if (e.group >= 0 && std::size_t(e.group) != g) continue;
    if (e.kind == "set_lr") {
      CHECK(opt.lr(g) == e.value);
      CHECK(opt.options(g).lr == e.value);
      for (std::size_t b = 0; b < opt.blocks(g).size(); ++b) CHECK(opt.optimizer(g, b).lr() == e.value);
    } else if constexpr (requires { opt.momentum(g); }) {
      CHECK(opt.momentum(g) == e.value);
      for (std::size_t b = 0; b < opt.blocks(g).size(); ++b) CHECK(opt.optimizer(g, b).momentum() == e.value);
    }
  }
}

using Trajectory = std::vector<std::vector<double>>;  // the flat parameters after each step

/// Steps `opt` (a Grouped) through the case with `x` (any holder of the flat vector, holding the
/// initial parameters), applying the events, checking every block after every step against torch
/// and the frozen block bitwise. Returns the trajectory.
template <class S, class GO, class X>
Trajectory replay(const GroupCase& c, const std::string& label, GO& opt, X&& x) {
  using V = typename GO::Vector;
  const Reference& ref = reference();
  const double tol = tolerance<S>();
  const std::string key = concat(c.name, " ", label.substr(0, label.find(" over ")));  // worst over the holders
  double& worst = worst_errors()[key];
  Trajectory trajectory;
  std::size_t next_event = 0;
  bool failed = false;
  for (int t = 1; t <= ref.steps; ++t) {
    while (next_event < c.events.size() && c.events[next_event].t == t) apply_event(opt, c.events[next_event++]);
    const V g = to_vector<V>(c.grads[std::size_t(t - 1)]);
    opt.step(x, g);
    std::vector<double> now(std::size_t(ref.n));
    for (Eigen::Index i = 0; i < ref.n; ++i) now[std::size_t(i)] = double(x[i]);
    trajectory.push_back(now);
    const auto& expected = c.params[std::size_t(t - 1)];
    for (const BlockLine& b : ref.blocks) {
      const Eigen::Index size = b.rows * b.cols;
      if (b.frozen) {
        bool same = true;
        for (Eigen::Index i = b.offset; i < b.offset + size; ++i) {
          const S before = S(c.initial[std::size_t(i)]);
          same = same && std::memcmp(&before, &x.coeffRef(i), sizeof(S)) == 0;
        }
        if (!same) {
          INFO("case " << c.name << " replayed with " << label << ": frozen block " << b.name << " changed at step " << t);
          FAIL_CHECK("a coefficient in no group was written");
          failed = true;
        }
        continue;
      }
      const double err = block_error(x, expected, b.offset, size);
      worst = std::max(worst, err);
      if (!(err <= tol) && !failed) {
        INFO("case " << c.name << " (" << c.torch_call << ") replayed by descent::Grouped with " << label
                     << ": block " << b.name << " differs from torch at step " << t << " of " << ref.steps
                     << ", relative error " << sci(err) << " > " << sci(tol));
        FAIL_CHECK("relative error above tolerance");
        failed = true;  // the first failing step is the informative one
      }
    }
  }
  CHECK(next_event == c.events.size());
  CHECK(opt.steps() == ref.steps);
  for (std::size_t g = 0; g < opt.group_count(); ++g)
    for (std::size_t b = 0; b < opt.blocks(g).size(); ++b) CHECK(opt.optimizer(g, b).steps() == ref.steps);
  return trajectory;
}

bool bitwise_equal(const Trajectory& a, const Trajectory& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t t = 0; t < a.size(); ++t)
    if (a[t].size() != b[t].size() || std::memcmp(a[t].data(), b[t].data(), a[t].size() * sizeof(double)) != 0)
      return false;
  return true;
}

/// Replays the case with Grouped<Opt<...>> over a VectorX, a Map, a fixed-size vector and an
/// ArrayX, all of which must match torch and each other bitwise.
template <template <class> class Opt, class S, class Options = typename Opt<Eigen::Matrix<S, Eigen::Dynamic, 1>>::Options>
Trajectory replay_every_holder(const GroupCase& c, const std::string& name, bool options_from_file = false,
                               Options tweak(Options) = nullptr) {
  using VX = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  using VF = Eigen::Matrix<S, kN, 1>;
  using AX = Eigen::Array<S, Eigen::Dynamic, 1>;
  REQUIRE(reference().n == kN);
  auto groups = make_groups<Options>(c, options_from_file);
  if (tweak)
    for (auto& group : groups) group.options = tweak(group.options);
  REQUIRE(groups.size() == c.groups.size());

  Trajectory plain;
  {
    descent::Grouped<Opt<VX>> opt(groups);
    CHECK(opt.group_count() == c.groups.size());
    VX x = to_vector<VX>(c.initial);
    plain = replay<S>(c, concat(name, " over a VectorX"), opt, x);
  }
  {
    descent::Grouped<Opt<VX>> opt(groups);
    const S sentinel = S(-12345.0);
    std::vector<S> buffer(std::size_t(kN) + 2, sentinel);
    Eigen::Map<VX> x(buffer.data() + 1, kN);
    x = to_vector<VX>(c.initial);
    const Trajectory mapped = replay<S>(c, concat(name, " over an Eigen::Map"), opt, x);
    INFO("case " << c.name << ": " << name << " over an Eigen::Map vs over a VectorX");
    CHECK(buffer.front() == sentinel);
    CHECK(buffer.back() == sentinel);
    CHECK(bitwise_equal(plain, mapped));
  }
  {
    descent::Grouped<Opt<VF>> opt(groups);
    VF x = to_vector<VF>(c.initial);
    const Trajectory fixed = replay<S>(c, concat(name, " over a fixed-size Matrix<S, 27, 1>"), opt, x);
    INFO("case " << c.name << ": " << name << " over a fixed-size vector vs over a VectorX");
    CHECK(bitwise_equal(plain, fixed));
  }
  {
    descent::Grouped<Opt<AX>> opt(groups);
    AX x = to_vector<AX>(c.initial);
    const Trajectory array = replay<S>(c, concat(name, " over an ArrayX"), opt, x);
    INFO("case " << c.name << ": " << name << " over an ArrayX vs over a VectorX");
    CHECK(bitwise_equal(plain, array));
  }
  return plain;
}

descent::AdamOptions decoupled(descent::AdamOptions o) {
  o.decoupled_weight_decay = true;
  return o;
}

template <class S>
void run_case(const GroupCase& c) {
  const std::string& kind = c.descent_class;
  if (kind == "SGD") {
    REQUIRE(c.torch_class == "SGD");
    replay_every_holder<descent::SGD, S>(c, "descent::SGD");
  } else if (kind == "Adam") {
    REQUIRE(c.torch_class == "Adam");
    replay_every_holder<descent::Adam, S>(c, "descent::Adam");
  } else if (kind == "AdamW") {
    REQUIRE(c.torch_class == "AdamW");
    const Trajectory by_adamw = replay_every_holder<descent::AdamW, S>(c, "descent::AdamW");
    const Trajectory by_adam = replay_every_holder<descent::Adam, S>(
        c, "descent::Adam{.decoupled_weight_decay = true}", true, &decoupled);
    INFO("case " << c.name << ": Grouped<AdamW> vs Grouped<Adam> with decoupled weight decay");
    CHECK(bitwise_equal(by_adamw, by_adam));
  } else if (kind == "Adagrad") {
    REQUIRE(c.torch_class == "Adagrad");
    replay_every_holder<descent::Adagrad, S>(c, "descent::Adagrad");
  } else if (kind == "RMSProp") {
    REQUIRE(c.torch_class == "RMSprop");
    replay_every_holder<descent::RMSProp, S>(c, "descent::RMSProp");
  } else {
    FAIL("case " << c.name << ": unknown descent class '" << kind << "'");
  }
}

void run_family(const std::string& family, std::size_t expected_per_dtype) {
  std::size_t f64 = 0, f32 = 0;
  for (const GroupCase& c : reference().cases) {
    if (c.descent_class != family) continue;
    (c.dtype == "float64" ? f64 : f32) += 1;
    DYNAMIC_SECTION(c.name) {
      if (c.dtype == "float64")
        run_case<double>(c);
      else
        run_case<float>(c);
    }
  }
  INFO("group reference cases of " << family << " (regenerate with /usr/bin/python3 tools/make_group_reference.py)");
  CHECK(f64 == expected_per_dtype);
  CHECK(f32 == expected_per_dtype);
}

// ---------------------------------------------------------------------------------------------
// Helpers of the other tests.

// Runs `make`, which must throw std::invalid_argument whose message contains every piece.
template <class Make>
void require_invalid(Make make, const std::vector<std::string>& pieces) {
  try {
    make();
    FAIL_CHECK("no exception");
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    INFO("message: " << what);
    for (const std::string& piece : pieces) CHECK(what.find(piece) != std::string::npos);
  }
}

template <class A, class B>
bool same_bits(const A& a, const B& b) {
  using S = typename A::Scalar;
  static_assert(std::is_same_v<S, typename B::Scalar>);
  if (a.size() != b.size()) return false;
  for (Eigen::Index i = 0; i < a.size(); ++i)
    if (std::memcmp(&a.coeffRef(i), &b.coeffRef(i), sizeof(S)) != 0) return false;
  return true;
}

/// A layout of odd-sized blocks (packets and scalar tails in every block), 55 coefficients.
descent::Layout odd_layout() {
  descent::Layout layout;
  layout.add("W1", 5, 3);
  layout.add("b1", 5);
  layout.add("W2", 3, 5);
  layout.add("b2", 3);
  layout.add("s", 1);
  layout.add("W3", 2, 7);
  layout.add("b3", 2);
  return layout;
}

/// The MLP-like layout of the reference: W1 3x4, b1 3, W2 2x3, b2 2 (23 coefficients, no frozen block).
descent::Layout small_layout() {
  descent::Layout layout;
  layout.add("W1", 3, 4);
  layout.add("b1", 3);
  layout.add("W2", 2, 3);
  layout.add("b2", 2);
  return layout;
}

template <class O>
concept HasSetMomentum = requires(O& o) { o.set_momentum(0.5); };
template <class O>
concept HasGroupMomentum = requires(const O& o) { o.momentum(std::size_t(0)); };

template <class O>
double changed_momentum(const O& opt) {
  return opt.momentum() > 0.0 ? 0.5 * opt.momentum() : 0.3;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Against torch.

TEST_CASE("grouped: the reference file", "[grouped]") {
  const Reference& ref = reference();
  CHECK(ref.n == kN);
  CHECK(ref.steps >= 30);
  REQUIRE(ref.blocks.size() == 5);
  CHECK(ref.layout.size() == kN);
  std::set<std::string> names;
  for (const GroupCase& c : ref.cases) {
    INFO("case " << c.name);
    CHECK(names.insert(c.name).second);
    // Every block is in exactly one group, except the frozen one, which is in none.
    std::map<std::string, int> seen;
    for (const auto& group : c.groups)
      for (const auto& b : group) ++seen[b];
    for (const BlockLine& b : ref.blocks) CHECK(seen[b.name] == (b.frozen ? 0 : 1));
    CHECK(c.groups.size() >= 2);
    CHECK_FALSE(c.events.empty());
  }
  CHECK(ref.cases.size() == 12);
}

TEST_CASE("grouped: torch reference, SGD", "[grouped]") { run_family("SGD", 1); }
TEST_CASE("grouped: torch reference, Adam and AMSGrad", "[grouped]") { run_family("Adam", 2); }
TEST_CASE("grouped: torch reference, AdamW", "[grouped]") { run_family("AdamW", 1); }
TEST_CASE("grouped: torch reference, Adagrad", "[grouped]") { run_family("Adagrad", 1); }
TEST_CASE("grouped: torch reference, RMSProp", "[grouped]") { run_family("RMSProp", 1); }

TEST_CASE("grouped: worst errors against torch (DESCENT_GROUP_REPORT=1 prints them)", "[grouped]") {
  // Runs after the reference cases (Catch2 runs test cases in declaration order by default).
  if (!std::getenv("DESCENT_GROUP_REPORT")) return;
  double f64 = 0.0, f32 = 0.0;
  for (const auto& [key, error] : worst_errors()) {
    std::printf("worst relative error %-60s %.3g\n", key.c_str(), error);
    double& worst = key.find("_f64 ") != std::string::npos ? f64 : f32;
    worst = std::max(worst, error);
  }
  std::printf("worst over every case: float64 %.3g, float32 %.3g\n", f64, f32);
}

// ---------------------------------------------------------------------------------------------
// One group of every block is the plain optimizer.

TEMPLATE_TEST_CASE("grouped: one group of every block steps bitwise as the plain optimizer on the whole vector",
                   "[grouped]", DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  auto check = [](auto scalar) {
    using S = decltype(scalar);
    using V = Eigen::Matrix<S, Eigen::Dynamic, 1>;
    using O = decltype(TestType::template make<V>());
    const descent::Layout layout = odd_layout();
    const Eigen::Index n = layout.size();
    O plain = TestType::template make<V>();
    using Options = typename O::Options;
    const Options options = plain.options();
    // One group of every block; the same blocks in three groups of the same options, out of order.
    descent::Grouped<O> one({{layout.blocks(), options}});
    descent::Grouped<O> three({{layout.blocks({"b3", "W2"}), options},
                               {layout.blocks({"s", "W1", "b2"}), options},
                               {layout.blocks({"W3", "b1"}), options}});
    V x(n), y(n), z(n), g(n), gy(n), gz(n);
    descent_test::fill_start(x);
    y = x;
    z = x;
    bool reported = false;
    for (int t = 0; t < 60; ++t) {
      if (t == 20) {  // mid-run changes, through every entry point
        plain.set_lr(0.5 * plain.lr());
        one.set_lr(0, one.lr(0) * 0.5);
        three.set_lr(three.lr() * 0.5);
      }
      if constexpr (requires { plain.set_momentum(0.5); }) {
        if (t == 35) {
          const double m = changed_momentum(plain);
          plain.set_momentum(m);
          one.set_momentum(0, m);
          three.set_momentum(m);
        }
      }
      descent_test::gradient(g, x, t);
      descent_test::gradient(gy, y, t);
      descent_test::gradient(gz, z, t);
      plain.step(x, g);
      one.step(y, gy);
      three.step(z, gz);
      if (!reported && (!same_bits(x, y) || !same_bits(x, z))) {
        INFO("step " << t + 1 << ": plain vs Grouped: max difference "
                     << (x - y).cwiseAbs().maxCoeff() << " (one group), " << (x - z).cwiseAbs().maxCoeff()
                     << " (three groups)");
        FAIL_CHECK("Grouped's per-block steps differ from the plain whole-vector step");
        reported = true;  // the first differing step is the informative one
      }
    }
    CHECK(one.steps() == 60);
    CHECK(three.steps() == 60);
    CHECK(plain.steps() == 60);
  };
  SECTION("double") { check(double{}); }
  SECTION("float") { check(float{}); }
}

// ---------------------------------------------------------------------------------------------
// Errors.

TEST_CASE("grouped: overlapping blocks and no groups throw at construction", "[grouped]") {
  using O = descent::Adam<Eigen::VectorXd>;
  const descent::Layout layout = small_layout();
  const descent::Block inside{"X", 10, 4, 1};  // [10, 14): overlaps W1 [0, 12) and b1 [12, 15)

  // Across groups, in order of offsets and not.
  require_invalid([&] { descent::Grouped<O> opt({{layout.blocks({"W1"}), {}}, {{inside}, {}}}); },
                  {"Grouped", "'W1'", "'X'", "overlap"});
  require_invalid([&] { descent::Grouped<O> opt({{{inside}, {}}, {layout.blocks({"b2", "W1"}), {}}}); },
                  {"Grouped", "'W1'", "'X'", "overlap"});
  // Within one group, and the same block in two groups (torch: "some parameters appear in more than one group").
  require_invalid([&] { descent::Grouped<O> opt({{{layout.block("b1"), inside}, {}}}); }, {"'X'", "'b1'", "overlap"});
  require_invalid([&] { descent::Grouped<O> opt({{layout.blocks({"W1", "b1"}), {}}, {layout.blocks({"b1"}), {}}}); },
                  {"'b1'", "overlap"});
  // A negative offset or shape.
  require_invalid([&] { descent::Grouped<O> opt({{{descent::Block{"neg", -1, 2, 1}}, {}}}); }, {"'neg'"});
  require_invalid([&] { descent::Grouped<O> opt({{{descent::Block{"neg", 0, -2, 1}}, {}}}); }, {"'neg'"});
  // No groups at all.
  require_invalid([&] { descent::Grouped<O> opt(std::vector<descent::Group<descent::AdamOptions>>{}); },
                  {"Grouped", "no parameter groups"});
  // Adjacent blocks and zero-size blocks do not overlap; an empty group is fine.
  CHECK_NOTHROW(descent::Grouped<O>({{layout.blocks({"W1"}), {}}, {layout.blocks({"b1"}), {}}, {{}, {}},
                                     {{descent::Block{"empty", 5, 0, 1}}, {}}}));
}

TEST_CASE("grouped: invalid options in a group throw at construction, naming the field", "[grouped]") {
  const descent::Layout layout = small_layout();
  const auto weights = layout.blocks({"W1", "W2"});
  const auto biases = layout.blocks({"b1", "b2"});
  require_invalid(
      [&] { descent::Grouped<descent::Adam<Eigen::VectorXd>> opt({{weights, {.lr = 0.1}}, {biases, {.beta1 = 1.0}}}); },
      {"AdamOptions", "beta1"});
  require_invalid([&] { descent::Grouped<descent::Adam<Eigen::VectorXd>> opt({{weights, {}}, {biases, {.lr = -1.0}}}); },
                  {"lr"});
  require_invalid(
      [&] { descent::Grouped<descent::AdamW<Eigen::VectorXf>> opt({{weights, {}}, {biases, {.weight_decay = -0.5}}}); },
      {"AdamWOptions", "weight_decay"});
  require_invalid(
      [&] {
        descent::Grouped<descent::SGD<Eigen::VectorXd>> opt(
            {{weights, {.lr = 0.1, .momentum = 0.9}}, {biases, {.lr = 0.1, .nesterov = true}}});
      },
      {"SGDOptions", "momentum", "nesterov"});
  require_invalid(
      [&] { descent::Grouped<descent::SGD<Eigen::VectorXd>> opt({{weights, {.lr = 0.1, .dampening = 2.0}}}); },
      {"SGDOptions", "dampening"});
  require_invalid([&] { descent::Grouped<descent::RMSProp<Eigen::VectorXd>> opt({{biases, {.alpha = 1.5}}}); },
                  {"RMSPropOptions", "alpha"});
  require_invalid([&] { descent::Grouped<descent::Adagrad<Eigen::VectorXd>> opt({{biases, {.lr_decay = -1.0}}}); },
                  {"AdagradOptions", "lr_decay"});
  // Options valid in double but not in float (lr / (1 − beta1) overflows float).
  require_invalid(
      [&] { descent::Grouped<descent::Adam<Eigen::VectorXf>> opt({{biases, {.lr = 1e35, .beta1 = 0.99999}}}); },
      {"lr / (1 - beta1)"});
  // An empty group's options are validated too.
  require_invalid([&] { descent::Grouped<descent::Adam<Eigen::VectorXd>> opt({{weights, {}}, {{}, {.eps = -1.0}}}); },
                  {"eps"});
}

TEST_CASE("grouped: a block that does not fit in params throws from step before anything is written", "[grouped]") {
  using V = Eigen::VectorXd;
  const descent::Layout layout = small_layout();  // W1 [0, 12), b1 [12, 15), W2 [15, 21), b2 [21, 23)
  auto make = [&] {
    return descent::Grouped<descent::Adam<V>>(
        {{layout.blocks({"W1", "b1"}), {.lr = 0.1}},
         {{layout.block("W2"), descent::Block{"far", 22, 4, 1}}, {.lr = 0.2}}});  // far: [22, 26); 21 is frozen
  };
  auto opt = make();
  V x(23), g(23);
  descent_test::fill_start(x);
  descent_test::gradient(g, x, 0);
  const V before = x;
  require_invalid([&] { opt.step(x, g); }, {"Grouped::step", "'far'", "does not fit", "23"});
  CHECK(same_bits(x, before));  // the blocks that fit, of both groups, were not stepped either
  CHECK(opt.steps() == 0);
  for (std::size_t gi = 0; gi < 2; ++gi)
    for (std::size_t b = 0; b < 2; ++b) CHECK(opt.optimizer(gi, b).steps() == 0);
  // params and grads of different sizes
  V x26(26), g25(25);
  descent_test::fill_start(x26);
  const V before26 = x26;
  g25.setConstant(0.5);
  CHECK_THROWS_AS(opt.step(x26, g25), std::invalid_argument);
  CHECK(same_bits(x26, before26));
  CHECK(opt.steps() == 0);

  // Nothing was started: the next steps, on a vector that fits, are a fresh optimizer's.
  auto fresh = make();
  V y = x26;
  V gx(26), gy(26);
  for (int t = 0; t < 5; ++t) {
    descent_test::gradient(gx, x26, t);
    descent_test::gradient(gy, y, t);
    opt.step(x26, gx);
    fresh.step(y, gy);
  }
  CHECK(same_bits(x26, y));
  CHECK(opt.steps() == 5);
  CHECK(x26[21] == before26[21]);  // in no group
  CHECK(x26.segment(22, 4) != before26.segment(22, 4));
}

TEST_CASE("grouped: an invalid set_lr or set_momentum throws and changes nothing, in any group", "[grouped]") {
  const descent::Layout layout = small_layout();
  const auto weights = layout.blocks({"W1", "W2"});
  const auto biases = layout.blocks({"b1", "b2"});

  // Runs `opt` for 10 steps from the same start as `reference`, and requires bitwise the same numbers.
  auto same_run = [](auto& opt, auto& reference) {
    using V = typename std::remove_reference_t<decltype(opt)>::Vector;
    V x(23), y(23), g(23), h(23);
    descent_test::fill_start(x);
    y = x;
    for (int t = 0; t < 10; ++t) {
      descent_test::gradient(g, x, t);
      descent_test::gradient(h, y, t);
      opt.step(x, g);
      reference.step(y, h);
    }
    CHECK(same_bits(x, y));
  };

  SECTION("Adam in float: set_lr valid for group 0 but not for group 1") {
    using O = descent::Adam<Eigen::VectorXf>;
    const std::vector<descent::Group<descent::AdamOptions>> groups = {{weights, {.lr = 0.1, .beta1 = 0.9}},
                                                                      {biases, {.lr = 0.1, .beta1 = 0.99999}}};
    descent::Grouped<O> opt(groups), untouched(groups);
    // 1e35 / (1 − 0.9) is finite in float, 1e35 / (1 − 0.99999) is not.
    require_invalid([&] { opt.set_lr(1e35); }, {"lr / (1 - beta1)"});
    require_invalid([&] { opt.set_lr(-1.0); }, {"lr"});
    require_invalid([&] { opt.set_lr(0, std::numeric_limits<double>::quiet_NaN()); }, {"lr"});
    require_invalid([&] { opt.set_lr(1, 1e35); }, {"lr / (1 - beta1)"});
    require_invalid([&] { opt.set_momentum(1.0); }, {"beta1"});
    require_invalid([&] { opt.set_momentum(0, -0.1); }, {"beta1"});
    for (std::size_t g = 0; g < 2; ++g) {
      CHECK(opt.lr(g) == 0.1);
      CHECK(opt.options(g).lr == 0.1);
      for (std::size_t b = 0; b < 2; ++b) CHECK(opt.optimizer(g, b).lr() == 0.1);
    }
    CHECK(opt.momentum(0) == 0.9);
    CHECK(opt.momentum(1) == 0.99999);
    CHECK(opt.optimizer(1, 1).momentum() == 0.99999);
    same_run(opt, untouched);
  }
  SECTION("Adam in float: set_momentum valid for group 0 but not for group 1") {
    using O = descent::Adam<Eigen::VectorXf>;
    const std::vector<descent::Group<descent::AdamOptions>> groups = {{weights, {.lr = 0.1}}, {biases, {.lr = 1e34}}};
    descent::Grouped<O> opt(groups), untouched(groups);
    // beta1 = 0.99999: 0.1 / 1e-5 is fine, 1e34 / 1e-5 = 1e39 overflows float.
    require_invalid([&] { opt.set_momentum(0.99999); }, {"lr / (1 - beta1)"});
    CHECK(opt.momentum(0) == 0.9);
    CHECK(opt.momentum(1) == 0.9);
    CHECK(opt.options(0).beta1 == 0.9);
    CHECK(opt.optimizer(0, 0).momentum() == 0.9);
    opt.set_lr(1, 0.1);
    untouched.set_lr(1, 0.1);
    same_run(opt, untouched);
  }
  SECTION("SGD: momentum 0 is valid for group 0 but not for group 1 (nesterov)") {
    using O = descent::SGD<Eigen::VectorXd>;
    const std::vector<descent::Group<descent::SGDOptions>> groups = {
        {weights, {.lr = 0.05, .momentum = 0.9}}, {biases, {.lr = 0.05, .momentum = 0.9, .nesterov = true}}};
    descent::Grouped<O> opt(groups), untouched(groups);
    require_invalid([&] { opt.set_momentum(0.0); }, {"SGDOptions", "momentum", "nesterov"});
    require_invalid([&] { opt.set_momentum(1, 0.0); }, {"momentum"});
    require_invalid([&] { opt.set_momentum(-0.5); }, {"momentum"});
    require_invalid([&] { opt.set_momentum(0, std::numeric_limits<double>::infinity()); }, {"momentum"});
    CHECK(opt.momentum() == 0.9);
    CHECK(opt.momentum(1) == 0.9);
    CHECK(opt.optimizer(0, 1).momentum() == 0.9);
    CHECK(opt.optimizer(1, 0).momentum() == 0.9);
    same_run(opt, untouched);
    // a valid one reaches every group and every block optimizer
    opt.set_momentum(0.5);
    for (std::size_t g = 0; g < 2; ++g) {
      CHECK(opt.momentum(g) == 0.5);
      CHECK(opt.options(g).momentum == 0.5);
      for (std::size_t b = 0; b < 2; ++b) CHECK(opt.optimizer(g, b).momentum() == 0.5);
    }
    CHECK(opt.options(1).nesterov);  // the other options stay
  }
  SECTION("RMSProp and AdamW") {
    descent::Grouped<descent::RMSProp<Eigen::VectorXd>> rms({{weights, {.momentum = 0.5}}, {biases, {}}});
    require_invalid([&] { rms.set_momentum(-1.0); }, {"RMSPropOptions", "momentum"});
    require_invalid([&] { rms.set_lr(1, -1.0); }, {"RMSPropOptions", "lr"});
    CHECK(rms.momentum(0) == 0.5);
    CHECK(rms.momentum(1) == 0.0);
    CHECK(rms.lr(1) == 0.01);
    descent::Grouped<descent::AdamW<Eigen::VectorXd>> adamw({{weights, {}}, {biases, {.weight_decay = 0.0}}});
    require_invalid([&] { adamw.set_momentum(1.5); }, {"AdamWOptions", "beta1"});
    require_invalid([&] { adamw.set_lr(-2.0); }, {"AdamWOptions", "lr"});
    CHECK(adamw.momentum(0) == 0.9);
    CHECK(adamw.lr(1) == 1e-3);
  }
}

TEST_CASE("grouped: a group index out of range throws std::out_of_range and changes nothing", "[grouped]") {
  const descent::Layout layout = small_layout();
  descent::Grouped<descent::SGD<Eigen::VectorXd>> opt(
      {{layout.blocks({"W1", "W2"}), {.lr = 0.1, .momentum = 0.9}}, {layout.blocks({"b1", "b2"}), {.lr = 0.2}}});
  CHECK(opt.group_count() == 2);
  CHECK_THROWS_AS(opt.lr(2), std::out_of_range);
  CHECK_THROWS_AS(opt.set_lr(2, 0.5), std::out_of_range);
  CHECK_THROWS_AS(opt.options(2), std::out_of_range);
  CHECK_THROWS_AS(opt.blocks(2), std::out_of_range);
  CHECK_THROWS_AS(opt.momentum(2), std::out_of_range);
  CHECK_THROWS_AS(opt.set_momentum(2, 0.5), std::out_of_range);
  CHECK_THROWS_AS(opt.optimizer(2, 0), std::out_of_range);
  CHECK_THROWS_AS(opt.optimizer(0, 2), std::out_of_range);
  CHECK_THROWS_AS(opt.set_lr(std::size_t(-1), 0.5), std::out_of_range);
  CHECK(opt.lr(0) == 0.1);
  CHECK(opt.lr(1) == 0.2);
  CHECK(opt.momentum(0) == 0.9);
  CHECK(opt.momentum(1) == 0.0);
}

TEST_CASE("grouped: accessors, set_lr and set_momentum of every group, steps, concepts", "[grouped]") {
  using V = Eigen::VectorXd;
  using G = descent::Grouped<descent::Adam<V>>;
  static_assert(descent::Optimizer<G, V>);
  static_assert(descent::LearningRateControl<G>);
  static_assert(descent::Optimizer<descent::Grouped<descent::AdamW<Eigen::VectorXf>>, Eigen::VectorXf>);
  static_assert(descent::Optimizer<descent::Grouped<descent::SGD<Eigen::Matrix<double, 23, 1>>>,
                                   Eigen::Matrix<double, 23, 1>>);
  static_assert(descent::Optimizer<descent::Grouped<descent::RMSProp<Eigen::ArrayXf>>, Eigen::ArrayXf>);
  static_assert(descent::Optimizer<descent::Grouped<descent::Adagrad<V>>, V>);
  static_assert(descent::Optimizer<descent::Grouped<descent::GradientDescent<V>>, V>);
  static_assert(std::is_same_v<G::BlockOptimizer, descent::Adam<V>>);
  static_assert(std::is_same_v<descent::Grouped<descent::SGD<Eigen::Vector4f>>::BlockOptimizer, descent::SGD<Eigen::VectorXf>>);
  static_assert(std::is_same_v<descent::Grouped<descent::SGD<Eigen::ArrayXf>>::BlockOptimizer, descent::SGD<Eigen::ArrayXf>>);
  static_assert(std::is_same_v<descent::Grouped<descent::AdamW<V>>::Options, descent::AdamWOptions>);
  static_assert(!HasSetMomentum<descent::Grouped<descent::GradientDescent<V>>>);
  static_assert(!HasGroupMomentum<descent::Grouped<descent::Adagrad<V>>>);
  static_assert(HasSetMomentum<descent::Grouped<descent::RMSProp<V>>>);
  static_assert(HasGroupMomentum<descent::Grouped<descent::AdamW<V>>>);

  const descent::Layout layout = small_layout();
  G opt({{layout.blocks({"W1", "W2"}), {.lr = 1e-3, .weight_decay = 0.1}},
         {layout.blocks({"b1", "b2"}), {.lr = 2e-3, .beta2 = 0.99}}});
  CHECK(opt.group_count() == 2);
  CHECK(opt.lr() == 1e-3);
  CHECK(opt.lr(1) == 2e-3);
  CHECK(opt.momentum() == 0.9);
  CHECK(opt.options(1).beta2 == 0.99);
  CHECK(opt.options(0).weight_decay == 0.1);
  CHECK(opt.blocks(1) == layout.blocks({"b1", "b2"}));
  CHECK(opt.optimizer(1, 0).options().beta2 == 0.99);
  opt.set_lr(0.05);
  CHECK(opt.lr(0) == 0.05);
  CHECK(opt.lr(1) == 0.05);
  CHECK(opt.optimizer(1, 1).lr() == 0.05);
  opt.set_momentum(0.8);
  CHECK(opt.momentum(0) == 0.8);
  CHECK(opt.momentum(1) == 0.8);
  CHECK(opt.options(1).beta1 == 0.8);
  CHECK(opt.options(1).beta2 == 0.99);  // the rest stays
  opt.set_momentum(1, 0.7);
  CHECK(opt.momentum() == 0.8);
  CHECK(opt.momentum(1) == 0.7);
  V x(23), g(23);
  descent_test::fill_start(x);
  CHECK(opt.steps() == 0);
  for (int t = 0; t < 3; ++t) {
    descent_test::gradient(g, x, t);
    opt.step(x, g);
  }
  CHECK(opt.steps() == 3);
  // grads as an expression, params as a segment of a longer vector
  V longer = V::Zero(30);
  longer.segment(3, 23) = x;
  V reference_x = x;
  G twin = opt;
  descent_test::gradient(g, x, 3);
  twin.step(reference_x, g);
  opt.step(longer.segment(3, 23), g * 1.0);
  CHECK(same_bits(longer.segment(3, 23).eval(), reference_x));
  CHECK(longer.head(3).isZero(0.0));
  CHECK(longer.tail(4).isZero(0.0));
}

TEST_CASE("grouped: reset() forgets every block's state and the steps, keeps the options", "[grouped]") {
  using V = Eigen::VectorXf;
  const descent::Layout layout = small_layout();
  using O = descent::RMSProp<V>;
  const std::vector<descent::Group<descent::RMSPropOptions>> groups = {
      {layout.blocks({"W1", "W2"}), {.lr = 0.01, .momentum = 0.5, .centered = true}},
      {layout.blocks({"b1"}), {.lr = 0.02, .alpha = 0.9}}};  // b2 frozen
  descent::Grouped<O> opt(groups);
  V x(23), g(23);
  descent_test::fill_start(x);
  const V start = x;
  for (int t = 0; t < 12; ++t) {
    if (t == 5) opt.set_lr(1, 0.015);
    if (t == 7) opt.set_momentum(0, 0.7);
    descent_test::gradient(g, x, t);
    opt.step(x, g);
  }
  opt.reset();
  CHECK(opt.steps() == 0);
  for (std::size_t gi = 0; gi < 2; ++gi)
    for (std::size_t b = 0; b < opt.blocks(gi).size(); ++b) CHECK(opt.optimizer(gi, b).steps() == 0);
  CHECK(opt.lr(1) == 0.015);
  CHECK(opt.momentum(0) == 0.7);
  // From here, the same numbers as a new optimizer with the current options.
  descent::Grouped<O> fresh({{groups[0].blocks, opt.options(0)}, {groups[1].blocks, opt.options(1)}});
  V y = start, h(23);
  x = start;
  for (int t = 0; t < 12; ++t) {
    descent_test::gradient(g, x, t);
    descent_test::gradient(h, y, t);
    opt.step(x, g);
    fresh.step(y, h);
  }
  CHECK(same_bits(x, y));
  CHECK(same_bits(x.tail(2).eval(), start.tail(2).eval()));
  CHECK(opt.steps() == 12);
}

// ---------------------------------------------------------------------------------------------
// Momentum given late.

// With FP contraction off, so that the models compute exactly what descent's kernels compute.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace {

/// torch's SGD per coefficient, in S, with a buffer that starts (a copy of g) at the first step with
/// momentum != 0 and is kept, unused, while the momentum is 0.
template <class S>
struct SGDModel {
  descent::SGDOptions o;
  std::vector<Eigen::Index> indices;  // the coefficients of the flat vector it steps
  std::vector<S> buf;
  bool has_buffer = false;
  template <class X, class G>
  void step(X& p, const G& grad) {
    const bool momentum = o.momentum != 0.0;
    const bool first = momentum && !has_buffer;
    if (first) buf.assign(indices.size(), S(0));
    for (std::size_t k = 0; k < indices.size(); ++k) {
      const Eigen::Index i = indices[k];
      S g = grad[i];
      if (o.weight_decay != 0.0) g = g + S(o.weight_decay) * p[i];
      if (momentum) {
        S& b = buf[k];
        b = first ? g : S(o.momentum) * b + S(1.0 - o.dampening) * g;
        g = o.nesterov ? g + S(o.momentum) * b : b;
      }
      p[i] = p[i] - S(o.lr) * g;
    }
    if (momentum) has_buffer = true;
  }
};

std::vector<Eigen::Index> indices_of(const std::vector<descent::Block>& blocks) {
  std::vector<Eigen::Index> out;
  for (const descent::Block& b : blocks)
    for (Eigen::Index i = b.offset; i < b.end(); ++i) out.push_back(i);
  return out;
}

/// RMSProp per coefficient, in S; the momentum buffer starts at ZERO at the first step with
/// momentum > 0 (also after steps without momentum: descent's choice, where torch 1.13 raises a
/// KeyError) and is kept, unused, while the momentum is 0.
template <class S>
struct RMSPropModel {
  descent::RMSPropOptions o;
  std::vector<S> v, ga, buf;
  bool started = false, has_buffer = false;
  template <class X, class G>
  void step(X& p, const G& grad) {
    const std::size_t n = std::size_t(p.size());
    if (!started) {
      v.assign(n, S(0));
      ga.assign(n, S(0));
      started = true;
    }
    if (o.momentum > 0.0 && !has_buffer) {
      buf.assign(n, S(0));
      has_buffer = true;
    }
    const S a = S(o.alpha), c = S(1.0 - o.alpha);
    for (Eigen::Index i = 0; i < p.size(); ++i) {
      const std::size_t k = std::size_t(i);
      S g = grad[i];
      if (o.weight_decay != 0.0) g = g + S(o.weight_decay) * p[i];
      v[k] = a * v[k] + c * (g * g);
      S avg;
      if (o.centered) {
        ga[k] = a * ga[k] + c * g;
        avg = std::sqrt(v[k] - ga[k] * ga[k]) + S(o.eps);
      } else {
        avg = std::sqrt(v[k]) + S(o.eps);
      }
      if (o.momentum > 0.0) {
        buf[k] = S(o.momentum) * buf[k] + g / avg;
        p[i] = p[i] - S(o.lr) * buf[k];
      } else {
        p[i] = p[i] - S(o.lr) * (g / avg);
      }
    }
  }
};

}  // namespace

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

namespace {

template <class A, class B>
double relative_difference(const A& a, const B& b) {
  const double scale = std::max(b.template cast<double>().cwiseAbs().maxCoeff(), 1e-30);
  return (a.template cast<double>() - b.template cast<double>()).cwiseAbs().maxCoeff() / scale;
}

}  // namespace

TEST_CASE("grouped: SGD given momentum late starts its buffer as a copy of the gradient, keeps it while momentum is 0",
          "[grouped]") {
  using V = Eigen::VectorXd;
  const descent::Layout layout = small_layout();
  const descent::SGDOptions w{.lr = 0.05, .dampening = 0.3};                   // momentum 0 at first
  const descent::SGDOptions b{.lr = 0.1, .momentum = 0.9, .nesterov = true};  // throughout
  descent::Grouped<descent::SGD<V>> opt({{layout.blocks({"W1", "W2"}), w}, {layout.blocks({"b1", "b2"}), b}});
  descent::SGD<V> plain(w);  // the same schedule on the whole vector
  SGDModel<double> model{w, indices_of(layout.blocks({"W1", "W2"})), {}, false};
  SGDModel<double> bias_model{b, indices_of(layout.blocks({"b1", "b2"})), {}, false};

  const descent::Block W1 = layout.block("W1");
  V x(23), g(23), y(23), gy(23), gm(23);
  descent_test::fill_start(x);
  y = x;
  V m = x;  // the models' parameters
  V kept;
  for (int t = 0; t < 16; ++t) {
    if (t == 4) {  // 0 -> 0.9: the next step starts the buffer
      opt.set_momentum(0, 0.9);
      plain.set_momentum(0.9);
      model.o.momentum = 0.9;
    }
    if (t == 8) {  // 0.9 -> 0: the buffer is kept, unused
      opt.set_momentum(0, 0.0);
      plain.set_momentum(0.0);
      model.o.momentum = 0.0;
      kept = opt.optimizer(0, 0).momentum_buffer();
    }
    if (t == 11) {  // 0 -> 0.5: the kept buffer is resumed (with dampening)
      opt.set_momentum(0, 0.5);
      plain.set_momentum(0.5);
      model.o.momentum = 0.5;
    }
    descent_test::gradient(g, x, t);
    descent_test::gradient(gy, y, t);
    descent_test::gradient(gm, m, t);
    opt.step(x, g);
    plain.step(y, gy);
    model.step(m, gm);
    bias_model.step(m, gm);

    INFO("step " << t + 1);
    CHECK(relative_difference(x, m) <= 1e-14);
    if (t < 4) CHECK(opt.optimizer(0, 0).momentum_buffer().size() == 0);  // no buffer yet
    if (t == 4) {
      // the first step with momentum: the buffer is the gradient itself (no dampening), bitwise
      CHECK(same_bits(opt.optimizer(0, 0).momentum_buffer(), g.segment(W1.offset, W1.size()).eval()));
      CHECK(same_bits(plain.momentum_buffer().head(12).eval(), gy.head(12).eval()));
    }
    if (t >= 8 && t < 11) CHECK(same_bits(opt.optimizer(0, 0).momentum_buffer(), kept));
  }
  // the plain SGD given the same momentum schedule on the whole vector: the W blocks agree bitwise
  CHECK(same_bits(x.head(12).eval(), y.head(12).eval()));
  CHECK(same_bits(x.segment(15, 6).eval(), y.segment(15, 6).eval()));
}

TEST_CASE("grouped: RMSProp given momentum late starts a zero buffer (hand-computed model, torch raises KeyError)",
          "[grouped]") {
  auto check = [](auto scalar) {
    using S = decltype(scalar);
    using V = Eigen::Matrix<S, Eigen::Dynamic, 1>;
    const double tol = std::is_same_v<S, double> ? 1e-13 : 1e-5;
    const descent::Layout layout = small_layout();
    const descent::RMSPropOptions w{.lr = 0.01, .weight_decay = 0.01, .centered = true};  // momentum 0 at first
    const descent::RMSPropOptions b{.lr = 0.02, .alpha = 0.9, .momentum = 0.5};
    descent::Grouped<descent::RMSProp<V>> opt(
        {{layout.blocks({"W1"}), w}, {layout.blocks({"b1", "b2"}), b}});  // W2 frozen
    descent::RMSProp<V> plain(w);  // on W1 alone, through a segment
    RMSPropModel<S> wm{w, {}, {}, {}, false, false};
    RMSPropModel<S> bm1{b, {}, {}, {}, false, false}, bm2{b, {}, {}, {}, false, false};
    V x(23), g(23);
    descent_test::fill_start(x);
    const V start = x;
    V m = x, p = x;
    for (int t = 0; t < 20; ++t) {
      if (t == 5) {  // W1: 0 -> 0.9, a zero buffer starts at the next step
        opt.set_momentum(0, 0.9);
        plain.set_momentum(0.9);
        wm.o.momentum = 0.9;
      }
      if (t == 9) {  // biases: 0.5 -> 0, kept; 0 -> 0.3 at 13, resumed
        opt.set_momentum(1, 0.0);
        bm1.o.momentum = bm2.o.momentum = 0.0;
      }
      if (t == 13) {
        opt.set_momentum(1, 0.3);
        bm1.o.momentum = bm2.o.momentum = 0.3;
      }
      if (t == 16) {  // reset drops the buffers: with momentum on, the next step starts zero buffers again
        opt.reset();
        plain.reset();
        wm = RMSPropModel<S>{wm.o, {}, {}, {}, false, false};
        bm1 = RMSPropModel<S>{bm1.o, {}, {}, {}, false, false};
        bm2 = RMSPropModel<S>{bm2.o, {}, {}, {}, false, false};
      }
      descent_test::gradient(g, x, t);
      opt.step(x, g);
      V gp(23);
      descent_test::gradient(gp, p, t);
      plain.step(p.head(12), gp.head(12));
      V gm(23);
      descent_test::gradient(gm, m, t);
      auto w1 = m.segment(0, 12);
      auto b1 = m.segment(12, 3);
      auto b2 = m.segment(21, 2);
      const V gw1 = gm.segment(0, 12), gb1 = gm.segment(12, 3), gb2 = gm.segment(21, 2);
      wm.step(w1, gw1);
      bm1.step(b1, gb1);
      bm2.step(b2, gb2);
      INFO("step " << t + 1);
      CHECK(relative_difference(x, m) <= tol);
      CHECK(relative_difference(p.head(12), m.head(12)) <= tol);
      CHECK(same_bits(x.head(12).eval(), p.head(12).eval()));  // Grouped's block = the plain optimizer on it
      if (t == 5 || t == 16) {
        // the buffer after its first step: 0.9·0 + g/avg, the model's
        REQUIRE(opt.optimizer(0, 0).momentum_buffer().size() == 12);
        V model_buffer = Eigen::Map<const V>(wm.buf.data(), 12);
        CHECK(relative_difference(opt.optimizer(0, 0).momentum_buffer(), model_buffer) <= tol);
      }
    }
    CHECK(same_bits(x.segment(15, 6).eval(), start.segment(15, 6).eval()));  // W2: frozen
  };
  SECTION("double") { check(double{}); }
  SECTION("float") { check(float{}); }
}

TEST_CASE("grouped: AdamW groups keep torch's default weight_decay 1e-2", "[grouped]") {
  using V = Eigen::VectorXd;
  const descent::Layout layout = small_layout();
  descent::Grouped<descent::AdamW<V>> opt(
      {{layout.blocks({"W1", "W2"}), {.lr = 0.03}}, {layout.blocks({"b1", "b2"}), {.lr = 0.03, .weight_decay = 0.0}}});
  CHECK(opt.options(0).weight_decay == 1e-2);
  CHECK(opt.options(0).decoupled_weight_decay);
  CHECK(opt.options(1).weight_decay == 0.0);
  CHECK(opt.optimizer(0, 1).options().weight_decay == 1e-2);
  CHECK(opt.optimizer(0, 1).options().decoupled_weight_decay);
  // And it steps as a plain AdamW({.lr = 0.03}) on that block, bitwise.
  descent::AdamW<V> plain({.lr = 0.03});
  V x(23), g(23), y(12), h(12);
  descent_test::fill_start(x);
  y = x.head(12);
  for (int t = 0; t < 10; ++t) {
    descent_test::gradient(g, x, t);
    h = g.head(12);
    opt.step(x, g);
    plain.step(y, h);
  }
  CHECK(same_bits(x.head(12).eval(), y));
  // A Grouped<Adam> group has Adam's default, 0, also with decoupled decay.
  descent::Grouped<descent::Adam<V>> adam({{layout.blocks({"W1"}), {.decoupled_weight_decay = true}}});
  CHECK(adam.options(0).weight_decay == 0.0);
}

TEST_CASE("grouped: each group's Adagrad sums start from that group's initial_accumulator_value", "[grouped]") {
  // (torch 1.13's Adagrad would fill every sum with its constructor's value, ignoring the groups':
  // descent follows the group's options, as for every other option)
  using V = Eigen::VectorXd;
  const descent::Layout layout = small_layout();
  descent::Grouped<descent::Adagrad<V>> opt({{layout.blocks({"W1", "W2"}), {.lr = 0.1, .initial_accumulator_value = 0.5}},
                                             {layout.blocks({"b1", "b2"}), {.lr = 0.1}}});
  V x(23), g(23);
  descent_test::fill_start(x);
  descent_test::gradient(g, x, 0);
  opt.step(x, g);
  const V& w1 = opt.optimizer(0, 0).sum_of_squares();
  const V& b1 = opt.optimizer(1, 0).sum_of_squares();
  CHECK(w1 == (0.5 + g.head(12).array().square()).matrix());
  CHECK(b1 == g.segment(12, 3).array().square().matrix());
}
