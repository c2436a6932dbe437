// GLSL of the cut below the head on the GPU (cut.js computes its two lines on the CPU): the rig's
// pixels (its faces but the cut's shoulders, from the posed vertices), then those pixels grown by
// the disc of the neck margin in two passes (per pixel the distance to the nearest covered pixel
// of its row, then the disc's rows), as cuda_ext's head_cut_region op does on the CPU (in
// float32 here: a pixel centre within ~1e-5 px of a face's edge may fall either way).

import { TEXEL_OF } from "./pose_shaders.js";

/** The rig's pixels, without buffers: each face a quad over its bounding box (6 vertices, vertex
 * k is corner k % 6 of face k / 6) widened by a pixel, and the fragment shader keeps the pixels
 * whose centres lie in the face (edges inclusive), the op's rule, not the GPU rasteriser's (its
 * sub-pixel snapping moves edges by up to 1/16 px or so). Faces with a vertex before the near
 * plane, or without area, are left out, as the op leaves them. */
export const COVERAGE_VERTEX = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
${TEXEL_OF}
uniform usampler2D u_faces;   // a texel a face: its 3 vertices
uniform usampler2D u_posed;   // the posed vertices (float bits)
uniform vec4 u_view[3];       // rows of the world-to-camera transform
uniform vec3 u_k[3];          // rows of the intrinsics
uniform vec3 u_frame;         // width, height, near

flat out vec4 v_ab;           // the face's corners in pixels (x right, y down, centres at + 0.5)
flat out vec2 v_c;

vec3 camera(uint v) {
  vec3 p = uintBitsToFloat(texelFetch(u_posed, at(int(v)), 0).xyz);
  return vec3(dot(u_view[0].xyz, p) + u_view[0].w, dot(u_view[1].xyz, p) + u_view[1].w, dot(u_view[2].xyz, p) + u_view[2].w);
}

vec2 pixel(vec3 p) {
  vec3 h = vec3(dot(u_k[0], p), dot(u_k[1], p), max(dot(u_k[2], p), 1e-9));
  return h.xy / h.z;
}

float edge(vec2 a, vec2 b, vec2 p) { return (a.x - p.x) * (b.y - p.y) - (a.y - p.y) * (b.x - p.x); }

void main() {
  uvec3 face = texelFetch(u_faces, at(gl_VertexID / 6), 0).xyz;
  vec3 a = camera(face.x), b = camera(face.y), c = camera(face.z);
  v_ab = vec4(pixel(a), pixel(b));
  v_c = pixel(c);
  float area = edge(v_ab.zw, v_c, v_ab.xy);
  int corner = gl_VertexID % 6;  // two triangles: 0 1 2, 2 1 3 of the box's corners
  corner = corner < 3 ? corner : (corner == 3 ? 2 : (corner == 4 ? 1 : 3));
  vec2 lo = min(min(v_ab.xy, v_ab.zw), v_c) - 1.0, hi = max(max(v_ab.xy, v_ab.zw), v_c) + 1.0;
  vec2 p = vec2((corner & 1) == 0 ? lo.x : hi.x, (corner & 2) == 0 ? lo.y : hi.y);
  bool skipped = min(a.z, min(b.z, c.z)) < u_frame.z || !(abs(area) > 1e-12) || isinf(area);
  gl_Position = skipped ? vec4(2.0, 2.0, 2.0, 1.0) : vec4(2.0 * p.x / u_frame.x - 1.0, 1.0 - 2.0 * p.y / u_frame.y, 0.0, 1.0);
}
`;

export const COVERAGE_FRAGMENT = `#version 300 es
precision highp float;
uniform vec3 u_frame;   // width, height, near
flat in vec4 v_ab;
flat in vec2 v_c;
out uint o_covered;

float edge(vec2 a, vec2 b, vec2 p) { return (a.x - p.x) * (b.y - p.y) - (a.y - p.y) * (b.x - p.x); }

void main() {
  vec2 p = vec2(gl_FragCoord.x, u_frame.y - gl_FragCoord.y);  // the pixel's centre, rows from the top
  float e0 = edge(v_ab.xy, v_ab.zw, p), e1 = edge(v_ab.zw, v_c, p), e2 = edge(v_c, v_ab.xy, p);
  if (!((e0 >= 0.0 && e1 >= 0.0 && e2 >= 0.0) || (e0 <= 0.0 && e1 <= 0.0 && e2 <= 0.0))) discard;
  o_covered = 1u;
}
`;

/** Per pixel: the distance (columns) to the nearest covered pixel of its row, up to the radius;
 * radius + 1 when none. */
export const ROW_DISTANCE_FRAGMENT = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
uniform usampler2D u_covered;
uniform int u_radius;
uniform ivec2 u_size;
out uint o_distance;
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  int best = u_radius + 1;
  for (int dx = -u_radius; dx <= u_radius; ++dx) {
    int x = p.x + dx;
    if (x >= 0 && x < u_size.x && abs(dx) < best && texelFetch(u_covered, ivec2(x, p.y), 0).r != 0u) best = abs(dx);
  }
  o_distance = uint(best);
}
`;

/** Per pixel: 1 when a covered pixel lies within the disc, i.e. some row dy of the disc has one
 * within its half width (half[|dy|], the op's disc_half_width). */
export const GROW_FRAGMENT = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
precision highp isampler2D;
uniform usampler2D u_distance;
uniform isampler2D u_half;   // R32I [radius + 1]
uniform int u_radius;
uniform ivec2 u_size;
out uint o_grown;
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  uint grown = 0u;
  for (int dy = -u_radius; dy <= u_radius; ++dy) {
    int y = p.y + dy;
    if (y >= 0 && y < u_size.y && int(texelFetch(u_distance, ivec2(p.x, y), 0).r) <= texelFetch(u_half, ivec2(abs(dy), 0), 0).r) {
      grown = 1u;
      break;
    }
  }
  o_grown = grown;
}
`;
