// The argument checks every op shares: one clear message per failure, naming the op and the
// argument, raised as ValueError (the CLI reports ValueErrors as user errors, not crashes).
#pragma once

#include <ATen/ATen.h>

namespace tensor_checks {

// Shape, dtype, device and contiguity of argument `name` of op `op`. `device` without an index
// (c10::kCUDA) accepts any device of its type.
inline void check_tensor(const at::Tensor& t, const char* op, const char* name, at::IntArrayRef shape,
                         at::ScalarType dtype, const c10::Device& device) {
  TORCH_CHECK_VALUE(t.sizes() == shape, op, ": ", name, " has shape ", t.sizes(), ", expected ", shape);
  TORCH_CHECK_VALUE(t.scalar_type() == dtype, op, ": ", name, " has dtype ", t.scalar_type(), ", expected ", dtype);
  TORCH_CHECK_VALUE(device.has_index() ? t.device() == device : t.device().type() == device.type(), op, ": ", name,
                    " is on ", t.device(), ", expected ", device);
  TORCH_CHECK_VALUE(t.is_contiguous(), op, ": ", name, " must be contiguous");
}

// The float dtype of the op's leading argument: float32 or float64.
inline void check_floating(const at::Tensor& t, const char* op, const char* name) {
  TORCH_CHECK_VALUE(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, op, ": ", name,
                    " must be float32 or float64, got ", t.scalar_type());
}

}  // namespace tensor_checks
