// builder._native: Python binding of the deploykit comparison kernel.
// Declarations only; the logic lives in cpp/src/compare.cpp.
#include <pybind11/pybind11.h>

#include <type_traits>

#include "deploykit/compare.hpp"

namespace py = pybind11;

namespace {

static_assert(std::is_same_v<py::ssize_t, std::ptrdiff_t>);

deploykit::BufferView view_of(const py::buffer_info& info) {
  return {info.ptr, info.format, info.itemsize, info.shape, info.strides};
}

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
}
