"""GLSL 3.30 sources of the splatting programs: the maths of avatar.splat.projection / sh /
reference.

Pass 1, preprocess (vertex shader only, transform feedback, one vertex per Gaussian in the order
of the index buffer): EWA projection with the frustum-clamped Jacobian, + LOW_PASS_PX2 on the
diagonal, conic, the opacity-aware radius and the reference's culling, SH colour for the view
direction; it writes one record per Gaussian (SPLAT_RECORD_*), including a footprint M with
M M^T = extent_sq cov2d (zero when culled). Pass 2, splat: one instanced triangle per record,
the image under M of an equilateral triangle around the unit circle, so it covers the whole
alpha >= ALPHA_MIN ellipse; its fragment shader evaluates alpha = min(ALPHA_MAX, opacity
exp(power)) at the pixel centre, discards where power > 0 or alpha < ALPHA_MIN, and writes
premultiplied (alpha colour, alpha) and (alpha depth, 0, 0, alpha), so ONE, ONE_MINUS_SRC_ALPHA
blending in back-to-front order gives the reference's front-to-back sums.

Why this shape: software OpenGL (llvmpipe) pays mostly per primitive, then per covered pixel, so
one triangle fitted to the ellipse beats quads from a geometry shader, radius-sized squares and
two-triangle parallelograms (the timings: docs/results.md, "gl splatting").

Per-Gaussian inputs of pass 1: in_mean_opacity (x, y, z, opacity), in_quat (w, x, y, z),
in_scale, then the SH coefficients flattened coefficient-major (sh[k, c] at 3 k + c) and packed
four floats per attribute in_sh0, in_sh1, ...
"""

from __future__ import annotations

import math

from avatar.splat.projection import ALPHA_MIN, LOW_PASS_PX2
from avatar.splat.reference import ALPHA_MAX
from avatar.splat.sh import SH_C0, SH_C1, SH_C2, SH_C3

# Pass 1 output = pass 2 per-instance input: mean2d, depth | conic, opacity | colour | footprint.
SPLAT_RECORD_VARYINGS = ("v_mean_depth", "v_conic_opacity", "v_colour", "v_footprint")
SPLAT_RECORD_FORMAT = "3f 4f 3f 3f/i"
SPLAT_RECORD_BYTES = 13 * 4
SPLAT_RECORD_ATTRIBUTES = ("in_mean_depth", "in_conic_opacity", "in_colour", "in_footprint")
FOOTPRINT_SLACK = 1e-3  # relative: float rounding never leaves a pixel with alpha >= ALPHA_MIN uncovered


def sh_attribute_count(num_coeffs: int) -> int:
    """vec4 attributes holding K coefficients x 3 channels."""
    return math.ceil(3 * num_coeffs / 4)


def vertex_format(num_coeffs: int) -> tuple[str, list[str]]:
    """moderngl buffer format and attribute names, in the packing order of the vertex buffer."""
    count = sh_attribute_count(num_coeffs)
    fmt = " ".join(["4f", "4f", "3f"] + ["4f"] * count)
    return fmt, ["in_mean_opacity", "in_quat", "in_scale"] + [f"in_sh{i}" for i in range(count)]


def preprocess_shader(sh_degree: int) -> str:
    """Pass 1's vertex shader specialised to one SH degree (its attribute count depends on it)."""
    num_coeffs = (sh_degree + 1) ** 2
    declarations = "\n".join(f"in vec4 in_sh{i};" for i in range(sh_attribute_count(num_coeffs)))
    # Coefficient k, channel c sits at float 3 k + c of the packed attributes.
    component = lambda i: f"in_sh{i // 4}.{'xyzw'[i % 4]}"  # noqa: E731
    gathers = "\n".join(f"    c[{k}] = vec3({component(3 * k)}, {component(3 * k + 1)}, {component(3 * k + 2)});"
                        for k in range(num_coeffs))
    return _VERTEX_TEMPLATE.format(
        sh_degree=sh_degree, num_coeffs=num_coeffs, sh_declarations=declarations, sh_gathers=gathers,
        low_pass=_f(LOW_PASS_PX2), slack=_f(FOOTPRINT_SLACK), alpha_min=_f(ALPHA_MIN), c0=_f(SH_C0), c1=_f(SH_C1),
        c2=[_f(v) for v in SH_C2], c3=[_f(v) for v in SH_C3])


def splat_vertex_shader() -> str:
    return _SPLAT_VERTEX


