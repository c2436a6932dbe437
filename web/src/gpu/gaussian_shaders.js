// GLSL of the Gaussians' per-frame work, one fragment a Gaussian: its offsets blended, its posed
// triangle's frame applied (avatar/gaussians/reference.py's blend_reference), its colour from
// the SH for the viewpoint (avatar/splat/sh.py, 3DGS's constants, degrees 0-3), then its splat:
// the engine's projection (avatar/splat/projection.py: EWA, the Jacobian clamped to the widened
// frustum, the 0.3 px^2 low-pass) and its depth for the sort. The splat: two texels, its centre,
// conic and opacity in float32 and its colour in float16 (within 2^-11 of its value: far below
// an 8-bit step). With `world` the pass writes the
// world Gaussians instead, for the tests that compare them with the Python engine.

import { GAUSSIAN_TEXELS } from "./layout.js";
import { COMMON } from "./pose_shaders.js";

const SH_C0 = 0.28209479177387814;
const C1 = 0.4886025119029199;
const C2 = [1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396];
const C3 = [-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154, -0.4570457994644658,
  1.445305721320277, -0.5900435899266435];

/** A float32 value as a GLSL literal that reads back as the same float32. */
function literal(x) {
  const s = Math.fround(x).toPrecision(9);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** GLSL adding the SH coefficients beyond the DC, seen along unit `d`, to `col`: the basis of sh.py
 * written out per degree, each coefficient dequantised from its uint8 code (low + step * code). */
function shRestCode(degree, low, step, shTexels) {
  if (degree < 1) return "";
  const basis = [null, "-C1 * d.y", "C1 * d.z", "-C1 * d.x"];
  if (degree >= 2) {
    basis.push(`${literal(C2[0])} * d.x * d.y`, `${literal(C2[1])} * d.y * d.z`,
      `${literal(C2[2])} * (2.0 * zz - xx - yy)`, `${literal(C2[3])} * d.x * d.z`, `${literal(C2[4])} * (xx - yy)`);
  }
  if (degree >= 3) {
    basis.push(`${literal(C3[0])} * d.y * (3.0 * xx - yy)`, `${literal(C3[1])} * d.x * d.y * d.z`,
      `${literal(C3[2])} * d.y * (4.0 * zz - xx - yy)`, `${literal(C3[3])} * d.z * (2.0 * zz - 3.0 * xx - 3.0 * yy)`,
      `${literal(C3[4])} * d.x * (4.0 * zz - xx - yy)`, `${literal(C3[5])} * d.z * (xx - yy)`,
      `${literal(C3[6])} * d.x * (xx - 3.0 * yy)`);
  }
  const lines = [`  const float C1 = ${literal(C1)};`, "  float xx = d.x * d.x, yy = d.y * d.y, zz = d.z * d.z;"];
  for (let t = 0; t < shTexels; ++t) lines.push(`  uvec4 s${t} = texelFetch(u_sh, at(${shTexels} * i + ${t}), 0);`);
  const code = (b) => `float((s${b >> 4}.${"xyzw"[(b >> 2) & 3]} >> ${8 * (b & 3)}u) & 255u)`;
  const value = (b) => `(${literal(low[b])} + ${literal(step[b])} * ${code(b)})`;
  for (let j = 1; j < basis.length; ++j) {
    const b = 3 * (j - 1);
    lines.push(`  col += (${basis[j]}) * vec3(${value(b)}, ${value(b + 1)}, ${value(b + 2)});`);
  }
  return lines.join("\n");
}

/** The fragment shader of the Gaussians' pass for an avatar's layout meta (gpu/layout.js). */
export function gaussianFragment(meta, world = false) {
  const s = meta.drivers + 1; // factors a group
  const factor = (group) => `u_factors[${group * s} + int(w & 255u)]`;
  // 3 signed bytes above the driver's byte, as a vec3
  const three = "vec3(ivec3(int(w << 16) >> 24, int(w << 8) >> 24, int(w) >> 24))";
  const four = "vec4(ivec4(int(p << 24) >> 24, int(p << 16) >> 24, int(p << 8) >> 24, int(p) >> 24))";
  const loop = (count, body) => `  end = t + int(${count});
  for (; t < end; ++t) {
    uvec4 e = texelFetch(u_offsets, at(t), 0);
${body}
  }`;
  const threeWide = (acc, group, swizzle = ".xyz") => ["x", "y", "z", "w"]
    .map((c) => `    { uint w = e.${c}; ${acc} += ${factor(group)}${swizzle} * ${swizzle === ".x" ? `float(int(w << 16) >> 24)` : three}; }`)
    .join("\n");
  const rot = ["xy", "zw"].map(([a, b]) => `    { uint w = e.${a}, p = e.${b}; dr += ${factor(1)} * ${four}; }`).join("\n");
  return `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
${COMMON}
uniform usampler2D u_gaussians;  // ${GAUSSIAN_TEXELS} texels a Gaussian (gpu/layout.js)
uniform usampler2D u_offsets;
uniform usampler2D u_sh;
uniform usampler2D u_origin;     // the triangles' frames (pose_shaders.js)
uniform usampler2D u_xaxis;
uniform usampler2D u_normal;
uniform usampler2D u_quat;
layout(std140) uniform Factors { vec4 u_factors[${5 * s}]; };
uniform vec3 u_eye;              // where the colours are seen from (view_cone.js)
uniform vec4 u_view[3];          // rows of the world-to-camera transform
uniform vec4 u_intrinsics;       // fx, fy, cx, cy (pixels)
uniform vec4 u_limits;           // the Jacobian's clamp on x / z and y / z: -x, +x, -y, +y
uniform vec2 u_depths;           // near, far

const float SH_C0 = ${literal(SH_C0)};
const float LOW_PASS = 0.3;
const float ALPHA_MIN = 1.0 / 255.0;

${world ? `layout(location = 0) out uvec4 o_mean;     // mean, opacity
layout(location = 1) out uvec4 o_quat;     // world rotation (w, x, y, z)
layout(location = 2) out uvec4 o_scale;    // standard deviations (m)
layout(location = 3) out uvec4 o_colour;   // colour` : `layout(location = 0) out uvec4 o_a;    // centre x, y (pixels), conic xx, xy
layout(location = 1) out uvec4 o_b;    // conic yy, opacity, colour (float16: r g, b 0)
layout(location = 2) out uint o_depth; // sort key: depth's float bits, ~0 when not drawn`}

uvec4 g(int i, int k) { return texelFetch(u_gaussians, at(${GAUSSIAN_TEXELS} * i + k), 0); }

void main() {
  int i = item();  // the place: of the Gaussian's data and its splat (gpu/layout.js)
  uvec4 t4 = g(i, 4);
  if (t4.z == 0u) discard;  // no Gaussian here
  uvec4 t0 = g(i, 0), t1 = g(i, 1), t2 = g(i, 2), t3 = g(i, 3);
  // offsets: per group, sum over the Gaussian's entries of factor x value
  vec3 dx = vec3(0.0), ds = vec3(0.0), dc = vec3(0.0);
  vec4 dr = vec4(0.0);
  float dop = 0.0;
  int t = int(t3.w), end;
${loop("t4.x & 255u", threeWide("dx", 0))}
${loop("(t4.x >> 8) & 255u", rot)}
${loop("(t4.x >> 16) & 255u", threeWide("ds", 2))}
${loop("t4.x >> 24", threeWide("dop", 3, ".x"))}
${loop("t4.y", threeWide("dc", 4))}
  // the posed triangle's frame
  ivec2 parent = at(int(t2.w));
  vec4 origin = uintBitsToFloat(texelFetch(u_origin, parent, 0));
  vec3 ax = uintBitsToFloat(texelFetch(u_xaxis, parent, 0).xyz);
  vec3 an = uintBitsToFloat(texelFetch(u_normal, parent, 0).xyz);
  vec3 ay = cross(an, ax);
  vec4 tq = uintBitsToFloat(texelFetch(u_quat, parent, 0));
  float unit = origin.w;
  vec3 x = uintBitsToFloat(t0.xyz) + dx;
  vec3 mean = origin.xyz + unit * (x.x * ax + x.y * ay + x.z * an);
  vec4 q = uintBitsToFloat(t1) + dr;
  q /= max(length(q), 1e-12);
  // the triangle's rotation, then the Gaussian's own: Hamilton product tq q, (w, x, y, z)
  vec4 r = vec4(tq.x * q.x - tq.y * q.y - tq.z * q.z - tq.w * q.w, tq.x * q.y + tq.y * q.x + tq.z * q.w - tq.w * q.z,
                tq.x * q.z - tq.y * q.w + tq.z * q.x + tq.w * q.y, tq.x * q.w + tq.y * q.z - tq.z * q.y + tq.w * q.x);
  vec3 scale = unit * exp(uintBitsToFloat(t2.xyz) + ds);
  float opacity = 1.0 / (1.0 + exp(-(uintBitsToFloat(t0.w) + dop)));
  // colour: max(sum_k basis_k(d) sh_k + 0.5, 0), d from the viewpoint to the mean
  vec3 d = mean - u_eye;
  d /= max(length(d), 1e-12);
  vec3 col = SH_C0 * (uintBitsToFloat(t3.xyz) + dc / SH_C0);
${shRestCode(meta.degree, meta.shLow, meta.shStep, meta.shTexels)}
  col = max(col + 0.5, 0.0);
${world ? `  o_mean = floatBitsToUint(vec4(mean, opacity));
  o_quat = floatBitsToUint(r);
  o_scale = uvec4(floatBitsToUint(scale), 0u);
  o_colour = uvec4(floatBitsToUint(col), 0u);
}` : `  vec3 c = vec3(dot(u_view[0].xyz, mean) + u_view[0].w, dot(u_view[1].xyz, mean) + u_view[1].w,
                dot(u_view[2].xyz, mean) + u_view[2].w);
  float z = c.z;
  o_depth = z > u_depths.x && z <= u_depths.y && opacity >= ALPHA_MIN ? floatBitsToUint(z) : 0xffffffffu;
  r /= length(r);
  float w = r.x, qx = r.y, qy = r.z, qz = r.w;
  // columns of R S (R of the quaternion, as quat_to_rotmat)
  vec3 c0 = vec3(1.0 - 2.0 * (qy * qy + qz * qz), 2.0 * (qx * qy + w * qz), 2.0 * (qx * qz - w * qy)) * scale.x;
  vec3 c1 = vec3(2.0 * (qx * qy - w * qz), 1.0 - 2.0 * (qx * qx + qz * qz), 2.0 * (qy * qz + w * qx)) * scale.y;
  vec3 c2 = vec3(2.0 * (qx * qz + w * qy), 2.0 * (qy * qz - w * qx), 1.0 - 2.0 * (qx * qx + qy * qy)) * scale.z;
  // W R S, row by row
  vec3 r0 = vec3(dot(u_view[0].xyz, c0), dot(u_view[0].xyz, c1), dot(u_view[0].xyz, c2));
  vec3 r1 = vec3(dot(u_view[1].xyz, c0), dot(u_view[1].xyz, c1), dot(u_view[1].xyz, c2));
  vec3 r2 = vec3(dot(u_view[2].xyz, c0), dot(u_view[2].xyz, c1), dot(u_view[2].xyz, c2));
  float fx = u_intrinsics.x, fy = u_intrinsics.y;
  float tx = z * clamp(c.x / z, -u_limits.x, u_limits.y);
  float ty = z * clamp(c.y / z, -u_limits.z, u_limits.w);
  vec3 a0 = (fx / z) * r0 - (fx * tx / (z * z)) * r2;
  vec3 a1 = (fy / z) * r1 - (fy * ty / (z * z)) * r2;
  float cxx = dot(a0, a0) + LOW_PASS, cxy = dot(a0, a1), cyy = dot(a1, a1) + LOW_PASS;
  float det = cxx * cyy - cxy * cxy;
  vec2 centre = vec2(fx * c.x / z + u_intrinsics.z, fy * c.y / z + u_intrinsics.w);
  o_a = floatBitsToUint(vec4(centre, cyy / det, -cxy / det));
  o_b = uvec4(floatBitsToUint(vec2(cxx / det, opacity)), packHalf2x16(col.rg), packHalf2x16(vec2(col.b, 0.0)));
}`}
`;
}
