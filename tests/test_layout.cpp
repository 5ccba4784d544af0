// Layout: named blocks of one flat vector. Offsets and sizes, every error (with the name and the
// shapes in the message), maps that alias the vector's memory (dynamic, fixed-size, const, over a
// Map or a segment), and an MLP whose matrices are written through maps and read back from the
// flat vector coefficient by coefficient.
#include <catch2/catch.hpp>
#include <descent/layout.hpp>

#include <Eigen/Core>

#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace {

// Runs `make`, which must throw std::invalid_argument whose message contains every piece.
template <class Make>
void require_invalid(Make make, const std::vector<std::string>& pieces) {
  try {
    make();
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    INFO("message: " << what);
    for (const std::string& piece : pieces) CHECK(what.find(piece) != std::string::npos);
  }
}

// The MLP of the issue: W1 (h×d), b1 (h), W2 (k×h), b2 (k).
constexpr Eigen::Index d = 3, h = 4, k = 2;

descent::Layout mlp_layout() {
  descent::Layout layout;
  layout.add("W1", h, d);
  layout.add("b1", h);
  layout.add("W2", k, h);
  layout.add("b2", k);
  return layout;
}

}  // namespace

TEST_CASE("layout: blocks follow one another, column-major", "[layout]") {
  descent::Layout layout;
  CHECK(layout.size() == 0);
  CHECK(layout.blocks().empty());

  const descent::Block w1 = layout.add("W1", h, d);
  CHECK(w1.name == "W1");
  CHECK(w1.offset == 0);
  CHECK(w1.rows == h);
  CHECK(w1.cols == d);
  CHECK(w1.size() == h * d);
  const descent::Block b1 = layout.add("b1", h);
  CHECK(b1.offset == h * d);
  CHECK(b1.rows == h);
  CHECK(b1.cols == 1);
  CHECK(b1.size() == h);
  layout.add("W2", k, h);
  layout.add("b2", k);
  CHECK(layout.size() == h * d + h + k * h + k);

  REQUIRE(layout.blocks().size() == 4);
  const std::vector<std::string> names = {"W1", "b1", "W2", "b2"};
  Eigen::Index offset = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const descent::Block& b = layout.blocks()[i];
    CHECK(b.name == names[i]);
    CHECK(b.offset == offset);
    CHECK(b == layout.block(names[i]));
    offset += b.size();
  }
  CHECK(offset == layout.size());
  CHECK(layout.block("W2").offset == h * d + h);
  CHECK(layout.block("b2").offset == h * d + h + k * h);
  CHECK(layout.contains("b1"));
  CHECK_FALSE(layout.contains("b3"));

  // blocks({...}): those named, in the order named.
  const std::vector<descent::Block> weights = layout.blocks({"W2", "W1"});
  REQUIRE(weights.size() == 2);
  CHECK(weights[0] == layout.block("W2"));
  CHECK(weights[1] == layout.block("W1"));
  const std::vector<std::string> bias_names = {"b1", "b2"};
  const std::vector<descent::Block> biases = layout.blocks(bias_names);
  REQUIRE(biases.size() == 2);
  CHECK(biases[0].name == "b1");
  CHECK(biases[1].name == "b2");
  CHECK(layout.blocks({}).empty());

  // Block is an aggregate; designated initializers follow the declaration order.
  const descent::Block manual{.name = "x", .offset = 3, .rows = 2, .cols = 5};
  CHECK(manual.size() == 10);
  const descent::Block vector{"v", 0, 7};
  CHECK(vector.cols == 1);
  CHECK(vector.size() == 7);
}

