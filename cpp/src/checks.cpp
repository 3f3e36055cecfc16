#include "deploykit/checks.hpp"

#include <array>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include "deploykit/errors.hpp"

namespace deploykit {
namespace {

[[noreturn]] void refuse(std::string_view name, const std::string& why) {
  throw InputError("input " + std::string(name) + ": " + why);
}

std::string range_string(const DimRange& r) {
  std::string s = "[";  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on "[" + std::to_string(...)
  s += std::to_string(r.min);
  s += ", ";
  s += r.max ? std::to_string(*r.max) : std::string("inf");
  s += "]";
  return s;
}

template <typename T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Value i of an integer or bool tensor, widened.
std::int64_t integer_at(const Tensor& t, std::size_t i) {
  const std::byte* p = t.data.data() + i * dtype_size(t.dtype);
  switch (t.dtype) {
    case DType::kInt32:
      return load<std::int32_t>(p);
    case DType::kInt64:
      return load<std::int64_t>(p);
    case DType::kUInt8:
    case DType::kBool:
      return load<std::uint8_t>(p);
    default:
      return 0;
  }
}

std::pair<std::int64_t, std::int64_t> integer_range(DType d) {
  switch (d) {
    case DType::kInt32:
      return {std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()};
    case DType::kUInt8:
      return {0, 255};
    case DType::kBool:
      return {0, 1};
    default:
      return {std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()};
  }
}

void store_integer(Tensor& t, std::size_t i, std::int64_t v) {
  std::byte* p = t.data.data() + i * dtype_size(t.dtype);
  const auto put = [p](auto x) { std::memcpy(p, &x, sizeof x); };
  switch (t.dtype) {
    case DType::kInt32:
      put(static_cast<std::int32_t>(v));
      break;
    case DType::kInt64:
      put(v);
      break;
    default:
      put(static_cast<std::uint8_t>(v));
      break;
  }
}

// The first input (in the model's order) with a dynamic dim `dim`: the one that bound it.
std::string first_to_name(const ModelEntry& model, std::string_view dim) {
  for (const TensorSpec& spec : model.inputs)
    for (const Dim& d : spec.shape)
      if (d.name == dim) return spec.name;
  return std::string(dim);
}

}  // namespace

const DimBinding* find_dim(const DimBindings& bound, std::string_view dim) noexcept {
  for (const DimBinding& b : bound)
    if (b.dim == dim) return &b;
  return nullptr;
}

Tensor cast_tensor(const Tensor& t, DType to, std::string_view what) {
  if (t.dtype == to) return t;
  Tensor out(to, t.shape);
  const auto n = static_cast<std::size_t>(t.numel());
  if (is_float(t.dtype) != is_float(to))
    throw InputError(std::string(what) + ": no boundary cast from " + std::string(dtype_name(t.dtype)) + " to " +
                     std::string(dtype_name(to)));
  if (t.dtype == DType::kFloat16) {  // -> float32, exact
    const auto src = t.view<std::uint16_t>();
    const auto dst = out.view<float>();
    for (std::size_t i = 0; i < n; ++i) dst[i] = half_to_float(src[i]);
  } else if (t.dtype == DType::kFloat32) {  // -> float16, rounded to nearest even
    const auto src = t.view<float>();
    const auto dst = out.view<std::uint16_t>();
    for (std::size_t i = 0; i < n; ++i) dst[i] = float_to_half(src[i]);
  } else {
    const auto [lo, hi] = integer_range(to);
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t v = integer_at(t, i);
      if (v < lo || v > hi)
        throw InputError(std::string(what) + ": value " + std::to_string(v) + " at index " + std::to_string(i) +
                         " does not fit " + std::string(dtype_name(to)));
      store_integer(out, i, v);
    }
  }
  return out;
}

DimBindings check_inputs(const ModelEntry& model, const TensorMap& inputs, const Artifact* artifact) {
  DimBindings bound;
  check_inputs(model, inputs, artifact, bound);
  return bound;
}

