#pragma once
// The one door to the private state of descent's stateful types: each of them befriends
// StateAccess, and <descent/checkpoint.hpp> specializes it to save and restore that state exactly.
// Nothing else uses it.

namespace descent::detail {

template <class T>
struct StateAccess;

}  // namespace descent::detail
