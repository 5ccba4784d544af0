// Checkpoints: exact round trips of every stateful type, resumed runs that are bit-identical to
// uninterrupted ones, and every kind of bad input (a clear CheckpointError, the target unchanged).

#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstring>
#include <descent/checkpoint.hpp>
#include <descent/descent.hpp>
#include <descent/problems/problems.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"

using Catch::Matchers::Contains;

namespace {

std::string bytes_of(const descent::Checkpoint& ck) {
  std::ostringstream out(std::ios::binary);
  ck.save(out);
  return out.str();
}

descent::Checkpoint from_bytes(const std::string& bytes) {
  std::istringstream in(bytes, std::ios::binary);
  return descent::Checkpoint::load(in);
}

/// The serialized state of one object: two objects are in the same state exactly when these agree.
template <class T>
std::string state_of(const T& x) {
  descent::Checkpoint ck;
  ck.put("x", x);
  return bytes_of(ck);
}

std::uint64_t xxh64(const std::string& s) { return XXH64(s.data(), s.size(), 0); }

/// Recomputes the checksum of a (modified) checkpoint file, as descent writes it, so that a test
/// reaches the validation behind the checksum.
std::string with_valid_checksum(std::string file) {
  const std::string key = "\"descent.checksum\":\"xxh64:";
  const auto at = file.find(key);
  if (at == std::string::npos || at + key.size() + 16 > file.size()) return file;
  file.replace(at + key.size(), 16, 16, '0');
  char digits[17];
  std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(xxh64(file)));
  file.replace(at + key.size(), 16, digits);
  return file;
}