def fragment_shader() -> str:
    return _FRAGMENT.format(alpha_min=_f(ALPHA_MIN), alpha_max=_f(ALPHA_MAX))


def _f(value: float) -> str:
    """A GLSL float literal with every digit Python keeps (the compiler rounds it to float32)."""
    return repr(float(value))


_VERTEX_TEMPLATE = """#version 330 core
#define SH_DEGREE {sh_degree}
in vec4 in_mean_opacity;
in vec4 in_quat;
in vec3 in_scale;
{sh_declarations}

uniform mat3 u_rot_wc;      // world -> camera rotation
uniform vec3 u_trans_wc;    // world -> camera translation
uniform vec4 u_intrinsics;  // fx, fy, cx, cy
uniform vec4 u_tan_limits;  // Jacobian clamp of t.x/t.z and t.y/t.z: -x, +x, -y, +y limits
uniform vec2 u_near_far;
uniform vec2 u_image_size;  // camera width, height
uniform vec3 u_cam_pos;

out vec3 v_mean_depth;  // mean2d (pixels), camera-space depth
out vec4 v_conic_opacity;
out vec3 v_colour;
out vec3 v_footprint;  // lower-triangular M (m00, m10, m11), M M^T = extent_sq cov2d; 0 when culled

mat3 quat_to_rotmat(vec4 quat) {{
    vec4 q = quat / length(quat);
    float w = q.x, x = q.y, y = q.z, z = q.w;
    // Columns of the matrix whose rows avatar.splat.projection.quat_to_rotmat lists.
    return mat3(1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y),
                2.0 * (x * y - w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + w * x),
                2.0 * (x * z + w * y), 2.0 * (y * z - w * x), 1.0 - 2.0 * (x * x + y * y));
}}

vec3 sh_colour(vec3 dir) {{
    vec3 c[{num_coeffs}];
{sh_gathers}
    vec3 d = dir / max(length(dir), 1e-12);
    float x = d.x, y = d.y, z = d.z;
    vec3 value = {c0} * c[0];
#if SH_DEGREE >= 1
    value += -{c1} * y * c[1] + {c1} * z * c[2] - {c1} * x * c[3];
#endif
#if SH_DEGREE >= 2
    float xx = x * x, yy = y * y, zz = z * z;
    value += {c2[0]} * x * y * c[4] + {c2[1]} * y * z * c[5] + {c2[2]} * (2.0 * zz - xx - yy) * c[6]
           + {c2[3]} * x * z * c[7] + {c2[4]} * (xx - yy) * c[8];
#endif
#if SH_DEGREE >= 3
    value += {c3[0]} * y * (3.0 * xx - yy) * c[9] + {c3[1]} * x * y * z * c[10]
           + {c3[2]} * y * (4.0 * zz - xx - yy) * c[11] + {c3[3]} * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * c[12]
           + {c3[4]} * x * (4.0 * zz - xx - yy) * c[13] + {c3[5]} * z * (xx - yy) * c[14]
           + {c3[6]} * x * (xx - 3.0 * yy) * c[15];
#endif
    return max(value + 0.5, 0.0);
}}

void main() {{
    vec3 mean = in_mean_opacity.xyz;
    float opacity = in_mean_opacity.w;
    vec3 t = u_rot_wc * mean + u_trans_wc;
    bool in_range = t.z > u_near_far.x && t.z <= u_near_far.y;
    float z = in_range ? t.z : 1.0;  // safe divisor, as the reference
    float fx = u_intrinsics.x, fy = u_intrinsics.y;
    float tx = z * min(max(t.x / z, -u_tan_limits.x), u_tan_limits.y);
    float ty = z * min(max(t.y / z, -u_tan_limits.z), u_tan_limits.w);
    vec3 jac_x = vec3(fx / z, 0.0, -fx * tx / (z * z));
    vec3 jac_y = vec3(0.0, fy / z, -fy * ty / (z * z));
    // Rows of A = J R_wc R S; cov2d = A A^T.
    mat3 rot = quat_to_rotmat(in_quat);
    vec3 a_x = (jac_x * u_rot_wc * rot) * in_scale;
    vec3 a_y = (jac_y * u_rot_wc * rot) * in_scale;
    float cxx = dot(a_x, a_x) + {low_pass};
    float cxy = dot(a_x, a_y);
    float cyy = dot(a_y, a_y) + {low_pass};
    float det = cxx * cyy - cxy * cxy;
    vec2 mean2d = vec2(fx * t.x / z + u_intrinsics.z, fy * t.y / z + u_intrinsics.w);

    // Opacity-aware radius: alpha >= ALPHA_MIN only inside d^T conic d <= extent_sq.
    float extent_sq = 2.0 * log(max(opacity, {alpha_min}) / {alpha_min});
    float mid = 0.5 * (cxx + cyy);
    float lambda_max = mid + sqrt(max(mid * mid - det, 0.0));
    float radius = ceil(sqrt(extent_sq * lambda_max));
    bool inside = mean2d.x + radius > 0.0 && mean2d.x - radius < u_image_size.x
               && mean2d.y + radius > 0.0 && mean2d.y - radius < u_image_size.y;
    bool keep = in_range && opacity >= {alpha_min} && inside && !isinf(radius) && !isnan(radius);

    // Cholesky factor of cov2d (cxx >= LOW_PASS_PX2 > 0): M maps the unit circle onto the alpha ellipse.
    float l00 = sqrt(cxx);
    float l10 = cxy / l00;
    float l11 = sqrt(max(cyy - l10 * l10, 0.0));
    // A culled Gaussian becomes a zero-area triangle at the origin (finite even for NaN inputs).
    v_mean_depth = keep ? vec3(mean2d, t.z) : vec3(0.0);
    v_footprint = keep ? (1.0 + {slack}) * sqrt(extent_sq) * vec3(l00, l10, l11) : vec3(0.0);
    v_conic_opacity = vec4(cyy / det, -cxy / det, cxx / det, opacity);
    v_colour = sh_colour(mean - u_cam_pos);
}}
"""

