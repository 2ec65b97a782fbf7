#include "common/yaml_documents.h"

#include <yaml-cpp/eventhandler.h>

#include <sstream>
#include <string>

namespace stampede::common {
namespace {

// Notes where each document starts; ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  explicit DocumentStarts(std::vector<YAML::Mark>* starts) : starts_(starts) {}
  void OnDocumentStart(const YAML::Mark& mark) override {
    starts_->push_back(mark);
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  std::vector<YAML::Mark>* starts_;
};

}  // namespace

YamlDocuments ScanYamlDocuments(std::string_view text, size_t limit) {
  YamlDocuments out;
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentStarts handler(&out.starts);
  while (out.starts.size() < limit && parser.HandleNextDocument(handler)) {
    const size_t n = out.starts.size();
    if (n >= 2 && out.starts[n - 1].pos == out.starts[n - 2].pos) {
      // Two documents at one place: the parser no longer reads on.
      out.stuck = true;
      out.stuck_at = out.starts[n - 1];
      out.starts.resize(n - 2);
      break;
    }
  }
  return out;
}

}  // namespace stampede::common
