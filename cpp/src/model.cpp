// The only translation unit of the library that includes LibTorch headers.
#include "deploykit/model.hpp"

#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/script.h>
#include <torch/version.h>

#include <dlfcn.h>
#include <link.h>

#include <array>
#include <concepts>
#include <exception>
#include <mutex>
#include <utility>

#include "deploykit/errors.hpp"
#include "deploykit/sha256.hpp"

namespace deploykit {
namespace {

constexpr std::array kFormats{Format::kTorchScriptScript, Format::kTorchScriptTrace, Format::kAoti};

// LibTorch messages can span lines (source context, hints); the contract wants
// one line, so keep the first non-empty one.
std::string first_line(std::string_view text) {
  while (!text.empty() && (text.front() == '\n' || text.front() == ' ')) text.remove_prefix(1);
  return std::string(text.substr(0, text.find('\n')));
}

// `what` of a message: a string, or a callable that builds it (so that a call
// that succeeds, e.g. every predict(), builds no message).
inline const std::string& describe(const std::string& what) { return what; }
template <std::invocable What>
std::string describe(const What& what) {
  return what();
}

// Runs `fn`, turning any LibTorch or standard exception into `Error` with the
// message "<what>: <first line of the cause>".
template <typename Error, typename What, typename Fn>
auto translate(const What& what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const InputError&) {
    throw;
  } catch (const ModelError&) {
    throw;
  } catch (const c10::Error& e) {
    throw Error(describe(what) + ": " + first_line(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Error(describe(what) + ": " + first_line(e.what()));
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
  Impl(Format format, std::string origin) : format_(format), origin_(std::move(origin)) {}
  virtual ~Impl() = default;
  virtual at::Tensor run(const at::Tensor& input) const = 0;
  // The bare runtime call on `input`, its arguments built here once.
  virtual DirectCall direct(const at::Tensor& input) const = 0;

  Format format_;
  std::string origin_;  // the file, for messages
  std::optional<std::int64_t> input_width_;
  std::optional<std::int64_t> output_width_;
};

namespace {

class TorchScriptImpl final : public Model::Impl {
 public:
  TorchScriptImpl(const std::filesystem::path& path, Format format)
      : Impl(format, path.string()), module_(torch::jit::load(path.string(), torch::kCPU)) {
    module_.eval();
  }

  at::Tensor run(const at::Tensor& input) const override {
    // Module::forward is not declared const, but only reads the module here.
    return module_.forward({input}).toTensor();
  }

  DirectCall direct(const at::Tensor& input) const override {
    // forward() takes its vector by value, so each call copies one IValue (a refcount).
    auto inputs = std::make_shared<const std::vector<c10::IValue>>(1, input);
    return {[this, inputs] {
              const c10::InferenceMode guard;
              (void)module_.forward(*inputs);
            },
            "torch::jit::Module::forward(prebuilt std::vector<c10::IValue>) under c10::InferenceMode"};
  }

 private:
  mutable torch::jit::Module module_;
};

class AotiImpl final : public Model::Impl {
 public:
  explicit AotiImpl(const std::filesystem::path& path)
      : Impl(Format::kAoti, path.string()), loader_(path.string()) {}

  at::Tensor run(const at::Tensor& input) const override {
    // AOTInductor's container is internally synchronized (see model.hpp).
    std::vector<at::Tensor> outputs = loader_.run({input});
    if (outputs.size() != 1) throw ModelError(origin_ + ": expected 1 output, got " + std::to_string(outputs.size()));
    return std::move(outputs.front());
  }

  DirectCall direct(const at::Tensor& input) const override {
    auto inputs = std::make_shared<const std::vector<at::Tensor>>(1, input);
    return {[this, inputs] {
              const c10::InferenceMode guard;
              (void)loader_.run(*inputs);
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

Model Model::load(const std::filesystem::path& artifact, Format format) { return Model(open(artifact, format)); }

Model Model::load(const Manifest& manifest, std::string_view model_id, Format format) {
  const ModelEntry& entry = manifest.model(model_id);
  const Artifact* artifact = entry.find_artifact(format_name(format));
  if (artifact == nullptr)
    throw InputError("model '" + entry.id + "': the manifest lists no " + std::string(format_name(format)) + " artifact");
  verify_file(artifact->path, artifact->sha256, artifact->bytes,
              "integrity of " + entry.id + "/" + std::string(format_name(format)));
  std::unique_ptr<Impl> impl = open(artifact->path, format);
  impl->input_width_ = entry.input_width;
  impl->output_width_ = entry.output_width;
  return Model(std::move(impl));
}

namespace {

template <typename What>
void check_input(const Model::Impl& impl, const What& what, MatrixView input) {
  if (input.rows < 0 || input.cols < 0 || input.values.size() != static_cast<std::size_t>(input.rows * input.cols))
    throw InputError(describe(what) + ": input values do not match its shape");
  if (impl.input_width_ && input.cols != *impl.input_width_)
    throw InputError(describe(what) + ": expected " + std::to_string(*impl.input_width_) + " features per row, got " +
                     std::to_string(input.cols));
}

// from_blob does not copy; the models only read their input.
at::Tensor as_tensor(MatrixView input) {
  return torch::from_blob(const_cast<float*>(input.values.data()), {input.rows, input.cols},
                          torch::TensorOptions().dtype(torch::kFloat32));
}

}  // namespace

DirectCall Model::direct_call(MatrixView input) const {
  const std::string what = "direct call " + impl_->origin_;
  check_input(*impl_, what, input);
  return translate<ModelError>(what, [&] {
    const c10::InferenceMode guard;
    return impl_->direct(as_tensor(input));
  });
}

Matrix Model::predict(MatrixView input) const {
  const Impl& impl = *impl_;
  const auto what = [&impl] { return "predict " + impl.origin_; };  // built only for an error
  check_input(impl, what, input);

  return translate<ModelError>(what, [&] {
    const c10::InferenceMode guard;
    const at::Tensor x = as_tensor(input);
    const at::Tensor y = impl.run(x);
    if (y.scalar_type() != torch::kFloat32 || y.dim() != 2 || y.size(0) != input.rows)
      throw ModelError(what() + ": expected a float32 (" + std::to_string(input.rows) + ", k) output, got " +
                       std::string(c10::toString(y.scalar_type())) + " " + c10::str(y.sizes()));
    if (impl.output_width_ && y.size(1) != *impl.output_width_)
      throw ModelError(what() + ": expected " + std::to_string(*impl.output_width_) + " outputs per row, got " +
                       std::to_string(y.size(1)));
    const at::Tensor c = y.contiguous();
    Matrix out{c.size(0), c.size(1), {}};
    const float* data = c.data_ptr<float>();
    out.values.assign(data, data + c.numel());
    return out;
  });
}

Format Model::format() const noexcept { return impl_->format_; }
std::optional<std::int64_t> Model::input_width() const noexcept { return impl_->input_width_; }
std::optional<std::int64_t> Model::output_width() const noexcept { return impl_->output_width_; }

std::string libtorch_version() { return "libtorch " TORCH_VERSION; }

}  // namespace deploykit
