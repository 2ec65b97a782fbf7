// Synthetic agents for bench/controller-merge: one process holds N real gRPC
// control sessions to a controller and, on its Start, streams one Interval per
// interval index on each, with realistic encoded histograms for every request
// of the plan, then Final. It sends no HTTP: only the controller's merge is
// under test. Reactions run on gRPC's threads and never block; the main thread
// paces the intervals.
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/histogram.h"
#include "common/schedule.h"
#include "common/version.h"
#include "common/write_queue.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "stampede/v1/agent.grpc.pb.h"

namespace stampede::bench {
namespace {

using google::protobuf::util::TimeUtil;

// What all synthetic agents have learnt from the controller so far.
struct Shared {
  absl::Mutex mu;
  size_t prepared ABSL_GUARDED_BY(mu) = 0;
  size_t started ABSL_GUARDED_BY(mu) = 0;
  size_t done ABSL_GUARDED_BY(mu) = 0;
  size_t failed ABSL_GUARDED_BY(mu) = 0;
  std::string run_id ABSL_GUARDED_BY(mu);
  v1::TestPlan plan ABSL_GUARDED_BY(mu);
  absl::Duration interval ABSL_GUARDED_BY(mu) = absl::Seconds(1);
  absl::Time start_at ABSL_GUARDED_BY(mu);
  std::atomic<bool> stopped{false};
};

class SyntheticAgent
    : public grpc::ClientBidiReactor<v1::AgentMessage, v1::ControllerMessage> {
 public:
  // `stub` and `shared` must outlive the agent.
  SyntheticAgent(v1::Controller::Stub* stub, Shared* shared) : shared_(shared) {
    stub->async()->Session(&context_, this);
    AddHold();  // until Close(): OnDone cannot race a write
  }

  void Begin(v1::AgentMessage hello) {
    StartRead(&incoming_);
    StartCall();
    Send(std::move(hello));
  }
  void Send(v1::AgentMessage message) { Act(writes_.Push(std::move(message))); }
  void Close() { Act(writes_.Close()); }

 private:
  void Act(common::WriteQueue<v1::AgentMessage>::Action action) {
    if (action.write != nullptr) StartWrite(action.write);
    if (action.finish) {
      StartWritesDone();
      RemoveHold();
    }
  }
  void OnWriteDone(bool ok) override { Act(writes_.WriteDone(ok)); }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (incoming_.has_prepare()) {
      const v1::Prepare& p = incoming_.prepare();
      v1::AgentMessage ready;
      ready.mutable_ready()->set_run_id(p.run_id());
      ready.mutable_ready()->set_clock_offset_us(0);
      ready.mutable_ready()->set_clock_rtt_us(0);
      {
        absl::MutexLock lock(&shared_->mu);
        if (shared_->prepared++ == 0) {
          shared_->run_id = p.run_id();
          shared_->plan = p.plan();
          shared_->interval =
              absl::Nanoseconds(TimeUtil::DurationToNanoseconds(p.interval()));
        }
      }
      Send(std::move(ready));
    } else if (incoming_.has_start()) {
      absl::MutexLock lock(&shared_->mu);
      shared_->start_at = absl::FromUnixNanos(
          TimeUtil::TimestampToNanoseconds(incoming_.start().start_at()));
      ++shared_->started;
    } else if (incoming_.has_stop()) {
      shared_->stopped = true;
    } else if (incoming_.has_refuse()) {
      std::fprintf(stderr, "refused: %s\n",
                   incoming_.refuse().reason().c_str());
      absl::MutexLock lock(&shared_->mu);
      ++shared_->failed;
    }
    incoming_.Clear();
    StartRead(&incoming_);
  }
  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&shared_->mu);
    ++shared_->done;
    if (!status.ok()) ++shared_->failed;
  }

  Shared* shared_;
  grpc::ClientContext context_;
  v1::ControllerMessage incoming_;
  common::WriteQueue<v1::AgentMessage> writes_;
};

