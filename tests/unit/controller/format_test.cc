// Outputs are pure functions of the RunResult, checked against golden files. To
// refresh a golden file after an intended change: STAMPEDE_UPDATE_GOLDEN=1
// ./bin/format_test
#include "controller/report/format.h"

#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "common/histogram.h"
#include "controller/report/report.h"
#include "controller/result.h"
#include "controller/thresholds.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace stampede::controller {
namespace {

// An interval's latency: `n` requests at each of `values_us`.
common::Histogram Latencies(const std::vector<int64_t>& values_us, int64_t n) {
  common::Histogram h;
  for (int64_t v : values_us) h.RecordN(v, n);
  return h;
}

v1::RunResult SampleResult() {
  v1::RunResult r;
  r.set_schema("stampede.result/v1");
  r.set_status("failed");
  r.set_exit_code(3);
  r.set_plan_name("golden \"plan\"");
  r.set_run_id("0123456789abcdef");
  r.set_started_at("2026-11-22T10:00:00Z");
  r.set_duration_s(30);
  r.set_message("thresholds failed");
  r.set_test_type("stress");
  r.set_command_line("stampede run plans/shop.yaml --out md=report.md");
  r.set_plan_fingerprint("sha256:00ff");
  r.set_peak_vus(100);
  // The plan as run: browse expects 200 and 429; chat names none (100-399).
  v1::Scenario* browse_plan = r.mutable_plan()->add_scenarios();
  browse_plan->set_name("browse");
  browse_plan->add_expected_statuses(200);
  browse_plan->add_expected_statuses(429);
  browse_plan->set_base_url("https://shop.test");
  r.mutable_plan()->add_scenarios()->set_name("chat");
  r.mutable_plan()->set_type("stress");
  v1::Summary* s = r.mutable_summary();
  s->set_requests(6000);
  s->set_errors(12);
  s->set_error_rate(0.002);
  s->set_rps(200);
  s->mutable_latency_ms()->set_p50(0.412);
  s->mutable_latency_ms()->set_p90(1.25);
  s->mutable_latency_ms()->set_p95(2.5);
  s->mutable_latency_ms()->set_p99(12.75);
  s->mutable_latency_ms()->set_p999(480);
  s->mutable_latency_ms()->set_max(1204.5);
  s->mutable_latency_ms()->set_mean(0.9);
  (*s->mutable_statuses())["200"] = 5988;
  (*s->mutable_statuses())["503"] = 12;
  (*s->mutable_error_ids())["http_503"] = 12;
  v1::ScenarioResult* sc = r.add_scenarios();
  sc->set_name("browse");
  sc->set_engine("h2");
  sc->set_engine_why(
      "http_version auto: shop.test:443 chose h2 by ALPN from h2, http/1.1");
  sc->add_base_urls("https://shop.test");
  sc->add_base_urls("https://cdn.shop.test:8443");
  sc->set_peak_target_rps(200);
  *sc->mutable_summary() = *s;
  v1::RequestResult* q = sc->add_requests();
  q->set_name("GET /");
  *q->mutable_summary() = *s;
  v1::PhaseTimings* phases = q->mutable_summary()->mutable_phases_ms();
  phases->set_new_connections(64);
  phases->mutable_connect()->set_p50(0.08);
  phases->mutable_connect()->set_p95(0.2);
  phases->mutable_ttfb()->set_p50(0.35);
  phases->mutable_ttfb()->set_p95(2.25);
  phases->mutable_ttfb()->set_p99(12.5);
  v1::StreamingSummary* streaming = q->mutable_summary()->mutable_streaming();
  streaming->set_events(30000);
  streaming->mutable_ttlb_ms()->set_p50(500.5);
  streaming->mutable_ttlb_ms()->set_p99(1250);
  // A WebSocket scenario: its request is a connection.
  v1::ScenarioResult* chat = r.add_scenarios();
  chat->set_name("chat");
  chat->set_engine("websocket");
  chat->set_engine_why("websocket: in the plan");
  chat->add_base_urls("wss://shop.test");
  chat->set_peak_vus(100);
  v1::RequestResult* ws_request = chat->add_requests();
  ws_request->set_name("WS /ws/echo");
  v1::Summary* ws_summary = ws_request->mutable_summary();
  ws_summary->set_requests(100);
  ws_summary->set_errors(2);
  ws_summary->set_error_rate(0.02);
  (*ws_summary->mutable_statuses())["101"] = 100;
  (*ws_summary->mutable_error_ids())["ws_close_1011"] = 2;
  v1::WebSocketSummary* ws = ws_summary->mutable_websocket();
  ws->set_connections(100);
  ws->set_messages_out(5000);
  ws->set_messages_in(4990);
  ws->mutable_rtt_ms()->set_p50(0.25);
  ws->mutable_rtt_ms()->set_p99(4.5);
  ws->mutable_session_ms()->set_p50(30000);
  (*ws->mutable_close_codes())["1000"] = 98;
  (*ws->mutable_close_codes())["1011"] = 2;
  ws->set_rtt_histogram(Latencies({250, 4500}, 10).Encode());
  *chat->mutable_summary() = *ws_summary;
  v1::ThresholdResult* t = r.add_thresholds();
  t->set_expression("p(95) latency < 2ms");
  t->set_metric("p(95) latency");
  t->set_target("< 2ms");
  t->set_passed(false);
  t->set_actual(2.5);
  t->set_actual_text("2.5ms");
  t->set_severity("fail");
  // A warning: it failed, and the run's verdict is the fail threshold's.
  v1::ThresholdResult* w = r.add_thresholds();
  w->set_expression("p(99) latency < 10ms for 5s warn");
  w->set_metric("p(99) latency");
  w->set_target("< 10ms for 5s warn");
  w->set_passed(false);
  w->set_actual(12.75);
  w->set_actual_text("12.75ms");
  w->set_failed_at_s(5);
  w->set_worst_window_end_s(7);
  w->set_severity("warn");
  v1::AgentResult* a = r.add_agents();
  a->set_id("local-0");
  a->set_host("h");
  a->set_requests(6000);
  a->set_errors(12);
  a->set_state("finished");
  a->set_cores(2);
  a->set_workers(2);
  common::Histogram first = Latencies({412, 1250, 12000}, 50);
  first.RecordN(398, 50);
  v1::IntervalResult* i = r.add_intervals();
  i->set_t(1);
  i->set_rps(200);
  i->set_target_rps(200);
  i->set_p50_ms(0.4);
  i->set_p95_ms(12);
  i->set_p99_ms(12);
  i->set_requests(200);
  i->set_agents_reported(1);
  i->set_latency_histogram(first.Encode());
  v1::RequestInterval* share = i->add_by_request();
  share->set_requests(200);
  share->set_latency_histogram(first.Encode());
  common::Histogram second = Latencies({405, 2500, 1'204'500}, 1);
  second.RecordN(420, 197);
  i = r.add_intervals();
  i->set_t(2);
  i->set_rps(200);
  i->set_target_rps(200);
  i->set_p50_ms(0.42);
  i->set_p95_ms(0.42);
  i->set_p99_ms(2.5);
  i->set_vus(100);
  i->set_requests(200);
  i->set_agents_reported(1);
  i->set_latency_histogram(second.Encode());
  i->set_errors(2);
  (*i->mutable_error_ids())["http_503"] = 2;
  share = i->add_by_request();
  share->set_requests(200);
  share->set_errors(2);
  share->set_latency_histogram(second.Encode());
  first.Merge(second);
  q->set_latency_histogram(first.Encode());
  q->set_service_time_histogram(Latencies({300, 900}, 200).Encode());
  return r;
}

// HdrHistogram's compressed V2 encoding read back (base64, then zlib, then
// the V2 header and ZigZag LEB128 counts), written from the format's
// description, independently of the code under test.
struct HdrDecoded {
  uint32_t cookie = 0;
  int32_t normalizing_offset = -1;
  int32_t digits = 0;
  int64_t lowest = 0;
  int64_t highest = 0;
  double ratio = 0;
  std::vector<int64_t> counts;
  std::string error;
};

uint64_t BigEndian(std::string_view bytes, size_t pos, int width) {
  uint64_t v = 0;
  for (int i = 0; i < width; ++i) {
    v = (v << 8) | static_cast<uint8_t>(bytes[pos + i]);
  }
  return v;
}

HdrDecoded DecodeHdr(const std::string& base64) {
  HdrDecoded out;
  std::string compressed;
  if (!absl::Base64Unescape(base64, &compressed) || compressed.size() < 8) {
    out.error = "not base64, or too short";
    return out;
  }
  if (BigEndian(compressed, 0, 4) != 0x1c849314) {
    out.error = "not the compressed V2 cookie";
    return out;
  }
  const uint64_t length = BigEndian(compressed, 4, 4);
  if (length != compressed.size() - 8) {
    out.error = "compressed length does not match";
    return out;
  }
  std::vector<Bytef> plain(1 << 20);
  uLongf plain_size = plain.size();
  if (uncompress(plain.data(), &plain_size,
                 reinterpret_cast<const Bytef*>(compressed.data() + 8),
                 length) != Z_OK) {
    out.error = "not zlib";
    return out;
  }
  std::string_view v(reinterpret_cast<const char*>(plain.data()), plain_size);
  if (v.size() < 40) {
    out.error = "V2 header truncated";
    return out;
  }
  out.cookie = static_cast<uint32_t>(BigEndian(v, 0, 4));
  const uint64_t payload = BigEndian(v, 4, 4);
  out.normalizing_offset = static_cast<int32_t>(BigEndian(v, 8, 4));
  out.digits = static_cast<int32_t>(BigEndian(v, 12, 4));
  out.lowest = static_cast<int64_t>(BigEndian(v, 16, 8));
  out.highest = static_cast<int64_t>(BigEndian(v, 24, 8));
  const uint64_t ratio_bits = BigEndian(v, 32, 8);
  std::memcpy(&out.ratio, &ratio_bits, sizeof(out.ratio));
  if (payload != v.size() - 40) {
    out.error = "payload length does not match";
    return out;
  }
  for (size_t pos = 40; pos < v.size();) {
    uint64_t z = 0;
    for (int i = 0; i < 9; ++i) {
      if (pos >= v.size()) {
        out.error = "truncated varint";
        return out;
      }
      const uint8_t byte = static_cast<uint8_t>(v[pos++]);
      if (i == 8) {
        z |= uint64_t{byte} << 56;
        break;
      }
      z |= uint64_t{byte & 0x7fu} << (7 * i);
      if ((byte & 0x80) == 0) break;
    }
    const int64_t value =
        static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
    if (value < 0) {
      out.counts.insert(out.counts.end(), static_cast<size_t>(-value), 0);
    } else {
      out.counts.push_back(value);
    }
  }
  return out;
}

// The fields of each interval line of an HdrHistogram log.
std::vector<std::vector<std::string>> IntervalLines(const std::string& log) {
  std::vector<std::vector<std::string>> lines;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (line.empty() || line[0] == '#' || line[0] == '"') continue;
    lines.push_back(absl::StrSplit(line, ','));
  }
  return lines;
}

