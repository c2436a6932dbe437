// The posed frame of every rig triangle on the CPU: what the blend op (and the avatar-project op)
// computes once per frame and shares among the Gaussians bound to each triangle.
#pragma once

#include <cstdint>

#include "blend.h"
#include "cpu_parallel.h"
#include "cpu_simd.h"

namespace avatar_ext {
namespace blend {

// Faces [f0, f1): their posed frames.
template <typename T>
__attribute__((flatten)) void frames_range(const BlendInputs<T>& in, int64_t f0, int64_t f1, PosedFrame<T>* frames) {
  for (int64_t face = f0; face < f1; ++face) posed_frame(in, face, frames[face]);
}

// frames[f] for every face of in.faces posed as in.verts (the rest of `in` is not read).
template <typename T>
void posed_frames(const BlendInputs<T>& in, PosedFrame<T>* frames) {
  const auto range = simd::widest<&frames_range<T>>();
  cpu_parallel::ranges(in.num_faces, 512, [&](int64_t f0, int64_t f1) { range(in, f0, f1, frames); });
}

}  // namespace blend
}  // namespace avatar_ext