// Encoded histograms of `samples` lognormal latencies around `median_us`; also
// the mean count of non-empty buckets, for the report.
std::vector<std::string> MakePool(size_t n, int samples, double median_us,
                                  double sigma, std::mt19937_64* rng,
                                  double* mean_buckets) {
  std::lognormal_distribution<double> dist(std::log(median_us), sigma);
  std::vector<std::string> pool;
  double buckets = 0;
  for (size_t i = 0; i < n; ++i) {
    common::Histogram h;
    for (int s = 0; s < samples; ++s)
      h.Record(static_cast<int64_t>(dist(*rng)));
    for (size_t b = 0; b < h.BucketCount(); ++b) buckets += h.BucketAt(b) > 0;
    pool.push_back(h.Encode());
  }
  if (mean_buckets != nullptr) *mean_buckets = buckets / static_cast<double>(n);
  return pool;
}

v1::AgentMessage MakeHello(size_t i) {
  v1::AgentMessage msg;
  v1::Hello* hello = msg.mutable_hello();
  hello->set_agent_id(absl::StrFormat("synthetic-%05d", i));
  hello->set_host("merge-driver");
  hello->set_cores(1);
  hello->set_workers(1);
  hello->set_build(std::string(common::kVersion));
  hello->set_protocol_version(v1::PROTOCOL_VERSION_CURRENT);
  v1::HistogramConfig* h = hello->mutable_histogram();
  h->set_lowest_us(common::Histogram::kLowestUs);
  h->set_highest_us(common::Histogram::kHighestUs);
  h->set_significant_digits(common::Histogram::kSignificantDigits);
  return msg;
}

