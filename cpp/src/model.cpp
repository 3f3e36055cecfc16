// deploykit::Model on LibTorch. With torch_tensors.cpp, the only translation units of the
// library that include LibTorch headers.
#include "deploykit/model.hpp"

#include <dlfcn.h>
#include <link.h>

#include <array>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/script.h>
#include <torch/version.h>

#include "deploykit/checks.hpp"
#include "deploykit/errors.hpp"
#include "deploykit/sha256.hpp"
#include "torch_tensors.hpp"

namespace deploykit {
namespace {

using detail::CallState;
using detail::copy_of;
using detail::point;
using detail::scalar_type;
using detail::StatePool;

constexpr std::array kFormats{Format::kTorchScriptScript, Format::kTorchScriptTrace, Format::kAoti};

// LibTorch messages can span lines (source context, hints); the contract wants
// one line, so keep the first non-empty one.
std::string first_line(std::string_view text) {
  while (!text.empty() && (text.front() == '\n' || text.front() == ' ')) text.remove_prefix(1);
  return std::string(text.substr(0, text.find('\n')));
}

// Runs `fn`, turning any LibTorch or standard exception into `Error` with the
// message "<what>: <first line of the cause>". `what` is built once by the caller (a
// load, direct_call), or kept in the model (predict), so that a call that succeeds
// builds no message.
template <typename Error, typename Fn>
auto translate(const std::string& what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const InputError&) {
    throw;
  } catch (const ModelError&) {
    throw;
  } catch (const c10::Error& e) {
    throw Error(what + ": " + first_line(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Error(what + ": " + first_line(e.what()));
  }
}

// AOTInductor's generated model library (inside the .pt2) lists libtorch.so as
// NEEDED. This client links only libtorch_cpu and libc10, and the dynamic
// loader does not search libtorch_cpu's folder (its RPATH) for the dependencies
// of a library it dlopen()s, so load libtorch.so from that folder first: once,
// kept for the life of the process. Nothing to do where it is already loaded
// (under Python after `import torch`, or when linked via find_package(Torch)).
// In the CUDA wheel this also maps libtorch_cuda.so, which costs about 0.4 s
// and 400 MB of address space, so it happens only when an aoti model loads.
void ensure_libtorch_loaded() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (dlopen("libtorch.so", RTLD_NOW | RTLD_NOLOAD) != nullptr) return;
    void* cpu = dlopen("libtorch_cpu.so", RTLD_NOW | RTLD_NOLOAD);
    link_map* map = nullptr;
    if (cpu == nullptr || dlinfo(cpu, RTLD_DI_LINKMAP, &map) != 0 || map == nullptr) return;
    const auto libtorch = std::filesystem::path(map->l_name).parent_path() / "libtorch.so";
    // Intentionally never closed. A failure surfaces as the loader's own error.
    (void)dlopen(libtorch.c_str(), RTLD_NOW | RTLD_GLOBAL);
  });
}

}  // namespace

// One loaded artifact. run() is const: neither runtime changes model state
// during inference (see the thread-safety note in model.hpp).
class Model::Impl {
 public:
  Impl(Format format, std::string origin)
      : format_(format), origin_(std::move(origin)), predict_what_("predict " + origin_) {}
  virtual ~Impl() = default;
  // Positional inputs -> outputs in the manifest's output order.
  virtual std::vector<at::Tensor> run(const std::vector<at::Tensor>& inputs) const = 0;
  // The bare runtime call on `inputs`, its arguments built here once.
  virtual DirectCall direct(const std::vector<at::Tensor>& inputs) const = 0;

  Format format_;
  std::string origin_;        // the file, for messages
  std::string predict_what_;  // "predict <file>", built once: predict's messages start with it
  ModelEntry entry_;
  Artifact artifact_;
  mutable StatePool states_;  // predict's CallState, kept between calls
};

namespace {

class TorchScriptImpl final : public Model::Impl {
 public:
  TorchScriptImpl(const std::filesystem::path& path, Format format)
      : Impl(format, path.string()), module_(torch::jit::load(path.string(), torch::kCPU)) {
    module_.eval();
  }

  std::vector<at::Tensor> run(const std::vector<at::Tensor>& inputs) const override {
    // Module::forward is not declared const, but only reads the module here.
    return unpack(module_.forward(std::vector<c10::IValue>(inputs.begin(), inputs.end())));
  }

