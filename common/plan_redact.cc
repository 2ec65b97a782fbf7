// RedactPlan: the plan as a result shows it, with what came from ${VAR} put
// back as written.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_replace.h"
#include "common/plan_loader.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/message.h"

namespace stampede::common {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// A value this long that came from ${VAR} is also put back where later
// stages copied it into a longer string (a request's default name holds its
// path); shorter ones (a port, "1") would match by chance.
constexpr size_t kRedactInsideMin = 8;

struct Redactor {
  const std::map<std::string, std::string>& whole;
  std::vector<std::pair<std::string, std::string>> inside;

  std::string Redact(const std::string& value) const {
    if (auto it = whole.find(value); it != whole.end()) return it->second;
    if (inside.empty()) return value;
    return absl::StrReplaceAll(value, inside);
  }

  void Walk(Message* msg) const {
    const Reflection* refl = msg->GetReflection();
    std::vector<const FieldDescriptor*> fields;
    refl->ListFields(*msg, &fields);
    for (const FieldDescriptor* f : fields) {
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        if (f->is_repeated()) {
          // Map entries are repeated messages too: their values are reached
          // here, their keys (names as written, never expanded) unchanged.
          for (int i = 0; i < refl->FieldSize(*msg, f); ++i)
            Walk(refl->MutableRepeatedMessage(msg, f, i));
        } else {
          Walk(refl->MutableMessage(msg, f));
        }
        continue;
      }
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_STRING) continue;
      if (f->containing_type()->options().map_entry() && f->number() == 1)
        continue;  // a map's key
      if (f->is_repeated()) {
        for (int i = 0; i < refl->FieldSize(*msg, f); ++i) {
          refl->SetRepeatedString(msg, f, i,
                                  Redact(refl->GetRepeatedString(*msg, f, i)));
        }
      } else {
        refl->SetString(msg, f, Redact(refl->GetString(*msg, f)));
      }
    }
  }
};

}  // namespace

void RedactPlan(const std::map<std::string, std::string>& env_values,
                v1::TestPlan* plan) {
  if (env_values.empty()) return;
  Redactor redactor{env_values, {}};
  for (const auto& [value, written] : env_values) {
    if (value.size() >= kRedactInsideMin)
      redactor.inside.emplace_back(value, written);
  }
  redactor.Walk(plan);
}

}  // namespace stampede::common