TEST_CASE("layout: every invalid call throws std::invalid_argument naming the block", "[layout]") {
  descent::Layout layout = mlp_layout();
  const descent::Layout before = layout;

  require_invalid([&] { layout.add("W1", 2, 2); }, {"Layout::add", "'W1'", "already exists"});
  require_invalid([&] { layout.add("c", 0, 3); }, {"Layout::add", "'c'", "0x3"});
  require_invalid([&] { layout.add("c", 3, 0); }, {"'c'", "3x0"});
  require_invalid([&] { layout.add("c", 0); }, {"'c'", "0x1"});
  require_invalid([&] { layout.add("c", -2, -3); }, {"'c'", "-2x-3"});  // a product of 6 is not enough
  require_invalid([&] { layout.add("c", -1); }, {"'c'", "-1x1"});
  constexpr Eigen::Index big = std::numeric_limits<Eigen::Index>::max() / 2;
  require_invalid([&] { layout.add("huge", big, 3); }, {"'huge'", "overflows"});
  layout.add("half", big);
  require_invalid([&] { layout.add("more", big); }, {"'more'", "overflows"});
  layout = before;
  // A failed add leaves the layout as it was.
  CHECK(layout.size() == before.size());
  CHECK(layout.blocks() == before.blocks());

  require_invalid([&] { (void)layout.block("W3"); }, {"Layout::block", "'W3'"});
  require_invalid([&] { (void)layout.blocks({"W1", "bias"}); }, {"Layout::blocks", "'bias'"});
  require_invalid([&] { (void)layout.blocks(std::vector<std::string>{"nope"}); }, {"'nope'"});

  Eigen::VectorXd x = Eigen::VectorXd::Zero(layout.size());
  require_invalid([&] { (void)layout.map<Eigen::MatrixXd>(x, "W9"); }, {"Layout::map", "'W9'"});
  // Shapes that do not fit: the message has the block's shape and the map type's.
  require_invalid([&] { (void)layout.map<Eigen::Matrix<double, 3, 4>>(x, "W1"); }, {"'W1'", "4x3", "3x4"});
  require_invalid([&] { (void)layout.map<Eigen::VectorXd>(x, "W1"); }, {"'W1'", "4x3", "anyx1"});
  require_invalid([&] { (void)layout.map<Eigen::RowVectorXd>(x, "b1"); }, {"'b1'", "4x1", "1xany"});
  require_invalid([&] { (void)layout.map<Eigen::Vector3d>(x, "b1"); }, {"'b1'", "4x1", "3x1"});
  require_invalid([&] { (void)layout.map<Eigen::Matrix<double, Eigen::Dynamic, 2>>(x, "W2"); },
                  {"'W2'", "2x4", "anyx2"});
  // A vector too short for the layout, and one that is not a contiguous vector.
  Eigen::VectorXd short_x = Eigen::VectorXd::Zero(layout.size() - 1);
  require_invalid([&] { (void)layout.map<Eigen::MatrixXd>(short_x, "W1"); },
                  {"'W1'", std::to_string(layout.size() - 1), std::to_string(layout.size())});
  require_invalid([&] { (void)layout.map<Eigen::VectorXd>(x.head(3), "b2"); }, {"3", std::to_string(layout.size())});
  Eigen::MatrixXd grid = Eigen::MatrixXd::Zero(2, layout.size());
  require_invalid([&] { (void)layout.map<Eigen::VectorXd>(grid, "b1"); }, {"not a vector", "'b1'"});
  require_invalid([&] { (void)layout.map<Eigen::VectorXd>(grid.row(0), "b1"); }, {"not contiguous", "'b1'"});
}

TEST_CASE("layout: maps alias the flat vector's memory", "[layout]") {
  const descent::Layout layout = mlp_layout();
  Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(layout.size(), 0.0, double(layout.size() - 1));

  auto W1 = layout.map<Eigen::MatrixXd>(x, "W1");
  static_assert(std::is_same_v<decltype(W1), Eigen::Map<Eigen::MatrixXd>>);
  CHECK(W1.data() == x.data());
  CHECK(W1.rows() == h);
  CHECK(W1.cols() == d);
  auto b1 = layout.map<Eigen::VectorXd>(x, "b1");
  CHECK(b1.data() == x.data() + h * d);
  CHECK(b1.size() == h);
  auto W2 = layout.map<Eigen::MatrixXd>(x, "W2");
  CHECK(W2.data() == x.data() + layout.block("W2").offset);
  // Column-major: W1(i, j) is x[i + j·h].
  for (Eigen::Index j = 0; j < d; ++j)
    for (Eigen::Index i = 0; i < h; ++i) CHECK(W1(i, j) == x[i + j * h]);

  // Writing through a map writes the vector, and the other way round.
  W2(1, 2) = -7.0;
  CHECK(x[layout.block("W2").offset + 1 + 2 * k] == -7.0);
  x[layout.block("b1").offset + 3] = 42.0;
  CHECK(b1[3] == 42.0);

  // A map of a Map over the caller's buffer, and of a segment.
  std::vector<double> buffer(std::size_t(layout.size()) + 5, 0.0);
  Eigen::Map<Eigen::VectorXd> mapped(buffer.data() + 5, layout.size());
  auto b2 = layout.map<Eigen::VectorXd>(mapped, "b2");
  b2.setConstant(3.0);
  CHECK(buffer[std::size_t(5 + layout.block("b2").offset)] == 3.0);
  CHECK(buffer[std::size_t(5 + layout.size() - 1)] == 3.0);
  Eigen::VectorXd longer = Eigen::VectorXd::Zero(layout.size() + 4);
  auto W1s = layout.map<Eigen::MatrixXd>(longer.segment(2, layout.size()), "W1");
  W1s(0, 0) = 1.5;
  CHECK(longer[2] == 1.5);
  auto b2l = layout.map<Eigen::VectorXd>(longer, "b2");  // a vector longer than the layout is fine
  CHECK(b2l.data() == longer.data() + layout.block("b2").offset);
}

