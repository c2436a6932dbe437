// GLSL of the splat renderer. The projection is avatar/splat/projection.py's (EWA with the
// Jacobian's clamp to the widened frustum, 0.3 px^2 low-pass); each fragment composites as
// avatar/splat/reference.py's rasterizer: alpha = min(0.99, opacity exp(power)), nothing where
// power > 0 or alpha < 1/255. Splats arrive sorted back to front and blend premultiplied
// (ONE, ONE_MINUS_SRC_ALPHA), which sums the same weights as the engine's front-to-back loop.

export const SPLAT_VERTEX = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;

uniform usampler2D u_splats;   // 2 RGBA32UI texels per Gaussian (splats.js), 2048 texels a row
uniform usampler2D u_order;    // R32UI: the Gaussians to draw, back to front, 2048 a row
uniform vec4 u_view[3];        // rows of the world-to-camera transform
uniform vec4 u_intrinsics;     // fx, fy, cx, cy (pixels)
uniform vec4 u_limits;         // the Jacobian's clamp on x / z and y / z: -x, +x, -y, +y
uniform vec2 u_size;           // width, height (pixels)

flat out vec3 v_colour;
flat out float v_opacity;
flat out vec3 v_conic;
flat out vec2 v_centre;

const float LOW_PASS = 0.3;
const float ALPHA_MIN = 1.0 / 255.0;

uvec4 texel(int index) {
  return texelFetch(u_splats, ivec2(index & 2047, index >> 11), 0);
}

void main() {
  // Four vertices a splat, drawn through a fixed index buffer (two triangles each): vertex k is
  // corner k & 3 of the splat in draw slot k / 4. (Instanced quads cost 4-5 times as much under
  // SwiftShader.)
  int slot = gl_VertexID >> 2;
  vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1)) * 2.0 - 1.0;
  int splat = int(texelFetch(u_order, ivec2(slot & 2047, slot >> 11), 0).r);
  uvec4 a = texel(2 * splat);
  uvec4 b = texel(2 * splat + 1);
  vec3 mean = uintBitsToFloat(a.xyz);
  vec3 colour = vec3(float(a.w & 1023u), float((a.w >> 10) & 1023u), float((a.w >> 20) & 1023u)) / 511.5;
  vec4 q = vec4(unpackHalf2x16(b.x), unpackHalf2x16(b.y));  // w, x, y, z
  q /= length(q);
  vec2 sxy = unpackHalf2x16(b.z), szo = unpackHalf2x16(b.w);
  vec3 s = vec3(sxy, szo.x) * 1e-3;
  float opacity = szo.y;

  vec3 t = vec3(dot(u_view[0].xyz, mean) + u_view[0].w, dot(u_view[1].xyz, mean) + u_view[1].w,
                dot(u_view[2].xyz, mean) + u_view[2].w);
  float z = t.z;
  float w = q.x, x = q.y, y = q.z, k = q.w;
  // columns of R S (R of the quaternion, as quat_to_rotmat)
  vec3 c0 = vec3(1.0 - 2.0 * (y * y + k * k), 2.0 * (x * y + w * k), 2.0 * (x * k - w * y)) * s.x;
  vec3 c1 = vec3(2.0 * (x * y - w * k), 1.0 - 2.0 * (x * x + k * k), 2.0 * (y * k + w * x)) * s.y;
  vec3 c2 = vec3(2.0 * (x * k + w * y), 2.0 * (y * k - w * x), 1.0 - 2.0 * (x * x + y * y)) * s.z;
  // W R S, row by row
  vec3 r0 = vec3(dot(u_view[0].xyz, c0), dot(u_view[0].xyz, c1), dot(u_view[0].xyz, c2));
  vec3 r1 = vec3(dot(u_view[1].xyz, c0), dot(u_view[1].xyz, c1), dot(u_view[1].xyz, c2));
  vec3 r2 = vec3(dot(u_view[2].xyz, c0), dot(u_view[2].xyz, c1), dot(u_view[2].xyz, c2));
  float fx = u_intrinsics.x, fy = u_intrinsics.y;
  float tx = z * clamp(t.x / z, -u_limits.x, u_limits.y);
  float ty = z * clamp(t.y / z, -u_limits.z, u_limits.w);
  vec3 a0 = (fx / z) * r0 - (fx * tx / (z * z)) * r2;
  vec3 a1 = (fy / z) * r1 - (fy * ty / (z * z)) * r2;
  float cxx = dot(a0, a0) + LOW_PASS, cxy = dot(a0, a1), cyy = dot(a1, a1) + LOW_PASS;
  float det = cxx * cyy - cxy * cxy;
  v_conic = vec3(cyy / det, -cxy / det, cxx / det);
  v_centre = vec2(fx * t.x / z + u_intrinsics.z, fy * t.y / z + u_intrinsics.w);
  v_colour = colour;
  v_opacity = opacity;
  // The quad: the ellipse where alpha reaches 1/255 (d^T conic d <= extent), along its own axes
  // (eigenvectors of the covariance), plus a pixel; a thin splat then costs what it covers.
  float extent = 2.0 * log(max(opacity, ALPHA_MIN) / ALPHA_MIN);
  float mid = 0.5 * (cxx + cyy);
  float spread = sqrt(max(mid * mid - det, 0.0));
  float major = mid + spread, minor = max(mid - spread, 0.0);
  vec2 axis = abs(cxy) > 1e-9 * major ? normalize(vec2(cxy, major - cxx)) : (cxx >= cyy ? vec2(1.0, 0.0) : vec2(0.0, 1.0));
  vec2 pixel = v_centre + (corner.x * (sqrt(extent * major) + 1.0)) * axis
                        + (corner.y * (sqrt(extent * minor) + 1.0)) * vec2(-axis.y, axis.x);
  gl_Position = vec4(2.0 * pixel.x / u_size.x - 1.0, 1.0 - 2.0 * pixel.y / u_size.y, 0.0, 1.0);
}
`;

export const SPLAT_FRAGMENT = `#version 300 es
precision highp float;

