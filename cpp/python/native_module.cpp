// builder._native: Python binding of the deploykit comparison kernel and of
// the C++ client's LibTorch model runner. Declarations only; the logic lives in
// cpp/src/compare.cpp and cpp/src/model.cpp (the same static libraries the C++
// client links).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

#include "deploykit/compare.hpp"
#ifdef DEPLOYKIT_WITH_TORCH
#include "deploykit/errors.hpp"
#include "deploykit/manifest.hpp"
#include "deploykit/model.hpp"
#endif

namespace py = pybind11;

namespace {

static_assert(std::is_same_v<py::ssize_t, std::ptrdiff_t>);

deploykit::BufferView view_of(const py::buffer_info& info) {
  return {info.ptr, info.format, info.itemsize, info.shape, info.strides};
}

#ifdef DEPLOYKIT_WITH_TORCH
deploykit::Format format_of(const std::string& name) {
  if (auto f = deploykit::parse_format(name)) return *f;
  throw deploykit::InputError("format " + name +
                              ": not run by the C++ client (it runs torchscript-script, "
                              "torchscript-trace, aoti)");
}

// A NumPy array (any contract dtype, any layout) copied into a deploykit::Tensor. Any
// other dtype is refused like the CLI refuses it: "input <name>: ..." (ValueError).
deploykit::Tensor tensor_of(const std::string& name, const py::handle& value) {
  const auto array = py::array::ensure(value, py::array::c_style);
  if (!array) throw deploykit::InputError("input " + name + ": expected a numpy.ndarray");
  const py::dtype dt = array.dtype();
  std::optional<deploykit::DType> dtype;
  if (dt.kind() == 'f' && dt.itemsize() == 4) dtype = deploykit::DType::kFloat32;
  if (dt.kind() == 'f' && dt.itemsize() == 2) dtype = deploykit::DType::kFloat16;
  if (dt.kind() == 'i' && dt.itemsize() == 4) dtype = deploykit::DType::kInt32;
  if (dt.kind() == 'i' && dt.itemsize() == 8) dtype = deploykit::DType::kInt64;
  if (dt.kind() == 'u' && dt.itemsize() == 1) dtype = deploykit::DType::kUInt8;
  if (dt.kind() == 'b' && dt.itemsize() == 1) dtype = deploykit::DType::kBool;
  const bool native_order = dt.attr("byteorder").cast<std::string>() != ">";
  if (!dtype || !native_order)
    throw deploykit::InputError("input " + name + ": dtype " + py::str(dt).cast<std::string>() +
                                " is not a contract dtype (float32, float16, int32, int64, uint8, bool)");
  if (array.ndim() > static_cast<py::ssize_t>(deploykit::kMaxRank))
    throw deploykit::InputError("input " + name + ": rank " + std::to_string(array.ndim()) + " is over 8");
  deploykit::Tensor t(*dtype, std::vector<std::int64_t>(array.shape(), array.shape() + array.ndim()));
  if (!t.data.empty()) std::memcpy(t.data.data(), array.data(), t.data.size());
  return t;
}

py::array array_of(const deploykit::Tensor& t) {
  py::array out(py::dtype(std::string(deploykit::dtype_name(t.dtype))),
                std::vector<py::ssize_t>(t.shape.begin(), t.shape.end()));
  if (!t.data.empty()) std::memcpy(out.mutable_data(), t.data.data(), t.data.size());
  return out;
}

// predict({name: ndarray}) -> {name: ndarray}; the GIL is released while LibTorch runs.
py::dict predict(const deploykit::Model& model, const py::dict& inputs) {
  deploykit::TensorMap tensors;
  for (const auto& [key, value] : inputs) {
    if (!py::isinstance<py::str>(key)) throw deploykit::InputError("input names must be strings");
    const auto name = key.cast<std::string>();
    tensors.emplace(name, tensor_of(name, value));
  }
  deploykit::TensorMap outputs;
  {
    const py::gil_scoped_release release;
    outputs = model.predict(tensors);
  }
  py::dict result;
  for (const std::string& name : model.output_names()) result[py::str(name)] = array_of(outputs.at(name));
  return result;
}
#endif

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() =
      "Native comparison kernel and LibTorch model runner of deploykit (C++).\n\n"
      "Comparison semantics follow docs/contract.md: a float element fails where\n"
      "|a-b| > atol and |a-b| > rtol*|b| (b = reference); NaN must be NaN at the\n"
      "same positions and +Inf/-Inf must match exactly; integer and bool tensors\n"
      "compare exactly.";

  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const deploykit::dtype_error& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    }
