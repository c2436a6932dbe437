// GLSL of the splat renderer. The splats come projected (gpu/gaussian_shaders.js: EWA with the
// Jacobian's clamp to the widened frustum, 0.3 px^2 low-pass, as avatar/splat/projection.py); each
// fragment composites as
// avatar/splat/reference.py's rasterizer: alpha = min(0.99, opacity exp(power)), nothing where
// power > 0 or alpha < 1/255. Splats arrive sorted back to front and blend premultiplied
// (ONE, ONE_MINUS_SRC_ALPHA), which sums the same weights as the engine's front-to-back loop.

export const SPLAT_VERTEX = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;

uniform usampler2D u_a;        // the splats (gpu/gaussian_shaders.js), a texel each, 2048 a row:
uniform usampler2D u_b;        // centre, conic, opacity, colour
uniform usampler2D u_order;    // R32UI: the splats to draw, back to front, 2048 a row
uniform vec2 u_size;           // width, height (pixels)

flat out vec3 v_colour;
flat out float v_opacity;
flat out vec3 v_conic;
flat out vec2 v_centre;

const float ALPHA_MIN = 1.0 / 255.0;
const vec2 QUAD_MARGIN = vec2(1.001, 0.05);  // scale, pixels: the rounding of the sizes and corners

void main() {
  // Four vertices a splat, drawn through a fixed index buffer (two triangles each): vertex k is
  // corner k & 3 of the splat in draw slot k / 4. (Instanced quads cost 4-5 times as much under
  // SwiftShader.)
  int slot = gl_VertexID >> 2;
  vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1)) * 2.0 - 1.0;
  int splat = int(texelFetch(u_order, ivec2(slot & 2047, slot >> 11), 0).r);
  ivec2 at = ivec2(splat & 2047, splat >> 11);
  vec4 a = uintBitsToFloat(texelFetch(u_a, at, 0));
  uvec4 b = texelFetch(u_b, at, 0);
  v_centre = a.xy;
  v_conic = vec3(a.zw, uintBitsToFloat(b.x));
  v_opacity = uintBitsToFloat(b.y);
  v_colour = vec3(unpackHalf2x16(b.z), unpackHalf2x16(b.w).x);
  // The quad: the ellipse where alpha reaches 1/255 (d^T conic d <= extent; every pixel outside
  // it is discarded), along its own axes (the covariance's eigenvectors: the conic's), widened
  // by QUAD_MARGIN; a thin splat then costs what it covers.
  float extent = 2.0 * log(max(v_opacity, ALPHA_MIN) / ALPHA_MIN);
  float det = 1.0 / (v_conic.x * v_conic.z - v_conic.y * v_conic.y);
  float cxx = v_conic.z * det, cxy = -v_conic.y * det, cyy = v_conic.x * det;  // the covariance
  float mid = 0.5 * (cxx + cyy);
  float spread = sqrt(max(mid * mid - det, 0.0));
  float major = mid + spread, minor = max(mid - spread, 0.0);
  vec2 axis = abs(cxy) > 1e-9 * major ? normalize(vec2(cxy, major - cxx)) : (cxx >= cyy ? vec2(1.0, 0.0) : vec2(0.0, 1.0));
  vec2 half_size = QUAD_MARGIN.x * sqrt(extent * vec2(major, minor)) + QUAD_MARGIN.y;
  vec2 pixel = v_centre + (corner.x * half_size.x) * axis + (corner.y * half_size.y) * vec2(-axis.y, axis.x);
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

precision highp isampler2D;
precision highp usampler2D;

uniform sampler2D u_accumulated;
uniform isampler2D u_spans;    // RGBA32I [H], rows from the top: the columns on the head's side of
                               // the neck ring's line, then of the sides' line (gpu/cut_gpu.js)
uniform usampler2D u_grown;    // R8UI, GL rows: the rig's pixels grown by the neck margin
uniform int u_cut;             // 0: none, 1: the neck line alone (hanging hair), 2: lines and pixels
uniform bool u_cut_only;       // the splats are already over the background (8-bit canvas): only cut
uniform bool u_show_region;    // the tests: white where the cut keeps the pixel, black elsewhere
uniform vec3 u_background;
uniform bool u_transparent;    // no background: premultiplied colour and coverage, 0 where the cut removes
uniform vec2 u_size;

out vec4 o_colour;

bool kept(ivec2 pixel) {
  if (u_cut == 0) return true;
  ivec4 span = texelFetch(u_spans, ivec2(int(u_size.y) - 1 - pixel.y, 0), 0);
  if (pixel.x < span.x || pixel.x > span.y) return false;
  return u_cut == 1 || (pixel.x >= span.z && pixel.x <= span.w) || texelFetch(u_grown, pixel, 0).r != 0u;
}

void main() {
  ivec2 pixel = ivec2(gl_FragCoord.xy);
  bool removed = !kept(pixel);
  if (u_show_region) {
    o_colour = removed ? vec4(0.0, 0.0, 0.0, 1.0) : vec4(1.0);
    return;
  }
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