  DirectCall direct(const std::vector<at::Tensor>& inputs) const override {
    // forward() takes its vector by value, so each call copies the IValues (refcounts).
    auto args = std::make_shared<const std::vector<c10::IValue>>(inputs.begin(), inputs.end());
    return {[this, args] {
              const c10::InferenceMode guard;
              (void)module_.forward(*args);
            },
            "torch::jit::Module::forward(prebuilt std::vector<c10::IValue>) under c10::InferenceMode"};
  }

 private:
  // One tensor, a tuple or list in the output order, or a dict keyed by output name.
  std::vector<at::Tensor> unpack(c10::IValue&& result) const {
    const auto& outputs = entry_.outputs;
    std::vector<at::Tensor> out;
    out.reserve(outputs.size());
    if (result.isTensor()) {
      out.push_back(std::move(result).toTensor());
    } else if (result.isTuple()) {
      for (const c10::IValue& v : result.toTupleRef().elements()) out.push_back(element(v));
    } else if (result.isList()) {
      for (const c10::IValue& v : result.toListRef()) out.push_back(element(v));
    } else if (result.isGenericDict()) {
      const c10::Dict<c10::IValue, c10::IValue> dict = result.toGenericDict();
      for (const TensorSpec& spec : outputs) {
        const auto it = dict.find(c10::IValue(spec.name));
        if (it == dict.end()) throw ModelError(origin_ + ": the result dict has no output '" + spec.name + "'");
        out.push_back(element(it->value()));
      }
      if (dict.size() != outputs.size())
        throw ModelError(origin_ + ": the result dict has " + std::to_string(dict.size()) + " entries, the model " +
                         std::to_string(outputs.size()) + " outputs");
    } else {
      throw ModelError(origin_ + ": unexpected result type " + result.tagKind());
    }
    return out;
  }

  at::Tensor element(const c10::IValue& v) const {
    if (!v.isTensor()) throw ModelError(origin_ + ": result holds a " + v.tagKind() + ", expected tensors");
    return v.toTensor();
  }

  mutable torch::jit::Module module_;
};

class AotiImpl final : public Model::Impl {
 public:
  explicit AotiImpl(const std::filesystem::path& path) : Impl(Format::kAoti, path.string()), loader_(path.string()) {}

  std::vector<at::Tensor> run(const std::vector<at::Tensor>& inputs) const override {
    // AOTInductor's container is internally synchronized (see model.hpp); its outputs
    // come flattened in the exported program's output order.
    return loader_.run(inputs);
  }

  DirectCall direct(const std::vector<at::Tensor>& inputs) const override {
    auto args = std::make_shared<const std::vector<at::Tensor>>(inputs);
    return {[this, args] {
              const c10::InferenceMode guard;
              (void)loader_.run(*args);
            },
            "torch::inductor::AOTIModelPackageLoader::run(prebuilt std::vector<at::Tensor>) under c10::InferenceMode"};
  }

 private:
  mutable torch::inductor::AOTIModelPackageLoader loader_;
};

std::unique_ptr<Model::Impl> open(const std::filesystem::path& path, Format format) {
  const std::string what = "load " + std::string(format_name(format)) + " " + path.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw ModelError(what + ": no such file");
  return translate<ModelError>(what, [&]() -> std::unique_ptr<Model::Impl> {
    const c10::InferenceMode guard;
    if (format == Format::kAoti) {
      ensure_libtorch_loaded();
      return std::make_unique<AotiImpl>(path);
    }
    return std::make_unique<TorchScriptImpl>(path, format);
  });
}

// Checks `inputs` and makes `st` hold them in the model's order, cast to the artifact's
// boundary dtypes; the casts own their bytes in `st.storage`, the others are viewed in
// place. Called under c10::InferenceMode (inference-tensor views, torch_tensors.hpp).
void prepare(const Model::Impl& impl, const TensorMap& inputs, CallState& st) {
  const std::size_t n = impl.entry_.inputs.size();
  st.ordered.resize(n);
  check_inputs(impl.entry_, inputs, &impl.artifact_, st.bound, st.ordered);
  st.args.resize(n);
  st.storage.clear();
  if (!impl.artifact_.boundary_dtypes.empty()) st.storage.reserve(n);  // views stay valid
  for (std::size_t i = 0; i < n; ++i) {
    const TensorSpec& spec = impl.entry_.inputs[i];
    const Tensor& t = *st.ordered[i];
    const auto cast = impl.artifact_.boundary_dtypes.find(spec.name);
    if (cast == impl.artifact_.boundary_dtypes.end()) {
      point(st.args[i], t, scalar_type(t.dtype));
    } else {
      st.storage.push_back(cast_tensor(t, cast->second, "input " + spec.name));
      point(st.args[i], st.storage.back(), scalar_type(cast->second));
    }
  }
}

}  // namespace