void check_inputs(const ModelEntry& model, const TensorMap& inputs, const Artifact* artifact, DimBindings& bound,
                  std::span<const Tensor*> ordered) {
  // 1. every model input exactly once (a map holds each name once), no unknown name. Each
  // spec's tensor is looked up once (into `ordered`, or on the stack for up to 8 inputs);
  // when all are there and the counts agree, no name is unknown (spec names are unique),
  // else the names are gone through again for the contract's message order.
  std::array<const Tensor*, 8> few{};
  std::vector<const Tensor*> many;
  std::span<const Tensor*> given = ordered;
  if (given.size() != model.inputs.size()) {
    if (model.inputs.size() > few.size()) many.resize(model.inputs.size());
    given = many.empty() ? std::span(few).first(model.inputs.size()) : std::span(many);
  }
  bool complete = inputs.size() == model.inputs.size();
  for (std::size_t i = 0; i < model.inputs.size(); ++i) {
    const auto it = inputs.find(model.inputs[i].name);
    given[i] = it == inputs.end() ? nullptr : &it->second;
    complete &= given[i] != nullptr;
  }
  if (!complete) {
    for (const auto& [name, tensor] : inputs)
      if (model.find_input(name) == nullptr)
        refuse(name, "unknown input \"" + name + "\" (model inputs: " + model.input_names() + ")");
    for (std::size_t i = 0; i < model.inputs.size(); ++i)
      if (given[i] == nullptr) refuse(model.inputs[i].name, "missing (model inputs: " + model.input_names() + ")");
  }

  // 2-4. dtype, rank, fixed dims
  for (std::size_t i = 0; i < model.inputs.size(); ++i) {
    const TensorSpec& spec = model.inputs[i];
    const Tensor& t = *given[i];
    if (t.dtype != spec.dtype)
      refuse(spec.name,
             "expected " + std::string(dtype_name(spec.dtype)) + ", got " + std::string(dtype_name(t.dtype)));
    if (t.rank() != spec.shape.size())
      refuse(spec.name, "rank is " + std::to_string(t.rank()) + ", expected " + std::to_string(spec.shape.size()) +
                            " (shape " + shape_string(t.shape) + ")");
    if (t.data.size() != static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype))
      refuse(spec.name, "data do not match the shape " + shape_string(t.shape));
    for (std::size_t k = 0; k < spec.shape.size(); ++k)
      if (!spec.shape[k].dynamic() && t.shape[k] != spec.shape[k].size)
        refuse(spec.name, "dim " + std::to_string(k) + " is " + std::to_string(t.shape[k]) + ", expected " +
                              std::to_string(spec.shape[k].size));
  }

  // 5. dynamic dims: inside their range, one size per name
  bound.clear();
  for (std::size_t i = 0; i < model.inputs.size(); ++i) {
    const TensorSpec& spec = model.inputs[i];
    const Tensor& t = *given[i];
    for (std::size_t k = 0; k < spec.shape.size(); ++k) {
      const Dim& d = spec.shape[k];
      if (!d.dynamic()) continue;
      const std::int64_t size = t.shape[k];
      const auto at = [&] { return "dim " + std::to_string(k) + " (" + d.name + ") is " + std::to_string(size); };
      const DimBinding* b = find_dim(bound, d.name);
      if (b != nullptr && b->size == size) continue;  // that size passed the range check
      const DimRange range = model.range_of(d.name);
      if (size < range.min || (range.max && size > *range.max))
        refuse(spec.name, at() + ", outside " + range_string(range));
      if (b != nullptr)
        refuse(spec.name, at() + ", but input " + first_to_name(model, d.name) + " has " + std::to_string(b->size));
      bound.push_back({d.name, size});
    }
  }

  // 6. boundary casts fit
  if (artifact != nullptr) {
    for (std::size_t i = 0; i < model.inputs.size(); ++i) {
      const auto cast = artifact->boundary_dtypes.find(model.inputs[i].name);
      if (cast != artifact->boundary_dtypes.end())
        (void)cast_tensor(*given[i], cast->second, "input " + model.inputs[i].name);
    }
  }
}

void check_output(const TensorSpec& spec, const Tensor& t, DimBindings& bound, std::string_view origin) {
  const auto fail = [&](const std::string& why) {
    throw ModelError(std::string(origin) + ": output " + spec.name + ": " + why);
  };
  if (t.dtype != spec.dtype)
    fail("expected " + std::string(dtype_name(spec.dtype)) + ", got " + std::string(dtype_name(t.dtype)));
  if (t.rank() != spec.shape.size())
    fail("expected rank " + std::to_string(spec.shape.size()) + ", got shape " + shape_string(t.shape));
  for (std::size_t k = 0; k < spec.shape.size(); ++k) {
    const Dim& d = spec.shape[k];
    if (!d.dynamic()) {
      if (t.shape[k] != d.size)
        fail("dim " + std::to_string(k) + " is " + std::to_string(t.shape[k]) + ", expected " + std::to_string(d.size));
      continue;
    }
    const DimBinding* b = find_dim(bound, d.name);
    if (b == nullptr) {
      bound.push_back({d.name, t.shape[k]});  // no input binds it: the first output does
    } else if (b->size != t.shape[k]) {
      fail("dim " + std::to_string(k) + " (" + d.name + ") is " + std::to_string(t.shape[k]) + ", expected " +
           std::to_string(b->size));
    }
  }
}

void check_outputs(const ModelEntry& model, const TensorMap& outputs, const DimBindings& bound,
                   std::string_view origin) {
  DimBindings all = bound;
  for (const TensorSpec& spec : model.outputs) {
    const auto it = outputs.find(spec.name);
    if (it == outputs.end())
      throw ModelError(std::string(origin) + ": output " + spec.name + ": missing from the runtime's result");
    check_output(spec, it->second, all, origin);
  }
}

}  // namespace deploykit
