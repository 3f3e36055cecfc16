// builder._native: Python binding of the deploykit comparison kernel and of
// the C++ client's LibTorch model runner. Declarations only; the logic lives in
// cpp/src/compare.cpp and cpp/src/model.cpp (the same static libraries the C++
// client links).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <type_traits>

#include "deploykit/compare.hpp"
#ifdef DEPLOYKIT_WITH_TORCH
#include "deploykit/errors.hpp"
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
  throw deploykit::InputError("format '" + name + "': expected torchscript-script, torchscript-trace or aoti");
}

// predict() for a float32, C-contiguous (n, features) buffer; the GIL is
// released while LibTorch runs. The result is handed to NumPy without a copy.
py::array_t<float> predict(const deploykit::Model& model, const py::buffer& x) {
  const py::buffer_info info = x.request();
  const std::span<const float> values = deploykit::as_float32_span(view_of(info), "x");
  if (info.ndim != 2) throw std::invalid_argument("x: expected a 2-D array (n, features), got " +
                                                  std::to_string(info.ndim) + " dimensions");
  deploykit::Matrix y;
  {
    const py::gil_scoped_release release;
    y = model.predict(deploykit::MatrixView(values, info.shape[0], info.shape[1]));
  }
  auto owner = std::make_unique<std::vector<float>>(std::move(y.values));
  const float* data = owner->data();
  py::capsule free_when_done(owner.get(), [](void* p) {
    std::unique_ptr<std::vector<float>>(static_cast<std::vector<float>*>(p));
  });
  owner.release();  // now owned by the capsule
  return py::array_t<float>({y.rows, y.cols}, data, free_when_done);
}
#endif

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() =
      "Native float32 comparison kernel of deploykit (C++, single pass).\n\n"
      "Semantics follow DESIGN.md 'Comparison semantics': an element fails where\n"
      "|a-b| > atol and |a-b| > rtol*|b| (b = reference); NaN must be NaN at the\n"
      "same positions and +Inf/-Inf must match exactly.";

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

  py::class_<deploykit::CompareResult>(m, "CompareResult",
                                       "Statistics of one comparison (read-only).")
      .def_readonly("count", &deploykit::CompareResult::count, "Number of element pairs.")
      .def_readonly("mismatches", &deploykit::CompareResult::mismatches,
                    "Failing elements, including non-finite mismatches.")
      .def_readonly("nonfinite_mismatches", &deploykit::CompareResult::nonfinite_mismatches,
                    "Pairs whose NaN/Inf values differ (e.g. NaN vs 1.0, +Inf vs -Inf).")
      .def_readonly("max_abs", &deploykit::CompareResult::max_abs,
                    "Max |a-b| over finite pairs (computed in float64).")
      .def_readonly("max_rel", &deploykit::CompareResult::max_rel,
                    "Max |a-b|/|b| over finite pairs; inf where b == 0 != a.")
      .def_readonly("max_ulp", &deploykit::CompareResult::max_ulp,
                    "Max float32 ULP distance over finite pairs (+0 and -0 are 0 apart).")
      .def_readonly("min_passing_atol", &deploykit::CompareResult::min_passing_atol,
                    "Smallest atol that passes every finite pair at this rtol; inf if any "
                    "non-finite mismatch.")
      .def_readonly("worst_index", &deploykit::CompareResult::worst_index,
                    "Flat index of the first non-finite mismatch, else of the first max "
                    "|a-b|; -1 when count == 0.")
      .def_readonly("nan_match", &deploykit::CompareResult::nan_match,
                    "NaN positions are identical.")
      .def_readonly("inf_match", &deploykit::CompareResult::inf_match,
                    "Inf positions and signs are identical.")
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
      "    reference: float32 buffer (e.g. a NumPy array), C-contiguous.\n"
      "    candidate: float32 buffer with exactly the reference's shape.\n"
      "    atol: absolute tolerance, finite and >= 0.\n"
      "    rtol: relative tolerance (times |reference|), finite and >= 0.\n\n"
      "Returns:\n"
      "    CompareResult.\n\n"
      "Raises:\n"
      "    TypeError: an input is not float32.\n"
      "    ValueError: an input is not C-contiguous, the shapes differ, or a\n"
      "        tolerance is negative or not finite.");

#ifdef DEPLOYKIT_WITH_TORCH
  py::class_<deploykit::Model>(
      m, "Model",
      "A TorchScript (.pt) or AOTInductor (.pt2) artifact run by LibTorch C++ (the C++\n"
      "client's deploykit::Model). predict() may be called from several threads at once.")
      .def(py::init([](const std::string& path, const std::string& format) {
             const deploykit::Format f = format_of(format);
             const py::gil_scoped_release release;
             return deploykit::Model::load(path, f);
           }),
           py::arg("path"), py::arg("format"),
           "Loads an artifact file without an integrity check.\n\n"
           "Args:\n"
           "    path: the .pt or .pt2 file.\n"
           "    format: 'torchscript-script', 'torchscript-trace' or 'aoti'.\n\n"
           "Raises:\n"
           "    ValueError: unknown format.\n"
           "    RuntimeError: LibTorch cannot load the file (one line).")
      .def_static(
          "from_manifest",
          [](const std::string& manifest, const std::string& model_id, const std::string& format) {
            const deploykit::Format f = format_of(format);
            const py::gil_scoped_release release;
            return deploykit::Model::load(deploykit::Manifest::read(manifest), model_id, f);
          },
          py::arg("manifest"), py::arg("model_id"), py::arg("format"),
          "Loads a model's artifact from a manifest after verifying its size and sha256;\n"
          "predict() then checks the input width.\n\n"
          "Raises:\n"
          "    ValueError: unreadable manifest, unknown model or format.\n"
          "    RuntimeError: integrity check failed or LibTorch cannot load the file.")
      .def("predict", &predict, py::arg("x"),
           "Runs a batch: x float32, C-contiguous, shape (n, features) -> float32 (n, outputs).\n"
           "NaN and Inf are data. The GIL is released while LibTorch runs.\n\n"
           "Raises:\n"
           "    TypeError: x is not float32.\n"
           "    ValueError: x is not C-contiguous or 2-D, or has the wrong width.\n"
           "    RuntimeError: LibTorch failed.")
      .def_property_readonly(
          "format", [](const deploykit::Model& model) { return std::string(deploykit::format_name(model.format())); },
          "The artifact format id.")
      .def_property_readonly("input_width", &deploykit::Model::input_width,
                             "Features per row (None unless loaded from a manifest).")
      .def_property_readonly("output_width", &deploykit::Model::output_width,
                             "Outputs per row (None unless loaded from a manifest).");
  m.attr("libtorch_version") = deploykit::libtorch_version();
#endif
}
