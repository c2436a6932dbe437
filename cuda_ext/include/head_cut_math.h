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
inline int disc_half_width(int dy, int radius) {
  const double r = double(radius), t = double(dy) / r;
  return int(std::floor(r * std::sqrt(std::fmax(0.0, 1.0 - t * t)) + 0.5));
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

}  // namespace head_cut
