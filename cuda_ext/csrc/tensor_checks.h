// The argument checks every op shares: one clear message per failure, naming the op and the
// argument, raised as ValueError (the CLI reports ValueErrors as user errors, not crashes).
#pragma once

#include <ATen/ATen.h>

#include <cstdio>
#include <string>
#include <type_traits>

namespace tensor_checks {

// Every message of the ops' checks is built here as one std::string, never by streaming numbers
// into an iostream: a module compiled by a g++ that links parts of a newer libstdc++ statically
// (a devtoolset-style toolchain, as on the project's CUDA machine) has its own copy of the number
// formatting, whose locale facets torch's libstdc++ never registered, and crashed (SIGSEGV) on
// the first failing check instead of raising it.
inline std::string text_piece(const char* s) { return s; }
inline std::string text_piece(const std::string& s) { return s; }
template <typename T, std::enable_if_t<std::is_integral_v<T>, int> = 0>
std::string text_piece(T value) {
  return std::to_string(value);
}
inline std::string text_piece(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", value);
  return buffer;
}
inline std::string text_piece(at::IntArrayRef sizes) {
  std::string out = "[";
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}
inline std::string text_piece(at::ScalarType dtype) { return c10::toString(dtype); }
inline std::string text_piece(const c10::Device& device) { return device.str(); }

template <typename... Pieces>
std::string text(const Pieces&... pieces) {
  std::string out;
  ((out += text_piece(pieces)), ...);
  return out;
}

}  // namespace tensor_checks

// TORCH_CHECK_VALUE / TORCH_CHECK with the message joined by tensor_checks::text.
#define AVATAR_CHECK_VALUE(cond, ...) TORCH_CHECK_VALUE(cond, ::tensor_checks::text(__VA_ARGS__))
#define AVATAR_CHECK(cond, ...) TORCH_CHECK(cond, ::tensor_checks::text(__VA_ARGS__))

namespace tensor_checks {

// Shape, dtype, device and contiguity of argument `name` of op `op`. `device` without an index
// (c10::kCUDA) accepts any device of its type.
inline void check_tensor(const at::Tensor& t, const char* op, const char* name, at::IntArrayRef shape,
                         at::ScalarType dtype, const c10::Device& device) {
  AVATAR_CHECK_VALUE(t.sizes() == shape, op, ": ", name, " has shape ", t.sizes(), ", expected ", shape);
  AVATAR_CHECK_VALUE(t.scalar_type() == dtype, op, ": ", name, " has dtype ", t.scalar_type(), ", expected ", dtype);
  AVATAR_CHECK_VALUE(device.has_index() ? t.device() == device : t.device().type() == device.type(), op, ": ", name,
                     " is on ", t.device(), ", expected ", device);
  AVATAR_CHECK_VALUE(t.is_contiguous(), op, ": ", name, " must be contiguous");
}

// The float dtype of the op's leading argument: float32 or float64.
inline void check_floating(const at::Tensor& t, const char* op, const char* name) {
  AVATAR_CHECK_VALUE(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, op, ": ", name,
                     " must be float32 or float64, got ", t.scalar_type());
}

}  // namespace tensor_checks
