// Avatar-project op (inference, CPU): one frame of an avatar straight to the splat's screen-space
// Gaussians, the blend op (blendshape offsets, the parent triangles' posed frames, world space;
// include/blend_math.h) fused with the splat's projection and colours (include/splat_math.h,
// splat_sh.h). World-space Gaussians are never written nor read back, and the offsets, the
// loop's largest input ([D, N, 14]), are read as 8-bit integers with a scale per driver and
// attribute: a quarter of the bytes. Nothing here is differentiated: training uses the blend and
// splat ops and their backward passes.
//
// The inputs come grouped by 8 Gaussians (the renderer prepares them once per avatar): base
// [G, 14, 8], offsets [D, G, 14, 8], sh_rest [G, (K - 1) 3, 8], G = ceil(N / 8), the last group
// padded. Each group's values of one attribute are one vector load, and each group's data one
// contiguous run. Gaussians go in blocks of kBlock: the block's offset sums are accumulated
// in registers over the drivers (16 values at a time with AVX-512, 8 with AVX2), then its groups go
// through the world transform, the projection and the colours 8 lanes at a time (AVX2 + FMA where
// the CPU has them, else one lane at a time).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "blend.h"
#include "blend_frames_cpu.h"
#include "cpu_simd.h"
#include "splat.h"
#include "splat_lanes.h"

namespace avatar_ext {
namespace avatar_project {
namespace {

using at::Tensor;
using blend::kLocalSize;
using blend::PosedFrame;

constexpr int kGroup = 8;  // Gaussians per group (the lanes of the AVX2 loop)
constexpr int64_t kBlock = 512;  // Gaussians per block: their sums (512 x 14 floats) stay in L1/L2
constexpr int kFrameSize = 17;   // floats of a PosedFrame<float>: origin 3, rot 9, unit 1, quat 4
static_assert(sizeof(PosedFrame<float>) == kFrameSize * sizeof(float), "PosedFrame<float> layout");
static_assert(kBlock % kGroup == 0, "blocks hold whole groups");

// What the op reads: the base attributes and offsets in the order of GaussianAvatar.applied_offsets
// (xyz 3, rot 4, log_scale 3, opacity logit 1, DC colour 3), grouped by 8 Gaussians, the colour's
// offsets already divided by SH_C0: the blended local attributes are base + sum_d w_d offsets[d],
// offsets[d][., k, .] = offset_scales[d, k] offsets_q[d][., k, .].
struct Inputs {
  const PosedFrame<float>* frames;  // [F] the parent triangles' posed frames
  const int32_t* parent;            // [8 G]
  const float* base;                // [G, 14, 8]
  const int8_t* offsets;            // [D, G, 14, 8]
  const float* sh_rest;             // [G, rest, 8]
  // The drivers with a weight that is not 0 (A of them): their offsets ([G, 14, 8] each) and, per
  // attribute, weight times scale repeated over the 8 lanes ([A, 14, 8]).
  std::vector<const int8_t*> active_offsets;
  std::vector<float> lane_weights;
  int64_t num_gaussians, num_groups, rest;
  int degree;
  splat::PinholeCamera<float> cam;
};

struct Outputs {
  float *means2d, *conics, *depths, *colours, *opacities;
  int32_t* radii;
};

// sums[g, k, l] = sum_j lane_weights[j, k, l] active_offsets[j][group0 + g, k, l]: the offsets the
// block's groups apply, in their layout ([groups, 14, 8]). Each sum is accumulated over the drivers
// in a register (drivers in order: every variant adds in the same order) and stored once.
inline void block_sums(const Inputs& in, int64_t group0, int64_t groups, float* sums) {
  const size_t active = in.active_offsets.size();
  for (int64_t i = 0; i < groups * kLocalSize * kGroup; ++i) {
    const int64_t at = group0 * kLocalSize * kGroup + i, lane = i % (kLocalSize * kGroup);
    float sum = 0.0f;
    for (size_t j = 0; j < active; ++j)
      sum += in.lane_weights[j * kLocalSize * kGroup + lane] * float(in.active_offsets[j][at]);
    sums[i] = sum;
  }
}

#if defined(__x86_64__)
// block_sums one attribute of a group (8 values) at a time: sign-extended, converted, multiplied in.
__attribute__((target("avx2,fma"))) inline void block_sums_avx2(const Inputs& in, int64_t group0, int64_t groups,
                                                                  float* sums) {
  const size_t active = in.active_offsets.size();
  for (int64_t i = 0; i < groups * kLocalSize * kGroup; i += kGroup) {
    const int64_t at = group0 * kLocalSize * kGroup + i, lane = i % (kLocalSize * kGroup);
    __m256 sum = _mm256_setzero_ps();
    for (size_t j = 0; j < active; ++j) {
      const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(in.active_offsets[j] + at));
      const __m256 weight = _mm256_loadu_ps(in.lane_weights.data() + j * kLocalSize * kGroup + lane);
      sum = _mm256_fmadd_ps(weight, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)), sum);
    }
    _mm256_storeu_ps(sums + i, sum);
  }
}