// Every bucket of `decoded` equals `h`'s, and nothing lies beyond.
void ExpectSameCounts(const HdrDecoded& decoded, const common::Histogram& h) {
  ASSERT_TRUE(decoded.error.empty()) << decoded.error;
  ASSERT_LE(decoded.counts.size(), h.BucketCount());
  for (size_t k = 0; k < h.BucketCount(); ++k) {
    const int64_t got = k < decoded.counts.size() ? decoded.counts[k] : 0;
    ASSERT_EQ(got, h.BucketAt(k)) << "bucket " << k;
  }
}

void ExpectGolden(const std::string& name, const std::string& actual) {
  std::string path =
      std::string(STAMPEDE_SOURCE_DIR) + "/tests/testdata/golden/" + name;
  if (std::getenv("STAMPEDE_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << actual;
  }
  std::ifstream in(path);
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str()) << "golden file " << path;
}

TEST(Format, JsonMatchesGolden) {
  ExpectGolden("result.json", FormatJson(SampleResult()));
}

TEST(Format, MarkdownMatchesGolden) {
  ExpectGolden("report.md", FormatMarkdown(SampleResult()));
}

TEST(Format, JunitMatchesGolden) {
  ExpectGolden("junit.xml", FormatJunit(SampleResult()));
}

