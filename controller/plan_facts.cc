#include "controller/plan_facts.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/load_mix.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace stampede::controller {
namespace {

void AddOrigin(const std::string& url, std::vector<std::string>* out) {
  const std::string origin = OriginOf(url);
  if (origin.empty()) return;
  if (std::find(out->begin(), out->end(), origin) == out->end())
    out->push_back(origin);
}

void AddSteps(const google::protobuf::RepeatedPtrField<v1::FlowStep>& steps,
              std::vector<std::string>* out) {
  for (const v1::FlowStep& step : steps) {
    AddOrigin(step.path(), out);
    AddSteps(step.steps(), out);
  }
}

}  // namespace

std::string OriginOf(const std::string& url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0) return "";
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https" && scheme != "ws" &&
      scheme != "wss")
    return "";
  const size_t host_start = scheme_end + 3;
  size_t host_end = url.find_first_of("/?#", host_start);
  if (host_end == std::string::npos) host_end = url.size();
  std::string authority = url.substr(host_start, host_end - host_start);
  if (const size_t at = authority.rfind('@'); at != std::string::npos)
    authority = authority.substr(at + 1);
  if (authority.empty() || absl::StrContains(authority, "{{")) return "";
  return absl::StrCat(scheme, "://", authority);
}

std::vector<std::string> ScenarioOrigins(const v1::TestPlan& plan, int s) {
  const v1::Scenario& scenario = plan.scenarios(s);
  std::vector<std::string> out;
  AddOrigin(scenario.base_url(), &out);
  for (const v1::Request& r : scenario.requests()) AddOrigin(r.path(), &out);
  AddSteps(scenario.flow(), &out);
  if (scenario.has_websocket()) AddOrigin(scenario.websocket().path(), &out);
  return out;
}

ScenarioPeak ScenarioPeakOf(const v1::TestPlan& plan, int s) {
  const v1::Scenario& scenario = plan.scenarios(s);
  const std::optional<common::MixMembership> mix =
      common::MixOf(plan, static_cast<size_t>(s));
  ScenarioPeak peak;
  if (scenario.load().has_vus()) {
    for (const v1::VuStage& stage : scenario.load().vus().stages()) {
      if (!stage.has_to()) continue;
      peak.vus = std::max<int64_t>(
          peak.vus, static_cast<int64_t>(std::ceil(common::ScenarioVuLevel(
                        mix, static_cast<double>(stage.to())))));
    }
  }
  if (scenario.load().has_arrival_rate()) {
    const double share = mix ? mix->mix.Share(mix->member) : 1.0;
    for (const v1::RateStage& stage : scenario.load().arrival_rate().stages())
      peak.target_rps =
          std::max(peak.target_rps, stage.to().per_second() * share);
  }
  return peak;
}

std::string PlanFingerprint(const v1::TestPlan& as_run,
                            const std::vector<std::string>& origins) {
  v1::TestPlan load = as_run;
  load.clear_name();
  load.clear_type();
  load.clear_thresholds();
  load.clear_default_thresholds();
  load.clear_on_agent_loss();
  load.clear_max_lost_share();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    load.SerializeToCodedStream(&coded);
  }
  for (const std::string& origin : origins)
    absl::StrAppend(&bytes, "\n", origin);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  return absl::StrCat("sha256:", absl::BytesToHexString(std::string(
                                     reinterpret_cast<char*>(digest), size)));
}

}  // namespace stampede::controller
