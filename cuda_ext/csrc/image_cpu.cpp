// Image op of the CPU inference path: rgb_to_uint8, round(clamp(rgb, 0, 1) 255) as uint8 (halves
// to even as torch.round), in one pass where torch's element-wise ops take several (at 512 x 512
// on one core: 2.5 -> ~0.3 ms).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cstdint>

#include "cpu_simd.h"
#include "tensor_checks.h"

namespace avatar_ext {
namespace image_op {
namespace {

using at::Tensor;

void check_image(const Tensor& t, const char* op, const char* name, int64_t h, int64_t w, int64_t c) {
  tensor_checks::check_tensor(t, op, name, {h, w, c}, at::kFloat, c10::kCPU);
}

// rint rounds halves to even (the default rounding mode), as torch.round; the AVX2 copy of the
// loop rounds and packs 8 values an instruction, the baseline one calls rintf.
__attribute__((flatten)) void to_uint8(const float* __restrict in, int64_t n, uint8_t* __restrict out) {
  for (int64_t i = 0; i < n; ++i) {
    // fmaxf(NaN, 0) = 0: NaN gives 0, as torch's clamp then cast
    out[i] = uint8_t(int32_t(__builtin_rintf(__builtin_fminf(__builtin_fmaxf(in[i], 0.0f), 1.0f) * 255.0f)));
  }
}

Tensor rgb_to_uint8_cpu(const Tensor& rgb) {
  AVATAR_CHECK_VALUE(rgb.dim() == 3 && rgb.size(2) == 3, "rgb_to_uint8: rgb must be [H, W, 3], got ", rgb.sizes());
  check_image(rgb, "rgb_to_uint8", "rgb", rgb.size(0), rgb.size(1), 3);
  Tensor out = at::empty(rgb.sizes(), rgb.options().dtype(at::kByte));
  simd::widest<&to_uint8>()(rgb.data_ptr<float>(), rgb.numel(), out.data_ptr<uint8_t>());
  return out;
}

}  // namespace
}  // namespace image_op
}  // namespace avatar_ext

TORCH_LIBRARY_IMPL(avatar_ext, CPU, m) {
  m.impl("rgb_to_uint8", &avatar_ext::image_op::rgb_to_uint8_cpu);
}