TEST(Format, CsvMatchesGolden) {
  ExpectGolden("result.csv", FormatCsv(SampleResult()));
}

// The HTML report's embedded data (what its charts are drawn from) is a pure
// function of the result too.
TEST(Format, HtmlDataMatchesGolden) {
  const std::string html = FormatHtml(SampleResult());
  const std::string open =
      "<script id=stampede-data type=\"application/json\">";
  const size_t from = html.find(open);
  ASSERT_NE(from, std::string::npos);
  const size_t to = html.find("</script>", from);
  ExpectGolden("report-data.json",
               html.substr(from + open.size(), to - from - open.size()) + "\n");
}

// A one-hour run of 20 requests, each second's histogram spread over a few
// hundred buckets and each request's share of it over fifty, stays within
// the 2 MB the README promises, with a baseline as long: every series is
// merged into fewer points, and names cannot end the page's script early.
TEST(Format, HtmlReportOfAnHourStaysWithinItsBudget) {
  v1::RunResult r = SampleResult();
  r.clear_intervals();
  constexpr int kRequests = 20;
  for (int s = 0; s < 3600; ++s) {
    common::Histogram h;
    for (int k = 0; k < 300; ++k) h.RecordN(200 + 37 * k + s % 11, 1 + k % 7);
    v1::IntervalResult* i = r.add_intervals();
    i->set_t(s + 1);
    i->set_rps(1000);
    i->set_requests(1000);
    i->set_errors(6);
    i->set_latency_histogram(h.Encode());
    for (const char* id : {"http_503", "tcp_reset", "timeout"})
      (*i->mutable_error_ids())[id] = 2;
    for (int q = 0; q < kRequests; ++q) {
      common::Histogram share;
      for (int k = 0; k < 50; ++k) share.RecordN(200 + 211 * k + q, 1);
      v1::RequestInterval* by = i->add_by_request();
      by->set_request(static_cast<uint32_t>(q));
      by->set_requests(50);
      by->set_latency_histogram(share.Encode());
    }
  }
  v1::ScenarioResult* sc = r.mutable_scenarios(0);
  sc->clear_requests();
  for (int q = 0; q < kRequests; ++q) {
    v1::RequestResult* req = sc->add_requests();
    req->set_name(absl::StrCat("GET /api/v1/items/", q, "</script><b>"));
    common::Histogram h;
    for (int k = 0; k < 2000; ++k) h.RecordN(100 + 13 * k, 1 + k % 5);
    req->set_latency_histogram(h.Encode());
    req->set_service_time_histogram(h.Encode());
  }
  const v1::RunResult baseline = r;
  const std::string html = FormatHtml(r, &baseline);
  EXPECT_LE(html.size(), 2'000'000u);
  EXPECT_EQ(html.find("</script><b>"), std::string::npos);
  const size_t data = html.find("<script id=stampede-data");
  ASSERT_NE(data, std::string::npos);
  // The run's series (the baseline's, 3 numbers a second, fits whole).
  EXPECT_NE(html.find("\"t\":[", data), html.find("\"t\":[1,2,3,", data))
      << "not merged";
  std::printf("an hour of 20 requests, with a baseline: %zu bytes\n",
              html.size());
  EXPECT_EQ(html.find("\"rq_span\":[1,1,"), std::string::npos) << "not merged";
  // Every request name still has its series (the sample's WebSocket one too,
  // null where it had none).
  size_t series = 0;
  for (size_t at = html.find("\"p95\":["); at != std::string::npos;
       at = html.find("\"p95\":[", at + 1))
    ++series;
  EXPECT_EQ(series, kRequests + 1u + 1u);  // and the baseline's
}

