// deploykit::Model: one LibTorch model, behind a small interface that hides
// LibTorch (this header includes no torch header).
//
//   auto manifest = deploykit::Manifest::read("models/manifest.json");
//   auto model = deploykit::Model::load(manifest, "mlp_torch", deploykit::Format::kAoti);
//   deploykit::Matrix y = model.predict(x);  // x: (rows, 10) -> y: (rows, 1)
//
// Thread safety: predict() is const and may be called from several threads at
// once on one Model. TorchScript modules are only read during inference
// (TorchScript's executor is thread safe for modules that do not mutate their
// own attributes, which exported inference models do not); AOTInductor's model
// container hands each call a runner from its pool, so concurrent calls on an
// aoti model are serialized (one runner) but safe. Loading, moving and
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

#include "deploykit/manifest.hpp"
#include "deploykit/npy.hpp"

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
  // Loads an artifact file without an integrity check (the caller vouches for
  // it). Throws ModelError if LibTorch cannot load it.
  static Model load(const std::filesystem::path& artifact, Format format);

  // Loads `model_id`'s artifact of `format` from a manifest: verifies its size
  // and sha256 first (ModelError on mismatch), then loads it. The model then
  // knows its input and output widths and predict() checks them. Throws
  // InputError for an unknown model or a format the manifest does not list.
  static Model load(const Manifest& manifest, std::string_view model_id, Format format);

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  ~Model();

  // Runs a batch (rows, input_width) -> (rows, output_width) under
  // torch::InferenceMode, without copying the input. NaN and Inf are data.
  // Throws InputError if the input does not have the model's width (when
  // known) or values.size() != rows * cols, ModelError if LibTorch fails or
  // returns anything but a float32 (rows, k) tensor.
  Matrix predict(MatrixView input) const;

  // The same model's bare runtime call on `input` (see DirectCall). Throws
  // InputError for a shape predict() would refuse.
  DirectCall direct_call(MatrixView input) const;

  Format format() const noexcept;
  // Known when loaded from a manifest.
  std::optional<std::int64_t> input_width() const noexcept;
  std::optional<std::int64_t> output_width() const noexcept;

  class Impl;  // LibTorch side, defined in model.cpp

 private:
  explicit Model(std::unique_ptr<const Impl> impl);
  std::unique_ptr<const Impl> impl_;
};

// "libtorch <version>" of the LibTorch this library was built against.
std::string libtorch_version();

}  // namespace deploykit
