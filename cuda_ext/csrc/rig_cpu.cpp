// Rig op: one frame of posed rig vertices (blendshapes + LBS, include/rig_math.h) on the CPU.
// Forward only: it replaces torch's ~60 small ops per frame (about 1 ms on 2 cores for the
// builtin head) when no gradient must reach the rig or its parameters; torch's autograd LBS
// serves the cases that need one. The per-vertex sums run in parallel; the joints are scalar.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cstdint>
#include <vector>

#include "cpu_parallel.h"
#include "cpu_simd.h"
#include "rig_math.h"
#include "tensor_checks.h"

namespace avatar_ext {
namespace rig_op {
namespace {

using at::Tensor;

constexpr int64_t kVertexRange = 512;  // vertices per parallel work item

template <typename T>
struct RigInputs {
  const T *v_template, *shapedirs, *exprdirs, *posedirs, *j_regressor, *lbs_weights;
  const T *shape, *expr, *translation;
  int64_t num_vertices, num_shape, num_expr, num_pose, num_joints;
};

// out[k] += dot(rows + k len, b) for the 3 consecutive rows k = 0..2 (a vertex's x, y, z): one loop,
// so the vector loop and its tail are shared by the three sums.
template <typename T>
void add_dots3(const T* rows, const T* b, int64_t len, T out[3]) {
  T s0 = T(0), s1 = T(0), s2 = T(0);
  const T *r0 = rows, *r1 = rows + len, *r2 = rows + 2 * len;
#pragma omp simd reduction(+ : s0, s1, s2)
  for (int64_t i = 0; i < len; ++i) {
    s0 += r0[i] * b[i];
    s1 += r1[i] * b[i];
    s2 += r2[i] * b[i];
  }
  out[0] += s0;
  out[1] += s1;
  out[2] += s2;
}

// v_shaped[v0 : v1] = template + shapedirs . shape + exprdirs . expr.
template <typename T>
__attribute__((flatten)) void shaped_range(const RigInputs<T>& in, int64_t v0, int64_t v1, T* v_shaped) {
  for (int64_t v = v0; v < v1; ++v) {
    T out[3] = {in.v_template[3 * v], in.v_template[3 * v + 1], in.v_template[3 * v + 2]};
    add_dots3(in.shapedirs + 3 * v * in.num_shape, in.shape, in.num_shape, out);
    add_dots3(in.exprdirs + 3 * v * in.num_expr, in.expr, in.num_expr, out);
    for (int k = 0; k < 3; ++k) v_shaped[3 * v + k] = out[k];
  }
}

// verts[v0 : v1] = (sum_j w_vj skin_j) (v_shaped + posedirs . pose_feature) + translation.
template <typename T>
__attribute__((flatten)) void posed_range(const RigInputs<T>& in, const T* v_shaped, const rig::Affine<T>* skin,
                                          const T* pose_feature, int64_t v0, int64_t v1, T* verts) {
  for (int64_t v = v0; v < v1; ++v) {
    T p[3] = {v_shaped[3 * v], v_shaped[3 * v + 1], v_shaped[3 * v + 2]};
    add_dots3(in.posedirs + 3 * v * in.num_pose, pose_feature, in.num_pose, p);
    rig::Affine<T> blended{};
    for (int64_t j = 0; j < in.num_joints; ++j) {
      const T w = in.lbs_weights[v * in.num_joints + j];
      for (int i = 0; i < 3; ++i)
        for (int l = 0; l < 4; ++l) blended.m[i][l] += w * skin[j].m[i][l];
    }
    for (int i = 0; i < 3; ++i)
      verts[3 * v + i] = blended.m[i][0] * p[0] + blended.m[i][1] * p[1] + blended.m[i][2] * p[2] +
                         blended.m[i][3] + in.translation[i];
  }
}

template <typename T>
void pose_vertices(const RigInputs<T>& in, const T* pose, const int64_t* parents, T* verts) {
  const int64_t num_v = in.num_vertices, num_j = in.num_joints;
  std::vector<T> v_shaped(static_cast<size_t>(3 * num_v));  // [V, 3]
  const auto shaped = simd::widest<&shaped_range<T>>();
  cpu_parallel::ranges(num_v, kVertexRange, [&](int64_t v0, int64_t v1) { shaped(in, v0, v1, v_shaped.data()); });
  std::vector<T> joints(static_cast<size_t>(3 * num_j));  // [J, 3]
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < num_j; ++j) {
    const T* w = in.j_regressor + j * num_v;
    T x = T(0), y = T(0), z = T(0);
#pragma omp simd reduction(+ : x, y, z)
    for (int64_t v = 0; v < num_v; ++v) {
      x += w[v] * v_shaped[3 * v];
      y += w[v] * v_shaped[3 * v + 1];
      z += w[v] * v_shaped[3 * v + 2];
    }
    joints[3 * j] = x;
    joints[3 * j + 1] = y;
    joints[3 * j + 2] = z;
  }
  rig::Affine<T> skin[rig::kMaxJoints];
  std::vector<T> all_features(static_cast<size_t>(9 * (num_j - 1)));  // skin_transforms writes every one
  rig::skin_transforms(pose, joints.data(), parents, int(num_j), skin, all_features.data());
  const auto posed = simd::widest<&posed_range<T>>();
  cpu_parallel::ranges(num_v, kVertexRange, [&](int64_t v0, int64_t v1) {
    posed(in, v_shaped.data(), skin, all_features.data(), v0, v1, verts);
  });
}

void check(const Tensor& t, const char* name, at::IntArrayRef shape, at::ScalarType dtype) {
  tensor_checks::check_tensor(t, "rig_pose", name, shape, dtype, c10::kCPU);
}

Tensor rig_pose_cpu(const Tensor& v_template, const Tensor& shapedirs, const Tensor& exprdirs,
                    const Tensor& posedirs, const Tensor& j_regressor, const Tensor& parents,
                    const Tensor& lbs_weights, const Tensor& shape, const Tensor& expr, const Tensor& pose,
                    const Tensor& translation) {
  AVATAR_CHECK_VALUE(v_template.dim() == 2 && v_template.size(1) == 3, "rig_pose: v_template must be [V, 3], got ",
                     v_template.sizes());
  tensor_checks::check_floating(v_template, "rig_pose", "v_template");
  AVATAR_CHECK_VALUE(shapedirs.dim() == 3 && exprdirs.dim() == 3 && posedirs.dim() == 3,
                     "rig_pose: shapedirs, exprdirs and posedirs must be [V, 3, K]");
  AVATAR_CHECK_VALUE(parents.dim() == 1, "rig_pose: parents must be [J], got ", parents.sizes());
  const int64_t num_v = v_template.size(0), num_j = parents.size(0);
  const int64_t num_s = shapedirs.size(2), num_e = exprdirs.size(2), num_p = posedirs.size(2);
  const at::ScalarType real = v_template.scalar_type();
  AVATAR_CHECK_VALUE(num_j >= 1 && num_j <= rig::kMaxJoints, "rig_pose: the rig must have 1 to ", rig::kMaxJoints,
                     " joints, got ", num_j);
  AVATAR_CHECK_VALUE(num_p == 9 * (num_j - 1) || num_p == 0, "rig_pose: posedirs must have 9 (J - 1) = ",
                     9 * (num_j - 1), " pose correctives (or none: a rig without them), got ", num_p);
  check(v_template, "v_template", {num_v, 3}, real);
  check(shapedirs, "shapedirs", {num_v, 3, num_s}, real);
  check(exprdirs, "exprdirs", {num_v, 3, num_e}, real);
  check(posedirs, "posedirs", {num_v, 3, num_p}, real);
  check(j_regressor, "j_regressor", {num_j, num_v}, real);
  check(parents, "parents", {num_j}, at::kLong);
  check(lbs_weights, "lbs_weights", {num_v, num_j}, real);
  check(shape, "shape", {num_s}, real);
  check(expr, "expr", {num_e}, real);
  check(pose, "pose", {num_j, 3}, real);
  check(translation, "translation", {3}, real);
  const int64_t* par = parents.data_ptr<int64_t>();
  AVATAR_CHECK_VALUE(par[0] == -1, "rig_pose: parents[0] must be -1 (the root), got ", par[0]);
  for (int64_t j = 1; j < num_j; ++j)
    AVATAR_CHECK_VALUE(par[j] >= 0 && par[j] < j, "rig_pose: parents[", j, "] must name an earlier joint, got ",
                       par[j]);
  Tensor verts = at::empty({num_v, 3}, v_template.options());
  AT_DISPATCH_FLOATING_TYPES(real, "rig_pose_cpu", [&] {
    using T = scalar_t;
    const RigInputs<T> in{v_template.data_ptr<T>(), shapedirs.data_ptr<T>(), exprdirs.data_ptr<T>(),
                          posedirs.data_ptr<T>(), j_regressor.data_ptr<T>(), lbs_weights.data_ptr<T>(),
                          shape.data_ptr<T>(), expr.data_ptr<T>(), translation.data_ptr<T>(),
                          num_v, num_s, num_e, num_p, num_j};
    pose_vertices(in, pose.data_ptr<T>(), par, verts.data_ptr<T>());
  });
  return verts;
}

}  // namespace
}  // namespace rig_op
}  // namespace avatar_ext

TORCH_LIBRARY_IMPL(avatar_ext, CPU, m) { m.impl("rig_pose", &avatar_ext::rig_op::rig_pose_cpu); }