// The plan as run survives the JSON and reads back, so compare and report
// see what ran.
TEST(Format, JsonCarriesThePlanAndReadsBack) {
  v1::RunResult r = SampleResult();
  const std::string json = FormatJson(r);
  v1::RunResult back;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(json, &back, options).ok());
  EXPECT_EQ(back.plan().scenarios(0).expected_statuses_size(), 2);
  EXPECT_EQ(back.plan().scenarios(0).base_url(), "https://shop.test");
  EXPECT_EQ(back.plan_fingerprint(), "sha256:00ff");
  EXPECT_EQ(back.test_type(), "stress");
  EXPECT_EQ(back.scenarios(0).base_urls_size(), 2);
  EXPECT_EQ(back.thresholds(1).target(), "< 10ms for 5s warn");
  EXPECT_EQ(back.intervals(0).p95_ms(), 12);
  // Per-request series, errors by id and service time read back too.
  ASSERT_EQ(back.intervals(1).by_request_size(), 1);
  EXPECT_EQ(back.intervals(1).by_request(0).errors(), 2);
  EXPECT_EQ(back.intervals(1).by_request(0).latency_histogram(),
            r.intervals(1).latency_histogram());
  EXPECT_EQ(back.intervals(1).error_ids().at("http_503"), 2);
  EXPECT_EQ(back.scenarios(0).requests(0).service_time_histogram(),
            r.scenarios(0).requests(0).service_time_histogram());
}