// block_sums two attributes of a group (16 values) at a time.
__attribute__((target("avx512f"))) inline void block_sums_avx512(const Inputs& in, int64_t group0, int64_t groups,
                                                                   float* sums) {
  static_assert(kLocalSize % 2 == 0, "attributes go in pairs");
  const size_t active = in.active_offsets.size();
  for (int64_t i = 0; i < groups * kLocalSize * kGroup; i += 2 * kGroup) {
    const int64_t at = group0 * kLocalSize * kGroup + i, lane = i % (kLocalSize * kGroup);
    __m512 sum = _mm512_setzero_ps();
    for (size_t j = 0; j < active; ++j) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in.active_offsets[j] + at));
      const __m512 weight = _mm512_loadu_ps(in.lane_weights.data() + j * kLocalSize * kGroup + lane);
      sum = _mm512_fmadd_ps(weight, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes)), sum);
    }
    _mm512_storeu_ps(sums + i, sum);
  }
}
#endif

// One Gaussian's world attributes from its blended local ones and its parent's posed frame, on
// lanes V (a float, or 8 of them): blend_math.h's blend_gaussian.
template <typename V>
AVX_HD_LANE void world_attributes(const V local[kLocalSize], const V frame[kFrameSize], V mean[3], V quat[4],
                                  V scale[3], V& opacity) {
  const V* origin = frame;
  const V* rot = frame + 3;  // rot[3 i + j]: component i of axis j
  const V unit = frame[12];
  const V* frame_quat = frame + 13;
  for (int i = 0; i < 3; ++i)
    mean[i] = origin[i] + unit * (rot[3 * i] * local[0] + rot[3 * i + 1] * local[1] + rot[3 * i + 2] * local[2]);
  const V* q = local + blend::kRot;
  const V length = splat::sqrt_(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
  const V den = splat::max_(length, splat::fill<V>(float(blend::kNormEps)));
  const V q_local[4] = {q[0] / den, q[1] / den, q[2] / den, q[3] / den};
  blend::quat_multiply(frame_quat, q_local, quat);
  for (int i = 0; i < 3; ++i) scale[i] = unit * splat::exp_(local[blend::kLogScale + i]);
  opacity = splat::fill<V>(1.0f) / (splat::fill<V>(1.0f) + splat::exp_(-local[blend::kOpacity]));
}

// Colours of lanes V: DC from dc [3], the rest of the coefficients at rest [k - 1][3] (k >= 1).
template <typename V>
AVX_HD_LANE void sh_colours(int degree, const V mean[3], const V cam_pos[3], const V dc[3], const V* rest, V colour[3]) {
  V unit[3], basis[splat::MAX_SH_COEFFS];
  splat::view_direction(mean, cam_pos, unit);
  splat::sh_basis(degree, unit[0], unit[1], unit[2], basis);
  const int num = (degree + 1) * (degree + 1);
  for (int ch = 0; ch < 3; ++ch) {
    V value = basis[0] * dc[ch];
    for (int k = 1; k < num; ++k) value += basis[k] * rest[3 * (k - 1) + ch];
    colour[ch] = splat::max_(value + 0.5f, splat::fill<V>(0.0f));
  }
}

// Gaussian n's outputs from its values.
inline void store_gaussian(const Outputs& out, int64_t n, const splat::Projection<float>& p, const float colour[3],
                           float opacity, int32_t radius) {
  out.opacities[n] = opacity;
  out.means2d[2 * n] = p.mean2d[0];
  out.means2d[2 * n + 1] = p.mean2d[1];
  for (int k = 0; k < 3; ++k) out.conics[3 * n + k] = p.conic[k];
  out.depths[n] = p.t[2];
  for (int k = 0; k < 3; ++k) out.colours[3 * n + k] = colour[k];
  out.radii[n] = radius;
}

// The block's groups [group0, group0 + groups), one Gaussian at a time.
__attribute__((flatten)) inline void project_block(const Inputs& in, int64_t group0, int64_t groups,
                                                   const float* sums, const Outputs& out) {
  for (int64_t g = 0; g < groups; ++g)
    for (int l = 0; l < kGroup && (group0 + g) * kGroup + l < in.num_gaussians; ++l) {
      const int64_t n = (group0 + g) * kGroup + l;
      const float* base = in.base + (group0 + g) * kLocalSize * kGroup + l;
      const float* sum = sums + g * kLocalSize * kGroup + l;
      const float* sh = in.sh_rest + (group0 + g) * in.rest * kGroup + l;
      float local[kLocalSize], mean[3], quat[4], scale[3], opacity, colour[3], rest[3 * (splat::MAX_SH_COEFFS - 1)];
      for (int k = 0; k < kLocalSize; ++k) local[k] = base[k * kGroup] + sum[k * kGroup];
      for (int64_t k = 0; k < in.rest; ++k) rest[k] = sh[k * kGroup];
      world_attributes(local, reinterpret_cast<const float*>(in.frames + in.parent[n]), mean, quat, scale, opacity);
      splat::Projection<float> p;
      float qn[4], qnorm, rq[9];
      splat::project(in.cam, mean, quat, scale, p, qn, qnorm, rq);
      sh_colours(in.degree, mean, in.cam.pos, local + blend::kColor, rest, colour);
      store_gaussian(out, n, p, colour, opacity, splat::opacity_aware_radius(in.cam, p, opacity));
    }
}

#if defined(__x86_64__)
using splat::f32x8;

// The block's groups, 8 lanes at a time: one vector load per attribute, one gather per value of
// the parents' frames, the maths on lanes, the results scattered to the outputs' rows (the
// radius, an integer, per lane as the reference computes it); a last group's padding lanes are
// computed and not stored.
__attribute__((target("avx2,fma"), flatten)) void project_block_lanes(const Inputs& in, int64_t group0,
                                                                          int64_t groups, const float* sums,
                                                                          const Outputs& out) {
  f32x8 cam_pos[3];
  for (int k = 0; k < 3; ++k) cam_pos[k] = f32x8{} + in.cam.pos[k];
  const float* frames = reinterpret_cast<const float*>(in.frames);
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t group = group0 + g;
    const float* base = in.base + group * kLocalSize * kGroup;
    const float* sum = sums + g * kLocalSize * kGroup;
    const float* sh = in.sh_rest + group * in.rest * kGroup;
    f32x8 local[kLocalSize], frame[kFrameSize], rest[3 * (splat::MAX_SH_COEFFS - 1)];
    for (int k = 0; k < kLocalSize; ++k)
      local[k] = f32x8(_mm256_add_ps(_mm256_loadu_ps(base + k * kGroup), _mm256_loadu_ps(sum + k * kGroup)));
    for (int64_t k = 0; k < in.rest; ++k) rest[k] = f32x8(_mm256_loadu_ps(sh + k * kGroup));
    const __m256i rows = _mm256_mullo_epi32(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in.parent + group * kGroup)), _mm256_set1_epi32(kFrameSize));
    for (int k = 0; k < kFrameSize; ++k) frame[k] = f32x8(_mm256_i32gather_ps(frames + k, rows, 4));
    f32x8 mean[3], quat[4], scale[3], opacity, colour[3];
    world_attributes(local, frame, mean, quat, scale, opacity);
    splat::Projection<f32x8> p;
    f32x8 qn[4], qnorm, rq[9];
    splat::project(in.cam, mean, quat, scale, p, qn, qnorm, rq);
    sh_colours(in.degree, mean, cam_pos, local + blend::kColor, rest, colour);
    for (int l = 0; l < kGroup && group * kGroup + l < in.num_gaussians; ++l) {
      splat::Projection<float> one;
      for (int k = 0; k < 3; ++k) {
        one.cov[k] = p.cov[k][l];
        one.conic[k] = p.conic[k][l];
      }
      one.mean2d[0] = p.mean2d[0][l];
      one.mean2d[1] = p.mean2d[1][l];
      one.t[2] = p.t[2][l];
      one.in_range = p.in_range[l] != 0;
      const float lane_colour[3] = {colour[0][l], colour[1][l], colour[2][l]};
      store_gaussian(out, group * kGroup + l, one, lane_colour, opacity[l],
                     splat::opacity_aware_radius(in.cam, one, opacity[l]));
    }
  }
}
#endif

