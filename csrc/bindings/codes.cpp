// fastdnn._C.Activation, BinaryOp, UnaryOp, OptimizerKind, and ConstraintKind: the
// code tables of core/codes.h as Python enums, one member per X-macro entry, so Python never
// writes a code of its own.
#include <pybind11/pybind11.h>

#include "../activations/act_rule.h"
#include "../core/codes.h"

namespace py = pybind11;

namespace fastdnn {

#define FASTDNN_BIND_CODE(cpp, py, code) .value(#py, Enum::cpp)

void bind_codes(py::module_& m) {
  {
    using Enum = Act;
    py::enum_<Enum>(m, "Activation", "Activation codes of the native kernels (core/codes.h).")
        FASTDNN_ACTIVATIONS(FASTDNN_BIND_CODE);
  }
  {
    using Enum = BinaryOp;
    py::enum_<Enum>(m, "BinaryOp", "Binary element-wise op codes (core/codes.h).") FASTDNN_BINARY_OPS(FASTDNN_BIND_CODE);
  }
  {
    using Enum = UnaryOp;
    py::enum_<Enum>(m, "UnaryOp", "Unary element-wise op codes (core/codes.h).") FASTDNN_UNARY_OPS(FASTDNN_BIND_CODE);
  }
  {
    using Enum = OptimKind;
    py::enum_<Enum>(m, "OptimizerKind", "Optimizer rule codes (core/codes.h).") FASTDNN_OPTIMIZERS(FASTDNN_BIND_CODE);
  }
  {
    using Enum = ConstraintKind;
    py::enum_<Enum>(m, "ConstraintKind", "Weight constraint codes (core/codes.h).") FASTDNN_CONSTRAINTS(FASTDNN_BIND_CODE);
  }
  m.attr("SELU_ALPHA") = kSeluAlpha64;  // activations/act_rule.h
  m.attr("SELU_SCALE") = kSeluScale64;
}

#undef FASTDNN_BIND_CODE

}  // namespace fastdnn
