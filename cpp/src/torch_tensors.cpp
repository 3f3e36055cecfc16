// deploykit::Tensor <-> at::Tensor and predict's kept per-call state (torch_tensors.hpp).
#include "torch_tensors.hpp"

#include <cstddef>
#include <utility>

#include "deploykit/errors.hpp"

namespace deploykit::detail {

at::ScalarType scalar_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return at::kFloat;
    case DType::kFloat16:
      return at::kHalf;
    case DType::kInt32:
      return at::kInt;
    case DType::kInt64:
      return at::kLong;
    case DType::kUInt8:
      return at::kByte;
    case DType::kBool:
      return at::kBool;
  }
  return at::kFloat;
}

std::optional<DType> dtype_of(at::ScalarType type) {
  for (DType d : {DType::kFloat32, DType::kFloat16, DType::kInt32, DType::kInt64, DType::kUInt8, DType::kBool})
    if (scalar_type(d) == type) return d;
  return std::nullopt;
}

// Built directly: what at::from_blob makes for a contiguous CPU blob without a deleter,
// minus its guards and option resolution (77 against 128 ns a view in a loop here;
// torch::from_blob, used before, also made a shallow copy in make_variable). Under
// c10::InferenceMode it is an inference tensor (no version counter, no autograd keys).
at::Tensor view_of(const Tensor& t, at::ScalarType type) {
  void* data = const_cast<std::byte*>(t.data.data());
  c10::Storage storage(c10::Storage::use_byte_size_t{}, t.data.size(), c10::DataPtr(data, c10::Device(c10::kCPU)),
                       /*allocator=*/nullptr, /*resizable=*/false);
  at::Tensor view = at::detail::make_tensor<c10::TensorImpl>(
      std::move(storage), c10::DispatchKeySet(c10::DispatchKey::CPU), c10::scalarTypeToTypeMeta(type));
  view.unsafeGetTensorImpl()->set_sizes_contiguous(t.shape);
  return view;
}

void point(at::Tensor& view, const Tensor& t, at::ScalarType type) {
  if (!view.defined() || view.scalar_type() != type) {
    view = view_of(t, type);
    return;
  }
  c10::TensorImpl* impl = view.unsafeGetTensorImpl();
  c10::StorageImpl* storage = impl->storage().unsafeGetStorageImpl();
  storage->set_data_ptr_noswap(c10::DataPtr(const_cast<std::byte*>(t.data.data()), c10::Device(c10::kCPU)));
  storage->set_nbytes(t.data.size());
  if (!impl->sizes().equals(t.shape)) impl->set_sizes_contiguous(t.shape);  // usually the last call's
}

// `what` and `name` build the message only on an error.
Tensor copy_of(const at::Tensor& t, const std::string& what, const std::string& name) {
  const std::optional<DType> dtype = dtype_of(t.scalar_type());
  if (!dtype)
    throw ModelError(what + ": output " + name + ": the runtime returned a " +
                     std::string(c10::toString(t.scalar_type())) + " tensor");
  const c10::MaybeOwned<at::Tensor> c = t.expect_contiguous();  // no new handle when contiguous
  Tensor out;
  out.dtype = *dtype;
  out.shape.assign(c->sizes().begin(), c->sizes().end());
  const auto* bytes = static_cast<const std::byte*>(c->data_ptr());
  if (c->numel() > 0) out.data.assign(bytes, bytes + c->nbytes());  // not zero-filled first
  return out;
}

StatePool::~StatePool() { delete slot_.exchange(nullptr); }

std::unique_ptr<CallState> StatePool::take() {
  CallState* kept = slot_.exchange(nullptr, std::memory_order_acquire);
  return kept != nullptr ? std::unique_ptr<CallState>(kept) : std::make_unique<CallState>();
}

void StatePool::give_back(std::unique_ptr<CallState> state) noexcept {
  for (at::Tensor& view : state->args)
    if (view.defined() && (view.use_count() != 1 || view.weak_use_count() != 1 || view.storage().use_count() != 1))
      view.reset();
  state->storage.clear();
  CallState* empty = nullptr;
  if (slot_.compare_exchange_strong(empty, state.get(), std::memory_order_release)) (void)state.release();
}

}  // namespace deploykit::detail