void run(const Inputs& in, const Outputs& out) {
  constexpr int64_t kBlockGroups = kBlock / kGroup;
  const int64_t num_blocks = (in.num_groups + kBlockGroups - 1) / kBlockGroups;
#if defined(__x86_64__)
  const bool wide = simd::use_avx2(), widest = simd::use_avx512();
#endif
#pragma omp parallel
  {
    std::vector<float> sums(static_cast<size_t>(kBlock * kLocalSize));  // [kBlock / 8, 14, 8]
#pragma omp for schedule(static)
    for (int64_t b = 0; b < num_blocks; ++b) {
      const int64_t group0 = b * kBlockGroups, groups = std::min(kBlockGroups, in.num_groups - group0);
#if defined(__x86_64__)
      if (wide) {
        if (widest)
          block_sums_avx512(in, group0, groups, sums.data());
        else
          block_sums_avx2(in, group0, groups, sums.data());
        project_block_lanes(in, group0, groups, sums.data(), out);
        continue;
      }
#endif
      block_sums(in, group0, groups, sums.data());
      project_block(in, group0, groups, sums.data(), out);
    }
  }
}

void check(const Tensor& t, const char* name, at::IntArrayRef shape, at::ScalarType dtype) {
  tensor_checks::check_tensor(t, "avatar_project", name, shape, dtype, c10::kCPU);
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> avatar_project_cpu(
    const Tensor& verts, const Tensor& faces, const Tensor& parent, const Tensor& drivers, const Tensor& base,
    const Tensor& offsets, const Tensor& offset_scales, const Tensor& sh_rest, int64_t num_gaussians,
    const Tensor& world_to_cam, const Tensor& K, const Tensor& cam_pos, int64_t width, int64_t height, double near,
    double far) {
  AVATAR_CHECK_VALUE(verts.dim() == 2 && faces.dim() == 2 && parent.dim() == 1 && drivers.dim() == 1 &&
                         base.dim() == 3 && offsets.dim() == 4 && sh_rest.dim() == 3,
                     "avatar_project: verts [V, 3], faces [F, 3], parent [8 G], drivers [D], base [G, 14, 8], "
                     "offsets [D, G, 14, 8] and sh_rest [G, (K-1) 3, 8] expected");
  const int64_t n = num_gaussians, groups = (n + kGroup - 1) / kGroup, d = drivers.size(0);
  const int64_t k = sh_rest.size(1) / 3 + 1;
  check(verts, "verts", {verts.size(0), 3}, at::kFloat);
  check(faces, "faces", {faces.size(0), 3}, at::kLong);
  check(parent, "parent", {groups * kGroup}, at::kInt);
  check(drivers, "drivers", {d}, at::kFloat);
  check(base, "base", {groups, kLocalSize, kGroup}, at::kFloat);
  check(offsets, "offsets", {d, groups, kLocalSize, kGroup}, at::kChar);
  check(offset_scales, "offset_scales", {d, kLocalSize}, at::kFloat);
  check(sh_rest, "sh_rest", {groups, (k - 1) * 3, kGroup}, at::kFloat);
  const splat::CameraNumbers camera = splat::camera_numbers(world_to_cam, K, cam_pos, width, height);
  const int degree = splat::sh_degree_checked(k);
  AVATAR_CHECK_VALUE(blend::indices_below(parent.to(at::kLong), faces.size(0)),
                     "avatar_project: parent indices must lie in [0, ", faces.size(0), ")");
  AVATAR_CHECK_VALUE(blend::indices_below(faces, verts.size(0)), "avatar_project: face indices must lie in [0, ",
                     verts.size(0), ")");
  // The posed frame of every triangle (the blend op's, shared by the Gaussians bound to it).
  std::vector<PosedFrame<float>> frames(static_cast<size_t>(faces.size(0)));
  blend::BlendInputs<float> mesh{};
  mesh.verts = verts.data_ptr<float>();
  mesh.faces = faces.data_ptr<int64_t>();
  mesh.num_faces = faces.size(0);
  blend::posed_frames(mesh, frames.data());

  Inputs in{frames.data(), parent.data_ptr<int32_t>(), base.data_ptr<float>(), offsets.data_ptr<int8_t>(),
            sh_rest.data_ptr<float>(), {}, {}, n, groups, (k - 1) * 3, degree,
            camera.pinhole<float>(width, height, near, far)};
  const float* w = drivers.data_ptr<float>();
  const float* scales = offset_scales.data_ptr<float>();
  for (int64_t j = 0; j < d; ++j) {
    if (w[j] == 0.0f) continue;
    in.active_offsets.push_back(in.offsets + j * groups * kLocalSize * kGroup);
    for (int attribute = 0; attribute < kLocalSize; ++attribute)
      in.lane_weights.insert(in.lane_weights.end(), kGroup, w[j] * scales[j * kLocalSize + attribute]);
  }
  const auto options = base.options();
  Tensor means2d = at::empty({n, 2}, options), conics = at::empty({n, 3}, options), depths = at::empty({n}, options);
  Tensor colours = at::empty({n, 3}, options), opacities = at::empty({n}, options);
  Tensor radii = at::empty({n}, options.dtype(at::kInt));
  run(in, Outputs{means2d.data_ptr<float>(), conics.data_ptr<float>(), depths.data_ptr<float>(),
                  colours.data_ptr<float>(), opacities.data_ptr<float>(), radii.data_ptr<int32_t>()});
  return {means2d, conics, depths, colours, opacities, radii};
}

}  // namespace
}  // namespace avatar_project
}  // namespace avatar_ext

TORCH_LIBRARY_IMPL(avatar_ext, CPU, m) { m.impl("avatar_project", &avatar_ext::avatar_project::avatar_project_cpu); }