_SPLAT_VERTEX = """#version 330 core
uniform vec2 u_image_size;
uniform bool u_flip_y;  // true: image row 0 at the top of the viewport (on screen)

in vec3 in_mean_depth;
in vec4 in_conic_opacity;
in vec3 in_colour;
in vec3 in_footprint;

flat out vec3 f_mean_depth;
flat out vec4 f_conic_opacity;
flat out vec3 f_colour;

// An equilateral triangle around the unit circle (inradius 1).
const vec2 CORNERS[3] = vec2[](vec2(0.0, -2.0), vec2(1.7320508, 1.0), vec2(-1.7320508, 1.0));

void main() {
    // Its image under M circumscribes the alpha ellipse; M = 0 (culled) gives no fragments.
    vec2 corner = CORNERS[gl_VertexID];
    vec2 offset = vec2(in_footprint.x * corner.x, in_footprint.y * corner.x + in_footprint.z * corner.y);
    vec2 ndc = 2.0 * (in_mean_depth.xy + offset) / u_image_size - 1.0;
    gl_Position = vec4(ndc.x, u_flip_y ? -ndc.y : ndc.y, 0.0, 1.0);
    f_mean_depth = in_mean_depth;
    f_conic_opacity = in_conic_opacity;
    f_colour = in_colour;
}
"""

_FRAGMENT = """#version 330 core
uniform vec4 u_viewport;  // x, y, width, height of the target rectangle in window pixels
uniform bool u_flip_y;

flat in vec3 f_mean_depth;
flat in vec4 f_conic_opacity;
flat in vec3 f_colour;

layout(location = 0) out vec4 out_colour;  // premultiplied (alpha colour, alpha)
layout(location = 1) out vec4 out_depth;   // (alpha depth, 0, 0, alpha): blends like the colour

void main() {{
    // gl_FragCoord is the pixel centre (i + 0.5) in window coordinates, y up.
    vec2 pixel = gl_FragCoord.xy - u_viewport.xy;
    if (u_flip_y) {{
        pixel.y = u_viewport.w - pixel.y;
    }}
    vec2 d = pixel - f_mean_depth.xy;
    vec3 conic = f_conic_opacity.xyz;
    float power = -0.5 * (conic.x * d.x * d.x + conic.z * d.y * d.y) - conic.y * d.x * d.y;
    if (power > 0.0) {{
        discard;
    }}
    float alpha = min({alpha_max}, f_conic_opacity.w * exp(power));
    if (alpha < {alpha_min}) {{
        discard;
    }}
    out_colour = vec4(alpha * f_colour, alpha);
    out_depth = vec4(alpha * f_mean_depth.z, 0.0, 0.0, alpha);
}}
"""