int Main(int argc, char** argv) {
  CLI::App app{"Synthetic agents for the controller merge benchmark"};
  std::string controller;
  size_t agents = 1000;
  int channels = 8;
  int samples = 250;
  std::string start_file;
  app.add_option("--controller", controller, "HOST:PORT")->required();
  app.add_option("--agents", agents, "synthetic agents (sessions)");
  app.add_option("--channels", channels, "HTTP/2 connections to share");
  app.add_option("--samples", samples, "latencies per histogram");
  app.add_option("--start-file", start_file,
                 "write the run's start (unix seconds) here");
  CLI11_PARSE(app, argc, argv);

  std::mt19937_64 rng(42);
  double latency_buckets = 0;
  const std::vector<std::string> latency =
      MakePool(256, samples, 4000, 0.45, &rng, &latency_buckets);
  const std::vector<std::string> service =
      MakePool(256, samples, 3000, 0.35, &rng, nullptr);
  const std::vector<std::string> ttfb =
      MakePool(256, samples, 2500, 0.35, &rng, nullptr);
  const std::vector<std::string> lag =
      MakePool(64, samples, 40, 0.8, &rng, nullptr);
  std::fprintf(
      stderr,
      "driver: %zu agents on %d channels; latency histograms hold %.0f "
      "non-empty buckets on average (%d samples, %zu bytes encoded)\n",
      agents, channels, latency_buckets, samples, latency[0].size());

  std::vector<std::unique_ptr<v1::Controller::Stub>> stubs;
  for (int c = 0; c < channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("stampede.bench.channel", c);  // distinct: own connection
    args.SetMaxSendMessageSize(64 << 20);
    args.SetMaxReceiveMessageSize(64 << 20);
    stubs.push_back(v1::Controller::NewStub(grpc::CreateCustomChannel(
        controller, grpc::InsecureChannelCredentials(), args)));
  }
  Shared shared;
  std::vector<std::unique_ptr<SyntheticAgent>> sessions;
  for (size_t i = 0; i < agents; ++i) {
    sessions.push_back(std::make_unique<SyntheticAgent>(
        stubs[i % stubs.size()].get(), &shared));
    sessions.back()->Begin(MakeHello(i));
  }

  // Wait for every Start (registration, Prepare and Ready come first).
  {
    absl::MutexLock lock(&shared.mu);
    auto all_started = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared.mu) {
      return shared.started == agents || shared.failed > 0 || shared.done > 0;
    };
    if (!shared.mu.AwaitWithTimeout(absl::Condition(&all_started),
                                    absl::Seconds(120)) ||
        shared.started != agents) {
      std::fprintf(stderr, "driver: only %zu of %zu agents started\n",
                   shared.started, agents);
      return 1;
    }
  }
  std::string run_id;
  v1::TestPlan plan;
  absl::Duration interval;
  absl::Time start_at;
  {
    absl::MutexLock lock(&shared.mu);
    run_id = shared.run_id;
    plan = shared.plan;
    interval = shared.interval;
    start_at = shared.start_at;
  }
  if (!start_file.empty()) {
    std::ofstream(start_file) << absl::StrFormat(
        "%.6f\n", absl::ToDoubleSeconds(start_at - absl::UnixEpoch()));
  }
  const int64_t intervals =
      static_cast<int64_t>(std::ceil(common::PlanLength(plan) / interval));
  std::vector<std::pair<uint32_t, uint32_t>> requests;
  for (int s = 0; s < plan.scenarios_size(); ++s) {
    for (int r = 0; r < plan.scenarios(s).requests_size(); ++r)
      requests.emplace_back(s, r);
  }
  std::fprintf(
      stderr, "driver: run %s, %lld intervals x %zu request names per agent\n",
      run_id.c_str(), static_cast<long long>(intervals), requests.size());

  std::uniform_int_distribution<size_t> pick(0, 255);
  std::vector<uint64_t> seq(agents, 0);
  for (int64_t k = 0; k < intervals && !shared.stopped; ++k) {
    absl::SleepFor(start_at + interval * (k + 1) - absl::Now());
    for (size_t a = 0; a < agents; ++a) {
      v1::AgentMessage msg;
      v1::Interval* iv = msg.mutable_interval();
      iv->set_run_id(run_id);
      iv->set_index(k);
      iv->set_seq(seq[a]++);
      for (const auto& [s, r] : requests) {
        v1::RequestStats* st = iv->add_stats();
        st->set_scenario(s);
        st->set_request(r);
        st->set_latency(latency[pick(rng)]);
        st->set_service_time(service[pick(rng)]);
        st->set_ttfb(ttfb[pick(rng)]);
        st->set_requests(samples);
        (*st->mutable_status_counts())[200] = samples;
        st->set_bytes_in(int64_t{samples} * 512);
        st->set_bytes_out(int64_t{samples} * 128);
      }
      v1::AgentStats* self = iv->mutable_agent();
      self->set_schedule_lag(lag[pick(rng) % lag.size()]);
      self->set_cpu_seconds(0.05);
      self->set_max_worker_busy(0.05);
      self->set_open_fds(64);
      sessions[a]->Send(std::move(msg));
    }
  }
  for (size_t a = 0; a < agents; ++a) {
    v1::AgentMessage msg;
    v1::Final* f = msg.mutable_final();
    f->set_run_id(run_id);
    f->set_intervals(seq[a]);
    f->set_requests(static_cast<int64_t>(seq[a]) * samples *
                    static_cast<int64_t>(requests.size()));
    f->set_first_send_late_us(0);
    sessions[a]->Send(std::move(msg));
    sessions[a]->Close();
  }
  absl::MutexLock lock(&shared.mu);
  auto all_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared.mu) {
    return shared.done == agents;
  };
  shared.mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(30));
  std::fprintf(stderr, "driver: %zu of %zu sessions ended, %zu failed\n",
               shared.done, agents, shared.failed);
  // Sessions still open cannot be destroyed under gRPC: leave at once.
  if (shared.done != agents) std::_Exit(1);
  return shared.done == agents && shared.failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace stampede::bench

int main(int argc, char** argv) { return stampede::bench::Main(argc, argv); }