// The template's rows: a 429 the plan expects is not an error, a 503 is; the
// target hosts are every scenario's, once.
TEST(Format, MarkdownMarksExpectedStatusesAndListsHosts) {
  v1::RunResult r = SampleResult();
  (*r.mutable_scenarios(0)
        ->mutable_requests(0)
        ->mutable_summary()
        ->mutable_statuses())["429"] = 7;
  const std::string md = FormatMarkdown(r);
  EXPECT_NE(md.find("| browse | GET / | 429 | 7 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| browse | GET / | 503 | 12 | 0.20% | **no** |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| chat | WS /ws/echo | 101 | 100 | 100.00% | yes |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| Target Host | `https://shop.test`, "
                    "`https://cdn.shop.test:8443`, `wss://shop.test` |"),
            std::string::npos)
      << md;
  const size_t row = md.find("| browse | GET / | 429 | 7 |");
  EXPECT_NE(md.substr(row, md.find('\n', row) - row).find("| yes |"),
            std::string::npos);
}

// A threshold that failed live but passed in the end (an rps one during the
// ramp) does not read "failed at".
TEST(Format, APassedThresholdDoesNotSayFailed) {
  v1::ThresholdResult t;
  t.set_passed(true);
  t.set_failed_at_s(1);
  EXPECT_EQ(ThresholdNote(t), "");
  t.set_passed(false);
  EXPECT_EQ(ThresholdNote(t), "failed at 1s");
}

TEST(Format, CsvIsLongWithScenarioAndRequestRows) {
  const std::string csv = FormatCsv(SampleResult());
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u + 2 + 2 + 2 + 1);  // header, 2 intervals,
                                                // 2 scenarios + requests, total
  const size_t columns =
      std::vector<std::string>(absl::StrSplit(lines[0], ',')).size();
  for (const std::string& line : lines) {
    EXPECT_EQ(std::vector<std::string>(absl::StrSplit(line, ',')).size(),
              columns)
        << line;
  }
  EXPECT_EQ(lines[1].rfind("interval,1,,,200,", 0), 0u) << lines[1];
  EXPECT_EQ(
      lines[3].rfind("scenario,,browse,,6000,12,0.002,200,,0.412,2.5,", 0), 0u)
      << lines[3];
  EXPECT_EQ(lines[4].rfind("request,,browse,GET /,6000,", 0), 0u) << lines[4];
  EXPECT_EQ(lines.back().rfind("total,,,,6000,", 0), 0u) << lines.back();
}

TEST(Format, HdrLogMatchesGolden) {
  ExpectGolden("intervals.hdr", FormatHdrLog(SampleResult()));
}

