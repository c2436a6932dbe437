// GLSL of the rig's posing on the GPU, one fragment per item, float32 values stored as their bits
// in RGBA32UI targets (renderable in every WebGL2, no extension). The maths of rig.js and
// avatar/rig/lbs.py (pose) and of avatar/gaussians/binding.py's triangle_frames (frames).

import { TEXTURE_WIDTH } from "./layout.js";

/** The texel of item i in a TEXTURE_WIDTH-wide texture (any shader). */
export const TEXEL_OF = `
const int ROW_SHIFT = ${Math.log2(TEXTURE_WIDTH)};
ivec2 at(int i) { return ivec2(i & ${TEXTURE_WIDTH - 1}, i >> ROW_SHIFT); }
`;

/** TEXEL_OF, and the item a fragment of a TEXTURE_WIDTH-wide target computes (fragment shaders). */
export const COMMON = `${TEXEL_OF}
int item() { return (int(gl_FragCoord.y) << ROW_SHIFT) + int(gl_FragCoord.x); }
`;

/** A triangle over the whole viewport: the passes draw 3 vertices of it. */
export const FULL_VIEWPORT_VERTEX = `#version 300 es
void main() {
  vec2 p = vec2(float((gl_VertexID & 1) << 2), float((gl_VertexID & 2) << 1)) - 1.0;
  gl_Position = vec4(p, 0.0, 1.0);
}
`;

/** Posed vertices: shaped = template + sum_e (weight_e scale_e) delta_e (+ pose correctives);
 * vertex = (sum_j w_j T_j) shaped + translation, T_j the joints' skinning transforms (written out
 * joint by joint: constant indices, no per-fragment gathers). */
export function poseFragment(numExpr, numJoints, numPoseFeatures) {
  return `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
${COMMON}
uniform usampler2D u_vertices;  // 2 texels a vertex (gpu/layout.js)
uniform usampler2D u_exprs;     // R32UI: e | int8 delta bytes << 8
uniform int u_count;
uniform float u_expr[${numExpr}];           // weight x the file's scale, per expression
uniform vec4 u_skin[${3 * numJoints}];      // each joint's 3x4 transform, row by row
uniform vec3 u_translation;
${numPoseFeatures ? `uniform usampler2D u_posedirs;  // R32UI: [V, 3, P] float16 pairs
uniform float u_feature[${numPoseFeatures}];` : ""}

out uvec4 o_vertex;

void main() {
  int v = item();
  if (v >= u_count) discard;
  uvec4 t0 = texelFetch(u_vertices, at(2 * v), 0), t1 = texelFetch(u_vertices, at(2 * v + 1), 0);
  vec3 x = uintBitsToFloat(t0.xyz);
  int start = int(t0.w & 0xffffffu), end = start + int(t0.w >> 24);
  for (int r = start; r < end; ++r) {
    uint e = texelFetch(u_exprs, at(r), 0).r;
    x += u_expr[int(e & 255u)] * vec3(ivec3(int(e << 16) >> 24, int(e << 8) >> 24, int(e) >> 24));
  }
${numPoseFeatures ? `  int base = v * ${(3 * numPoseFeatures) / 2};
  for (int k = 0; k < 3; ++k) {
    float sum = 0.0;
    for (int f = 0; f < ${numPoseFeatures}; f += 2) {
      vec2 p = unpackHalf2x16(texelFetch(u_posedirs, at(base + (k * ${numPoseFeatures} + f) / 2), 0).r);
      sum += p.x * u_feature[f] + p.y * u_feature[f + 1];
    }
    x[k] += sum;
  }` : ""}
  vec4 r0 = vec4(0.0), r1 = vec4(0.0), r2 = vec4(0.0);
${Array.from({ length: numJoints }, (_, j) => `  { float w = unpackHalf2x16(t1.${"xyzw"[j >> 1]}).${"xy"[j & 1]};
    r0 += w * u_skin[${3 * j}]; r1 += w * u_skin[${3 * j + 1}]; r2 += w * u_skin[${3 * j + 2}]; }`).join("\n")}
  vec4 h = vec4(x, 1.0);
  o_vertex = uvec4(floatBitsToUint(vec3(dot(r0, h), dot(r1, h), dot(r2, h)) + u_translation), 0u);
}
`;
}

/** Per posed triangle its frame: origin at the centroid, axes the first edge's direction, the
 * in-plane perpendicular and the normal, unit the mean edge length, and the axes' rotation as a
 * unit quaternion (w >= 0; rotations.matrix_to_quat, the best conditioned of four candidates). */
export const FRAMES_FRAGMENT = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
${COMMON}
uniform usampler2D u_faces;   // a texel a face: its 3 vertices
uniform usampler2D u_posed;   // the posed vertices (float bits)
uniform int u_count;

layout(location = 0) out uvec4 o_origin;  // centroid, unit
layout(location = 1) out uvec4 o_xaxis;   // first edge direction
layout(location = 2) out uvec4 o_normal;  // normal
layout(location = 3) out uvec4 o_quat;    // (w, x, y, z)

vec3 vertex(uint v) { return uintBitsToFloat(texelFetch(u_posed, at(int(v)), 0).xyz); }

void main() {
  int f = item();
  if (f >= u_count) discard;
  uvec3 face = texelFetch(u_faces, at(f), 0).xyz;
  vec3 a = vertex(face.x), b = vertex(face.y), c = vertex(face.z);
  vec3 e0 = b - a, e1 = c - b, e2 = c - a;
  float l0 = length(e0), l1 = length(e1), l2 = length(e2);
  vec3 x = e0 / max(l0, 1e-12);
  vec3 n = cross(e0, e2);
  n /= max(length(n), 1e-12);
  vec3 y = cross(n, x);
  // rows of the rotation whose columns are x, y, n
  float m00 = x.x, m01 = y.x, m02 = n.x, m10 = x.y, m11 = y.y, m12 = n.y, m20 = x.z, m21 = y.z, m22 = n.z;
  float f0 = 1.0 + m00 + m11 + m22, f1 = 1.0 + m00 - m11 - m22, f2 = 1.0 - m00 + m11 - m22, f3 = 1.0 - m00 - m11 + m22;
  vec4 q;
  if (f0 >= f1 && f0 >= f2 && f0 >= f3) q = vec4(f0, m21 - m12, m02 - m20, m10 - m01);
  else if (f1 >= f2 && f1 >= f3) q = vec4(m21 - m12, f1, m10 + m01, m02 + m20);
  else if (f2 >= f3) q = vec4(m02 - m20, m10 + m01, f2, m21 + m12);
  else q = vec4(m10 - m01, m20 + m02, m21 + m12, f3);
  q /= max(length(q), 1e-12) * (q.x < 0.0 ? -1.0 : 1.0);  // each candidate is 2 |q_i| q
  o_origin = floatBitsToUint(vec4((a + b + c) / 3.0, (l0 + l1 + l2) / 3.0));
  o_xaxis = uvec4(floatBitsToUint(x), 0u);
  o_normal = uvec4(floatBitsToUint(n), 0u);
  o_quat = floatBitsToUint(q);
}
`;
