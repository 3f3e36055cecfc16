// Private to deploykit_model (model.cpp): deploykit::Tensor <-> at::Tensor, and the per-call
// state Model::predict keeps between calls. Includes LibTorch headers; never installed.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "deploykit/checks.hpp"
#include "deploykit/tensor.hpp"

namespace deploykit::detail {

at::ScalarType scalar_type(DType dtype);
// The inverse of scalar_type; nullopt for a type the contract has no dtype for.
std::optional<DType> dtype_of(at::ScalarType type);

// A CPU tensor over `t`'s bytes as `type`, without a copy (the models only read their
// inputs). Made under the caller's c10::InferenceMode, it is an inference tensor.
at::Tensor view_of(const Tensor& t, at::ScalarType type);

// `view` (a kept one, or undefined) made to view `t` as `type`: re-pointed at the new bytes
// and shape when it has that type, else built by view_of.
void point(at::Tensor& view, const Tensor& t, at::ScalarType type);

// The runtime's output `t` as a Tensor (one copy of its bytes). Throws ModelError
// "<what>: output <name>: ..." for a type the contract has no dtype for.
Tensor copy_of(const at::Tensor& t, const std::string& what, const std::string& name);

// What one call needs besides its outputs: the dims its inputs bound, the boundary-cast
// copies, the positional input views, and the tensors they view in the model's order.
struct CallState {
  DimBindings bound;
  std::vector<Tensor> storage;
  std::vector<at::Tensor> args;
  std::vector<const Tensor*> ordered;
};

// One CallState kept between calls. A view is two heap objects (a TensorImpl and its
// StorageImpl); building and freeing them, the argument vector and the bindings was the
// largest cost predict added to the runtime call at batch 1. take() hands out the kept state
// (or a new one while another call has it); give_back() keeps a state, dropping any view
// that something else still holds (or its storage), so that the next call re-points the
// views nobody else sees. The slot is an atomic pointer: concurrent predicts stay safe.
class StatePool {
 public:
  StatePool() = default;
  StatePool(const StatePool&) = delete;
  StatePool& operator=(const StatePool&) = delete;
  ~StatePool();

  std::unique_ptr<CallState> take();
  void give_back(std::unique_ptr<CallState> state) noexcept;

 private:
  std::atomic<CallState*> slot_{nullptr};
};

}  // namespace deploykit::detail