// HdrHistogram's layout for lowest 1, highest 3,600,000,000 and 3 digits:
// sub-bucket count 2048 (half 1024), 22 buckets, counts length 23 * 1024; a
// value v >= 2048 lands in bucket b = floor(log2(v)) - 10 at sub-bucket
// v >> b, index (b + 1) * 1024 + (v >> b) - 1024. Ours is the same, index for
// index, which is why the log writes our buckets as they are.
TEST(Format, HistogramLayoutIsHdrHistograms) {
  common::Histogram h;
  EXPECT_EQ(h.BucketCount(), 23u * 1024u);
  for (int64_t v :
       std::vector<int64_t>{0, 1, 2047, 2048, 2049, 4095, 4096, 1'000'000,
                            1'204'500, 3'599'999'999, 3'600'000'000}) {
    size_t expected = static_cast<size_t>(v);
    if (v >= 2048) {
      int b = 0;
      while ((v >> (b + 11)) != 0) ++b;
      expected = static_cast<size_t>((b + 1) * 1024 + (v >> b) - 1024);
    }
    EXPECT_EQ(common::Histogram::IndexOf(v), expected) << v;
    EXPECT_LE(common::Histogram::BucketLowest(expected), v);
    EXPECT_GE(common::Histogram::BucketHighest(expected), v);
  }
  EXPECT_LT(common::Histogram::IndexOf(common::Histogram::kHighestUs),
            h.BucketCount());
}