/// A safetensors file from a header (its __metadata__ gets descent's format and a placeholder
/// checksum unless given) and the data, with a valid checksum.
std::string make_file(nlohmann::json header, const std::string& data, bool descent_metadata = true) {
  if (descent_metadata) {
    auto& meta = header["__metadata__"];
    if (!meta.contains("descent.format")) meta["descent.format"] = "1";
    if (!meta.contains("descent.entries")) meta["descent.entries"] = R"({"p":{"kind":"Eigen","scalar":"float64"}})";
    meta["descent.checksum"] = "xxh64:0000000000000000";
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[std::size_t(i)] = char((std::uint64_t(text.size()) >> (8 * i)) & 0xff);
  return with_valid_checksum(file + text + data);
}

std::string doubles(std::initializer_list<double> xs) {
  std::string s(xs.size() * 8, '\0');
  std::size_t i = 0;
  for (double x : xs) std::memcpy(s.data() + 8 * i++, &x, 8);
  return s;
}

std::string load_error(const std::string& bytes) {
  try {
    from_bytes(bytes);
  } catch (const descent::CheckpointError& e) {
    return e.what();
  }
  return "(loaded)";
}

std::filesystem::path temp_dir() {
  auto dir = std::filesystem::temp_directory_path() /
             descent::detail::concat("descent_checkpoint_test_", std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

template <class V>
V start(Eigen::Index n) {
  V x(n);
  descent_test::fill_start(x);
  return x;
}

using descent_test::Centroid;
using descent_test::make_centroid;

}  // namespace

// ---- round trips -----------------------------------------------------------------------------

TEMPLATE_TEST_CASE("checkpoint: every optimizer, restored mid-run, continues bit-identically", "[checkpoint]",
                   DESCENT_TEST_ALL_VARIANTS) {
  auto run = [](auto scalar) {
    using V = Eigen::Matrix<decltype(scalar), Eigen::Dynamic, 1>;
    V x = start<V>(9), g(9);
    auto opt = TestType::template make<V>();
    for (int t = 0; t < 4; ++t) {
      descent_test::gradient(g, x, t);
      opt.step(x, g);
    }
    descent::Checkpoint ck;
    ck.put("params", x);
    ck.put("optimizer", opt);
    const auto loaded = from_bytes(bytes_of(ck));

    V y;  // an empty dynamic vector takes the saved shape
    auto restored = TestType::template make<V>();
    loaded.get("params", y);
    loaded.get("optimizer", restored);
    REQUIRE(y == x);
    CHECK(state_of(restored) == state_of(opt));
    for (int t = 4; t < 10; ++t) {
      descent_test::gradient(g, x, t);
      opt.step(x, g);
      descent_test::gradient(g, y, t);
      restored.step(y, g);
    }
    CHECK(y == x);  // bitwise
    CHECK(state_of(restored) == state_of(opt));
  };
  SECTION("float") { run(0.0f); }
  SECTION("double") { run(0.0); }
}

TEST_CASE("checkpoint: an optimizer saved before its first step restores to that state", "[checkpoint]") {
  descent::Adam<Eigen::VectorXd> fresh({.lr = 0.1, .amsgrad = true}), used({.lr = 0.1, .amsgrad = true});
  Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
  used.step(x, x);
  descent::Checkpoint ck;
  ck.put("o", fresh);
  from_bytes(bytes_of(ck)).get("o", used);
  CHECK(used.steps() == 0);
  CHECK(state_of(used) == state_of(fresh));
}

TEST_CASE("checkpoint: optimizers over Arrays, matrices and fixed-size vectors", "[checkpoint]") {
  auto round_trip = [](auto x) {
    using V = decltype(x);
    descent::RMSProp<V> opt({.momentum = 0.5, .centered = true}), back({.momentum = 0.5, .centered = true});
    V g = x;
    g.setConstant(0.25f);
    opt.step(x, g);
    opt.step(x, g);
    descent::Checkpoint ck;
    ck.put("o", opt);
    ck.put("x", x);
    V y;  // empty when dynamic: it takes the saved shape
    const auto loaded = from_bytes(bytes_of(ck));
    loaded.get("o", back);
    loaded.get("x", y);
    CHECK(state_of(back) == state_of(opt));
    opt.step(x, g);
    back.step(y, g);
    CHECK((y.array() == x.array()).all());
  };
  round_trip(Eigen::ArrayXf::LinSpaced(5, -1, 1).eval());
  round_trip(Eigen::MatrixXf::Identity(3, 4).eval());
  round_trip(Eigen::Vector3f(1, 2, 3));
  round_trip(Eigen::RowVectorXf::LinSpaced(4, 0, 1).eval());
}

TEST_CASE("checkpoint: Eigen matrices keep their shape and are row-major in the file", "[checkpoint]") {
  Eigen::MatrixXf m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  Eigen::Matrix<double, 2, 2> fixed;
  fixed << 1.5, -2, 1e-300, 5e-324;
  Eigen::ArrayXXd array = Eigen::ArrayXXd::Random(4, 2);
  descent::Checkpoint ck;
  ck.put("m", m);
  ck.put("fixed", fixed);
  ck.put("array", array);
  ck.put("expression", 2.0 * fixed);
  const std::string file = bytes_of(ck);
  // row-major: 1 2 3 4 5 6 as floats, contiguous
  const float row_major[] = {1, 2, 3, 4, 5, 6};
  CHECK(file.find(std::string(reinterpret_cast<const char*>(row_major), sizeof row_major)) != std::string::npos);
  CHECK(file.find(R"("m":{"data_offsets")") != std::string::npos);
  CHECK(file.find(R"("shape":[2,3])") != std::string::npos);

  const auto loaded = from_bytes(file);
  Eigen::MatrixXf m2(2, 3);
  Eigen::Matrix<double, 2, 2> fixed2, twice;
  Eigen::ArrayXXd array2;
  loaded.get("m", m2);
  loaded.get("fixed", fixed2);
  loaded.get("array", array2);
  loaded.get("expression", twice);
  CHECK(m2 == m);
  CHECK(std::memcmp(fixed2.data(), fixed.data(), sizeof(double) * 4) == 0);
  CHECK((array2 == array).all());
  CHECK(twice == 2.0 * fixed);

  // into a Map: the shape must match exactly
  std::vector<float> storage(6);
  Eigen::Map<Eigen::MatrixXf> map(storage.data(), 2, 3);
  loaded.get("m", map);
  CHECK(map == m);
  Eigen::Map<Eigen::MatrixXf> wrong(storage.data(), 3, 2);
  CHECK_THROWS_WITH(loaded.get("m", wrong), Contains("holds 2x3 parameters, but the target is 3x2"));
}

TEST_CASE("checkpoint: doubles in the metadata round-trip exactly, non-finite ones included", "[checkpoint]") {
  for (double lr : {0.1 + 0.2, 1e-300, 5e-324, 0.3, 1.0 / 3.0, 123456789.123456789, 2.2250738585072014e-308}) {
    descent::SGD<Eigen::VectorXd> sgd({.lr = lr, .momentum = 1.0 / 7.0}), back;
    descent::Checkpoint ck;
    ck.put("sgd", sgd);
    from_bytes(bytes_of(ck)).get("sgd", back);
    CHECK(std::memcmp(&back.options().lr, &lr, sizeof lr) == 0);
    CHECK(back.options().momentum == 1.0 / 7.0);
  }
  descent::GradientDescent<Eigen::VectorXd> gd;
  descent::ReduceLROnPlateau plateau(gd), other(gd);  // best() starts at +inf
  REQUIRE(std::isinf(plateau.best()));
  plateau.step(std::numeric_limits<double>::quiet_NaN());  // a bad epoch; best stays inf
  descent::Checkpoint ck;
  ck.put("plateau", plateau);
  from_bytes(bytes_of(ck)).get("plateau", other);
  CHECK(std::isinf(other.best()));
  CHECK(other.num_bad_epochs() == 1);
  CHECK(other.last_epoch() == 1);
}

TEST_CASE("checkpoint: Grouped, Clipped and a Scheduler continue bit-identically", "[checkpoint]") {
  using V = Eigen::VectorXf;
  descent::Layout layout;
  layout.add("W", 3, 2);
  layout.add("b", 3);
  layout.add("c", 2);
  auto make = [&] {
    return descent::clipped(
        descent::Grouped<descent::AdamW<V>>({{layout.blocks({"W"}), {.lr = 1e-2, .weight_decay = 0.1}},
                                             {layout.blocks({"b", "c"}), {.lr = 3e-2, .weight_decay = 0.0}},
                                             {{}, {.lr = 5e-3}}}),  // a group without blocks
        1.0);
  };
  const descent::OneCycleLR one_cycle{.max_lr = 0.05, .total_steps = 30};
  auto opt = make();
  descent::Scheduler sched(opt, one_cycle);
  V x = start<V>(layout.size()), g(layout.size());
  for (int t = 0; t < 11; ++t) {
    descent_test::gradient(g, x, t);
    opt.step(x, g);
    sched.step();
  }
  descent::Checkpoint ck;
  ck.put("params", x);
  ck.put("optimizer", opt);
  ck.put("scheduler", sched);
  const std::string file = bytes_of(ck);
  CHECK(file.find("\"optimizer.group0.block0.exp_avg\"") != std::string::npos);
  CHECK(file.find("\"optimizer.group1.block1.exp_avg_sq\"") != std::string::npos);

  auto restored = make();
  descent::Scheduler restored_sched(restored, one_cycle);  // applies step 0's lr ...
  V y(layout.size());
  const auto loaded = from_bytes(file);
  loaded.get("params", y);
  loaded.get("optimizer", restored);  // ... which the optimizer's entry then overwrites
  loaded.get("scheduler", restored_sched);
  CHECK(restored.optimizer().lr(2) == opt.optimizer().lr(2));
  CHECK(restored_sched.last_epoch() == 11);
  for (int t = 11; t < 30; ++t) {
    descent_test::gradient(g, x, t);
    opt.step(x, g);
    sched.step();
    descent_test::gradient(g, y, t);
    restored.step(y, g);
    restored_sched.step();
  }
  CHECK(y == x);
  CHECK(restored_sched.last_lr() == sched.last_lr());
  CHECK(state_of(restored) == state_of(opt));
  for (std::size_t grp = 0; grp < 3; ++grp) {
    CHECK(restored.optimizer().lr(grp) == opt.optimizer().lr(grp));
    CHECK(restored.optimizer().momentum(grp) == opt.optimizer().momentum(grp));
  }
}

TEST_CASE("checkpoint: a sampler restored mid-epoch draws the same batches", "[checkpoint]") {
  for (const descent::SamplerOptions options :
       {descent::SamplerOptions{.batch_size = 7, .seed = 11},
        descent::SamplerOptions{.batch_size = 7, .shuffle = false},
        descent::SamplerOptions{.batch_size = 7, .drop_last = true, .seed = 5},
        descent::SamplerOptions{.batch_size = 4, .with_replacement = true, .seed = 9}}) {
    for (int drawn : {0, 1, 5, 6, 9}) {
      descent::MinibatchSampler a(45, options), b(45, options);
      for (int i = 0; i < drawn; ++i) a.next();
      b.next();  // b is somewhere else before the restore
      descent::Checkpoint ck;
      ck.put("sampler", a);
      from_bytes(bytes_of(ck)).get("sampler", b);
      CHECK(b.epoch() == a.epoch());
      CHECK(b.end_of_epoch() == a.end_of_epoch());
      for (int i = 0; i < 40; ++i) {
        const auto ba = a.next();
        const auto bb = b.next();
        REQUIRE(std::vector<Eigen::Index>(ba.begin(), ba.end()) == std::vector<Eigen::Index>(bb.begin(), bb.end()));
      }
    }
  }
}

TEST_CASE("checkpoint: ReduceLROnPlateau and a Scheduler on the same optimizer keep their chaining", "[checkpoint]") {
  using V = Eigen::VectorXd;
  auto drive = [](descent::SGD<V>& opt, auto& sched, auto& plateau, int from, int to) {
    for (int t = from; t < to; ++t) {
      sched.step();
      plateau.step(t < 4 ? 10.0 - t : 7.0);
    }
    (void)opt;
  };
  descent::SGD<V> a({.lr = 0.1, .momentum = 0.9}), b({.lr = 0.1, .momentum = 0.9});
  descent::Scheduler sa(a, descent::StepLR{.step_size = 3, .gamma = 0.5}),
      sb(b, descent::StepLR{.step_size = 3, .gamma = 0.5});
  descent::ReduceLROnPlateau pa(a, {.factor = 0.3, .patience = 1}), pb(b, {.factor = 0.3, .patience = 1});
  drive(a, sa, pa, 0, 8);
  descent::Checkpoint ck;
  ck.put("optimizer", a);
  ck.put("scheduler", sa);
  ck.put("plateau", pa);
  const auto loaded = from_bytes(bytes_of(ck));
  loaded.get("optimizer", b);
  loaded.get("scheduler", sb);
  loaded.get("plateau", pb);
  drive(a, sa, pa, 8, 20);
  drive(b, sb, pb, 8, 20);
  CHECK(b.lr() == a.lr());
  CHECK(sb.last_lr() == sa.last_lr());
  CHECK(pb.last_lr() == pa.last_lr());
  CHECK(pb.num_bad_epochs() == pa.num_bad_epochs());
}

TEST_CASE("checkpoint: History, KeepBest and EarlyStopping keep what they recorded", "[checkpoint]") {
  using V = Eigen::VectorXd;
  const Centroid f = make_centroid(3, 30);
  V x = V::Constant(3, 2.0);
  descent::History history;
  descent::KeepBest<V> best;
  auto early = descent::early_stopping<V>([&](const V& p) { return p.squaredNorm(); }, {.patience = 50});
  descent::Adam<V> adam({.lr = 0.05});
  descent::train(f, x, adam, descent::MinibatchSampler(30, {.batch_size = 8}), {.max_iterations = 0, .max_epochs = 3},
                 history, best, early);
  descent::Checkpoint ck;
  ck.put("history", history);
  ck.put("best", best);
  ck.put("early", early);
  const auto loaded = from_bytes(bytes_of(ck));

  descent::History h2;
  descent::KeepBest<V> b2;
  auto e2 = descent::early_stopping<V>([&](const V& p) { return p.squaredNorm(); }, {.patience = 50});
  loaded.get("history", h2);
  loaded.get("best", b2);
  loaded.get("early", e2);
  REQUIRE(h2.steps().size() == history.steps().size());
  REQUIRE(h2.epochs().size() == 3);
  for (std::size_t i = 0; i < h2.steps().size(); ++i) {
    CHECK(h2.steps()[i].iteration == history.steps()[i].iteration);
    CHECK(h2.steps()[i].loss == history.steps()[i].loss);
    CHECK(std::isnan(h2.steps()[i].gradient_norm));
    CHECK(h2.steps()[i].seconds == history.steps()[i].seconds);
  }
  CHECK(b2.best_loss() == best.best_loss());
  CHECK(b2.best_iteration() == best.best_iteration());
  CHECK(b2.best_params() == best.best_params());
  CHECK(e2.best_loss() == early.best_loss());
  CHECK(e2.best_epoch() == early.best_epoch());
  CHECK(e2.best_params() == early.best_params());
  CHECK(e2.validation_history() == early.validation_history());

  auto impatient = descent::early_stopping<V>([&](const V& p) { return p.squaredNorm(); }, {.patience = 3});
  CHECK_THROWS_WITH(loaded.get("early", impatient),
                    Contains("entry 'early' was saved with patience = 50, but the target has patience = 3"));
}

// ---- resumed runs ----------------------------------------------------------------------------

TEST_CASE("checkpoint: train stopped mid-epoch, saved, loaded into new objects and continued, is bit-identical",
          "[checkpoint][drivers]") {
  using V = Eigen::VectorXd;
  const Centroid f = make_centroid(4, 50);
  const descent::SGDOptions options{.lr = 0.2, .momentum = 0.9, .nesterov = true};
  const descent::SamplerOptions sampling{.batch_size = 8, .seed = 7};  // 7 batches per epoch
  const descent::StepLR schedule{.step_size = 5, .gamma = 0.7};

  V whole = V::Constant(4, 3.0);
  descent::SGD<V> opt(options);
  descent::MinibatchSampler sampler(50, sampling);
  descent::Scheduler sched(opt, schedule);
  descent::train(f, whole, opt, sampler, {.max_iterations = 40}, descent::every_step(sched));

  V x = V::Constant(4, 3.0);
  std::string saved;
  {
    descent::SGD<V> first(options);
    descent::MinibatchSampler s(50, sampling);
    descent::Scheduler sc(first, schedule);
    descent::train(f, x, first, s, {.max_iterations = 17}, descent::every_step(sc));  // stops inside epoch 3
    REQUIRE_FALSE(s.end_of_epoch());
    descent::Checkpoint ck;
    ck.put("params", x);
    ck.put("optimizer", first);
    ck.put("sampler", s);
    ck.put("scheduler", sc);
    saved = bytes_of(ck);
  }
  V y(4);
  descent::SGD<V> second(options);
  descent::MinibatchSampler s2(50, sampling);
  descent::Scheduler sc2(second, schedule);
  const auto loaded = from_bytes(saved);
  loaded.get("params", y);
  loaded.get("optimizer", second);
  loaded.get("sampler", s2);
  loaded.get("scheduler", sc2);
  descent::train(f, y, second, s2, {.max_iterations = 23}, descent::every_step(sc2));
  CHECK(y == whole);
  CHECK(state_of(second) == state_of(opt));
  CHECK(state_of(s2) == state_of(sampler));
  CHECK(sc2.last_lr() == sched.last_lr());
}

TEST_CASE("checkpoint: minimize resumed from a checkpoint is bit-identical", "[checkpoint][drivers]") {
  using V = Eigen::VectorXd;
  const descent::problems::Rosenbrock<> rosenbrock(6);
  const V x0 = V::Constant(6, -1.0);
  V whole = x0;
  descent::Adam<V> adam({.lr = 0.01, .amsgrad = true});
  descent::minimize(rosenbrock, whole, adam, {.max_iterations = 300, .gradient_tolerance = 0});

  V x = x0;
  descent::Adam<V> first({.lr = 0.01, .amsgrad = true});
  descent::minimize(rosenbrock, x, first, {.max_iterations = 120, .gradient_tolerance = 0});
  descent::Checkpoint ck;
  ck.put("params", x);
  ck.put("optimizer", first);
  const auto loaded = from_bytes(bytes_of(ck));
  V y;
  descent::Adam<V> second({.lr = 0.01, .amsgrad = true});
  loaded.get("params", y);
  loaded.get("optimizer", second);
  descent::minimize(rosenbrock, y, second, {.max_iterations = 180, .gradient_tolerance = 0});
  CHECK(y == whole);
  CHECK(state_of(second) == state_of(adam));
}

TEST_CASE("checkpoint: LBFGS restored mid-run continues bit-identically, its history ring wrapped", "[checkpoint][lbfgs]") {
  auto run = [](auto scalar, descent::LineSearch search) {
    using S = decltype(scalar);
    using V = Eigen::Matrix<S, Eigen::Dynamic, 1>;
    const descent::problems::Rosenbrock<S> f(5);
    // history_size 3 and 2 iterations per step: by the checkpoint the ring has wrapped several times
    const descent::LBFGSOptions options{.lr = search == descent::LineSearch::None ? 0.002 : 1.0,
                                        .max_iter = 2, .max_eval = 20, .history_size = 3,
                                        .line_search = search};
    V x = V::Constant(5, S(-0.8)), y;
    descent::LBFGS<V> opt(options);
    for (int t = 0; t < 6; ++t) opt.step(f, x);
    REQUIRE(opt.history_count() == 3);
    REQUIRE(opt.iterations() > 6);
    descent::Checkpoint ck;
    ck.put("params", x);
    ck.put("optimizer", opt);
    const auto loaded = from_bytes(bytes_of(ck));
    descent::LBFGS<V> restored(options);
    V other = V::Ones(5);
    restored.step(f, other);  // a state of its own, replaced by the checkpoint's
    loaded.get("params", y);
    loaded.get("optimizer", restored);
    CHECK(state_of(restored) == state_of(opt));
    CHECK(restored.iterations() == opt.iterations());
    CHECK(restored.evaluations() == opt.evaluations());
    CHECK(restored.hessian_diagonal() == opt.hessian_diagonal());
    for (int t = 0; t < 8; ++t) {
      const double a = opt.step(f, x), b = restored.step(f, y);
      CHECK(a == b);
    }
    CHECK(y == x);  // bitwise
    CHECK(state_of(restored) == state_of(opt));
    CHECK(restored.evaluations() == opt.evaluations());
  };
  SECTION("double, fixed steps") { run(0.0, descent::LineSearch::None); }
  SECTION("double, strong Wolfe") { run(0.0, descent::LineSearch::StrongWolfe); }
  SECTION("float, fixed steps") { run(0.0f, descent::LineSearch::None); }
  SECTION("float, strong Wolfe") { run(0.0f, descent::LineSearch::StrongWolfe); }
}

TEST_CASE("checkpoint: minimize with LBFGS and a scheduler resumed from a checkpoint is bit-identical",
          "[checkpoint][lbfgs][drivers]") {
  using V = Eigen::VectorXd;
  const descent::problems::Rosenbrock<> f(6);
  const descent::LBFGSOptions options{.max_iter = 3, .history_size = 4, .line_search = descent::LineSearch::StrongWolfe};
  const descent::StepLR schedule{.step_size = 4, .gamma = 0.9};
  const V x0 = V::Constant(6, -1.0);
  const descent::StopCriteria all{.max_iterations = 15, .gradient_tolerance = 0};
  V whole = x0;
  descent::LBFGS<V> lbfgs(options);
  descent::Scheduler sched(lbfgs, schedule);
  const auto full = descent::minimize(f, whole, lbfgs, all, descent::every_step(sched));
  REQUIRE(full.iterations == 15);

  V x = x0;
  descent::LBFGS<V> first(options);
  descent::Scheduler sc(first, schedule);
  descent::minimize(f, x, first, {.max_iterations = 6, .gradient_tolerance = 0}, descent::every_step(sc));
  descent::Checkpoint ck;
  ck.put("params", x);
  ck.put("optimizer", first);
  ck.put("scheduler", sc);
  const auto loaded = from_bytes(bytes_of(ck));
  V y;
  descent::LBFGS<V> second(options);
  descent::Scheduler sc2(second, schedule);
  loaded.get("params", y);
  loaded.get("optimizer", second);
  loaded.get("scheduler", sc2);
  descent::minimize(f, y, second, {.max_iterations = 9, .gradient_tolerance = 0}, descent::every_step(sc2));
  CHECK(y == whole);
  CHECK(second.lr() == lbfgs.lr());
  CHECK(state_of(second) == state_of(lbfgs));
}

TEST_CASE("checkpoint: LBFGS before its first iteration, and the refusals", "[checkpoint][lbfgs]") {
  using V = Eigen::VectorXd;
  const descent::problems::Rosenbrock<> f(4);
  const descent::LBFGSOptions options{.history_size = 5};
  descent::LBFGS<V> fresh(options), converged({.tolerance_grad = 1e30, .history_size = 5});
  V x = V::Constant(4, 0.5);
  converged.step(f, x);  // stops at the first evaluation: counted, but no iteration
  REQUIRE(converged.iterations() == 0);
  REQUIRE(converged.evaluations() == 1);
  for (const auto* saved : {&fresh, &converged}) {
    descent::Checkpoint ck;
    ck.put("o", *saved);
    descent::LBFGS<V> target(saved->options());
    V z = V::Ones(4);
    target.step(f, z);
    from_bytes(bytes_of(ck)).get("o", target);
    CHECK(target.iterations() == 0);
    CHECK(target.evaluations() == saved->evaluations());
    CHECK(target.history_count() == 0);
    CHECK(state_of(target) == state_of(*saved));
    // its next step is a first step, on any shape
    V a = V::Constant(3, 0.3), b = a;
    const descent::problems::Rosenbrock<> three(3);
    descent::LBFGS<V> reference(saved->options());
    reference.step(three, a);
    target.step(three, b);
    CHECK(a == b);
  }

  descent::LBFGS<V> used(options);
  V u = V::Constant(4, -0.5);
  for (int t = 0; t < 3; ++t) used.step(f, u);
  descent::Checkpoint ck;
  ck.put("o", used);
  const auto loaded = from_bytes(bytes_of(ck));
  auto refused = [&](const descent::LBFGSOptions& o, const std::string& message) {
    descent::LBFGS<V> target(o);
    V z = V::Ones(4);
    target.step(f, z);
    const std::string before = state_of(target);
    CHECK_THROWS_WITH(loaded.get("o", target), Contains(message));
    CHECK(state_of(target) == before);
  };
  refused({.history_size = 4}, "was saved with history_size = 5, but the target has history_size = 4");
  refused({.history_size = 5, .line_search = descent::LineSearch::StrongWolfe},
          "was saved with line_search = None, but the target has line_search = StrongWolfe");
  refused({.max_iter = 10, .history_size = 5}, "was saved with max_iter = 20, but the target has max_iter = 10");
  descent::LBFGS<Eigen::VectorXf> single(options);
  CHECK_THROWS_WITH(loaded.get("o", single), Contains("holds float64 state, but the target is float32"));
  descent::Adam<V> adam;
  CHECK_THROWS_WITH(loaded.get("o", adam), Contains("holds the state of an LBFGS, not of an Adam"));

  // a history that does not fit its parameters, or pairs that sᵀy > 1e-10 could not have admitted
  auto tampered = [&](const std::string& field, auto&& change) {
    descent::Checkpoint out;
    out.put("o", used);
    std::string bytes = bytes_of(out);
    auto header_end = std::size_t(8);
    std::uint64_t len = 0;
    for (int i = 0; i < 8; ++i) len |= std::uint64_t(static_cast<unsigned char>(bytes[std::size_t(i)])) << (8 * i);
    header_end += len;
    nlohmann::json header = nlohmann::json::parse(bytes.substr(8, len));
    auto& entry = header["o." + field];
    REQUIRE(entry.is_object());
    const auto begin = entry["data_offsets"][0].get<std::size_t>();
    change(bytes, header_end + begin);
    return with_valid_checksum(bytes);
  };
  const std::string negative_ro = tampered("ro", [](std::string& b, std::size_t at) {
    const double v = -1.0;
    std::memcpy(b.data() + at, &v, 8);
  });
  descent::LBFGS<V> target(options);
  CHECK_THROWS_WITH(from_bytes(negative_ro).get("o", target), Contains("ro (1 / sᵀy) that is not a finite number > 0"));
  const std::string nan_d = tampered("d", [](std::string& b, std::size_t at) {
    const double v = std::numeric_limits<double>::quiet_NaN();
    std::memcpy(b.data() + at, &v, 8);
  });
  CHECK_THROWS_WITH(from_bytes(nan_d).get("o", target), Contains("non-finite direction"));
  CHECK(target.iterations() == 0);
}

TEST_CASE("checkpoint: saved from a callback at an epoch end, EarlyStopping with restore_best resumes exactly",
          "[checkpoint][drivers]") {
  using V = Eigen::VectorXd;
  const Centroid f = make_centroid(3, 24);
  auto validation = [](const V& p) { return (p.array() - 0.3).square().sum() + 0.1 * std::sin(10 * p(0)); };
  const descent::EarlyStoppingOptions stopping{.patience = 100, .restore_best = true};

  V whole = V::Constant(3, 2.0);
  std::string at_epoch_3;
  {
    descent::RMSProp<V> opt({.lr = 0.05, .momentum = 0.3, .centered = true});
    descent::MinibatchSampler sampler(24, {.batch_size = 5, .seed = 2});
    auto early = descent::early_stopping<V>(validation, stopping);
    auto checkpoint = [&](const descent::Progress<V>& p) {
      if (!(p.end_of_epoch && p.epoch == 3)) return;
      descent::Checkpoint ck;
      ck.put("params", p.params);
      ck.put("optimizer", opt);
      ck.put("sampler", sampler);
      ck.put("early", early);
      at_epoch_3 = bytes_of(ck);
    };
    descent::train(f, whole, opt, sampler, {.max_iterations = 0, .max_epochs = 7}, early, checkpoint);
  }
  REQUIRE_FALSE(at_epoch_3.empty());
  V y;
  descent::RMSProp<V> opt({.lr = 0.05, .momentum = 0.3, .centered = true});
  descent::MinibatchSampler sampler(24, {.batch_size = 5, .seed = 2});
  auto early = descent::early_stopping<V>(validation, stopping);
  const auto loaded = from_bytes(at_epoch_3);
  loaded.get("params", y);
  loaded.get("optimizer", opt);
  loaded.get("sampler", sampler);
  loaded.get("early", early);
  descent::train(f, y, opt, sampler, {.max_iterations = 0, .max_epochs = 4}, early);
  CHECK(y == whole);  // both are the best parameters of all 7 epochs
}

// ---- a type of yours -------------------------------------------------------------------------

namespace user {

struct Model {
  Model() : weights(Eigen::VectorXd::Zero(3)), optimizer(options()), label(3, 'm') {}
  static descent::SGDOptions options() { return {.lr = 0.1, .momentum = 0.5}; }

  Eigen::VectorXd weights;
  descent::SGD<Eigen::VectorXd> optimizer;
  std::int64_t generation = 0;
  std::string label;
};

void descent_checkpoint_save(descent::CheckpointWriter& w, const Model& m) {
  w.kind("user::Model");
  w.value("generation", m.generation);
  w.value("label", m.label);
  w.array("weights", m.weights);
  descent::checkpoint_save(w.child("optimizer"), m.optimizer);
}

void descent_checkpoint_load(const descent::CheckpointReader& r, Model& m) {
  r.expect_kind("user::Model");
  m.generation = r.integer("generation");
  m.label = r.text("label");
  m.weights = r.array<Eigen::VectorXd>("weights");
  descent::checkpoint_load(r.child("optimizer"), m.optimizer);
}

}  // namespace user

TEST_CASE("checkpoint: a type of yours joins with descent_checkpoint_save/_load found by ADL", "[checkpoint]") {
  static_assert(descent::Checkpointable<user::Model>);
  static_assert(!descent::Checkpointable<std::string>);
  user::Model m;
  m.weights << 1, 2, 3;
  m.optimizer.step(m.weights, Eigen::VectorXd::Ones(3));
  m.generation = 42;
  m.label = "résumé \"quoted\"\n";
  descent::Checkpoint ck;
  ck.put("model", m);
  const std::string file = bytes_of(ck);
  CHECK(file.find("\"model.optimizer.momentum_buffer\"") != std::string::npos);
  user::Model back;
  from_bytes(file).get("model", back);
  CHECK(back.weights == m.weights);
  CHECK(back.generation == 42);
  CHECK(back.label == m.label);
  CHECK(state_of(back.optimizer) == state_of(m.optimizer));

  // strong guarantee by a copy: a failure inside the nested optimizer leaves the object as it was
  user::Model other;
  other.optimizer = descent::SGD<Eigen::VectorXd>({.lr = 0.1, .momentum = 0.5, .nesterov = true});
  const std::string before = state_of(other.optimizer);
  CHECK_THROWS_WITH(
      from_bytes(file).get("model", other),
      Contains("entry 'model.optimizer' was saved with nesterov = false, but the target has nesterov = true"));
  CHECK(other.generation == 0);
  CHECK(other.weights.isZero());
  CHECK(state_of(other.optimizer) == before);
}

// ---- wrong targets: a clear error, the target unchanged ---------------------------------------

TEST_CASE("checkpoint: get refuses another kind, scalar, shape or options and leaves the target as it was",
          "[checkpoint]") {
  using Vf = Eigen::VectorXf;
  using Vd = Eigen::VectorXd;
  Vf x = start<Vf>(31), g(31);
  descent::Adam<Vf> adam({.lr = 0.01, .amsgrad = true});
  for (int t = 0; t < 3; ++t) {
    descent_test::gradient(g, x, t);
    adam.step(x, g);
  }
  descent::Checkpoint ck;
  ck.put("params", x);
  ck.put("optimizer", adam);
  const auto loaded = from_bytes(bytes_of(ck));

  auto unchanged = [](auto& target, auto&& attempt, const std::string& message) {
    const std::string before = state_of(target);
    CHECK_THROWS_AS(attempt(), descent::CheckpointError);
    CHECK_THROWS_WITH(attempt(), Contains(message));
    CHECK(state_of(target) == before);
  };
  descent::SGD<Vf> sgd({.lr = 0.5, .momentum = 0.9});
  Vf step_state = Vf::Ones(31);
  sgd.step(step_state, step_state);
  unchanged(
      sgd, [&] { loaded.get("optimizer", sgd); }, "entry 'optimizer' holds the state of an Adam, not of an SGD");
  descent::Adam<Vd> adam_double({.lr = 0.01, .amsgrad = true});
  unchanged(
      adam_double, [&] { loaded.get("optimizer", adam_double); },
      "entry 'optimizer' holds float32 state, but the target is float64 (double)");
  descent::Adam<Vf> no_amsgrad({.lr = 0.01});
  no_amsgrad.step(step_state, step_state);
  unchanged(
      no_amsgrad, [&] { loaded.get("optimizer", no_amsgrad); },
      "entry 'optimizer' was saved with amsgrad = true, but the target has amsgrad = false");
  descent::AdamW<Vf> adamw({.amsgrad = true});
  unchanged(
      adamw, [&] { loaded.get("optimizer", adamw); }, "holds the state of an Adam, not of an AdamW");
  descent::Adam<Vf> other_eps({.eps = 1e-6, .amsgrad = true});
  unchanged(
      other_eps, [&] { loaded.get("optimizer", other_eps); },
      "was saved with eps = 1e-08, but the target has eps = 9.9999999999999995e-07");
  Vf thirty = Vf::Constant(30, 4.0f);
  unchanged(
      thirty, [&] { loaded.get("params", thirty); }, "entry 'params' holds 31x1 parameters, but the target is 30x1");
  Eigen::Matrix<float, 30, 1> fixed = Eigen::Matrix<float, 30, 1>::Zero();
  CHECK_THROWS_WITH(loaded.get("params", fixed), Contains("which the fixed-size target cannot hold"));
  Vd as_double = Vd::Zero(31);
  unchanged(
      as_double, [&] { loaded.get("params", as_double); },
      "entry 'params' holds float32 state, but the target is float64");
  unchanged(
      sgd, [&] { loaded.get("params", sgd); }, "entry 'params' holds the state of an Eigen, not of an SGD");
  CHECK_THROWS_WITH(loaded.get("momentum", sgd),
                    Contains("no entry 'momentum' (the checkpoint has 'optimizer', 'params')"));

  descent::MinibatchSampler sampler(40, {.batch_size = 8, .seed = 1});
  descent::Checkpoint sc;
  sc.put("sampler", sampler);
  const auto sl = from_bytes(bytes_of(sc));
  descent::MinibatchSampler other_seed(40, {.batch_size = 8, .seed = 2}), other_n(41, {.batch_size = 8, .seed = 1});
  other_seed.next();
  unchanged(
      other_seed, [&] { sl.get("sampler", other_seed); }, "was saved with seed = 1, but the target has seed = 2");
  unchanged(
      other_n, [&] { sl.get("sampler", other_n); }, "was saved with n = 40, but the target has n = 41");

  descent::GradientDescent<Vd> gd;
  descent::Scheduler step_lr(gd, descent::StepLR{.step_size = 2});
  descent::Scheduler cosine(gd, descent::CosineAnnealingLR{.T_max = 5});
  descent::Checkpoint sch;
  sch.put("scheduler", step_lr);
  unchanged(
      cosine, [&] { from_bytes(bytes_of(sch)).get("scheduler", cosine); },
      "was saved with schedule = StepLR, but the target has schedule = CosineAnnealingLR");
}

TEST_CASE("checkpoint: Grouped refuses other groups or blocks, and a failure in a later group changes no group",
          "[checkpoint]") {
  using V = Eigen::VectorXd;
  descent::Layout layout;
  layout.add("a", 3);
  layout.add("b", 4);
  descent::Grouped<descent::Adam<V>> opt({{layout.blocks({"a"}), {.lr = 0.1}}, {layout.blocks({"b"}), {.lr = 0.2}}});
  V x = start<V>(7), g(7);
  descent_test::gradient(g, x, 0);
  opt.step(x, g);
  descent::Checkpoint ck;
  ck.put("optimizer", opt);
  const auto loaded = from_bytes(bytes_of(ck));

  descent::Grouped<descent::Adam<V>> later_differs(
      {{layout.blocks({"a"}), {.lr = 0.1}}, {layout.blocks({"b"}), {.lr = 0.2, .amsgrad = true}}});
  later_differs.step(x, g);
  later_differs.step(x, g);
  const std::string before = state_of(later_differs);
  CHECK_THROWS_WITH(
      loaded.get("optimizer", later_differs),
      Contains("entry 'optimizer.group1.block0' was saved with amsgrad = false, but the target has amsgrad = true"));
  CHECK(state_of(later_differs) == before);

  descent::Grouped<descent::Adam<V>> one_group({{layout.blocks({"a", "b"}), {}}});
  CHECK_THROWS_WITH(loaded.get("optimizer", one_group), Contains("has 2 parameter groups, the target 1"));
  descent::Grouped<descent::Adam<V>> swapped({{layout.blocks({"b"}), {}}, {layout.blocks({"a"}), {}}});
  CHECK_THROWS_WITH(loaded.get("optimizer", swapped),
                    Contains("has other blocks than the target's group 0 (saved: 'a')"));
}

// ---- bad files ---------------------------------------------------------------------------------

namespace {

std::string small_checkpoint() {
  Eigen::VectorXd p(3);
  p << 1, -2, 3.5;
  descent::Adam<Eigen::VectorXf> adam({.amsgrad = true});
  Eigen::VectorXf x = Eigen::VectorXf::Ones(2);
  adam.step(x, x);
  descent::Checkpoint ck;
  ck.put("params", p);
  ck.put("optimizer", adam);
  return bytes_of(ck);
}

}  // namespace

TEST_CASE("checkpoint: a file truncated at any byte is refused with a clear error", "[checkpoint][bad input]") {
  const std::string file = small_checkpoint();
  REQUIRE_NOTHROW(from_bytes(file));
  const auto dir = temp_dir();
  const auto path = dir / "truncated.ckpt";
  for (std::size_t n = 0; n < file.size(); ++n) {
    const std::string prefix = file.substr(0, n);
    const std::string stream_error = load_error(prefix);
    INFO("truncated to " << n << " of " << file.size() << " bytes: " << stream_error);
    CHECK_THAT(stream_error, Contains("descent::Checkpoint::load: the stream: "));
    CHECK_THAT(stream_error, Contains(n == 0 ? "empty" : "truncated"));
    { std::ofstream(path, std::ios::binary).write(prefix.data(), std::streamsize(prefix.size())); }
    try {
      descent::Checkpoint::load(path);
      FAIL("loaded a truncated file");
    } catch (const descent::CheckpointError& e) {
      CHECK_THAT(e.what(), Contains(path.string()));
      CHECK_THAT(e.what(), Contains(n == 0 ? "empty" : "truncated"));
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint: a flipped bit anywhere, header or data, is refused", "[checkpoint][bad input]") {
  const std::string file = small_checkpoint();
  std::size_t checksum = 0;
  for (std::size_t i = 0; i < file.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = file;
      bad[i] = char(bad[i] ^ (1 << bit));
      const std::string e = load_error(bad);
      INFO("byte " << i << " bit " << bit << ": " << e);
      REQUIRE(e != "(loaded)");
      checksum += e.find("checksum mismatch") != std::string::npos;
    }
  // every flip in the data and most in the header are caught by the checksum
  const std::size_t header_end =
      8 + std::size_t(static_cast<unsigned char>(file[0])) + 256 * std::size_t(static_cast<unsigned char>(file[1]));
  CHECK(checksum >= 8 * (file.size() - header_end));
  CHECK_THAT(load_error(file.substr(0, file.size() - 1) + char(file.back() ^ 1)), Contains("checksum mismatch"));
}

TEST_CASE("checkpoint: malformed headers each give their own error", "[checkpoint][bad input]") {
  const nlohmann::json p_tensor = {{"dtype", "F64"}, {"shape", {2}}, {"data_offsets", {0, 16}}};
  const std::string data = doubles({1.0, 2.0});
  // the well-formed file these variations break
  REQUIRE_NOTHROW(from_bytes(make_file({{"p", p_tensor}}, data)));

  SECTION("header length larger than the file") {
    std::string f = make_file({{"p", p_tensor}}, data);
    f[0] = char(0xff);
    f[1] = char(0x7f);
    CHECK_THAT(load_error(f), Contains("truncated"));
    std::string absurd = f;
    for (int i = 0; i < 8; ++i) absurd[std::size_t(i)] = char(0xff);
    CHECK_THAT(load_error(absurd), Contains("more than safetensors' limit of 100 MiB"));
  }
  SECTION("invalid JSON") {
    std::string f = make_file({{"p", p_tensor}}, data);
    f[9] = '[';
    CHECK_THAT(load_error(f), Contains("the header is not valid JSON"));
    CHECK_THAT(load_error(std::string("\x08\0\0\0\0\0\0\0{}      ", 16)), Contains("without __metadata__"));
  }
  SECTION("not descent's") {
    CHECK_THAT(load_error(make_file({{"p", p_tensor}, {"__metadata__", {{"format", "pt"}}}}, data, false)),
               Contains("not a descent checkpoint: no descent.format in __metadata__"));
    CHECK_THAT(load_error("PK\x03\x04 this is a zip file, not a checkpoint"), Contains("not a descent checkpoint"));
    CHECK_THAT(load_error(make_file({{"p", p_tensor}, {"__metadata__", {{"descent.format", "2"}}}}, data)),
               Contains("unsupported format version '2' (this descent reads version 1)"));
  }
  SECTION("offsets that overlap, leave a hole or point past the end") {
    const nlohmann::json q = {{"dtype", "F64"}, {"shape", {1}}, {"data_offsets", {8, 16}}};
    const std::string two = R"({"p":{"kind":"Eigen","scalar":"float64"},"q":{"kind":"Eigen","scalar":"float64"}})";
    CHECK_THAT(load_error(make_file({{"p", p_tensor}, {"q", q}, {"__metadata__", {{"descent.entries", two}}}}, data)),
               Contains("overlaps another"));
    const nlohmann::json hole = {{"dtype", "F64"}, {"shape", {1}}, {"data_offsets", {8, 16}}};
    CHECK_THAT(load_error(make_file({{"p", hole}}, data)), Contains("a hole in the data before tensor 'p'"));
    const nlohmann::json past = {{"dtype", "F64"}, {"shape", {4}}, {"data_offsets", {0, 32}}};
    CHECK_THAT(load_error(make_file({{"p", past}}, data)), Contains("truncated: the data ends inside tensor 'p'"));
    const nlohmann::json backwards = {{"dtype", "F64"}, {"shape", {2}}, {"data_offsets", {16, 0}}};
    CHECK_THAT(load_error(make_file({{"p", backwards}}, data)), Contains("end before they begin"));
    const nlohmann::json wrong_size = {{"dtype", "F64"}, {"shape", {3}}, {"data_offsets", {0, 16}}};
    CHECK_THAT(load_error(make_file({{"p", wrong_size}}, data)),
               Contains("hold 16 bytes, but F64 of shape [3] needs 24"));
    const nlohmann::json huge = {{"dtype", "F64"}, {"shape", {1ull << 40, 1ull << 40}}, {"data_offsets", {0, 16}}};
    CHECK_THAT(load_error(make_file({{"p", huge}}, data)), Contains("absurdly large"));
  }
  SECTION("unknown dtype, bad shapes, tensors of no entry") {
    nlohmann::json t = p_tensor;
    t["dtype"] = "F16";
    CHECK_THAT(load_error(make_file({{"p", t}}, data)),
               Contains("unknown dtype 'F16' (descent reads F32, F64, I64 and U64)"));
    t = p_tensor;
    t["shape"] = {-2};
    CHECK_THAT(load_error(make_file({{"p", t}}, data)), Contains("is not a list of sizes"));
    CHECK_THAT(load_error(make_file({{"stray", p_tensor}}, data)), Contains("tensor 'stray': belongs to no entry"));
    t = p_tensor;
    t.erase("dtype");
    CHECK_THAT(load_error(make_file({{"p", t}}, data)), Contains("needs dtype, shape and data_offsets"));
  }
  SECTION("a damaged checksum field") {
    std::string f = make_file({{"p", p_tensor}}, data);
    const auto at = f.find("xxh64:") + 6;
    f[at] = 'g';
    CHECK_THAT(load_error(f), Contains("is not xxh64: and 16 hex digits"));
  }
}

TEST_CASE("checkpoint: the fuzzer's findings (CK1-CK4) are refused", "[checkpoint][bad input]") {
  // CK1: a sampler's order that is not an order the sampler can have
  descent::MinibatchSampler sampler(10, {.batch_size = 3, .seed = 7});
  sampler.next();
  descent::Checkpoint ck;
  ck.put("sampler", sampler);
  const std::string file = bytes_of(ck);
  const std::string order_key = "\"sampler.order\":{\"data_offsets\":[";
  const auto at = file.find(order_key);
  REQUIRE(at != std::string::npos);
  const auto begin = std::stoull(file.substr(at + order_key.size()));
  const std::size_t data = file.size() - 10 * 8 - 4 * 8;  // order (10 × I64) and generator (4 × U64) follow the header
  std::string repeated = file;
  std::memcpy(repeated.data() + data + begin + 8, repeated.data() + data + begin, 8);  // order[1] = order[0]
  descent::MinibatchSampler target(10, {.batch_size = 3, .seed = 7});
  const std::string before = state_of(target);
  CHECK_THROWS_WITH(from_bytes(with_valid_checksum(repeated)).get("sampler", target),
                    Contains("has an order that is not a permutation of 0..n-1"));
  CHECK(state_of(target) == before);
  descent::MinibatchSampler in_order(10, {.batch_size = 3, .shuffle = false});
  descent::Checkpoint ordered;
  ordered.put("sampler", in_order);
  std::string swapped = bytes_of(ordered);
  const std::size_t d2 = swapped.size() - 10 * 8 - 4 * 8;
  const auto b2 = std::stoull(swapped.substr(swapped.find(order_key) + order_key.size()));
  std::swap_ranges(swapped.begin() + std::ptrdiff_t(d2 + b2), swapped.begin() + std::ptrdiff_t(d2 + b2 + 8),
                   swapped.begin() + std::ptrdiff_t(d2 + b2 + 8));
  CHECK_THROWS_WITH(from_bytes(with_valid_checksum(swapped)).get("sampler", in_order), Contains("is not 0..n-1"));

  // CK2: a counter that the next step would overflow
  const nlohmann::json empty = {{"dtype", "F64"}, {"shape", {0}}, {"data_offsets", {0, 0}}};
  const std::string adam_entry =
      R"({"o":{"kind":"Adam","scalar":"float64","steps":9223372036854775807,"lr":0.001,"beta1":0.9,)"
      R"("beta2":0.999,"eps":1e-08,"weight_decay":0.0,"amsgrad":false,"maximize":false}})";
  const auto overflowing = from_bytes(make_file(
      {{"o.exp_avg", empty}, {"o.exp_avg_sq", empty}, {"__metadata__", {{"descent.entries", adam_entry}}}}, ""));
  descent::Adam<Eigen::VectorXd> adam;
  CHECK_THROWS_WITH(overflowing.get("o", adam),
                    Contains("has an impossible steps 9223372036854775807 (not in [0, 2^62])"));
  CHECK(adam.steps() == 0);

  // CK3: two tensors that name one array
  const nlohmann::json p3 = {{"dtype", "F64"}, {"shape", {3}}, {"data_offsets", {8, 32}}};
  const nlohmann::json p1 = {{"dtype", "F64"}, {"shape", {1}}, {"data_offsets", {0, 8}}};
  CHECK_THAT(load_error(make_file({{"p", p3}, {"p.", p1}}, doubles({1, 2, 3, 4}))),
             Contains("has an empty field name or one that ends with '.'"));

  // CK4: JSON nested deeper than anything descent writes
  std::string deep(10000, '[');
  deep += std::string(10000, ']');
  CHECK_THAT(
      load_error(make_file({{"p", {{"dtype", "F64"}, {"shape", {2}}, {"data_offsets", {0, 16}}}},
                            {"__metadata__", {{"descent.entries", R"({"p":{"kind":"Eigen","x":)" + deep + "}}"}}}},
                           doubles({1, 2}))),
      Contains("descent.entries nests arrays and objects deeper than 64 levels"));
}

TEST_CASE("checkpoint: empty files, directories, missing and unwritable paths", "[checkpoint][bad input]") {
  const auto dir = temp_dir();
  const auto empty = dir / "empty.ckpt";
  std::ofstream(empty).close();
  CHECK_THROWS_WITH(descent::Checkpoint::load(empty), Contains("empty: not a descent checkpoint"));
  CHECK_THROWS_WITH(descent::Checkpoint::load(dir), Contains("is a directory"));
  CHECK_THROWS_WITH(descent::Checkpoint::load(dir / "missing.ckpt"), Contains("cannot open"));
  CHECK_THROWS_AS(descent::Checkpoint::load(dir / "missing.ckpt"), descent::CheckpointError);

  descent::Checkpoint ck;
  ck.put("p", Eigen::VectorXd::Ones(4).eval());
  CHECK_THROWS_WITH(ck.save(dir / "no" / "such" / "folder.ckpt"),
                    Contains("cannot create a temporary file next to") && Contains("No such file or directory"));
  CHECK_THROWS_WITH(ck.save(empty / "under_a_file.ckpt"), Contains("Not a directory"));
  CHECK_THROWS_WITH(ck.save(dir), Contains("Is a directory"));
  std::ostringstream failing;
  failing.setstate(std::ios::badbit);
  CHECK_THROWS_WITH(ck.save(failing), Contains("the stream failed"));

  CHECK_THROWS_AS(ck.put("", 1.0 * Eigen::VectorXd::Ones(2)), std::invalid_argument);
  CHECK_THROWS_WITH(ck.put("a.b", Eigen::VectorXd::Ones(2).eval()), Contains("contains '.'"));
  descent::Checkpoint not_utf8;
  not_utf8.put("p\xff", Eigen::VectorXd::Ones(2).eval());
  CHECK_THROWS_WITH(bytes_of(not_utf8), Contains("cannot write the header"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint: save is atomic: a failed write leaves the previous file intact and no temporary file",
          "[checkpoint][bad input]") {
  const auto dir = temp_dir();
  const auto path = dir / "run.ckpt";
  descent::Checkpoint small;
  small.put("p", Eigen::VectorXd::Constant(4, 1.5).eval());
  small.save(path);
  const auto good_size = std::filesystem::file_size(path);

  descent::Checkpoint big;
  big.put("p", Eigen::VectorXd::Constant(1 << 16, 2.5).eval());
  // the file-size limit makes the write fail midway, as a full disk would
  rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit limited = old;
  limited.rlim_cur = 64 * 1024;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
  std::string error;
  try {
    big.save(path);
  } catch (const descent::CheckpointError& e) {
    error = std::string(e.what());
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  CHECK_THAT(error, Contains("cannot write") && Contains(path.string()));
  CHECK(std::filesystem::file_size(path) == good_size);
  Eigen::VectorXd p;
  descent::Checkpoint::load(path).get("p", p);
  CHECK(p == Eigen::VectorXd::Constant(4, 1.5));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++files;
  CHECK(files == 1);  // no temporary file left behind

  big.save(path);  // and without the limit the new one replaces it
  p.resize(0);
  descent::Checkpoint::load(path).get("p", p);
  CHECK(p.size() == 1 << 16);
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint: randomly mutated files (checksum made valid) load or throw CheckpointError, never crash",
          "[checkpoint][bad input]") {
  const std::string file = small_checkpoint();
  std::mt19937_64 rng(12345);
  int loaded = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bad = file;
    const int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % bad.size();
      switch (rng() % 4) {
        case 0:
          bad[at] = char(rng());
          break;
        case 1:
          bad.erase(at, 1 + rng() % 8);
          break;
        case 2:
          bad.insert(at, 1, "0123456789\"{}[],:-e."[rng() % 20]);
          break;
        default:
          bad[at] = char(bad[at] ^ (1 << (rng() % 8)));
          break;
      }
      if (bad.empty()) bad.push_back('x');
    }
    if (trial % 2 == 0) bad = with_valid_checksum(bad);
    try {
      const auto ck = from_bytes(bad);
      ++loaded;
      for (const auto& name : ck.names()) {
        try {
          Eigen::VectorXd p;
          ck.get(name, p);
        } catch (const descent::CheckpointError&) {
        }
        try {
          descent::Adam<Eigen::VectorXf> adam({.amsgrad = true});
          ck.get(name, adam);
        } catch (const descent::CheckpointError&) {
        }
      }
    } catch (const descent::CheckpointError&) {
    }
  }
  CHECK(loaded < 3000);
}

TEST_CASE("checkpoint: SparseAdam restored mid-run continues bit-identically, and refuses other options",
          "[checkpoint][sparse]") {
  using V = Eigen::VectorXd;
  const descent::SparseAdamOptions options{.lr = 0.05, .beta1 = 0.8, .maximize = true};
  auto gradient = [](int t) {
    Eigen::SparseVector<double> g(20);
    g.coeffRef((3 * t) % 20) = 0.5 - 0.1 * t;
    g.coeffRef((7 * t + 1) % 20) += 0.25;
    return g;
  };
  descent::SparseAdam<V> straight(options), first(options), resumed(options);
  V x = V::LinSpaced(20, -1.0, 1.0), y = x;
  for (int t = 0; t < 10; ++t) straight.step(x, gradient(t));
  for (int t = 0; t < 4; ++t) first.step(y, gradient(t));
  descent::Checkpoint ck;
  ck.put("params", y);
  ck.put("optimizer", first);
  const auto loaded = from_bytes(bytes_of(ck));
  V z;
  loaded.get("params", z);
  loaded.get("optimizer", resumed);
  CHECK(resumed.steps() == 4);
  for (int t = 4; t < 10; ++t) resumed.step(z, gradient(t));
  CHECK(z == x);
  CHECK(state_of(resumed) == state_of(straight));

  descent::SparseAdam<V> other_beta2({.lr = 0.05, .beta1 = 0.8, .beta2 = 0.99, .maximize = true});
  const std::string before = state_of(other_beta2);
  CHECK_THROWS_WITH(loaded.get("optimizer", other_beta2), Contains("beta2"));
  CHECK(state_of(other_beta2) == before);
  descent::Adam<V> adam;
  CHECK_THROWS_WITH(loaded.get("optimizer", adam), Contains("holds the state of a SparseAdam, not of an Adam"));
}
