// The avatar's cut below the head, per frame: the maths of avatar/render/head_cut.py (the
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

// ceil / floor of a double within int range through truncation: no libm call where the target
// has no rounding instruction (baseline x86-64).
AVX_HD int ceil_int(double x) {
  const int t = int(x);
  return t + (double(t) < x);
}
AVX_HD int floor_int(double x) {
  const int t = int(x);
  return t - (double(t) > x);
}

// Edge function of p against the directed edge a->b, written as the mesh rasterizer's
// (avatar/render/mesh_raster.py) so shared edges stay crack-free.
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