#ifdef DEPLOYKIT_WITH_TORCH
    catch (const deploykit::InputError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
#endif
  });

  py::class_<deploykit::CompareResult>(m, "CompareResult", "Statistics of one comparison (read-only).")
      .def_readonly("count", &deploykit::CompareResult::count, "Number of element pairs.")
      .def_readonly("mismatches", &deploykit::CompareResult::mismatches,
                    "Failing elements, including non-finite mismatches.")
      .def_readonly("nonfinite_mismatches", &deploykit::CompareResult::nonfinite_mismatches,
                    "Pairs whose NaN/Inf values differ (e.g. NaN vs 1.0, +Inf vs -Inf).")
      .def_readonly("max_abs", &deploykit::CompareResult::max_abs, "Max |a-b| over finite pairs (computed in float64).")
      .def_readonly("max_rel", &deploykit::CompareResult::max_rel,
                    "Max |a-b|/|b| over finite pairs; inf where b == 0 != a.")
      .def_readonly("max_ulp", &deploykit::CompareResult::max_ulp,
                    "Max ULP distance over finite pairs in the tensor's float format (+0 and -0 are 0\n"
                    "apart); 0 for integer and bool tensors.")
      .def_readonly("min_passing_atol", &deploykit::CompareResult::min_passing_atol,
                    "Smallest atol that passes every finite pair at this rtol; inf if any "
                    "non-finite mismatch.")
      .def_readonly("worst_index", &deploykit::CompareResult::worst_index,
                    "Flat index of the first non-finite mismatch, else of the first max "
                    "|a-b|; -1 when count == 0.")
      .def_readonly("nan_match", &deploykit::CompareResult::nan_match, "NaN positions are identical.")
      .def_readonly("inf_match", &deploykit::CompareResult::inf_match, "Inf positions and signs are identical.")
      .def_readonly("passed", &deploykit::CompareResult::passed, "mismatches == 0.")
      .def(
          "as_dict",
          [](const deploykit::CompareResult& r) {
            py::dict d;
            d["count"] = r.count;
            d["mismatches"] = r.mismatches;
            d["nonfinite_mismatches"] = r.nonfinite_mismatches;
            d["max_abs"] = r.max_abs;
            d["max_rel"] = r.max_rel;
            d["max_ulp"] = r.max_ulp;
            d["min_passing_atol"] = r.min_passing_atol;
            d["worst_index"] = r.worst_index;
            d["nan_match"] = r.nan_match;
            d["inf_match"] = r.inf_match;
            d["passed"] = r.passed;
            return d;
          },
          "All fields as a plain dict (floats may be inf).")
      .def("__repr__", [](const deploykit::CompareResult& r) { return deploykit::to_string(r); });

  m.def(
      "compare",
      [](const py::buffer& reference, const py::buffer& candidate, double atol, double rtol) {
        const py::buffer_info ref = reference.request();
        const py::buffer_info cand = candidate.request();
        const py::gil_scoped_release release;
        return deploykit::compare(view_of(ref), view_of(cand), atol, rtol);
      },
      py::arg("reference"), py::arg("candidate"), py::arg("atol"), py::arg("rtol"),
      "Compare a candidate output against a reference, without copying.\n\n"
      "Args:\n"
      "    reference: float32, float16, int32, int64, uint8 or bool buffer (e.g. a\n"
      "        NumPy array), C-contiguous; integer and bool compare exactly.\n"
      "    candidate: a buffer of the same dtype and exactly the reference's shape.\n"
      "    atol: absolute tolerance, finite and >= 0.\n"
      "    rtol: relative tolerance (times |reference|), finite and >= 0.\n\n"
      "Returns:\n"
      "    CompareResult.\n\n"
      "Raises:\n"
      "    TypeError: an input is not of a contract dtype, or the dtypes differ.\n"
      "    ValueError: an input is not C-contiguous, the shapes differ, or a\n"
      "        tolerance is negative or not finite.");

#ifdef DEPLOYKIT_WITH_TORCH
  py::class_<deploykit::Model>(m, "Model",
                               "A TorchScript (.pt) or AOTInductor (.pt2) artifact run by LibTorch C++ (the C++\n"
                               "client's deploykit::Model). predict() may be called from several threads at once.")
      .def_static(
          "from_manifest",
          [](const std::string& manifest, const std::string& model, const std::string& format) {
            const deploykit::Format f = format_of(format);
            const py::gil_scoped_release release;
            return deploykit::Model::load(deploykit::Manifest::read(manifest), model, f);
          },
          py::arg("manifest"), py::arg("model"), py::arg("format"),
          "Loads a model's artifact from a manifest (schema_version 2) after verifying its\n"
          "size and sha256.\n\n"
          "Raises:\n"
          "    ValueError: unreadable or malformed manifest, unknown model or format.\n"
          "    RuntimeError: unsupported schema_version, integrity check failed, or LibTorch\n"
          "        cannot load the file.")
      .def("predict", &predict, py::arg("inputs"),
           "Runs one call: {input name: ndarray} -> {output name: ndarray}, in the model's\n"
           "output order. Every input is checked against the model's tensor specs first\n"
           "(names, dtype, rank, fixed dims, dynamic dim ranges and agreement); nothing is\n"
           "converted. NaN and Inf are data. The GIL is released while LibTorch runs.\n\n"
           "Raises:\n"
           "    ValueError: an input the contract's checks refuse (one line, 'input <name>: ...').\n"
           "    RuntimeError: LibTorch failed or returned outputs that do not match the specs.")
      .def_property_readonly(
          "format", [](const deploykit::Model& model) { return std::string(deploykit::format_name(model.format())); },
          "The artifact format id.")
      .def_property_readonly("input_names", &deploykit::Model::input_names, "The model's inputs, in order.")
      .def_property_readonly("output_names", &deploykit::Model::output_names, "The model's outputs, in order.");
  m.attr("libtorch_version") = deploykit::libtorch_version();
#endif
}
