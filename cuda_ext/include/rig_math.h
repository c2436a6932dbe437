// Posing of the rig's vertices, as avatar/rig/lbs.py (FLAME's linear blend skinning, smplx's maths):
//   v_shaped = template + shapedirs . shape + exprdirs . expr
//   joints = j_regressor . v_shaped;  R_j = Rodrigues(pose_j)
//   v_posed = v_shaped + posedirs . vec(R_1.. - I)
//   world_j = world_parent(j) [R_j | joint_j - joint_parent(j)];  skin_j = world_j - [0 | R^w_j joint_j]
//   verts = sum_j w_vj (skin_j v_posed) + translation
// The per-joint work (a handful of joints) is scalar and shared by the CPU and CUDA sources; the
// per-vertex sums live in the kernels.
#pragma once

#include <stdint.h>

#include "scalar_math.h"

namespace rig {

constexpr int kMaxJoints = 16;

// Row-major [3, 4] affine transform: rotation in columns 0..2, translation in column 3.
template <typename T>
struct Affine {
  T m[3][4];
};

// Rodrigues with lbs.py's epsilon (angle = |aa + 1e-8|): smooth at zero, the same rounding path.
template <typename T>
AVX_HD void axis_angle_to_matrix(const T* aa, T r[3][3]) {
  const T ex = aa[0] + T(1e-8), ey = aa[1] + T(1e-8), ez = aa[2] + T(1e-8);
  const T angle = scalar_math::sqrt_(ex * ex + ey * ey + ez * ez);
  const T x = aa[0] / angle, y = aa[1] / angle, z = aa[2] / angle;
  const T s = scalar_math::sin_(angle), c1 = T(1) - scalar_math::cos_(angle);
  const T k[3][3] = {{T(0), -z, y}, {z, T(0), -x}, {-y, x, T(0)}};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      T kk = T(0);
      for (int l = 0; l < 3; ++l) kk += k[i][l] * k[l][j];
      r[i][j] = T(i == j) + s * k[i][j] + c1 * kk;
    }
}

// a = b c for affine transforms (the implicit bottom rows are [0 0 0 1]).
template <typename T>
AVX_HD Affine<T> compose(const Affine<T>& b, const Affine<T>& c) {
  Affine<T> a;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) {
      T v = j == 3 ? b.m[i][3] : T(0);
      for (int l = 0; l < 3; ++l) v += b.m[i][l] * c.m[l][j];
      a.m[i][j] = v;
    }
  return a;
}

// Skinning transforms of the joints from their rotations [J][3][3] and rest positions [J, 3]
// (parents[j] < j, parents[0] = -1), as rigid_transforms in lbs.py. `pose_feature` gets the
// 9 (J - 1) entries of R_j - I, j >= 1, row-major, that drive the pose correctives.
template <typename T>
AVX_HD void skin_transforms(const T* pose, const T* joints, const int64_t* parents, int num_joints,
                            Affine<T>* skin, T* pose_feature) {
  Affine<T> world[kMaxJoints];
  for (int j = 0; j < num_joints; ++j) {
    T r[3][3];
    axis_angle_to_matrix(pose + 3 * j, r);
    if (j > 0)
      for (int i = 0; i < 3; ++i)
        for (int l = 0; l < 3; ++l) pose_feature[9 * (j - 1) + 3 * i + l] = r[i][l] - T(i == l);
    Affine<T> local;
    for (int i = 0; i < 3; ++i) {
      for (int l = 0; l < 3; ++l) local.m[i][l] = r[i][l];
      local.m[i][3] = j == 0 ? joints[i] : joints[3 * j + i] - joints[3 * parents[j] + i];
    }
    world[j] = j == 0 ? local : compose(world[parents[j]], local);
    skin[j] = world[j];
    for (int i = 0; i < 3; ++i) {
      T rest = T(0);
      for (int l = 0; l < 3; ++l) rest += world[j].m[i][l] * joints[3 * j + l];
      skin[j].m[i][3] = world[j].m[i][3] - rest;
    }
  }
}

}  // namespace rig
