// Small text utilities for reading what users write: typo distance for "did you
// mean" suggestions, and ${VAR} environment expansion. Thread-safe (ExpandEnv
// reads the environment, which the caller must not change meanwhile).
#ifndef STAMPEDE_COMMON_TEXT_H_
#define STAMPEDE_COMMON_TEXT_H_

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace stampede::common {

// Optimal string alignment distance: Levenshtein plus adjacent transpositions,
// so that the common typo "reqeusts" is one edit away from "requests".
int EditDistance(std::string_view a, std::string_view b);

// Replaces ${VAR} by the environment variable VAR, ${VAR:-default} by VAR or,
// when VAR is unset or empty, by the literal text `default` (which may be
// empty and holds no ${), and $${ by a literal ${. On failure (unterminated,
// invalid name or form, unset variable) returns false and says why in
// `error`.
bool ExpandEnv(absl::string_view in, std::string* out, std::string* error);

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_TEXT_H_