TEST_CASE("layout: fixed-size maps", "[layout]") {
  const descent::Layout layout = mlp_layout();
  Eigen::VectorXf x = Eigen::VectorXf::Zero(layout.size());
  auto W1 = layout.map<Eigen::Matrix<float, h, d>>(x, "W1");
  static_assert(std::is_same_v<decltype(W1), Eigen::Map<Eigen::Matrix<float, h, d>>>);
  auto b1 = layout.map<Eigen::Vector4f>(x, "b1");  // at offset 12: unaligned for a packet, which Map allows
  auto W2 = layout.map<Eigen::Matrix<float, k, Eigen::Dynamic>>(x, "W2");
  auto b2 = layout.map<Eigen::Matrix<float, k, 1>>(x, "b2");
  auto W2_dynamic_rows = layout.map<Eigen::Matrix<float, Eigen::Dynamic, h>>(x, "W2");
  CHECK(W2.cols() == h);
  CHECK(W2_dynamic_rows.rows() == k);
  W1.setConstant(1.0f);
  b1 = Eigen::Vector4f(1, 2, 3, 4);
  W2.setConstant(5.0f);
  b2 << 6.0f, 7.0f;
  const descent::Block& bb1 = layout.block("b1");
  CHECK(x.head(h * d).isConstant(1.0f));
  CHECK(x.segment(bb1.offset, 4) == Eigen::Vector4f(1, 2, 3, 4));
  CHECK(x.segment(layout.block("W2").offset, k * h).isConstant(5.0f));
  CHECK(x.tail(2) == Eigen::Vector2f(6.0f, 7.0f));
  // An Array type maps too.
  auto b1a = layout.map<Eigen::Array4f>(x, "b1");
  CHECK((b1a * 2.0f).sum() == 20.0f);
  // A 1x1 block maps to a row vector, a column vector or a scalar matrix alike.
  descent::Layout one;
  one.add("s", 1);
  Eigen::VectorXd y(1);
  y << 2.5;
  CHECK(one.map<Eigen::RowVectorXd>(y, "s")(0) == 2.5);
  CHECK(one.map<Eigen::Matrix<double, 1, 1>>(y, "s")(0, 0) == 2.5);
}

TEST_CASE("layout: a const vector gives read-only maps", "[layout]") {
  const descent::Layout layout = mlp_layout();
  Eigen::VectorXd x = Eigen::VectorXd::Random(layout.size());
  const Eigen::VectorXd& cx = x;
  auto W1 = layout.map<Eigen::MatrixXd>(cx, "W1");
  static_assert(std::is_same_v<decltype(W1), Eigen::Map<const Eigen::MatrixXd>>);
  auto b1 = layout.map<Eigen::Vector4d>(cx, "b1");
  static_assert(std::is_same_v<decltype(b1), Eigen::Map<const Eigen::Vector4d>>);
  CHECK(W1.data() == x.data());
  CHECK(b1(2) == x[layout.block("b1").offset + 2]);
  // Through a Map of const memory, a Ref of const and a const segment.
  Eigen::Map<const Eigen::VectorXd> mapped(x.data(), x.size());
  static_assert(std::is_same_v<decltype(layout.map<Eigen::MatrixXd>(mapped, "W2")), Eigen::Map<const Eigen::MatrixXd>>);
  const Eigen::Ref<const Eigen::VectorXd> ref(x);
  static_assert(std::is_same_v<decltype(layout.map<Eigen::VectorXd>(ref, "b2")), Eigen::Map<const Eigen::VectorXd>>);
  CHECK(layout.map<Eigen::VectorXd>(ref, "b2").data() == x.data() + layout.block("b2").offset);
  static_assert(
      std::is_same_v<decltype(layout.map<Eigen::VectorXd>(cx.segment(0, layout.size()), "b2")),
                     Eigen::Map<const Eigen::VectorXd>>);
  // A writable Ref gives writable maps.
  Eigen::Ref<Eigen::VectorXd> wref(x);
  static_assert(std::is_same_v<decltype(layout.map<Eigen::VectorXd>(wref, "b2")), Eigen::Map<Eigen::VectorXd>>);
}