std::span<const Format> supported_formats() noexcept { return kFormats; }

std::string_view format_name(Format format) noexcept {
  switch (format) {
    case Format::kTorchScriptScript:
      return "torchscript-script";
    case Format::kTorchScriptTrace:
      return "torchscript-trace";
    case Format::kAoti:
      return "aoti";
  }
  return "unknown";
}

std::optional<Format> parse_format(std::string_view name) noexcept {
  for (Format f : kFormats)
    if (format_name(f) == name) return f;
  return std::nullopt;
}

Model::Model(std::unique_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const Manifest& manifest, std::string_view model_id, Format format) {
  const ModelEntry& entry = manifest.model(model_id);
  const Artifact* artifact = entry.find_artifact(format_name(format));
  if (artifact == nullptr)
    throw InputError("model " + entry.id + ": the manifest lists no " + std::string(format_name(format)) + " artifact");
  check_min_runtime(entry.id, *artifact, torch_runtime());  // before a byte of it is read
  verify_file(artifact->path, artifact->sha256, artifact->bytes,
              "integrity of " + entry.id + "/" + std::string(format_name(format)));
  std::unique_ptr<Impl> impl = open(artifact->path, format);
  impl->entry_ = entry;
  impl->artifact_ = *artifact;
  return Model(std::move(impl));
}

DirectCall Model::direct_call(const TensorMap& inputs) const {
  const std::string what = "direct call " + impl_->origin_;
  const c10::InferenceMode guard;  // the same kind of input tensors as predict's
  auto state = std::make_shared<CallState>();
  prepare(*impl_, inputs, *state);
  return translate<ModelError>(what, [&] {
    DirectCall call = impl_->direct(state->args);
    // Keep the cast copies alive as long as the call.
    call.run = [run = std::move(call.run), state] { run(); };
    return call;
  });
}

TensorMap Model::predict(const TensorMap& inputs) const {
  const Impl& impl = *impl_;
  const std::string& what = impl.predict_what_;
  const c10::InferenceMode guard;
  std::unique_ptr<CallState> state = impl.states_.take();
  prepare(impl, inputs, *state);  // InputError: nothing runs
  TensorMap outputs = translate<ModelError>(what, [&] {
    const std::vector<at::Tensor> results = impl.run(state->args);
    const auto& specs = impl.entry_.outputs;
    if (results.size() != specs.size())
      throw ModelError(what + ": the runtime returned " + std::to_string(results.size()) + " outputs, the model has " +
                       std::to_string(specs.size()) + " (" + impl.entry_.output_names() + ")");
    TensorMap outputs;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      Tensor t = copy_of(results[i], what, specs[i].name);
      if (t.dtype != specs[i].dtype && impl.artifact_.boundary_dtypes.contains(specs[i].name)) {
        try {
          t = cast_tensor(t, specs[i].dtype, "output " + specs[i].name);
        } catch (const InputError& e) {
          throw ModelError(what + ": " + e.what());
        }
      }
      check_output(specs[i], t, state->bound, what);
      outputs.emplace_hint(outputs.end(), specs[i].name, std::move(t));
    }
    return outputs;
  });
  impl.states_.give_back(std::move(state));  // after the runtime's results are gone
  return outputs;
}

Tensor Model::predict(const Tensor& input) const {
  const ModelEntry& entry = impl_->entry_;
  if (entry.inputs.size() != 1)
    throw InputError("model " + entry.id + ": has " + std::to_string(entry.inputs.size()) + " inputs (" +
                     entry.input_names() + "); name them");
  TensorMap inputs;
  inputs.emplace(entry.inputs.front().name, input);
  TensorMap outputs = predict(inputs);
  return std::move(outputs.find(entry.outputs.front().name)->second);
}

Format Model::format() const noexcept { return impl_->format_; }
const ModelEntry& Model::entry() const noexcept { return impl_->entry_; }

std::vector<std::string> Model::input_names() const {
  std::vector<std::string> names;
  for (const TensorSpec& s : impl_->entry_.inputs) names.push_back(s.name);
  return names;
}

std::vector<std::string> Model::output_names() const {
  std::vector<std::string> names;
  for (const TensorSpec& s : impl_->entry_.outputs) names.push_back(s.name);
  return names;
}

std::string libtorch_version() { return "libtorch " TORCH_VERSION; }

Runtime torch_runtime() { return {"torch", TORCH_VERSION, ""}; }

}  // namespace deploykit
