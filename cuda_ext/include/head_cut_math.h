// The avatar's cut below the head, per frame: the maths of avatar/splat/cut_region.py (the
// reference) for the head_cut_region op. The region keeps the head's side of a line along the
// projected neck ring (through its vertex nearest the camera) and, between that line and a second
// one through the projected sides of the head, only the rig's own pixels grown by a disc of
// `radius` pixels (the neck margin). Pixel (u, v) is tested at its centre (u + 0.5, v + 0.5).
// Computed in double: the lines and the signed distances as the reference does in float64.
#pragma once

#include <cmath>

#include "common.h"

namespace head_cut {

// A line as a point and a unit normal that points to the head's side.
struct Line {
  double px, py, nx, ny;
};

// Signed distance (pixels) of (x, y) from the line, positive on the head's side.
AVX_HD double signed_distance(const Line& line, double x, double y) {
  return (x - line.px) * line.nx + (y - line.py) * line.ny;
}

// Unit direction (dx, dy) -> the line through (px, py) along it, its normal turned towards
// (head_x, head_y) (ties keep the left-hand normal, as the reference's `>= 0`).
AVX_HD Line line_towards(double px, double py, double dx, double dy, double head_x, double head_y) {
  Line line{px, py, -dy, dx};
  if ((head_x - px) * line.nx + (head_y - py) * line.ny < 0) {
    line.nx = -line.nx;
    line.ny = -line.ny;
  }
  return line;
}

// Unit direction of the largest extent of n 2D points (xy interleaved): the principal axis of their
// covariance (the reference's first right singular vector of the centred points, up to sign).
AVX_HD void principal_direction(const double* xy, int n, double& dx, double& dy) {
  double mx = 0, my = 0;
  for (int i = 0; i < n; ++i) {
    mx += xy[2 * i];
    my += xy[2 * i + 1];
  }
  mx /= n;
  my /= n;
  double sxx = 0, sxy = 0, syy = 0;
  for (int i = 0; i < n; ++i) {
    const double x = xy[2 * i] - mx, y = xy[2 * i + 1] - my;
    sxx += x * x;
    sxy += x * y;
    syy += y * y;
  }
  const double angle = 0.5 * atan2(2 * sxy, sxx - syy);
  dx = cos(angle);
  dy = sin(angle);
}

// Vertex p [3] seen by the camera (w2c [16] row-major, K [9]), as Camera.project: its pixel
// position K (R p + t) / (its third component, at least 1e-9) and its camera-space depth.
AVX_HD void project_vertex(const double p[3], const double* w2c, const double* K, double& x, double& y,
                           double& depth) {
  double c[3];
  for (int r = 0; r < 3; ++r) c[r] = w2c[4 * r] * p[0] + w2c[4 * r + 1] * p[1] + w2c[4 * r + 2] * p[2] + w2c[4 * r + 3];
  const double hx = K[0] * c[0] + K[1] * c[1] + K[2] * c[2];
  const double hy = K[3] * c[0] + K[4] * c[1] + K[5] * c[2];
  double hz = K[6] * c[0] + K[7] * c[1] + K[8] * c[2];
  hz = hz > 1e-9 ? hz : 1e-9;
  x = hx / hz;
  y = hy / hz;
  depth = c[2];
}

// The neck cut's line (through the ring's vertex nearest the camera, along the ring's largest
// extent) and the upper line (through the two sides), both with normals towards the skull's top
// (vertex `top`). xy [V, 2] and depth [V] per projected vertex; ring_xy: room for 2 num_ring values.
AVX_HD void cut_lines(const double* xy, const double* depth, const int64_t* ring, int num_ring, const int64_t* sides,
                      int64_t top, double* ring_xy, Line& ring_line, Line& sides_line) {
  int64_t front = ring[0];
  for (int i = 0; i < num_ring; ++i) {
    ring_xy[2 * i] = xy[2 * ring[i]];
    ring_xy[2 * i + 1] = xy[2 * ring[i] + 1];
    if (depth[ring[i]] < depth[front]) front = ring[i];
  }
  double dx, dy;
  principal_direction(ring_xy, num_ring, dx, dy);
  const double head_x = xy[2 * top], head_y = xy[2 * top + 1];
  ring_line = line_towards(xy[2 * front], xy[2 * front + 1], dx, dy, head_x, head_y);
  const double ax = xy[2 * sides[0]], ay = xy[2 * sides[0] + 1], bx = xy[2 * sides[1]], by = xy[2 * sides[1] + 1];
  double length = sqrt((bx - ax) * (bx - ax) + (by - ay) * (by - ay));
  length = length > 1e-6 ? length : 1e-6;
  sides_line = line_towards(0.5 * (ax + bx), 0.5 * (ay + by), (bx - ax) / length, (by - ay) / length, head_x, head_y);
}

// Pixels the neck may reach beyond the rig's own pixels: the reference's
// max(1, int(round(margin * max(height, width)))), rounding halves to even as Python does.
inline int neck_radius(double neck_margin, int height, int width) {
  const double scaled = neck_margin * (height > width ? height : width);
  double whole = std::floor(scaled);
  const double rest = scaled - whole;
  if (rest > 0.5 || (rest == 0.5 && std::fmod(whole, 2.0) != 0.0)) whole += 1;
  return whole < 1 ? 1 : int(whole);
}

// Half-width of row dy (|dy| <= radius) of the neck margin's disc, as OpenCV's MORPH_ELLIPSE
// draws it (the reference's ellipse_kernel).
AVX_HD int disc_half_width(int dy, int radius) {
  const double r = double(radius), t = double(dy) / r, inside = 1.0 - t * t;
  return int(floor(r * sqrt(inside > 0.0 ? inside : 0.0) + 0.5));
}

// Edge function of p against the directed edge a->b, written as the mesh rasterizer's
// (avatar/splat/mesh_raster.py) so shared edges stay crack-free.
AVX_HD double edge(double ax, double ay, double bx, double by, double px, double py) {
  return (ax - px) * (by - py) - (ay - py) * (bx - px);
}

// The pixel columns [lo, hi] (clipped to the image) of row v whose centres lie between x = a and
// x = b (either order), edges inclusive; false when none.
AVX_HD bool row_span(double a, double b, int width, int& lo, int& hi) {
  const double left = (a < b ? a : b) - 0.5, right = (a < b ? b : a) - 0.5;
  if (!(right >= 0) || !(left <= width - 1)) return false;  // off the image (or not a number)
  lo = ceil_int(left > -1.0 ? left : -1.0);
  hi = floor_int(right < width ? right : double(width));
  lo = lo > 0 ? lo : 0;
  hi = hi < width - 1 ? hi : width - 1;
  return lo <= hi;
}

// mark(v, lo, hi) for the pixels (u in [lo, hi], row v) whose centres lie in the triangle (x, y)
// (edges inclusive), scanline by scanline: sorted by y, each row's span runs from the long edge
// (top to bottom vertex) to whichever short edge the row crosses.
template <typename Mark>
AVX_HD void rasterize_triangle(const double* x, const double* y, int width, int height, Mark mark) {
  int a = 0, b = 1, c = 2;  // sorted by y
  if (y[b] < y[a]) { const int t = a; a = b; b = t; }
  if (y[c] < y[b]) { const int t = b; b = c; c = t; }
  if (y[b] < y[a]) { const int t = a; a = b; b = t; }
  const double x0 = x[a], y0 = y[a], x1 = x[b], y1 = y[b], x2 = x[c], y2 = y[c];
  if (!(y2 - 0.5 >= 0) || !(y0 - 0.5 <= height - 1)) return;  // off the image (or not a number)
  int v0 = ceil_int(y0 - 0.5 > -1.0 ? y0 - 0.5 : -1.0), v1 = floor_int(y2 - 0.5 < height ? y2 - 0.5 : double(height));
  v0 = v0 > 0 ? v0 : 0;
  v1 = v1 < height - 1 ? v1 : height - 1;
  const double long_slope = y2 > y0 ? (x2 - x0) / (y2 - y0) : 0.0;
  const double upper_slope = y1 > y0 ? (x1 - x0) / (y1 - y0) : 0.0;
  const double lower_slope = y2 > y1 ? (x2 - x1) / (y2 - y1) : 0.0;
  int lo, hi;
  for (int v = v0; v <= v1; ++v) {
    const double py = v + 0.5;
    const double on_long = x0 + (py - y0) * long_slope;
    if (py < y1 || (py == y1 && y1 == y2)) {
      if (row_span(on_long, y1 > y0 ? x0 + (py - y0) * upper_slope : x1, width, lo, hi)) mark(v, lo, hi);
      if (py == y1 && row_span(x1, x2, width, lo, hi)) mark(v, lo, hi);  // a flat bottom edge
    } else {
      if (row_span(on_long, y2 > y1 ? x1 + (py - y1) * lower_slope : x2, width, lo, hi)) mark(v, lo, hi);
      if (py == y1 && y0 == y1 && row_span(x0, x1, width, lo, hi)) mark(v, lo, hi);  // a flat top edge
    }
  }
}

// Whether face (a, b, c) can change the region: not wholly deeper than `reach` on the head's side
// of the sides' line nor wholly beyond the ring's line, no vertex before the near plane, some
// area (as the mesh rasterizer, which leaves degenerate triangles out). xy / depth per vertex.
template <typename XY>
AVX_HD bool face_matters(const XY& xy, const double* depth, int64_t a, int64_t b, int64_t c, const Line& ring_line,
                         const Line& sides_line, double reach, double near, double x[3], double y[3]) {
  const int64_t corner[3] = {a, b, c};
  bool deep_in_head = true, below_cut = true;
  for (int k = 0; k < 3; ++k) {
    x[k] = xy(corner[k], 0);
    y[k] = xy(corner[k], 1);
    deep_in_head = deep_in_head && signed_distance(sides_line, x[k], y[k]) > reach;
    below_cut = below_cut && signed_distance(ring_line, x[k], y[k]) < -reach;
    if (depth[corner[k]] < near) return false;
  }
  if (deep_in_head || below_cut) return false;
  const double area = edge(x[1], y[1], x[2], y[2], x[0], y[0]);
  return (area > 1e-12 || area < -1e-12) && area - area == 0.0;  // finite and not degenerate
}

}  // namespace head_cut