TEST_CASE("layout: an MLP written through maps lands on the right coefficients", "[layout]") {
  const descent::Layout layout = mlp_layout();
  Eigen::VectorXd x = Eigen::VectorXd::Constant(layout.size(), std::numeric_limits<double>::quiet_NaN());
  auto W1 = layout.map<Eigen::MatrixXd>(x, "W1");
  auto b1 = layout.map<Eigen::VectorXd>(x, "b1");
  auto W2 = layout.map<Eigen::Matrix<double, k, h>>(x, "W2");
  auto b2 = layout.map<Eigen::Vector2d>(x, "b2");
  // value(block, i, j) = 1000·(block + 1) + 10·i + j, written through the maps...
  for (Eigen::Index j = 0; j < d; ++j)
    for (Eigen::Index i = 0; i < h; ++i) W1(i, j) = 1000.0 + 10.0 * double(i) + double(j);
  for (Eigen::Index i = 0; i < h; ++i) b1(i) = 2000.0 + 10.0 * double(i);
  for (Eigen::Index j = 0; j < h; ++j)
    for (Eigen::Index i = 0; i < k; ++i) W2(i, j) = 3000.0 + 10.0 * double(i) + double(j);
  for (Eigen::Index i = 0; i < k; ++i) b2(i) = 4000.0 + 10.0 * double(i);
  // ...is found in the flat vector at offset + i + j·rows, and every coefficient is written once.
  CHECK(x.allFinite());
  const std::vector<std::string> names = {"W1", "b1", "W2", "b2"};
  for (std::size_t n = 0; n < names.size(); ++n) {
    const descent::Block& b = layout.block(names[n]);
    for (Eigen::Index j = 0; j < b.cols; ++j)
      for (Eigen::Index i = 0; i < b.rows; ++i) {
        INFO(b.name << "(" << i << ", " << j << ")");
        CHECK(x[b.offset + i + j * b.rows] == 1000.0 * double(n + 1) + 10.0 * double(i) + double(j));
      }
  }

  // The forward pass through the maps equals the one on copies of the matrices.
  const Eigen::Vector3d input(0.5, -1.0, 2.0);
  const Eigen::MatrixXd W1c = W1, W2c = W2;
  const Eigen::VectorXd b1c = b1, b2c = b2;
  const Eigen::VectorXd hidden = (W1 * input + b1).cwiseMax(0.0);
  const Eigen::VectorXd out = W2 * hidden + b2;
  const Eigen::VectorXd expected = W2c * (W1c * input + b1c).cwiseMax(0.0) + b2c;
  CHECK(out == expected);

  // A gradient laid out the same way: maps of a second vector write its blocks.
  Eigen::VectorXd grad = Eigen::VectorXd::Zero(layout.size());
  layout.map<Eigen::VectorXd>(grad, "b2") = out - Eigen::Vector2d(1.0, 0.0);
  layout.map<Eigen::MatrixXd>(grad, "W2") = (out - Eigen::Vector2d(1.0, 0.0)) * hidden.transpose();
  CHECK(grad.head(h * d + h).isZero());
  CHECK(grad.tail(k) == out - Eigen::Vector2d(1.0, 0.0));
  CHECK(grad[layout.block("W2").offset + 1 + 3 * k] == (out[1] - 0.0) * hidden[3]);
}
