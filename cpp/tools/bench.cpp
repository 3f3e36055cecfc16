// deploykit_bench: the C++ client's speed (not a test; `make bench-cpp`).
//
// For every torch model and format in a manifest: load time, per-call latency
// at batch 1 (p50/p99), throughput at batch 1024, and the client's overhead:
// (random inputs built from the model's tensor specs: every input's dim 0 is the
// batch, other dynamic dims take 16 clamped to their range, integer inputs stay
// inside their "range")
// deploykit::Model::predict against the bare LibTorch call it wraps
// (Model::direct_call: torch::jit::Module::forward, or
// AOTIModelPackageLoader::run for .pt2, on pre-built arguments), the same code
// and the same alternating rounds (cli::interleave, the order flipping every
// round) as the CLI's --timing "direct_latency_us".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include "deploykit/cli.hpp"
#include "deploykit/manifest.hpp"
#include "deploykit/model.hpp"
#include "deploykit/sha256.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using deploykit::DType;
using deploykit::Format;
using deploykit::Tensor;
using deploykit::TensorMap;

double us_since(Clock::time_point t) { return std::chrono::duration<double, std::micro>(Clock::now() - t).count(); }

// Seeded random inputs for every model input at `batch` rows.
TensorMap random_inputs(const deploykit::ModelEntry& entry, std::int64_t batch) {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal;
  TensorMap inputs;
  for (const deploykit::TensorSpec& spec : entry.inputs) {
    std::vector<std::int64_t> shape;
    for (std::size_t k = 0; k < spec.shape.size(); ++k) {
      const deploykit::Dim& d = spec.shape[k];
      if (!d.dynamic()) {
        shape.push_back(d.size);
      } else {
        const deploykit::DimRange r = entry.range_of(d.name);
        const std::int64_t want = k == 0 ? batch : 16;
        shape.push_back(std::max(r.min, r.max ? std::min(*r.max, want) : want));
      }
    }
    Tensor t(spec.dtype, shape);
    const auto [lo, hi] = spec.range.value_or(std::pair<std::int64_t, std::int64_t>{0, 1});
    std::uniform_int_distribution<std::int64_t> integer(lo, hi);
    const auto n = static_cast<std::size_t>(t.numel());
    switch (spec.dtype) {
      case DType::kFloat32:
        for (float& v : t.view<float>()) v = normal(gen);
        break;
      case DType::kFloat16:
        for (std::uint16_t& v : t.view<std::uint16_t>()) v = deploykit::float_to_half(normal(gen));
        break;
      case DType::kInt32:
        for (std::int32_t& v : t.view<std::int32_t>()) v = static_cast<std::int32_t>(integer(gen));
        break;
      case DType::kInt64:
        for (std::int64_t& v : t.view<std::int64_t>()) v = integer(gen);
        break;
      case DType::kUInt8:
      case DType::kBool:
        for (std::size_t i = 0; i < n; ++i) t.data[i] = static_cast<std::byte>(integer(gen));
        break;
    }
    inputs.emplace(spec.name, std::move(t));
  }
  return inputs;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::cerr << "usage: deploykit_bench MANIFEST [ROUNDS=10] [CALLS_PER_ROUND=200]\n";
    return 2;
  }
  const int rounds = argc > 2 ? std::stoi(argv[2]) : 10;
  const int calls = argc > 3 ? std::stoi(argv[3]) : 200;
  try {
    const auto manifest = deploykit::Manifest::read(argv[1]);
    std::printf("LibTorch %s, %d intra-op threads; %d rounds x %d calls at batch 1, alternating client/bare\n\n",
                TORCH_VERSION, at::get_num_threads(), rounds, calls);
    std::printf(
        "| model | format | first load ms | load ms | sha256 ms | b1 p50 us | b1 p99 us | bare b1 p50 us | "
        "bare b1 p99 us | b1 p50 ratio | b1024 rows/s | bare b1024 rows/s | b1024 p50 ratio |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& entry : manifest.models()) {
      for (Format format : deploykit::supported_formats()) {
        const auto* artifact = entry.find_artifact(deploykit::format_name(format));
        if (artifact == nullptr) continue;
        // Load (with its sha256 check): the first load of this artifact in the process, then the
        // median of 5 more (the
        // first aoti load also maps libtorch.so, see model.cpp; the first TorchScript load
        // initializes the JIT).
        std::vector<double> verify_us, load_us;
        auto t = Clock::now();
        std::optional<deploykit::Model> loaded;
        for (int i = 0; i < 6; ++i) {
          t = Clock::now();
          deploykit::verify_file(artifact->path, artifact->sha256, artifact->bytes, "bench");
          verify_us.push_back(us_since(t));
          t = Clock::now();
          loaded.emplace(deploykit::Model::load(manifest, entry.id, format));
          load_us.push_back(us_since(t));  // Model::load includes the sha256 check timed above
        }
        const double first_load_ms = load_us.front() / 1e3;
        load_us.erase(load_us.begin());
        const double load_ms = deploykit::cli::summarize(load_us).p50 / 1e3;
        const double verify_ms = deploykit::cli::summarize(verify_us).p50 / 1e3;
        const deploykit::Model& model = *loaded;

        const TensorMap x1 = random_inputs(entry, 1);
        const TensorMap xb = random_inputs(entry, 1024);
        const deploykit::DirectCall bare1_call = model.direct_call(x1);
        const deploykit::DirectCall bareb_call = model.direct_call(xb);
        // 50 warm-ups: the TorchScript profiling executor optimizes after a few runs.
        const auto [client1, bare1] = deploykit::cli::interleave([&] { (void)model.predict(x1); }, bare1_call.run,
                                                                 std::int64_t{rounds} * calls, 50, rounds);
        const auto [clientb, bareb] = deploykit::cli::interleave([&] { (void)model.predict(xb); }, bareb_call.run,
                                                                 std::int64_t{rounds} * 10, 1, rounds);

        const auto c1 = deploykit::cli::summarize(client1), b1 = deploykit::cli::summarize(bare1);
        const auto cb = deploykit::cli::summarize(clientb), bb = deploykit::cli::summarize(bareb);
        // Throughput from the median batch time: robust to the odd preempted call on a shared machine.
        std::printf("| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.3f | %.0f | %.0f | %.3f |\n",
                    entry.id.c_str(), std::string(deploykit::format_name(format)).c_str(), first_load_ms, load_ms,
                    verify_ms, c1.p50, c1.p99, b1.p50, b1.p99, c1.p50 / b1.p50, 1024 / (cb.p50 * 1e-6),
                    1024 / (bb.p50 * 1e-6), cb.p50 / bb.p50);
        std::fflush(stdout);
      }
    }
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.what_without_backtrace() << '\n';
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 3;
  }
  return 0;
}