uniform vec2 u_size;

flat in vec3 v_colour;
flat in float v_opacity;
flat in vec3 v_conic;
flat in vec2 v_centre;

out vec4 o_colour;

void main() {
  vec2 d = vec2(gl_FragCoord.x, u_size.y - gl_FragCoord.y) - v_centre;  // pixel centre, rows from the top
  float power = -0.5 * (v_conic.x * d.x * d.x + v_conic.z * d.y * d.y) - v_conic.y * d.x * d.y;
  if (power > 0.0) discard;
  float alpha = min(0.99, v_opacity * exp(power));
  if (alpha < 1.0 / 255.0) discard;
  o_colour = vec4(v_colour * alpha, alpha);
}
`;

// The accumulated splats over the background, and the cut: pixels it removes show the background.
export const COMPOSITE_VERTEX = `#version 300 es
in vec2 a_corner;
void main() { gl_Position = vec4(a_corner, 0.0, 1.0); }
`;

export const COMPOSITE_FRAGMENT = `#version 300 es
precision highp float;

uniform sampler2D u_accumulated;
uniform sampler2D u_region;    // R8, rows from the top: 1 (read as 1 / 255) where the cut keeps the pixel
uniform bool u_has_region;
uniform bool u_cut_only;       // the splats are already over the background (8-bit canvas): only cut
uniform vec3 u_background;
uniform bool u_transparent;    // no background: premultiplied colour and coverage, 0 where the cut removes
uniform vec2 u_size;

out vec4 o_colour;

void main() {
  ivec2 pixel = ivec2(gl_FragCoord.xy);
  bool removed = u_has_region && texelFetch(u_region, ivec2(pixel.x, int(u_size.y) - 1 - pixel.y), 0).r == 0.0;
  if (u_cut_only) {
    if (!removed) discard;
    o_colour = u_transparent ? vec4(0.0) : vec4(u_background, 1.0);
    return;
  }
  vec4 sum = texelFetch(u_accumulated, pixel, 0);
  if (u_transparent) {
    float a = removed ? 0.0 : clamp(sum.a, 0.0, 1.0);
    o_colour = vec4(clamp(sum.rgb, 0.0, a), a);
    return;
  }
  vec3 rgb = removed ? u_background : sum.rgb + (1.0 - sum.a) * u_background;
  o_colour = vec4(clamp(rgb, 0.0, 1.0), 1.0);
}
`;
