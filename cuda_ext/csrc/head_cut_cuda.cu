// Head-cut op on CUDA: the CPU op's region (head_cut_cpu.cpp; maths in include/head_cut_math.h)
// computed on the device, so that a render on a GPU never copies its mesh to the host for the
// cut. Five kernels on the current stream: the vertices projected; the two lines (one thread:
// the ring has tens of vertices); the triangles near the band rasterised as row spans into a
// coverage mask; per row, the prefix counts of that mask; per pixel, the region: above the ring's
// line, and above the sides' line or within the neck margin's disc of the coverage (row by row
// of the disc, one prefix-count difference each). Nothing is read back to the host. The schema
// is in cuda_ext/ops.py.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "head_cut_checks.h"
#include "head_cut_math.h"
#include "tensor_checks.h"

namespace avatar_ext {
namespace head_cut_op {
namespace {

using at::Tensor;
using head_cut::Line;

constexpr const char* kOp = "head_cut_region";
constexpr int kThreads = 256;

struct CameraArgs {
  double w2c[16], K[9];
};

inline int blocks_for(int64_t n) { return int((n + kThreads - 1) / kThreads); }

template <typename T>
__global__ void project_kernel(const T* verts, int64_t num_v, CameraArgs cam, double* xy, double* depth) {
  const int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (v >= num_v) return;
  const double p[3] = {double(verts[3 * v]), double(verts[3 * v + 1]), double(verts[3 * v + 2])};
  head_cut::project_vertex(p, cam.w2c, cam.K, xy[2 * v], xy[2 * v + 1], depth[v]);
}

// One thread: the two lines (head_cut::cut_lines).
__global__ void lines_kernel(const double* xy, const double* depth, const int64_t* ring, int num_ring,
                             const int64_t* sides, int64_t top, double* ring_xy, Line* lines) {
  head_cut::cut_lines(xy, depth, ring, num_ring, sides, top, ring_xy, lines[0], lines[1]);
}

struct DeviceXY {
  const double* xy;
  __device__ double operator()(int64_t v, int k) const { return xy[2 * v + k]; }
};

struct MarkSpan {
  uint8_t* coverage;
  int width;
  __device__ void operator()(int v, int lo, int hi) const {
    for (int u = lo; u <= hi; ++u) coverage[int64_t(v) * width + u] = 1;  // the same value from any thread
  }
};

__global__ void raster_kernel(const double* xy, const double* depth, const int64_t* faces, int64_t num_faces,
                              const Line* lines, double reach, double near, int width, int height,
                              uint8_t* coverage) {
  const int64_t f = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (f >= num_faces) return;
  double x[3], y[3];
  if (head_cut::face_matters(DeviceXY{xy}, depth, faces[3 * f], faces[3 * f + 1], faces[3 * f + 2], lines[0],
                             lines[1], reach, near, x, y))
    head_cut::rasterize_triangle(x, y, width, height, MarkSpan{coverage, width});
}

// prefix[v (width + 1) + u] = covered pixels of row v left of column u.
__global__ void row_prefix_kernel(const uint8_t* coverage, int width, int height, int32_t* prefix) {
  const int v = blockIdx.x * blockDim.x + threadIdx.x;
  if (v >= height) return;
  int32_t count = 0;
  prefix[int64_t(v) * (width + 1)] = 0;
  for (int u = 0; u < width; ++u) {
    count += coverage[int64_t(v) * width + u];
    prefix[int64_t(v) * (width + 1) + u + 1] = count;
  }
}

template <typename T>
__global__ void region_kernel(const Line* lines, const int32_t* prefix, int radius, int width, int height, T* region) {
  const int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (p >= int64_t(width) * height) return;
  const int u = int(p % width), v = int(p / width);
  const bool above_ring = head_cut::signed_distance(lines[0], u + 0.5, v + 0.5) >= 0;
  const bool above_sides = head_cut::signed_distance(lines[1], u + 0.5, v + 0.5) >= 0;
  bool keep = above_ring && above_sides;
  if (above_ring && !above_sides)  // the band: the rig's own pixels grown by the disc
    for (int dy = -radius; dy <= radius && !keep; ++dy) {
      const int row = v + dy;
      if (row < 0 || row >= height) continue;
      const int half = head_cut::disc_half_width(dy, radius);
      const int lo = u - half > 0 ? u - half : 0, hi = u + half < width - 1 ? u + half : width - 1;
      const int32_t* counts = prefix + int64_t(row) * (width + 1);
      keep = counts[hi + 1] - counts[lo] > 0;
    }
  region[p] = keep ? T(1) : T(0);
}

Tensor head_cut_region_cuda(const Tensor& verts, const Tensor& faces, const Tensor& ring, const Tensor& sides,
                            int64_t top, double neck_margin, at::ArrayRef<double> world_to_cam, at::ArrayRef<double> K,
                            int64_t width, int64_t height, double near) {
  check_cut_arguments(verts, faces, ring, sides, top, neck_margin, world_to_cam, K, width, height, verts.device(), kOp);
  const int64_t num_v = verts.size(0);
  // Vertex ids are not range-checked here (that would read them back to the host): the model's
  // loader checks the cut and the faces against the rig.
  const c10::cuda::CUDAGuard guard(verts.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const auto real = verts.options().dtype(at::kDouble);
  Tensor xy = at::empty({num_v, 2}, real), depth = at::empty({num_v}, real);
  Tensor ring_xy = at::empty({ring.size(0), 2}, real);
  Tensor lines = at::empty({int64_t(2 * sizeof(Line) / sizeof(double))}, real);
  const int w = int(width), h = int(height), radius = head_cut::neck_radius(neck_margin, h, w);
  Tensor coverage = at::zeros({height, width}, verts.options().dtype(at::kByte));
  Tensor prefix = at::empty({height, width + 1}, verts.options().dtype(at::kInt));
  Tensor region = at::empty({height, width, 1}, verts.options());
  CameraArgs cam;
  for (int i = 0; i < 16; ++i) cam.w2c[i] = world_to_cam[i];
  for (int i = 0; i < 9; ++i) cam.K[i] = K[i];
  auto* line_ptr = reinterpret_cast<Line*>(lines.data_ptr<double>());
  AT_DISPATCH_FLOATING_TYPES(verts.scalar_type(), kOp, [&] {
    project_kernel<scalar_t><<<blocks_for(num_v), kThreads, 0, stream>>>(
        verts.data_ptr<scalar_t>(), num_v, cam, xy.data_ptr<double>(), depth.data_ptr<double>());
    lines_kernel<<<1, 1, 0, stream>>>(xy.data_ptr<double>(), depth.data_ptr<double>(), ring.data_ptr<int64_t>(),
                                      int(ring.size(0)), sides.data_ptr<int64_t>(), top, ring_xy.data_ptr<double>(),
                                      line_ptr);
    raster_kernel<<<blocks_for(faces.size(0)), kThreads, 0, stream>>>(
        xy.data_ptr<double>(), depth.data_ptr<double>(), faces.data_ptr<int64_t>(), faces.size(0), line_ptr,
        radius + 1.0, near, w, h, coverage.data_ptr<uint8_t>());
    row_prefix_kernel<<<blocks_for(h), kThreads, 0, stream>>>(coverage.data_ptr<uint8_t>(), w, h,
                                                              prefix.data_ptr<int32_t>());
    region_kernel<scalar_t><<<blocks_for(int64_t(w) * h), kThreads, 0, stream>>>(
        line_ptr, prefix.data_ptr<int32_t>(), radius, w, h, region.data_ptr<scalar_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return region;
}

}  // namespace
}  // namespace head_cut_op
}  // namespace avatar_ext

TORCH_LIBRARY_IMPL(avatar_ext, CUDA, m) { m.impl("head_cut_region", &avatar_ext::head_cut_op::head_cut_region_cuda); }
