// Where the YAML documents of a text begin, read without building them.
// Debian 12's yaml-cpp 0.7 loops forever in YAML::LoadAll on a stray ',' at
// document level (yaml-cpp issue 1040: each turn yields another empty
// document without reading on); this scan stops there and says where.
// Thread-safe (pure).
#ifndef STAMPEDE_COMMON_YAML_DOCUMENTS_H_
#define STAMPEDE_COMMON_YAML_DOCUMENTS_H_

#include <yaml-cpp/yaml.h>

#include <string_view>
#include <vector>

namespace stampede::common {

struct YamlDocuments {
  std::vector<YAML::Mark> starts;  // one per document, up to the limit
  // The parser stopped moving: text it cannot read stands at `stuck_at`.
  bool stuck = false;
  YAML::Mark stuck_at;
};

// Scans at most `limit` documents. Throws YAML::ParserException on a syntax
// error, as YAML::Load does.
YamlDocuments ScanYamlDocuments(std::string_view text, size_t limit = 100);

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_YAML_DOCUMENTS_H_
