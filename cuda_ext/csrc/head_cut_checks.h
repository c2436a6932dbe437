// The head cut's argument checks that the CPU and CUDA ops share: shapes, dtypes and device of the
// tensors, and the scalar arguments. Vertex ids are range-checked by the CPU op only (on the GPU
// that would read them back to the host; the model's loader checks the cut against the rig).
#pragma once

#include <ATen/ATen.h>

#include "tensor_checks.h"

namespace avatar_ext {
namespace head_cut_op {

// ids [K] int64 on `device` (ring or sides).
inline void check_id_tensor(const at::Tensor& ids, const char* name, const c10::Device& device, const char* op) {
  AVATAR_CHECK_VALUE(ids.dim() == 1, op, ": ", name, " must be a 1-D tensor of vertex ids, got ", ids.sizes());
  tensor_checks::check_tensor(ids, op, name, {ids.size(0)}, at::kLong, device);
}

inline void check_cut_arguments(const at::Tensor& verts, const at::Tensor& faces, const at::Tensor& ring,
                                const at::Tensor& sides, int64_t top, double neck_margin,
                                at::ArrayRef<double> world_to_cam, at::ArrayRef<double> K, int64_t width,
                                int64_t height, const c10::Device& device, const char* op) {
  AVATAR_CHECK_VALUE(verts.dim() == 2 && verts.size(1) == 3, op, ": verts must be [V, 3], got ", verts.sizes());
  tensor_checks::check_floating(verts, op, "verts");
  const int64_t num_v = verts.size(0);
  tensor_checks::check_tensor(verts, op, "verts", {num_v, 3}, verts.scalar_type(), device);
  AVATAR_CHECK_VALUE(faces.dim() == 2 && faces.size(1) == 3, op, ": faces must be [F, 3], got ", faces.sizes());
  tensor_checks::check_tensor(faces, op, "faces", {faces.size(0), 3}, at::kLong, device);
  check_id_tensor(ring, "ring", device, op);
  check_id_tensor(sides, "sides", device, op);
  AVATAR_CHECK_VALUE(ring.size(0) >= 3 && sides.size(0) == 2, op, ": ring needs 3 or more vertices and sides 2");
  AVATAR_CHECK_VALUE(top >= 0 && top < num_v, op, ": top is vertex ", top, ", outside 0..", num_v - 1);
  AVATAR_CHECK_VALUE(neck_margin >= 0 && neck_margin <= 0.5, op, ": neck_margin ", neck_margin, " is not in [0, 0.5]");
  AVATAR_CHECK_VALUE(world_to_cam.size() == 16 && K.size() == 9, op, ": world_to_cam needs 16 values and K 9");
  AVATAR_CHECK_VALUE(width >= 1 && height >= 1 && width <= (1 << 15) && height <= (1 << 15), op, ": image size ",
                     width, " x ", height, " is not in 1..32768");
}

}  // namespace head_cut_op
}  // namespace avatar_ext
