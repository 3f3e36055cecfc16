// deploykit::Model: one LibTorch model, behind a small interface that hides
// LibTorch (this header includes no torch header).
//
//   auto manifest = deploykit::Manifest::read("models/manifest.json");
//   auto model = deploykit::Model::load(manifest, "chargpt_torch", deploykit::Format::kAoti);
//   deploykit::TensorMap y = model.predict({{"tokens", deploykit::read_npy("tokens.npy")}});
//
// predict() checks every input against the model's tensor specs before the runtime
// call (see checks.hpp), passes them positionally in the manifest's input order, and
// names the outputs by the manifest's output order (one tensor, a tuple or list) or by
// key (a dict).
//
// Thread safety: predict() is const and may be called from several threads at
// once on one Model. TorchScript modules are only read during inference
// (TorchScript's executor is thread safe for modules that do not mutate their
// own attributes, which exported inference models do not); AOTInductor's model
// container hands each call a runner from its pool, so concurrent calls on an
// aoti model are serialized (one runner) but safe. predict() keeps one call's
// input views and bindings for the next call in an atomic slot; a call that
// finds it taken (another thread's) builds its own. Loading, moving and
// destroying a Model are not synchronized with predict().
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deploykit/manifest.hpp"
#include "deploykit/runtime_version.hpp"
#include "deploykit/tensor.hpp"

namespace deploykit {

enum class Format { kTorchScriptScript, kTorchScriptTrace, kAoti };

// The formats this client runs, in manifest order.
std::span<const Format> supported_formats() noexcept;
// "torchscript-script", "torchscript-trace", "aoti".
std::string_view format_name(Format format) noexcept;
// The inverse of format_name; nullopt for anything else.
std::optional<Format> parse_format(std::string_view name) noexcept;

// The bare runtime call that Model::predict wraps, with everything it needs
// built once: torch::jit::Module::forward on a pre-built
// std::vector<c10::IValue> (TorchScript) or AOTIModelPackageLoader::run on a
// pre-built std::vector<at::Tensor> (aoti), each call under
// c10::InferenceMode, its output discarded. It measures the client's own
// overhead (the CLI's --timing "direct_latency_us", deploykit_bench). It views
// the input's values and uses the model: both must outlive it.
struct DirectCall {
  std::function<void()> run;
  std::string description;  // one line: what the bare call is
};

class Model {
 public:
  // Loads `model_id`'s artifact of `format` from a manifest: refuses an artifact whose
  // min_runtime.torch is newer than torch_runtime() (ModelError, "<model>/<format>: built
  // for torch >= X, this client runs torch Y"), then verifies its size and sha256
  // (ModelError on mismatch), then loads it (ModelError if LibTorch cannot). Throws
  // InputError for an unknown model or a format the manifest does not list. The model
  // keeps a copy of its manifest entry.
  static Model load(const Manifest& manifest, std::string_view model_id, Format format);

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  ~Model();

  // Runs one call under torch::InferenceMode. NaN and Inf are data. Throws InputError
  // for inputs the contract's checks refuse (nothing runs then), ModelError if LibTorch
  // fails or returns outputs that do not match the output specs.
  TensorMap predict(const TensorMap& inputs) const;

  // The one-input convenience: `input` is the sole model input; returns the first
  // output. Throws InputError for a model with several inputs.
  Tensor predict(const Tensor& input) const;

  // The same model's bare runtime call on `inputs` (see DirectCall), after the same checks.
  DirectCall direct_call(const TensorMap& inputs) const;

  Format format() const noexcept;
  const ModelEntry& entry() const noexcept;
  std::vector<std::string> input_names() const;
  std::vector<std::string> output_names() const;

  class Impl;  // LibTorch side, defined in model.cpp

 private:
  explicit Model(std::unique_ptr<const Impl> impl);
  std::unique_ptr<const Impl> impl_;
};

// "libtorch <version>" of the LibTorch this library was built against.
std::string libtorch_version();

// The runtime Model::load checks an artifact's min_runtime against (runtime_version.hpp):
// family "torch", version TORCH_VERSION of the LibTorch this library was built against.
Runtime torch_runtime();

}  // namespace deploykit