TEST(Format, HdrLogRoundTripsEveryBucketAndTheHeader) {
  // Single zeros and long zero runs, both ends of the range, and counts that
  // need all nine bytes of a varint.
  common::Histogram h = Latencies({0, 1, 3, 5, 6, 2047, 2048, 123'456}, 1);
  h.RecordN(7, 300);
  h.RecordN(40'000, int64_t{1} << 60);
  h.RecordN(common::Histogram::kHighestUs, 2);
  v1::RunResult r = SampleResult();
  r.mutable_intervals(1)->set_latency_histogram(h.Encode());
  r.add_intervals()->set_t(3);  // nothing reported: an empty histogram
  r.mutable_intervals(2)->set_latency_histogram(common::Histogram().Encode());

  const std::string log = FormatHdrLog(r);
  const std::vector<std::vector<std::string>> lines = IntervalLines(log);
  ASSERT_EQ(lines.size(), 3u) << log;
  for (const std::vector<std::string>& line : lines) {
    ASSERT_EQ(line.size(), 4u) << log;
  }
  EXPECT_EQ(lines[0][0], "0.000");
  EXPECT_EQ(lines[1][0], "1.000");
  EXPECT_EQ(lines[1][1], "1.000");
  EXPECT_EQ(lines[1][2], "3600000.000");  // ms

  const HdrDecoded decoded = DecodeHdr(lines[1][3]);
  ExpectSameCounts(decoded, h);
  EXPECT_EQ(decoded.cookie, 0x1c849313u);
  EXPECT_EQ(decoded.normalizing_offset, 0);
  EXPECT_EQ(decoded.digits, 3);
  EXPECT_EQ(decoded.lowest, 1);
  EXPECT_EQ(decoded.highest, 3'600'000'000);
  EXPECT_EQ(decoded.ratio, 1.0);
  // Up to the last non-zero bucket, no further.
  EXPECT_EQ(decoded.counts.size(),
            common::Histogram::IndexOf(common::Histogram::kHighestUs) + 1);

  ExpectSameCounts(
      DecodeHdr(lines[0][3]),
      *common::Histogram::Decode(r.intervals(0).latency_histogram()));
  ExpectSameCounts(DecodeHdr(lines[2][3]), common::Histogram());
  EXPECT_EQ(lines[2][2], "0.000");
}

TEST(Format, HdrLogFromTheJsonIsTheSame) {
  // `stampede report r.json --format hdr` reads the JSON back first.
  const v1::RunResult r = SampleResult();
  v1::RunResult parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(FormatJson(r), &parsed).ok());
  EXPECT_EQ(parsed.intervals(1).latency_histogram(),
            r.intervals(1).latency_histogram());
  EXPECT_EQ(parsed.scenarios(0).requests(0).latency_histogram(),
            r.scenarios(0).requests(0).latency_histogram());
  EXPECT_EQ(Render("hdr", parsed), FormatHdrLog(r));
}

TEST(Format, HdrLogLeavesOutIntervalsWithoutAHistogramAndSaysSo) {
  v1::RunResult r = SampleResult();
  r.mutable_intervals(0)->clear_latency_histogram();
  const std::string log = FormatHdrLog(r);
  EXPECT_EQ(IntervalLines(log).size(), 1u) << log;
  EXPECT_NE(log.find("#[1 intervals left out"), std::string::npos) << log;
}

TEST(Format, JunitEscapesAndCountsFailures) {
  v1::RunResult r = SampleResult();
  r.mutable_thresholds(0)->set_expression("p(95) latency{request=a<b&c} < 2ms");
  v1::ThresholdResult* ok = r.add_thresholds();
  ok->set_expression("error_rate < 1%");
  ok->set_passed(true);
  std::string xml = FormatJunit(r);
  // Three thresholds; the warn one that failed is not a failure.
  EXPECT_NE(xml.find("tests=\"3\" failures=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("a&lt;b&amp;c"), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"error_rate &lt; 1%\"/>"), std::string::npos)
      << xml;
}

TEST(Format, SummaryMatchesGolden) {
  ExpectGolden("summary.txt", FormatSummary(SampleResult()));
}

TEST(Format, LiveLineShowsRatesPercentilesAndSkippedSends) {
  v1::IntervalResult i = SampleResult().intervals(0);
  std::string line = FormatLiveLine(i, 3.5, 2);
  EXPECT_NE(line.find("target    200.0/s"), std::string::npos) << line;
  EXPECT_NE(line.find("agents 1/2"), std::string::npos) << line;
  EXPECT_EQ(line.find("WARNING"), std::string::npos) << line;
  i.set_sends_skipped(17);
  JudgeGenerator(&i);
  line = FormatLiveLine(i, 3.5, 2);
  EXPECT_NE(line.find("WARNING generator-limited: 17 sends skipped"),
            std::string::npos)
      << line;
}

TEST(Format, GeneratorIsJudgedBySkipsLocalFailuresAndBusyWorkers) {
  v1::IntervalResult i;
  i.set_generator_busy(0.5);
  JudgeGenerator(&i);
  EXPECT_FALSE(i.generator_limited());
  i.set_generator_busy(0.97);
  i.set_local_errors(3);
  JudgeGenerator(&i);
  EXPECT_TRUE(i.generator_limited());
  EXPECT_EQ(i.generator_note(),
            "3 sends failed on local limits; a worker thread was 97% busy");
  i = v1::IntervalResult();
  i.set_loop_stall_max_ms(99);
  JudgeGenerator(&i);
  EXPECT_FALSE(i.generator_limited());
  i.set_loop_stall_max_ms(1500);
  JudgeGenerator(&i);
  EXPECT_EQ(i.generator_note(),
            "an agent's event loop stalled for 1500 ms (sends and reads "
            "waited on the generator)");
}

TEST(Format, ClosedModelLiveLinesShowVusNotARate) {
  v1::IntervalResult i;
  i.set_t(3);
  i.set_rps(3900);
  i.set_target_vus(20);
  i.set_vus(18);
  const std::string line = FormatLiveLine(i, 5, 2);
  EXPECT_NE(line.find("3s  vus    20 (   18 active)  achieved   3900.0/s"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find("target"), std::string::npos) << line;
}

TEST(Format, ThresholdTextSaysHowItIsJudged) {
  v1::Threshold t;
  t.set_metric("error_rate");
  t.set_lt("1%");
  EXPECT_EQ(ThresholdExpression(t), "error_rate < 1%");
  t.mutable_for_()->set_seconds(60);
  t.mutable_grace()->set_seconds(30);
  t.set_abort(true);
  EXPECT_EQ(ThresholdExpression(t), "error_rate < 1% for 1m grace 30s abort");
}

}  // namespace
}  // namespace stampede::controller
