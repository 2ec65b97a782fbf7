#include "common/text.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"

namespace stampede::common {

int EditDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

bool ExpandEnv(absl::string_view in, std::string* out, std::string* error) {
  out->clear();
  size_t i = 0;
  while (i < in.size()) {
    if (in.compare(i, 3, "$${") == 0) {
      out->append("${");
      i += 3;
      continue;
    }
    if (in.compare(i, 2, "${") != 0) {
      out->push_back(in[i++]);
      continue;
    }
    const size_t close = in.find('}', i + 2);
    if (close == absl::string_view::npos) {
      *error = absl::StrCat("unterminated ${ in ", absl::StrCat("\"", in, "\""),
                            " (write $${ for a literal ${)");
      return false;
    }
    const absl::string_view body = in.substr(i + 2, close - i - 2);
    // ${VAR:-default}: the default when VAR is unset or empty, as in a shell.
    const size_t dash = body.find(":-");
    const bool has_default = dash != absl::string_view::npos;
    const absl::string_view name = has_default ? body.substr(0, dash) : body;
    const absl::string_view fallback =
        has_default ? body.substr(dash + 2) : absl::string_view();
    bool valid = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
    for (char c : name) {
      if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9'))) {
        valid = false;
      }
    }
    if (!valid && !has_default &&
        name.find_first_of(":-") != absl::string_view::npos) {
      *error = absl::StrCat("unsupported ", absl::StrCat("\"${", body, "}\""),
                            "; a default is written ${VAR:-default}");
      return false;
    }
    if (!valid) {
      *error = absl::StrCat("invalid environment variable name ",
                            absl::StrCat("\"", name, "\""), " in ${...}");
      return false;
    }
    if (fallback.find("${") != absl::string_view::npos) {
      *error =
          absl::StrCat("the default in ", absl::StrCat("\"${", body, "}\""),
                       " holds ${: a default is literal text (no nesting)");
      return false;
    }
    const char* value = std::getenv(std::string(name).c_str());
    if (has_default) {
      if (value == nullptr || *value == '\0') {
        out->append(fallback.data(), fallback.size());
      } else {
        out->append(value);
      }
      i = close + 1;
      continue;
    }
    if (value == nullptr) {
      *error = absl::StrCat("environment variable ", name, " is not set");
      return false;
    }
    out->append(value);
    i = close + 1;
  }
  return true;
}

}  // namespace stampede::common
