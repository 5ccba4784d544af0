#pragma once
// What the tests of the problems share (test_problems.cpp, test_landscapes.cpp): an expected
// exception with a message fragment, and a problem's loss and gradient through a VectorXd.

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>
#include <utility>

namespace descent_test {

/// make() throws an Error whose message contains the fragment.
template <class Error, class Make>
void require_throws(Make make, const std::string& fragment) {
  try {
    make();
    FAIL("no exception; expected one mentioning \"" << fragment << "\"");
  } catch (const Error& e) {
    const std::string what = e.what();
    INFO("message: " << what);
    CHECK(what.find(fragment) != std::string::npos);
  }
}

/// An invalid problem, call or option.
template <class Make>
void require_invalid(Make make, const std::string& fragment) {
  require_throws<std::invalid_argument>(make, fragment);
}

/// The loss and gradient of p at x, through a VectorXd.
template <class P>
std::pair<double, Eigen::VectorXd> evaluate(const P& p, const Eigen::VectorXd& x) {
  Eigen::VectorXd g(x.size());
  const double f = double(p(x, g));
  return {f, g};
}

}  // namespace descent_test
