// Image ops of the CPU inference path, one pass each where torch's element-wise ops take several
// (at 512 x 512 on one core: the clip 3.3 -> ~0.2 ms, the conversion 2.5 -> ~0.3 ms):
//   clip_to_region_: rgb = rgb r + background (1 - r), alpha *= r, depth *= r, in place, with r
//                    the region [H, W, 1] (avatar/render/head_cut.py's clip_to_region);
//   rgb_to_uint8:    round(clamp(rgb, 0, 1) 255) as uint8, halves to even as torch.round.
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

void clip_to_region_cpu(const Tensor& rgb, const Tensor& alpha, const Tensor& depth, const Tensor& region,
                        const Tensor& background) {
  constexpr const char* kOp = "clip_to_region_";
  TORCH_CHECK_VALUE(rgb.dim() == 3, kOp, ": rgb must be [H, W, 3], got ", rgb.sizes());
  const int64_t h = rgb.size(0), w = rgb.size(1);
  check_image(rgb, kOp, "rgb", h, w, 3);
  check_image(alpha, kOp, "alpha", h, w, 1);
  check_image(depth, kOp, "depth", h, w, 1);
  check_image(region, kOp, "region", h, w, 1);
  tensor_checks::check_tensor(background, kOp, "background", {3}, at::kFloat, c10::kCPU);
  float* c = rgb.data_ptr<float>();
  float *a = alpha.data_ptr<float>(), *d = depth.data_ptr<float>();
  const float* r = region.data_ptr<float>();
  const float* bg = background.data_ptr<float>();
  const int64_t pixels = h * w;
  for (int64_t p = 0; p < pixels; ++p) {
    if (r[p] == 1.0f) continue;  // kept whole: nothing changes
    for (int k = 0; k < 3; ++k) c[3 * p + k] = c[3 * p + k] * r[p] + bg[k] * (1.0f - r[p]);
    a[p] *= r[p];
    d[p] *= r[p];
  }
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
  TORCH_CHECK_VALUE(rgb.dim() == 3 && rgb.size(2) == 3, "rgb_to_uint8: rgb must be [H, W, 3], got ", rgb.sizes());
  check_image(rgb, "rgb_to_uint8", "rgb", rgb.size(0), rgb.size(1), 3);
  Tensor out = at::empty(rgb.sizes(), rgb.options().dtype(at::kByte));
  simd::widest<&to_uint8>()(rgb.data_ptr<float>(), rgb.numel(), out.data_ptr<uint8_t>());
  return out;
}

}  // namespace
}  // namespace image_op
}  // namespace avatar_ext

TORCH_LIBRARY_FRAGMENT(avatar_ext, m) {
  m.def("clip_to_region_(Tensor(a!) rgb, Tensor(b!) alpha, Tensor(c!) depth, Tensor region, Tensor background) -> ()");
  m.def("rgb_to_uint8(Tensor rgb) -> Tensor");
}

TORCH_LIBRARY_IMPL(avatar_ext, CPU, m) {
  m.impl("clip_to_region_", &avatar_ext::image_op::clip_to_region_cpu);
  m.impl("rgb_to_uint8", &avatar_ext::image_op::rgb_to_uint8_cpu);
}
