// The avatar web player, built from web/src by `npm run build` (esbuild): edit the sources, not this file.
(() => {
  // src/camera.js
  var FRAMING_FOV_Y_DEG = 20;
  var FRAMING = 1.15;
  function intrinsics(width, height, fovYDeg) {
    const f = 0.5 * height / Math.tan(fovYDeg * Math.PI / 360);
    return [f, 0, width / 2, 0, f, height / 2, 0, 0, 1];
  }
  function lookAt(eye, target, width, height, fovYDeg = FRAMING_FOV_Y_DEG, up = [0, 1, 0]) {
    const z = unit(sub(target, eye));
    const x = unit(cross(z, up));
    const y = cross(z, x);
    const w2c = [x[0], x[1], x[2], -dot(x, eye), y[0], y[1], y[2], -dot(y, eye), z[0], z[1], z[2], -dot(z, eye), 0, 0, 0, 1];
    return { K: intrinsics(width, height, fovYDeg), w2c, width, height, near: 0.01, far: 100 };
  }
  function orbit(angleDeg, elevationDeg, distance, target, width, height, fovYDeg = FRAMING_FOV_Y_DEG) {
    const a = angleDeg * Math.PI / 180, e = elevationDeg * Math.PI / 180;
    const eye = [
      target[0] + distance * Math.sin(a) * Math.cos(e),
      target[1] + distance * Math.sin(e),
      target[2] + distance * Math.cos(a) * Math.cos(e)
    ];
    return lookAt(eye, target, width, height, fovYDeg);
  }
  function framingDistance(extent, fovYDeg = FRAMING_FOV_Y_DEG) {
    return FRAMING * extent / (2 * Math.tan(fovYDeg * Math.PI / 360));
  }
  function cameraPosition(camera) {
    const m = camera.w2c;
    return [0, 1, 2].map((c) => -(m[c] * m[3] + m[4 + c] * m[7] + m[8 + c] * m[11]));
  }
  function sub(a, b) {
    return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
  }
  function dot(a, b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  }
  function cross(a, b) {
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  }
  function unit(v) {
    const n = Math.hypot(v[0], v[1], v[2]);
    return [v[0] / n, v[1] / n, v[2] / n];
  }

  // src/gl/shaders.js
  var SPLAT_VERTEX = `#version 300 es
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
  var SPLAT_FRAGMENT = `#version 300 es
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
  var COMPOSITE_VERTEX = `#version 300 es
in vec2 a_corner;
void main() { gl_Position = vec4(a_corner, 0.0, 1.0); }
`;
  var COMPOSITE_FRAGMENT = `#version 300 es
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

  // src/gl/renderer.js
  var ROW_TEXELS = 2048;
  var FRUSTUM_MARGIN = 0.3;
  var SplatRenderer = class {
    /** target: "auto" (the most precise the browser blends into), or "rgba16f" / "rgba8" to
     * force a lesser one (as on browsers without float blending). transparent: no background, the
     * canvas holds premultiplied colour and the avatar's coverage (0 outside it and below the cut). */
    constructor(canvas, target = "auto", transparent = false) {
      const gl = canvas.getContext("webgl2", {
        antialias: false,
        alpha: transparent,
        depth: false,
        stencil: false,
        premultipliedAlpha: transparent,
        preserveDrawingBuffer: false,
        powerPreference: "high-performance"
      });
      this.transparent = transparent;
      if (!gl) throw new Error("this browser has no WebGL2");
      this.gl = gl;
      this.canvas = canvas;
      this.splatProgram = program(gl, SPLAT_VERTEX, SPLAT_FRAGMENT);
      this.compositeProgram = program(gl, COMPOSITE_VERTEX, COMPOSITE_FRAGMENT);
      this.target = chooseTarget(gl, target);
      this.quad = gl.createBuffer();
      gl.bindBuffer(gl.ARRAY_BUFFER, this.quad);
      gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
      this.splatTexture = null;
      this.splatRows = 0;
      this.orderTexture = null;
      this.orderRows = 0;
      this.regionTexture = gl.createTexture();
      this.framebuffer = null;
      this.size = [0, 0];
      this.timer = gl.getExtension("EXT_disjoint_timer_query_webgl2");
      this.queries = [];
      this.gpuMs = null;
    }
    /** Draws the packed splats (words, every Gaussian's) in `order` (back to front) seen by camera
     * over background [3], with the cut's region [H * W] (or null). */
    draw(words, order, region, camera, background) {
      const count = order.length;
      const gl = this.gl;
      const { width, height } = camera;
      if (this.canvas.width !== width || this.canvas.height !== height) {
        this.canvas.width = width;
        this.canvas.height = height;
      }
      this.prepareTargets(width, height);
      this.collectTimings();
      const query = this.timer && this.queries.length < 4 ? gl.createQuery() : null;
      if (query) gl.beginQuery(this.timer.TIME_ELAPSED_EXT, query);
      this.splatTexture = this.upload(this.splatTexture, "splatRows", gl.RGBA32UI, gl.RGBA_INTEGER, 4, words);
      this.orderTexture = this.upload(this.orderTexture, "orderRows", gl.R32UI, gl.RED_INTEGER, 1, order);
      if (region) this.uploadRegion(region, width, height);
      const direct = this.framebuffer === null;
      gl.bindFramebuffer(gl.FRAMEBUFFER, this.framebuffer);
      gl.viewport(0, 0, width, height);
      if (direct && !this.transparent) gl.clearColor(background[0], background[1], background[2], 1);
      else gl.clearColor(0, 0, 0, 0);
      gl.clear(gl.COLOR_BUFFER_BIT);
      gl.enable(gl.BLEND);
      gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
      const p = this.splatProgram;
      gl.useProgram(p);
      setCameraUniforms(gl, p, camera);
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, this.splatTexture);
      gl.uniform1i(gl.getUniformLocation(p, "u_splats"), 0);
      gl.activeTexture(gl.TEXTURE1);
      gl.bindTexture(gl.TEXTURE_2D, this.orderTexture);
      gl.uniform1i(gl.getUniformLocation(p, "u_order"), 1);
      this.bindQuadIndices(count);
      gl.drawElements(gl.TRIANGLES, 6 * count, gl.UNSIGNED_INT, 0);
      gl.bindFramebuffer(gl.FRAMEBUFFER, null);
      gl.disable(gl.BLEND);
      if (!direct || region) this.composite(direct, region, width, height, background);
      if (query) {
        gl.endQuery(this.timer.TIME_ELAPSED_EXT);
        this.queries.push(query);
      }
    }
    /** The GPU times of earlier frames that are ready (this.gpuMs: the newest). */
    collectTimings() {
      const gl = this.gl;
      while (this.queries.length && gl.getQueryParameter(this.queries[0], gl.QUERY_RESULT_AVAILABLE)) {
        const query = this.queries.shift();
        if (!gl.getParameter(this.timer.GPU_DISJOINT_EXT)) this.gpuMs = gl.getQueryParameter(query, gl.QUERY_RESULT) / 1e6;
        gl.deleteQuery(query);
      }
    }
    /** The accumulated splats over the background, with the cut (direct: only the cut). */
    composite(direct, region, width, height, background) {
      const gl = this.gl;
      const c = this.compositeProgram;
      gl.useProgram(c);
      gl.uniform1i(gl.getUniformLocation(c, "u_cut_only"), direct ? 1 : 0);
      gl.uniform2f(gl.getUniformLocation(c, "u_size"), width, height);
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, direct ? null : this.accumulated);
      gl.uniform1i(gl.getUniformLocation(c, "u_accumulated"), 0);
      gl.activeTexture(gl.TEXTURE1);
      gl.bindTexture(gl.TEXTURE_2D, this.regionTexture);
      gl.uniform1i(gl.getUniformLocation(c, "u_region"), 1);
      gl.uniform1i(gl.getUniformLocation(c, "u_has_region"), region ? 1 : 0);
      gl.uniform3fv(gl.getUniformLocation(c, "u_background"), background);
      gl.uniform1i(gl.getUniformLocation(c, "u_transparent"), this.transparent ? 1 : 0);
      bindCorners(gl, c, this.quad);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    }
    /** The canvas's pixels [H * W * 4] (RGBA, rows from the top) as last drawn (call in the same
     * task as draw: the canvas keeps no copy). */
    readPixels() {
      const gl = this.gl, { width, height } = this.canvas;
      const bottomUp = new Uint8Array(width * height * 4);
      gl.readPixels(0, 0, width, height, gl.RGBA, gl.UNSIGNED_BYTE, bottomUp);
      const out = new Uint8Array(bottomUp.length);
      const row2 = width * 4;
      for (let y = 0; y < height; ++y) out.set(bottomUp.subarray((height - 1 - y) * row2, (height - y) * row2), y * row2);
      return out;
    }
    prepareTargets(width, height) {
      const gl = this.gl;
      if (this.size[0] === width && this.size[1] === height) return;
      this.size = [width, height];
      if (this.target.internal === null) return;
      if (!this.framebuffer) {
        this.framebuffer = gl.createFramebuffer();
        this.accumulated = gl.createTexture();
      }
      gl.bindTexture(gl.TEXTURE_2D, this.accumulated);
      gl.texImage2D(gl.TEXTURE_2D, 0, this.target.internal, width, height, 0, gl.RGBA, this.target.type, null);
      nearest(gl);
      gl.bindFramebuffer(gl.FRAMEBUFFER, this.framebuffer);
      gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, this.accumulated, 0);
      gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    }
    /** `data` (channels values a texel) into an integer texture ROW_TEXELS wide, made anew where
     * it has too few rows; returns the texture. */
    upload(texture, rowsKey, internal, format, channels, data) {
      const gl = this.gl;
      const rows = Math.max(1, Math.ceil(data.length / channels / ROW_TEXELS));
      if (!texture || rows > this[rowsKey]) {
        if (texture) gl.deleteTexture(texture);
        texture = gl.createTexture();
        this[rowsKey] = rows;
        gl.bindTexture(gl.TEXTURE_2D, texture);
        gl.texStorage2D(gl.TEXTURE_2D, 1, internal, ROW_TEXELS, rows);
        nearest(gl);
      }
      if (data.length === 0) return texture;
      gl.bindTexture(gl.TEXTURE_2D, texture);
      const full = Math.floor(data.length / channels / ROW_TEXELS);
      if (full) gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, ROW_TEXELS, full, format, gl.UNSIGNED_INT, data, 0);
      const rest = data.length / channels - full * ROW_TEXELS;
      if (rest) {
        gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, full, rest, 1, format, gl.UNSIGNED_INT, data, full * ROW_TEXELS * channels);
      }
      return texture;
    }
    /** The index buffer of `count` quads (0 1 2, 2 1 3 for each four vertices), grown as needed. */
    bindQuadIndices(count) {
      const gl = this.gl;
      if (!this.indices || this.indexCapacity < count) {
        this.indexCapacity = Math.max(count, 2 * (this.indexCapacity || 0));
        const data = new Uint32Array(6 * this.indexCapacity);
        for (let i = 0; i < this.indexCapacity; ++i) data.set([4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 2, 4 * i + 1, 4 * i + 3], 6 * i);
        this.indices = this.indices || gl.createBuffer();
        gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.indices);
        gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, data, gl.STATIC_DRAW);
      }
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.indices);
    }
    uploadRegion(region, width, height) {
      const gl = this.gl;
      gl.bindTexture(gl.TEXTURE_2D, this.regionTexture);
      gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.R8, width, height, 0, gl.RED, gl.UNSIGNED_BYTE, region);
      nearest(gl);
    }
  };
  function chooseTarget(gl, wanted) {
    const floatBuffer = gl.getExtension("EXT_color_buffer_float");
    if (wanted === "auto" && floatBuffer && gl.getExtension("EXT_float_blend")) {
      return { internal: gl.RGBA32F, type: gl.FLOAT, name: "rgba32f" };
    }
    if (wanted !== "rgba8" && (floatBuffer || gl.getExtension("EXT_color_buffer_half_float"))) {
      return { internal: gl.RGBA16F, type: gl.HALF_FLOAT, name: "rgba16f" };
    }
    return { internal: null, type: null, name: "rgba8 (canvas)" };
  }
  function setCameraUniforms(gl, p, camera) {
    const m = camera.w2c, k = camera.K, { width, height } = camera;
    gl.uniform4fv(gl.getUniformLocation(p, "u_view"), [
      m[0],
      m[1],
      m[2],
      m[3],
      m[4],
      m[5],
      m[6],
      m[7],
      m[8],
      m[9],
      m[10],
      m[11]
    ]);
    const fx = k[0], fy = k[4], cx = k[2], cy = k[5];
    gl.uniform4f(gl.getUniformLocation(p, "u_intrinsics"), fx, fy, cx, cy);
    const tanX = 0.5 * width / fx, tanY = 0.5 * height / fy;
    gl.uniform4f(
      gl.getUniformLocation(p, "u_limits"),
      cx / fx + FRUSTUM_MARGIN * tanX,
      (width - cx) / fx + FRUSTUM_MARGIN * tanX,
      cy / fy + FRUSTUM_MARGIN * tanY,
      (height - cy) / fy + FRUSTUM_MARGIN * tanY
    );
    gl.uniform2f(gl.getUniformLocation(p, "u_size"), width, height);
  }
  function bindCorners(gl, p, buffer) {
    const location2 = gl.getAttribLocation(p, "a_corner");
    gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
    gl.enableVertexAttribArray(location2);
    gl.vertexAttribPointer(location2, 2, gl.FLOAT, false, 0, 0);
  }
  function nearest(gl) {
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  }
  function program(gl, vertexSource, fragmentSource) {
    const p = gl.createProgram();
    for (const [type, source] of [[gl.VERTEX_SHADER, vertexSource], [gl.FRAGMENT_SHADER, fragmentSource]]) {
      const s = gl.createShader(type);
      gl.shaderSource(s, source);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(`shader: ${gl.getShaderInfoLog(s)}`);
      gl.attachShader(p, s);
    }
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(`program: ${gl.getProgramInfoLog(p)}`);
    return p;
  }

  // src/params.js
  var FRAME_KEYS = [["jaw", 3], ["neck", 3], ["rotation", 3], ["eyes", 6], ["translation", 3]];
  function zeroParams(numExpr) {
    const params = { expr: new Array(numExpr).fill(0) };
    for (const [key, width] of FRAME_KEYS) params[key] = new Array(width).fill(0);
    return params;
  }
  function copyParams(params) {
    const out = { expr: Array.from(params.expr) };
    for (const [key] of FRAME_KEYS) out[key] = Array.from(params[key]);
    return out;
  }
  function rowWidth(numExpr) {
    return numExpr + FRAME_KEYS.reduce((sum, [, width]) => sum + width, 0);
  }
  var Sequence = class {
    /** rows: Float32Array [T * rowWidth(numExpr)]. */
    constructor(name, fps, numExpr, rows) {
      const width = rowWidth(numExpr);
      if (rows.length % width) throw new Error(`${name}: ${rows.length} values are not rows of ${width}`);
      this.name = name;
      this.fps = fps;
      this.numExpr = numExpr;
      this.rows = rows;
      this.width = width;
      this.frames = rows.length / width;
    }
    /** Frame t (clamped into the sequence) as params. */
    params(t) {
      const frame = Math.min(Math.max(Math.floor(t), 0), this.frames - 1);
      const row2 = this.rows.subarray(frame * this.width, (frame + 1) * this.width);
      const params = { expr: Array.from(row2.subarray(0, this.numExpr)) };
      let at = this.numExpr;
      for (const [key, width] of FRAME_KEYS) {
        params[key] = Array.from(row2.subarray(at, at + width));
        at += width;
      }
      return params;
    }
    /** The frame shown `seconds` after the start, looping. */
    frameAt(seconds) {
      return Math.floor(seconds * this.fps) % this.frames;
    }
  };
  function sequenceOf(name, fps, numExpr, frames) {
    const width = rowWidth(numExpr);
    const rows = new Float32Array(frames.length * width);
    frames.forEach((params, t) => {
      rows.set(params.expr, t * width);
      let at = t * width + numExpr;
      for (const [key, w] of FRAME_KEYS) {
        rows.set(params[key], at);
        at += w;
      }
    });
    return new Sequence(name, fps, numExpr, rows);
  }

  // src/livelink.js
  var MAX_ABS_VALUE = 1e4;
  var DEFAULT_FPS = 60;
  var TORSO_SECONDS = 1;
  var TIMECODE_RATES = [24, 25, 30, 48, 50, 60, 72, 90, 100, 120, 240];
  var TIMECODE = /^\s*(\d+):(\d+):(\d+)[:;.](\d+(?:\.\d*)?)\s*$/;
  var LiveLinkError = class extends Error {
    constructor(file, what, row2 = null, column = null) {
      const where = row2 === null ? "" : `, row ${row2}${column ? `, column '${column}'` : ""}`;
      super(`${file}${where}: ${what}`);
    }
  };
  function readLiveLinkCsv(text, file, columns) {
    const lines = parseCsv(text.replace(/^\uFEFF/, ""));
    if (!lines.length) throw new LiveLinkError(file, "empty file: no header row");
    const header = lines[0].fields;
    const byLower = /* @__PURE__ */ new Map();
    header.forEach((name, i) => {
      const key = name.trim().toLowerCase();
      if (!byLower.has(key)) byLower.set(key, i);
    });
    const missing = columns.filter((c) => !byLower.has(c.toLowerCase()));
    if (missing.length) {
      throw new LiveLinkError(file, `missing column${missing.length > 1 ? "s" : ""} ${missing.map((c) => `'${c}'`).join(", ")}`);
    }
    const index = columns.map((c) => byLower.get(c.toLowerCase()));
    const timecodeColumn = byLower.get("timecode");
    const rows = lines.slice(1).filter(({ fields }) => fields.some((f) => f.trim()));
    if (rows.length < 2) throw new LiveLinkError(file, `too few rows: ${rows.length} data row(s), need at least 2`);
    const values = new Float32Array(rows.length * columns.length);
    const timecodes = [];
    rows.forEach(({ fields, line }, r) => {
      if (fields.length < header.length) {
        throw new LiveLinkError(
          file,
          `row has ${fields.length} fields, the header has ${header.length}`,
          line,
          header[fields.length].trim()
        );
      }
      index.forEach((column, c) => {
        const text2 = fields[column];
        const value = text2.trim() === "" ? NaN : Number(text2);
        if (!Number.isFinite(value) || Math.abs(value) > MAX_ABS_VALUE) {
          throw new LiveLinkError(
            file,
            `not a finite number within \xB1${MAX_ABS_VALUE}: '${text2.trim()}'`,
            line,
            columns[c]
          );
        }
        values[r * columns.length + c] = value;
      });
      if (timecodeColumn !== void 0) {
        const text2 = fields[timecodeColumn];
        try {
          timecodeFields(text2);
        } catch (e) {
          throw new LiveLinkError(file, e.message, line, "Timecode");
        }
        timecodes.push(text2);
      }
    });
    return { fps: timecodes.length && fpsFromTimecodes(timecodes) || DEFAULT_FPS, values };
  }
  function parseCsv(text) {
    const out = [];
    let fields = [], field = "", quoted = false, line = 1, start = 1;
    for (let i = 0; i < text.length; ++i) {
      const ch = text[i];
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') {
          field += '"';
          ++i;
        } else if (ch === '"') quoted = false;
        else {
          if (ch === "\n") ++line;
          field += ch;
        }
      } else if (ch === '"') quoted = true;
      else if (ch === ",") {
        fields.push(field);
        field = "";
      } else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && text[i + 1] === "\n") ++i;
        fields.push(field);
        out.push({ fields, line: start });
        fields = [];
        field = "";
        ++line;
        start = line;
      } else field += ch;
    }
    if (field || fields.length) {
      fields.push(field);
      out.push({ fields, line: start });
    }
    return out;
  }
  function timecodeFields(text) {
    const match = TIMECODE.exec(text);
    if (!match) return null;
    const whole2 = [match[1], match[2], match[3], match[4].split(".")[0]];
    const limits = [24, 60, 60, TIMECODE_RATES[TIMECODE_RATES.length - 1]];
    const numbers = whole2.map((f) => f.replace(/^0+/, "").length <= 3 ? Number(f) : null);
    if (numbers.some((n, i) => n === null || n >= limits[i])) {
      throw new Error(`timecode '${text.trim()}' is out of range (HH:MM:SS:FF: hours below 24, minutes and seconds below 60, frames below ${limits[3]})`);
    }
    return [numbers[0], numbers[1], numbers[2], Number(match[4])];
  }
  function fpsFromTimecodes(timecodes) {
    const parsed = timecodes.map(timecodeFields);
    if (parsed.length < 2 || parsed.some((p) => !p)) return null;
    const seconds = parsed.map((p) => 3600 * p[0] + 60 * p[1] + p[2]);
    const frames = parsed.map((p) => p[3]);
    let rate = DEFAULT_FPS;
    if (new Set(seconds).size > 1) {
      const top = Math.floor(Math.max(...frames));
      rate = TIMECODE_RATES.find((r) => r > top);
      if (rate === void 0) return null;
    }
    let sum = 0, count = 0;
    for (let i = 1; i < parsed.length; ++i) {
      let step = seconds[i] + frames[i] / rate - (seconds[i - 1] + frames[i - 1] / rate);
      if (step < -43200) step += 86400;
      if (step > 0 && step < 0.5) {
        sum += step;
        ++count;
      }
    }
    if (!count) return null;
    const fps = count / sum;
    return fps >= 1 && fps <= 1e3 ? fps : null;
  }
  function eulerToAxisAngle(yaw, pitch, roll) {
    const about = (axis, angle) => {
      const q = [Math.cos(angle / 2), 0, 0, 0];
      q[1 + axis] = Math.sin(angle / 2);
      return q;
    };
    return quatToAxisAngle(multiply(multiply(about(1, -yaw), about(0, pitch)), about(2, -roll)));
  }
  function quatToAxisAngle(q) {
    if (q[0] < 0) q = q.map((v) => -v);
    const norm = Math.hypot(q[1], q[2], q[3]);
    const scale = norm > 1e-12 ? 2 * Math.atan2(norm, q[0]) / norm : 2 / q[0];
    return [q[1] * scale, q[2] * scale, q[3] * scale];
  }
  function axisAngleToQuat(v) {
    const angle = Math.hypot(v[0], v[1], v[2]);
    const s = angle > 1e-12 ? Math.sin(angle / 2) / angle : 0.5;
    return [Math.cos(angle / 2), v[0] * s, v[1] * s, v[2] * s];
  }
  var conjugate = (q) => [q[0], -q[1], -q[2], -q[3]];
  function slowTorso(frames, fps) {
    const share = 1 - Math.exp(-1 / (fps * TORSO_SECONDS));
    let torso = null;
    for (const params of frames) {
      const head = multiply(axisAngleToQuat(params.rotation), axisAngleToQuat(params.neck));
      if (torso === null) {
        torso = head;
      } else {
        const turn = quatToAxisAngle(multiply(conjugate(torso), head)).map((v) => share * v);
        torso = multiply(torso, axisAngleToQuat(turn));
      }
      params.rotation = quatToAxisAngle(torso);
      params.neck = quatToAxisAngle(multiply(conjugate(torso), head));
    }
    return frames;
  }
  function multiply(a, b) {
    return [
      a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
      a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
      a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
      a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0]
    ];
  }
  function liveLinkSequence(name, recording, mapping, numExpr, range) {
    const columns = mapping.columns.length;
    const jawOpen = mapping.jaw_open;
    const frames = [];
    for (let t = 0; t < recording.values.length / columns; ++t) {
      const row2 = recording.values.subarray(t * columns, (t + 1) * columns);
      const params = zeroParams(numExpr);
      for (let e = 0; e < numExpr; ++e) {
        let sum = 0;
        for (let a = 0; a < 52; ++a) sum += mapping.matrix[e * 52 + a] * row2[a];
        params.expr[e] = sum;
      }
      if (mapping.jaw_from_jawopen) params.jaw[0] = row2[jawOpen] * mapping.max_jaw_angle;
      params.rotation = eulerToAxisAngle(row2[52], row2[53], row2[54]);
      params.eyes = [...eulerToAxisAngle(row2[55], row2[56], row2[57]), ...eulerToAxisAngle(row2[58], row2[59], row2[60])];
      frames.push(range ? onto(params, range) : params);
    }
    return sequenceOf(name, recording.fps, numExpr, slowTorso(frames, recording.fps));
  }
  function onto(params, range) {
    const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
    params.expr = params.expr.map((v, e) => clamp(v + range.expr_neutral[e], range.expr_low[e], range.expr_high[e]));
    params.jaw = params.jaw.map((v, k) => clamp(v, range.jaw_low[k], range.jaw_high[k]));
    if (range.eyes_low) params.eyes = params.eyes.map((v, k) => clamp(v, range.eyes_low[k], range.eyes_high[k]));
    return params;
  }

  // src/stream.js
  var PROTOCOL_VERSION = 1;
  var RETRY_MS = 1e3;
  var ParamStream = class {
    /** onParams(params, message) for each frame; onStatus(text, state) as the connection changes
     * (state: connecting | open | closed | error). A connection that fails or drops is tried again
     * every RETRY_MS (the viewer may start after the page, or restart), unless the rig does not fit. */
    constructor(url, rig, onParams, onStatus) {
      this.url = url;
      this.rig = rig;
      this.onParams = onParams;
      this.onStatus = onStatus;
      this.frames = 0;
      this.closedByUs = false;
      this.open();
    }
    open() {
      const url = this.url, onStatus = this.onStatus;
      onStatus(`connecting to ${url}`, "connecting");
      this.hello = null;
      const socket = new WebSocket(url);
      this.socket = socket;
      socket.onopen = () => onStatus(`connected to ${url}, waiting for its hello`, "open");
      socket.onclose = () => {
        if (this.closedByUs) return;
        onStatus(`${url}: no stream (trying again)`, "closed");
        this.retry = setTimeout(() => this.open(), RETRY_MS);
      };
      socket.onmessage = ({ data }) => {
        let message;
        try {
          message = JSON.parse(data);
        } catch {
          onStatus(`${url}: a message that is not JSON`, "error");
          return;
        }
        if (message.type === "hello") {
          const problem = this.mismatch(message);
          if (problem) {
            onStatus(`${url}: ${problem}`, "error");
            this.close();
            return;
          }
          this.hello = message;
          onStatus(`driven by ${url} (rig ${message.rig}, ${message.fps ? `${message.fps} fps` : "no source"})`, "open");
        } else if (message.type === "params" && this.hello) {
          const params = toParams(message, this.rig.numExpr);
          if (params) {
            this.frames += 1;
            this.onParams(params, message);
          }
        }
      };
    }
    mismatch(hello) {
      if (hello.version !== PROTOCOL_VERSION) return `protocol version ${hello.version}, this player reads ${PROTOCOL_VERSION}`;
      if (hello.rig !== this.rig.name) return `its rig is '${hello.rig}', this avatar's is '${this.rig.name}'`;
      if (hello.num_expr !== this.rig.numExpr) return `${hello.num_expr} expressions, this avatar's rig has ${this.rig.numExpr}`;
      return null;
    }
    close() {
      this.closedByUs = true;
      clearTimeout(this.retry);
      this.socket.close();
    }
  };
  function toParams(message, numExpr) {
    const params = {};
    for (const [key, width] of [["expr", numExpr], ...FRAME_KEYS]) {
      const values = message[key];
      if (!Array.isArray(values) || values.length !== width || !values.every(Number.isFinite)) return null;
      params[key] = values;
    }
    return params;
  }

  // src/player.js
  var Player = class {
    constructor(canvas, workerUrl, options = {}) {
      this.canvas = canvas;
      this.renderer = new SplatRenderer(canvas, options.target || "auto", Boolean(options.transparent));
      this.worker = new Worker(workerUrl);
      this.options = options;
      this.size = options.size || 512;
      this.pending = null;
      this.nextId = 1;
      this.spare = {};
      this.dirty = true;
      this.listeners = [];
      this.stats = { frames: 0, fps: 0, workerMs: 0, drawMs: 0, windowStart: performance.now(), windowFrames: 0, lastFrame: 0 };
      this.source = { kind: "neutral" };
      this.sliderParams = null;
      this.streamParams = null;
    }
    /** Loads manifest.json and the avatar it names from `base` (a folder URL). */
    async load(base) {
      const manifestUrl = new URL("manifest.json", base);
      this.manifest = await fetchJson(manifestUrl);
      const avatarUrl = new URL(this.manifest.avatar, manifestUrl);
      const buffer = await fetchBytes(avatarUrl);
      this.summary = await this.call({ type: "load", buffer, name: this.manifest.avatar }, [buffer], "loaded");
      const numExpr = this.summary.numExpr;
      this.sequences = await Promise.all(this.manifest.sequences.map(async (s) => {
        const rows = new Float32Array(await fetchBytes(new URL(s.file, manifestUrl)));
        return new Sequence(s.name, s.fps, numExpr, rows);
      }));
      this.background = this.summary.background;
      this.resetView();
      this.sliderParams = zeroParams(numExpr);
      this.worker.onmessage = ({ data }) => this.received(data);
      return this.summary;
    }
    resetView() {
      const c = this.manifest.camera;
      this.view = { yaw: 0, pitch: 0, distance: framingDistance(c.extent, c.fov_y_deg), target: c.target, fov: c.fov_y_deg };
      this.dirty = true;
    }
    camera() {
      const v = this.view;
      return orbit(v.yaw, v.pitch, v.distance, v.target, this.size, this.size, v.fov);
    }
    /** The params the current source shows now. */
    currentParams(now = performance.now()) {
      const s = this.source;
      if (s.kind === "sequence") return s.sequence.params(this.sequenceFrame(now));
      if (s.kind === "stream") return this.streamParams || zeroParams(this.summary.numExpr);
      if (s.kind === "sliders") return this.sliderParams;
      return zeroParams(this.summary.numExpr);
    }
    sequenceFrame(now = performance.now()) {
      const s = this.source;
      if (s.kind !== "sequence") return 0;
      return s.paused ? s.frame : (s.frame + s.sequence.frameAt((now - s.started) / 1e3)) % s.sequence.frames;
    }
    play(sequence) {
      this.source = { kind: "sequence", sequence, frame: 0, started: performance.now(), paused: false };
      this.dirty = true;
      this.emit();
    }
    setPaused(paused) {
      const s = this.source;
      if (s.kind !== "sequence" || s.paused === paused) return;
      s.frame = this.sequenceFrame();
      s.started = performance.now();
      s.paused = paused;
      this.dirty = true;
      this.emit();
    }
    seek(frame) {
      const s = this.source;
      if (s.kind !== "sequence") return;
      s.frame = frame;
      s.started = performance.now();
      this.dirty = true;
    }
    /** A Live Link Face CSV's text as a sequence, mapped and kept in the avatar's range as the
     * engine maps it, added to the sequences and played. Throws LiveLinkError (file, row, column). */
    loadLiveLink(text, name) {
      const mapping = this.manifest.livelink;
      const range = mapping.clamp ? this.summary.expressionRange : null;
      const recording = readLiveLinkCsv(text, name, mapping.columns);
      const sequence = liveLinkSequence(name, recording, mapping, this.summary.numExpr, range);
      this.sequences.push(sequence);
      this.play(sequence);
      return sequence;
    }
    useSliders(params) {
      this.sliderParams = copyParams(params || this.currentParams());
      this.source = { kind: "sliders" };
      this.dirty = true;
      this.emit();
    }
    useStream() {
      this.source = { kind: "stream" };
      this.dirty = true;
      this.emit();
    }
    useNeutral() {
      this.source = { kind: "neutral" };
      this.dirty = true;
      this.emit();
    }
    /** Drives the avatar from a parameter stream (`avatar view --serve`) at url; onStatus(text, state). */
    connect(url, onStatus = () => {
    }) {
      this.disconnect();
      this.stream = new ParamStream(url, { name: this.summary.rig, numExpr: this.summary.numExpr }, (params) => {
        this.streamParams = params;
        if (this.source.kind === "stream") this.dirty = true;
      }, onStatus);
      this.useStream();
    }
    disconnect() {
      if (this.stream) this.stream.close();
      this.stream = null;
    }
    onChange(listener) {
      this.listeners.push(listener);
    }
    emit() {
      for (const listener of this.listeners) listener(this);
    }
    /** Starts the loop: a new frame whenever the worker is free and something changed (always while
     * a sequence plays or a stream drives). */
    start() {
      const tick = () => {
        const moving = this.source.kind === "sequence" && !this.source.paused || this.source.kind === "stream";
        if (!this.pending && (this.dirty || moving)) this.request(this.currentParams(), this.camera());
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    }
    request(params, camera, capture = false) {
      this.dirty = false;
      const id = this.nextId++;
      let resolve, reject;
      const done = new Promise((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.pending = { id, camera, capture, resolve, reject, done: done.catch(() => null) };
      const reuse = this.spare;
      const transfer = Object.values(reuse).filter(Boolean).map((a) => a.buffer);
      this.worker.postMessage({ type: "frame", id, params, camera, reuse }, transfer);
      this.spare = {};
      return done;
    }
    /** Renders params seen by camera now and resolves with the canvas's pixels (RGBA, rows from
     * the top) and the times: what the tests compare with the engine's own render. */
    async renderNow(params, camera) {
      while (this.pending) await this.pending.done;
      return this.request(params, camera, true);
    }
    received(data) {
      const pending = this.pending;
      if (data.type === "error") {
        this.pending = null;
        this.emitError(data.message);
        if (pending) pending.reject(new Error(data.message));
        return;
      }
      if (data.type !== "frame" || !pending || data.id !== pending.id) return;
      const started = performance.now();
      this.renderer.draw(data.words, data.order, data.region, pending.camera, this.background);
      const pixels = pending.capture ? this.renderer.readPixels() : null;
      const drawMs = performance.now() - started;
      this.spare = { words: data.words, order: data.order, region: data.region };
      this.pending = null;
      this.count(data.ms.total, drawMs, data.count);
      pending.resolve({ pixels, workerMs: data.ms, drawMs, splats: data.count });
    }
    count(workerMs, drawMs, splats) {
      const s = this.stats, now = performance.now();
      s.frames += 1;
      s.windowFrames += 1;
      s.lastFrame = now;
      s.workerMs = workerMs;
      s.drawMs = drawMs;
      s.splats = splats;
      if (now - s.windowStart >= 1e3) {
        s.fps = 1e3 * s.windowFrames / (now - s.windowStart);
        s.windowStart = now;
        s.windowFrames = 0;
      }
    }
    emitError(message) {
      if (this.onError) this.onError(message);
    }
    /** Sends a message to the worker and waits for the reply of type `expect`. */
    call(message, transfer, expect) {
      return new Promise((resolve, reject) => {
        this.worker.onmessage = ({ data }) => {
          if (data.type === "error") reject(new Error(data.message));
          else if (data.type === expect) resolve(data.summary);
        };
        this.worker.onerror = (event) => reject(new Error(event.message || "the player's worker failed to start"));
        this.worker.postMessage(message, transfer);
      });
    }
  };
  async function fetchJson(url) {
    return JSON.parse(new TextDecoder().decode(await fetchBytes(url)));
  }
  async function fetchBytes(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
    return response.arrayBuffer();
  }

  // src/ui.js
  var SIZES = [256, 384, 512, 768, 1024];
  function buildUi(player, query) {
    const $ = (id) => document.getElementById(id);
    const panel = $("panel");
    const show = (message) => {
      $("error").textContent = message;
      $("error").hidden = false;
    };
    player.onError = show;
    $("toggle").onclick = () => {
      panel.hidden = !panel.hidden;
    };
    const sources = element("select", { id: "source" });
    const playButton = element("button", { textContent: "Pause" });
    const seekBar = element("input", { type: "range", min: 0, max: 0, value: 0 });
    const frameLabel = element("span", { textContent: "" });
    const sizeSelect = element("select");
    for (const s of SIZES) sizeSelect.append(element("option", { value: s, textContent: `${s} px` }));
    sizeSelect.value = String(player.size);
    const streamUrl = element("input", { type: "text", value: query.get("ws") || defaultStreamUrl() });
    const streamButton = element("button", { textContent: "Connect" });
    const status = element("div", { id: "status" });
    const fileInput = element("input", { type: "file", accept: ".csv,text/csv" });
    const reset = element("button", { textContent: "Reset view" });
    panel.append(
      heading("Source"),
      row(sources),
      row(playButton, frameLabel),
      row(seekBar),
      heading("Live Link Face recording"),
      row(fileInput),
      hint("or drop a .csv anywhere on the page"),
      heading("Stream (avatar view --serve)"),
      row(streamUrl, streamButton),
      status,
      heading("View"),
      row(sizeSelect, reset),
      hint("drag to turn, wheel or pinch to zoom, double-click to reset"),
      heading("Expressions")
    );
    const sliders = expressionSliders(panel, player);
    const refreshSources = () => {
      sources.replaceChildren(
        element("option", { value: "neutral", textContent: "Neutral" }),
        element("option", { value: "sliders", textContent: "Sliders" }),
        ...player.sequences.map((s2, i) => element("option", { value: `seq:${i}`, textContent: `${s2.name} (${s2.frames} frames)` })),
        element("option", { value: "stream", textContent: "Stream" })
      );
      const s = player.source;
      sources.value = s.kind === "sequence" ? `seq:${player.sequences.indexOf(s.sequence)}` : s.kind;
    };
    sources.onchange = () => {
      const v = sources.value;
      if (v === "neutral") player.useNeutral();
      else if (v === "sliders") player.useSliders();
      else if (v === "stream") player.useStream();
      else player.play(player.sequences[Number(v.slice(4))]);
    };
    playButton.onclick = () => player.setPaused(!player.source.paused);
    seekBar.oninput = () => {
      player.setPaused(true);
      player.seek(Number(seekBar.value));
    };
    sizeSelect.onchange = () => {
      player.size = Number(sizeSelect.value);
      player.dirty = true;
    };
    reset.onclick = () => player.resetView();
    const connect = () => {
      if (player.stream) {
        player.disconnect();
        streamButton.textContent = "Connect";
        status.textContent = "disconnected";
        return;
      }
      player.connect(streamUrl.value, (text) => {
        status.textContent = text;
      });
      streamButton.textContent = "Disconnect";
    };
    streamButton.onclick = connect;
    if (query.get("ws")) connect();
    const loadCsv = async (file) => {
      try {
        player.loadLiveLink(await file.text(), file.name);
        $("error").hidden = true;
      } catch (error) {
        show(String(error.message || error));
      }
    };
    fileInput.onchange = () => {
      if (fileInput.files[0]) loadCsv(fileInput.files[0]);
    };
    dropTarget(document.body, $("drop"), loadCsv);
    orbitControls(player.canvas, player);
    player.onChange(() => {
      refreshSources();
      const s = player.source;
      playButton.disabled = s.kind !== "sequence";
      playButton.textContent = s.paused ? "Play" : "Pause";
      seekBar.max = s.kind === "sequence" ? s.sequence.frames - 1 : 0;
    });
    player.emit();
    const hud = $("hud");
    setInterval(() => {
      const st = player.stats, s = player.source;
      if (s.kind === "sequence") {
        const frame = player.sequenceFrame();
        seekBar.value = frame;
        frameLabel.textContent = `frame ${frame + 1} / ${s.sequence.frames}`;
      } else frameLabel.textContent = "";
      if (s.kind !== "sliders") sliders.show(player.currentParams());
      const gpu = player.renderer.gpuMs === null ? "" : `  gpu ${player.renderer.gpuMs.toFixed(1)} ms`;
      const rate = performance.now() - st.lastFrame > 1e3 ? "idle" : `${st.fps.toFixed(1)} fps`;
      hud.textContent = `${rate}  ${player.size} px  ${st.splats ?? 0} splats
worker ${st.workerMs.toFixed(1)} ms${gpu}
${player.renderer.target.name}`;
    }, 250);
  }
  function expressionSliders(panel, player) {
    const names = player.summary.exprNames || player.sliderParams.expr.map((_, i) => `expression ${i}`);
    const range = player.summary.expressionRange;
    const inputs = [];
    const add = (label, min, max, get, set) => {
      const input = element("input", { type: "range", min, max, step: 0.01, value: get(player.sliderParams) });
      const value = element("span", { textContent: Number(input.value).toFixed(2) });
      input.oninput = () => {
        if (player.source.kind !== "sliders") player.useSliders();
        set(player.sliderParams, Number(input.value));
        value.textContent = Number(input.value).toFixed(2);
        player.dirty = true;
      };
      const line = element("div", { className: "slider" });
      line.append(element("span", { textContent: label, title: label }), input, value);
      panel.append(line);
      inputs.push({ input, value, get });
    };
    add("jaw open", 0, 0.4, (p) => p.jaw[0], (p, v) => {
      p.jaw[0] = v;
    });
    add("head turn", -0.8, 0.8, (p) => p.rotation[1], (p, v) => {
      p.rotation[1] = v;
    });
    add("head nod", -0.5, 0.5, (p) => p.rotation[0], (p, v) => {
      p.rotation[0] = v;
    });
    names.forEach((name, e) => {
      const high = range ? Math.max(1, range.expr_high[e]) : 1;
      add(name, range ? Math.min(0, range.expr_low[e]) : 0, high, (p) => p.expr[e], (p, v) => {
        p.expr[e] = v;
      });
    });
    return {
      show(params) {
        for (const { input, value, get } of inputs) {
          input.value = get(params);
          value.textContent = Number(get(params)).toFixed(2);
        }
      }
    };
  }
  function orbitControls(canvas, player) {
    const pointers = /* @__PURE__ */ new Map();
    let pinch = null;
    canvas.addEventListener("pointerdown", (e) => {
      canvas.setPointerCapture(e.pointerId);
      pointers.set(e.pointerId, e);
    });
    canvas.addEventListener("pointerup", (e) => {
      pointers.delete(e.pointerId);
      pinch = null;
    });
    canvas.addEventListener("pointercancel", (e) => {
      pointers.delete(e.pointerId);
      pinch = null;
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!pointers.has(e.pointerId)) return;
      const last = pointers.get(e.pointerId);
      pointers.set(e.pointerId, e);
      const v = player.view;
      if (pointers.size === 1) {
        v.yaw -= 0.4 * (e.clientX - last.clientX);
        v.pitch = Math.max(-80, Math.min(80, v.pitch + 0.4 * (e.clientY - last.clientY)));
      } else if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        const spread = Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY);
        if (pinch) v.distance *= pinch / spread;
        pinch = spread;
      }
      player.dirty = true;
    });
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      player.view.distance *= Math.exp(1e-3 * e.deltaY);
      player.dirty = true;
    }, { passive: false });
    canvas.addEventListener("dblclick", () => player.resetView());
  }
  function dropTarget(zone, overlay, onFile) {
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      overlay.classList.add("shown");
    });
    zone.addEventListener("dragleave", () => overlay.classList.remove("shown"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      overlay.classList.remove("shown");
      const file = e.dataTransfer.files[0];
      if (file) onFile(file);
    });
  }
  function defaultStreamUrl() {
    return `ws://${location.hostname || "localhost"}:8765`;
  }
  function element(tag, props = {}) {
    return Object.assign(document.createElement(tag), props);
  }
  function heading(text) {
    return element("h3", { textContent: text });
  }
  function hint(text) {
    return element("div", { textContent: text, style: "font-size:12px;color:#999" });
  }
  function row(...children) {
    const div = element("div", { className: "row" });
    div.append(...children);
    return div;
  }

  // src/format.js
  var MAGIC = [65, 86, 87, 69, 66, 0, 0, 0];
  var VERSION = 1;
  var ALIGN = 16;
  var TYPES = {
    uint8: Uint8Array,
    int8: Int8Array,
    uint16: Uint16Array,
    uint32: Uint32Array,
    float16: Uint16Array,
    float32: Float32Array
  };
  var OFFSET_GROUPS = [
    ["d_xyz", 3, 0],
    ["d_rot", 4, 3],
    ["d_log_scale", 3, 7],
    ["d_opacity", 1, 10],
    ["d_color", 3, 11]
  ];
  var LOCAL_SIZE = 14;
  var WebAvatarError = class extends Error {
  };
  var halfTable = null;
  function halfToFloatTable() {
    if (halfTable) return halfTable;
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; ++h) {
      const sign = h & 32768 ? -1 : 1;
      const exponent = h >> 10 & 31;
      const mantissa = h & 1023;
      let value;
      if (exponent === 0) value = mantissa * 2 ** -24;
      else if (exponent === 31) value = mantissa ? NaN : Infinity;
      else value = (1 + mantissa / 1024) * 2 ** (exponent - 15);
      halfTable[h] = sign * value;
    }
    return halfTable;
  }
  function halfToFloat(bits) {
    const table = halfToFloatTable();
    const out = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; ++i) out[i] = table[bits[i]];
    return out;
  }
  function unpack(buffer, name = "avatar.webavatar") {
    const bytes = new Uint8Array(buffer);
    const fail = (what) => {
      throw new WebAvatarError(`${name}: not a readable .webavatar file: ${what}`);
    };
    if (bytes.length < 16 || MAGIC.some((b, i) => bytes[i] !== b)) fail("no .webavatar magic");
    const view = new DataView(buffer);
    const version = view.getUint32(8, true);
    const length = view.getUint32(12, true);
    if (version !== VERSION) fail(`version ${version} is not supported (want ${VERSION})`);
    if (16 + length > bytes.length) fail("the header runs past the end of the file");
    const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length)));
    if (meta.format !== "avatar-web") fail(`format tag ${JSON.stringify(meta.format)}`);
    const blocks = {};
    for (const [block, entry] of Object.entries(meta.blocks)) {
      const Type = TYPES[entry.dtype];
      if (!Type) fail(`block ${block} has dtype ${entry.dtype}`);
      const count = entry.shape.reduce((a, b) => a * b, 1);
      if (entry.offset % ALIGN || entry.offset < 16 + length || entry.offset + entry.length > bytes.length) {
        fail(`block ${block} lies outside the file or is not aligned`);
      }
      if (count * Type.BYTES_PER_ELEMENT !== entry.length) fail(`block ${block}: shape and length disagree`);
      const raw = new Type(buffer, entry.offset, count);
      blocks[block] = entry.dtype === "float16" ? halfToFloat(raw) : raw;
    }
    return { meta, blocks };
  }
  function readWebAvatar(buffer, name) {
    const { meta, blocks } = unpack(buffer, name);
    const rig = readRig(meta.rig, blocks);
    const gaussians = readGaussians(meta.gaussians, blocks, rig, name);
    const offsets = readOffsets(meta.offsets, blocks, gaussians.count);
    const drivers = gaussians.blendExpr.length + 3 + (gaussians.pose ? 3 : 0);
    if (offsets.drivers !== drivers) {
      throw new WebAvatarError(`${offsets.drivers} offset drivers, the Gaussians have ${drivers}`);
    }
    return {
      rig,
      gaussians,
      offsets,
      background: meta.background || [1, 1, 1],
      headCut: meta.head_cut || null,
      viewCone: meta.view_cone || null,
      expressionRange: meta.expression_range || null
    };
  }
  function readRig(header, blocks) {
    const numExpr = header.num_expr;
    const rig = {
      name: header.name,
      numVertices: header.num_vertices,
      numExpr,
      exprNames: header.expr_names,
      parents: header.parents,
      template: blocks["rig.v_template"],
      // [V * 3], identity folded in
      faces: Uint32Array.from(blocks["rig.faces"]),
      // [F * 3]
      numFaces: header.num_faces,
      exprStart: blocks["rig.expr_start"],
      // [E + 1]
      exprVertex: Uint32Array.from(blocks["rig.expr_vertex"]),
      // [R]
      exprDelta: blocks["rig.expr_delta"],
      // int8 [R * 3]
      exprScale: blocks["rig.expr_scale"],
      // [E]
      jregStart: blocks["rig.jreg_start"],
      // [J + 1]
      jregVertex: blocks["rig.jreg_vertex"],
      jregWeight: blocks["rig.jreg_weight"],
      lbsWeights: blocks["rig.lbs_weights"],
      // [V * J]
      numJoints: header.parents.length,
      posedirs: header.has_posedirs ? blocks["rig.posedirs"] : null,
      // [V * 3 * P]
      numPoseFeatures: header.num_pose_features || 36
    };
    if (rig.exprStart.length !== numExpr + 1) throw new WebAvatarError("rig.expr_start does not fit num_expr");
    return rig;
  }
  function readGaussians(header, blocks, rig, name) {
    const count = header.count;
    const degree = header.sh_degree;
    const k = (degree + 1) ** 2;
    let shRest = new Float32Array(0);
    if (k > 1) {
      const q = blocks["g.sh_rest"];
      const low = header.sh_rest_low, step = header.sh_rest_step;
      const width = (k - 1) * 3;
      shRest = new Float32Array(count * width);
      for (let g = 0; g < count; ++g) {
        for (let c = 0; c < width; ++c) shRest[g * width + c] = low[c] + step[c] * q[g * width + c];
      }
    }
    const parent = Uint32Array.from(blocks["g.parent"]);
    for (let g = 0; g < count; ++g) {
      if (parent[g] >= rig.numFaces) throw new WebAvatarError("g.parent names a triangle the rig does not have");
    }
    return {
      count,
      degree,
      parent,
      blendExpr: blendExpressions(header, rig.numExpr, name),
      pose: headPose(blocks),
      xyz: blocks["g.xyz"],
      rot: blocks["g.rot"],
      logScale: blocks["g.log_scale"],
      opacityLogit: blocks["g.opacity_logit"],
      shDc: blocks["g.sh_dc"],
      shRest
    };
  }
  function blendExpressions(header, numExpr, name = "avatar.webavatar") {
    const selected = header.blend_expr;
    if (selected === null || selected === void 0) {
      throw new WebAvatarError(`${name}: its offsets are driven by a PCA of the training expressions: it was trained with the expr_pca_variance option, which has been removed; train it again`);
    }
    if (!Array.isArray(selected) || selected.some((e) => !Number.isInteger(e) || e < 0 || e >= numExpr)) {
      throw new WebAvatarError("gaussians.blend_expr names expressions the rig does not have");
    }
    return Uint32Array.from(selected);
  }
  function headPose(blocks) {
    const names = ["g.pose_mean", "g.pose_low", "g.pose_high"];
    const present = names.filter((name) => blocks[name]);
    if (!present.length) return null;
    if (present.length !== names.length) {
      throw new WebAvatarError(`${present.join(", ")} without the rest of the g.pose_* blocks`);
    }
    const [mean, low, high] = names.map((name) => blocks[name]);
    if (mean.length !== 9 || low.length !== 3 || high.length !== 3) {
      throw new WebAvatarError("g.pose_* blocks are not [3, 3] / [3] / [3]");
    }
    return { mean, low, high };
  }
  function readOffsets(header, blocks, count) {
    const groups = OFFSET_GROUPS.map(([name, width, column]) => {
      const mask = blocks[`${name}.mask`];
      const start = blocks[`${name}.start`];
      const values = blocks[`${name}.values`];
      const scale = blocks[`${name}.scale`];
      const drivers = header.count;
      const stride = Math.ceil(count / 8);
      const gaussian = new Uint32Array(values.length / width);
      let row2 = 0;
      for (let d = 0; d < drivers; ++d) {
        if (start[d] !== row2) throw new WebAvatarError(`${name}.start disagrees with its mask`);
        for (let g = 0; g < count; ++g) {
          if (mask[d * stride + (g >> 3)] & 1 << (g & 7)) gaussian[row2++] = g;
        }
      }
      if (row2 !== gaussian.length) throw new WebAvatarError(`${name}.mask disagrees with its values`);
      return { name, width, column, start, gaussian, values, scale };
    });
    return { drivers: header.count, groups };
  }

  // src/rig.js
  function axisAngleToMatrix(x, y, z) {
    const angle = Math.hypot(x + 1e-8, y + 1e-8, z + 1e-8);
    const ax = x / angle, ay = y / angle, az = z / angle;
    const s = Math.sin(angle), c1 = 1 - Math.cos(angle);
    const k = [0, -az, ay, az, 0, -ax, -ay, ax, 0];
    const r = new Float64Array(9);
    for (let i = 0; i < 3; ++i) {
      for (let j = 0; j < 3; ++j) {
        let kk = 0;
        for (let m = 0; m < 3; ++m) kk += k[3 * i + m] * k[3 * m + j];
        r[3 * i + j] = (i === j ? 1 : 0) + s * k[3 * i + j] + c1 * kk;
      }
    }
    return r;
  }
  var RigPoser = class {
    constructor(rig) {
      this.rig = rig;
      this.shaped = new Float64Array(rig.numVertices * 3);
      this.verts = new Float32Array(rig.numVertices * 3);
    }
    /** Posed vertices [V * 3] (Float32Array, reused) of params {expr [E], jaw, neck, rotation [3],
     * eyes [6], translation [3]}. */
    pose(params) {
      const rig = this.rig, shaped = this.shaped;
      const numJoints = rig.numJoints;
      for (let i = 0; i < shaped.length; ++i) shaped[i] = rig.template[i];
      for (let e = 0; e < rig.numExpr; ++e) {
        const weight = params.expr[e] || 0;
        if (weight === 0) continue;
        const w = weight * rig.exprScale[e];
        for (let r = rig.exprStart[e]; r < rig.exprStart[e + 1]; ++r) {
          const v = 3 * rig.exprVertex[r];
          shaped[v] += w * rig.exprDelta[3 * r];
          shaped[v + 1] += w * rig.exprDelta[3 * r + 1];
          shaped[v + 2] += w * rig.exprDelta[3 * r + 2];
        }
      }
      const joints = new Float64Array(numJoints * 3);
      for (let j = 0; j < numJoints; ++j) {
        for (let r = rig.jregStart[j]; r < rig.jregStart[j + 1]; ++r) {
          const v = 3 * rig.jregVertex[r], w = rig.jregWeight[r];
          joints[3 * j] += w * shaped[v];
          joints[3 * j + 1] += w * shaped[v + 1];
          joints[3 * j + 2] += w * shaped[v + 2];
        }
      }
      const pose = [params.rotation, params.neck, params.jaw, params.eyes.slice(0, 3), params.eyes.slice(3, 6)];
      const rotations = pose.map((aa) => axisAngleToMatrix(aa[0], aa[1], aa[2]));
      if (rig.posedirs) this.addPoseCorrectives(rotations);
      const skin = skinningTransforms(rotations, joints, rig.parents);
      const t = params.translation;
      const weights = rig.lbsWeights, verts = this.verts;
      const m = new Float64Array(12);
      for (let v = 0; v < rig.numVertices; ++v) {
        m.fill(0);
        for (let j = 0; j < numJoints; ++j) {
          const w = weights[v * numJoints + j];
          if (w === 0) continue;
          const s = skin[j];
          for (let i = 0; i < 12; ++i) m[i] += w * s[i];
        }
        const x = shaped[3 * v], y = shaped[3 * v + 1], z = shaped[3 * v + 2];
        verts[3 * v] = m[0] * x + m[1] * y + m[2] * z + m[3] + t[0];
        verts[3 * v + 1] = m[4] * x + m[5] * y + m[6] * z + m[7] + t[1];
        verts[3 * v + 2] = m[8] * x + m[9] * y + m[10] * z + m[11] + t[2];
      }
      return verts;
    }
    /** shaped += posedirs . (R_j - I) over the non-root joints (FLAME's pose correctives). */
    addPoseCorrectives(rotations) {
      const rig = this.rig, p = rig.numPoseFeatures, shaped = this.shaped;
      const feature = new Float64Array(p);
      for (let j = 1; j < rotations.length; ++j) {
        for (let i = 0; i < 9; ++i) feature[9 * (j - 1) + i] = rotations[j][i] - (i % 4 === 0 ? 1 : 0);
      }
      for (let v = 0; v < rig.numVertices; ++v) {
        for (let k = 0; k < 3; ++k) {
          const row2 = (3 * v + k) * p;
          let sum = 0;
          for (let f = 0; f < p; ++f) sum += rig.posedirs[row2 + f] * feature[f];
          shaped[3 * v + k] += sum;
        }
      }
    }
  };
  function skinningTransforms(rotations, joints, parents) {
    const world = [];
    for (let j = 0; j < rotations.length; ++j) {
      const r = rotations[j];
      const p = parents[j];
      const rel = p < 0 ? [joints[3 * j], joints[3 * j + 1], joints[3 * j + 2]] : [joints[3 * j] - joints[3 * p], joints[3 * j + 1] - joints[3 * p + 1], joints[3 * j + 2] - joints[3 * p + 2]];
      const local = [r[0], r[1], r[2], rel[0], r[3], r[4], r[5], rel[1], r[6], r[7], r[8], rel[2]];
      world.push(p < 0 ? local : compose(world[p], local));
    }
    return world.map((w, j) => {
      const s = w.slice();
      for (let i = 0; i < 3; ++i) {
        s[4 * i + 3] = w[4 * i + 3] - (w[4 * i] * joints[3 * j] + w[4 * i + 1] * joints[3 * j + 1] + w[4 * i + 2] * joints[3 * j + 2]);
      }
      return s;
    });
  }
  function compose(a, b) {
    const out = new Array(12);
    for (let i = 0; i < 3; ++i) {
      for (let j = 0; j < 4; ++j) {
        out[4 * i + j] = a[4 * i] * b[j] + a[4 * i + 1] * b[4 + j] + a[4 * i + 2] * b[8 + j] + (j === 3 ? a[4 * i + 3] : 0);
      }
    }
    return out;
  }

  // src/blend.js
  var SH_C0 = 0.28209479177387814;
  var FRAME_SIZE = 17;
  var Blender = class {
    constructor(avatar) {
      const n = avatar.gaussians.count;
      this.avatar = avatar;
      this.offsets = gaussianMajor(avatar.offsets, n);
      this.factors = new Float64Array(this.offsets.slots * 4);
      this.world = {
        count: n,
        means: new Float32Array(n * 3),
        // [N, 3] metres
        quats: new Float32Array(n * 4),
        // [N, 4] (w, x, y, z), unit
        scales: new Float32Array(n * 3),
        // [N, 3] standard deviations, metres
        opacities: new Float32Array(n),
        // [N]
        shDc: new Float32Array(n * 3)
        // [N, 3] DC coefficient with the colour offset
      };
      this.frames = null;
    }
    /** The drivers [D] of params: the weights of the expressions with offsets, the jaw's 3
     * components, then the head's pose drivers when the avatar has them (GaussianAvatar.drivers). */
    drivers(params) {
      const { blendExpr, pose } = this.avatar.gaussians;
      const count = blendExpr.length;
      const drivers = new Array(count + 3 + (pose ? 3 : 0));
      for (let k = 0; k < count; ++k) drivers[k] = params.expr[blendExpr[k]] || 0;
      drivers[count] = params.jaw[0];
      drivers[count + 1] = params.jaw[1];
      drivers[count + 2] = params.jaw[2];
      if (pose) headPoseDrivers(pose, params, drivers, count + 3);
      return drivers;
    }
    /** World Gaussians (this.world, reused) of the rig posed as verts [V * 3] at params: per
     * Gaussian, its offsets summed over its own entries (a sequential pass over them), its local
     * attributes, then its triangle's frame. */
    blend(verts, params) {
      const { gaussians: g, rig } = this.avatar;
      const drivers = this.drivers(params);
      const { start, slot, values, column, width, groups } = this.offsets;
      const factors = this.factors;
      for (let k = 0; k < this.offsets.slots; ++k) {
        const d = Math.floor(k / groups), group = this.avatar.offsets.groups[k % groups];
        for (let c = 0; c < 4; ++c) factors[4 * k + c] = c < group.width ? drivers[d] * group.scale[d * group.width + c] : 0;
      }
      this.frames = triangleFrames(verts, rig.faces, rig.numFaces, this.frames);
      const frames = this.frames, w = this.world;
      const { means, quats, scales, opacities, shDc } = w;
      const a = new Float64Array(LOCAL_SIZE + 3);
      for (let i = 0; i < g.count; ++i) {
        a.fill(0);
        for (let e = start[i]; e < start[i + 1]; ++e) {
          const k = slot[e], f = 4 * k, v = 4 * e, col = column[k];
          a[col] += factors[f] * values[v];
          a[col + 1] += factors[f + 1] * values[v + 1];
          a[col + 2] += factors[f + 2] * values[v + 2];
          a[col + 3] += factors[f + 3] * values[v + 3];
        }
        const t = FRAME_SIZE * g.parent[i], i3 = 3 * i, i4 = 4 * i;
        const unit2 = frames[t + 12];
        const x = g.xyz[i3] + a[0], y = g.xyz[i3 + 1] + a[1], z = g.xyz[i3 + 2] + a[2];
        means[i3] = frames[t] + unit2 * (frames[t + 3] * x + frames[t + 4] * y + frames[t + 5] * z);
        means[i3 + 1] = frames[t + 1] + unit2 * (frames[t + 6] * x + frames[t + 7] * y + frames[t + 8] * z);
        means[i3 + 2] = frames[t + 2] + unit2 * (frames[t + 9] * x + frames[t + 10] * y + frames[t + 11] * z);
        let qw = g.rot[i4] + a[3], qx = g.rot[i4 + 1] + a[4];
        let qy = g.rot[i4 + 2] + a[5], qz = g.rot[i4 + 3] + a[6];
        const norm = Math.max(Math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz), 1e-12);
        qw /= norm;
        qx /= norm;
        qy /= norm;
        qz /= norm;
        const tw = frames[t + 13], tx = frames[t + 14], ty = frames[t + 15], tz = frames[t + 16];
        quats[i4] = tw * qw - tx * qx - ty * qy - tz * qz;
        quats[i4 + 1] = tw * qx + tx * qw + ty * qz - tz * qy;
        quats[i4 + 2] = tw * qy - tx * qz + ty * qw + tz * qx;
        quats[i4 + 3] = tw * qz + tx * qy - ty * qx + tz * qw;
        scales[i3] = unit2 * Math.exp(g.logScale[i3] + a[7]);
        scales[i3 + 1] = unit2 * Math.exp(g.logScale[i3 + 1] + a[8]);
        scales[i3 + 2] = unit2 * Math.exp(g.logScale[i3 + 2] + a[9]);
        opacities[i] = 1 / (1 + Math.exp(-(g.opacityLogit[i] + a[10])));
        shDc[i3] = g.shDc[i3] + a[11] / SH_C0;
        shDc[i3 + 1] = g.shDc[i3 + 1] + a[12] / SH_C0;
        shDc[i3 + 2] = g.shDc[i3 + 2] + a[13] / SH_C0;
      }
      return w;
    }
  };
  function gaussianMajor(offsets, count) {
    const groups = offsets.groups.length, slots = offsets.drivers * groups;
    const start = new Uint32Array(count + 1);
    for (const group of offsets.groups) for (const g of group.gaussian) start[g + 1] += 1;
    for (let i = 0; i < count; ++i) start[i + 1] += start[i];
    const entries = start[count];
    const slot = new Uint16Array(entries), values = new Int8Array(4 * entries), next = start.slice(0, count);
    const column = new Uint8Array(slots), width = new Uint8Array(slots);
    offsets.groups.forEach((group, j) => {
      for (let d = 0; d < offsets.drivers; ++d) {
        const k = d * groups + j;
        column[k] = group.column;
        width[k] = group.width;
        for (let r = group.start[d]; r < group.start[d + 1]; ++r) {
          const e = next[group.gaussian[r]]++;
          slot[e] = k;
          for (let c = 0; c < group.width; ++c) values[4 * e + c] = group.values[group.width * r + c];
        }
      }
    });
    return { start, slot, values, column, width, groups, slots };
  }
  var POSE_DRIVERS_PER_RADIAN = 3;
  function headPoseDrivers(pose, params, out, at) {
    const root = axisAngleToMatrix(params.rotation[0], params.rotation[1], params.rotation[2]);
    const neck = axisAngleToMatrix(params.neck[0], params.neck[1], params.neck[2]);
    const m = new Float64Array(9);
    for (let i = 0; i < 3; ++i) {
      for (let j = 0; j < 3; ++j) {
        let sum = 0;
        for (let k = 0; k < 3; ++k) {
          let head = 0;
          for (let l = 0; l < 3; ++l) head += root[3 * k + l] * neck[3 * l + j];
          sum += pose.mean[3 * k + i] * head;
        }
        m[3 * i + j] = sum;
      }
    }
    const v = [(m[7] - m[5]) / 2, (m[2] - m[6]) / 2, (m[3] - m[1]) / 2];
    const sin = Math.hypot(v[0], v[1], v[2]), cos = (m[0] + m[4] + m[8] - 1) / 2;
    const factor = sin > 1e-7 ? Math.atan2(sin, cos) / sin : 1;
    for (let i = 0; i < 3; ++i) {
      out[at + i] = Math.min(Math.max(v[i] * factor, pose.low[i]), pose.high[i]) * POSE_DRIVERS_PER_RADIAN;
    }
  }
  function triangleFrames(verts, faces, numFaces, out) {
    const frames = out || new Float64Array(numFaces * FRAME_SIZE);
    for (let f = 0; f < numFaces; ++f) {
      const a = 3 * faces[3 * f], b = 3 * faces[3 * f + 1], c = 3 * faces[3 * f + 2];
      const ax = verts[a], ay = verts[a + 1], az = verts[a + 2];
      const bx = verts[b], by = verts[b + 1], bz = verts[b + 2];
      const cx = verts[c], cy = verts[c + 1], cz = verts[c + 2];
      const e0x = bx - ax, e0y = by - ay, e0z = bz - az;
      const e1x = cx - bx, e1y = cy - by, e1z = cz - bz;
      const e2x = cx - ax, e2y = cy - ay, e2z = cz - az;
      const l0 = Math.sqrt(e0x * e0x + e0y * e0y + e0z * e0z);
      const l1 = Math.sqrt(e1x * e1x + e1y * e1y + e1z * e1z);
      const l2 = Math.sqrt(e2x * e2x + e2y * e2y + e2z * e2z);
      const inv0 = 1 / Math.max(l0, 1e-12);
      const xx = e0x * inv0, xy = e0y * inv0, xz = e0z * inv0;
      let nx = e0y * e2z - e0z * e2y, ny = e0z * e2x - e0x * e2z, nz = e0x * e2y - e0y * e2x;
      const invN = 1 / Math.max(Math.sqrt(nx * nx + ny * ny + nz * nz), 1e-12);
      nx *= invN;
      ny *= invN;
      nz *= invN;
      const yx = ny * xz - nz * xy, yy = nz * xx - nx * xz, yz = nx * xy - ny * xx;
      const o = FRAME_SIZE * f;
      frames[o] = (ax + bx + cx) / 3;
      frames[o + 1] = (ay + by + cy) / 3;
      frames[o + 2] = (az + bz + cz) / 3;
      frames[o + 3] = xx;
      frames[o + 4] = yx;
      frames[o + 5] = nx;
      frames[o + 6] = xy;
      frames[o + 7] = yy;
      frames[o + 8] = ny;
      frames[o + 9] = xz;
      frames[o + 10] = yz;
      frames[o + 11] = nz;
      frames[o + 12] = (l0 + l1 + l2) / 3;
      matrixToQuat(frames, o + 3, frames, o + 13);
    }
    return frames;
  }
  function matrixToQuat(m, o, out, at) {
    const m00 = m[o], m01 = m[o + 1], m02 = m[o + 2];
    const m10 = m[o + 3], m11 = m[o + 4], m12 = m[o + 5];
    const m20 = m[o + 6], m21 = m[o + 7], m22 = m[o + 8];
    const f0 = 1 + m00 + m11 + m22, f1 = 1 + m00 - m11 - m22, f2 = 1 - m00 + m11 - m22, f3 = 1 - m00 - m11 + m22;
    let w, x, y, z;
    if (f0 >= f1 && f0 >= f2 && f0 >= f3) {
      w = f0;
      x = m21 - m12;
      y = m02 - m20;
      z = m10 - m01;
    } else if (f1 >= f2 && f1 >= f3) {
      w = m21 - m12;
      x = f1;
      y = m10 + m01;
      z = m02 + m20;
    } else if (f2 >= f3) {
      w = m02 - m20;
      x = m10 + m01;
      y = f2;
      z = m21 + m12;
    } else {
      w = m10 - m01;
      x = m20 + m02;
      y = m21 + m12;
      z = f3;
    }
    const norm = Math.max(Math.sqrt(w * w + x * x + y * y + z * z), 1e-12) * (w < 0 ? -1 : 1);
    out[at] = w / norm;
    out[at + 1] = x / norm;
    out[at + 2] = y / norm;
    out[at + 3] = z / norm;
  }

  // src/cut.js
  var HeadCutter = class {
    constructor() {
      this.scratch = {};
      this.covered = null;
    }
    /** region [H * W] (Uint8Array, 1 = kept; `out` is filled when it has that size) of the rig
     * posed as verts [V * 3] seen by camera. */
    region(cut, verts, rig, camera, out) {
      const { width, height } = camera;
      const numV = verts.length / 3, pixels = width * height;
      const xy = this.buffer("xy", Float64Array, 2 * numV), depth = this.buffer("depth", Float64Array, numV);
      projectVertices(verts, camera, xy, depth);
      const [ringLine, sidesLine] = cutLines(xy, depth, cut.ring, cut.sides, cut.top);
      const region = out && out.length === pixels ? out : new Uint8Array(pixels);
      region.fill(0);
      if (cut.hanging_hair) {
        for (let v = 0; v < height; ++v) {
          const [lo, hi] = columnsOnHeadSide(ringLine, v + 0.5, width);
          if (lo <= hi) region.fill(1, v * width + lo, v * width + hi + 1);
        }
        return region;
      }
      const radius = neckRadius(cut.neck_margin, height, width);
      const coverage = this.buffer("coverage", Uint8Array, pixels).fill(0);
      const faces = this.coverageFaces(cut, rig);
      rasterizeNearBand(
        xy,
        depth,
        faces,
        faces.length / 3,
        ringLine,
        sidesLine,
        radius + 1,
        camera.near,
        width,
        height,
        coverage
      );
      const neck = growByDisc(coverage, width, height, radius, this.buffer("neck", Uint8Array, pixels).fill(0));
      for (let v = 0; v < height; ++v) {
        const ring = columnsOnHeadSide(ringLine, v + 0.5, width);
        const ringLo = ring[0], ringHi = ring[1];
        const sides = columnsOnHeadSide(sidesLine, v + 0.5, width);
        const sidesLo = sides[0], sidesHi = sides[1];
        const row2 = v * width;
        for (let u = ringLo; u <= ringHi; ++u) region[row2 + u] = u >= sidesLo && u <= sidesHi || neck[row2 + u] ? 1 : 0;
      }
      return region;
    }
    /** The rig's faces without the cut's shoulders (made once per cut and rig). */
    coverageFaces(cut, rig) {
      const shoulders = cut.shoulders || [];
      if (shoulders.length === 0) return rig.faces;
      if (this.covered && this.covered.cut === cut && this.covered.rig === rig) return this.covered.faces;
      const left = new Uint8Array(rig.numFaces);
      let leftOut = 0;
      for (const f of shoulders) {
        if (!Number.isInteger(f) || f < 0 || f >= rig.numFaces) {
          throw new Error(`head_cut.shoulders: face ${f} is not one of the rig's ${rig.numFaces}`);
        }
        if (!left[f]) {
          left[f] = 1;
          ++leftOut;
        }
      }
      const faces = new Uint32Array(3 * (rig.numFaces - leftOut));
      let n = 0;
      for (let f = 0; f < rig.numFaces; ++f) {
        if (left[f]) continue;
        faces.set(rig.faces.subarray(3 * f, 3 * f + 3), 3 * n++);
      }
      this.covered = { cut, rig, faces };
      return faces;
    }
    buffer(name, Type, length) {
      const b = this.scratch[name];
      if (b && b.length === length) return b;
      return this.scratch[name] = new Type(length);
    }
  };
  function projectVertices(verts, camera, xy, depth) {
    const m = camera.w2c, k = camera.K;
    for (let v = 0; v < depth.length; ++v) {
      const px = verts[3 * v], py = verts[3 * v + 1], pz = verts[3 * v + 2];
      const c0 = m[0] * px + m[1] * py + m[2] * pz + m[3];
      const c1 = m[4] * px + m[5] * py + m[6] * pz + m[7];
      const c2 = m[8] * px + m[9] * py + m[10] * pz + m[11];
      const hx = k[0] * c0 + k[1] * c1 + k[2] * c2, hy = k[3] * c0 + k[4] * c1 + k[5] * c2;
      const hz = Math.max(k[6] * c0 + k[7] * c1 + k[8] * c2, 1e-9);
      xy[2 * v] = hx / hz;
      xy[2 * v + 1] = hy / hz;
      depth[v] = c2;
    }
  }
  function lineTowards(px, py, dx, dy, headX, headY) {
    const line = { px, py, nx: -dy, ny: dx };
    if ((headX - px) * line.nx + (headY - py) * line.ny < 0) {
      line.nx = -line.nx;
      line.ny = -line.ny;
    }
    return line;
  }
  function signedDistance(line, x, y) {
    return (x - line.px) * line.nx + (y - line.py) * line.ny;
  }
  function cutLines(xy, depth, ring, sides, top) {
    let front = ring[0];
    let mx = 0, my = 0;
    for (const r of ring) {
      if (depth[r] < depth[front]) front = r;
      mx += xy[2 * r];
      my += xy[2 * r + 1];
    }
    mx /= ring.length;
    my /= ring.length;
    let sxx = 0, sxy = 0, syy = 0;
    for (const r of ring) {
      const x = xy[2 * r] - mx, y = xy[2 * r + 1] - my;
      sxx += x * x;
      sxy += x * y;
      syy += y * y;
    }
    const angle = 0.5 * Math.atan2(2 * sxy, sxx - syy);
    const headX = xy[2 * top], headY = xy[2 * top + 1];
    const ringLine = lineTowards(xy[2 * front], xy[2 * front + 1], Math.cos(angle), Math.sin(angle), headX, headY);
    const ax = xy[2 * sides[0]], ay = xy[2 * sides[0] + 1], bx = xy[2 * sides[1]], by = xy[2 * sides[1] + 1];
    const length = Math.max(Math.hypot(bx - ax, by - ay), 1e-6);
    const sidesLine = lineTowards(0.5 * (ax + bx), 0.5 * (ay + by), (bx - ax) / length, (by - ay) / length, headX, headY);
    return [ringLine, sidesLine];
  }
  function neckRadius(margin, height, width) {
    const scaled = margin * Math.max(height, width);
    let whole2 = Math.floor(scaled);
    const rest = scaled - whole2;
    if (rest > 0.5 || rest === 0.5 && whole2 % 2 !== 0) whole2 += 1;
    return Math.max(1, whole2);
  }
  function discHalfWidth(dy, radius) {
    const t = dy / radius;
    return Math.floor(radius * Math.sqrt(Math.max(1 - t * t, 0)) + 0.5);
  }
  function edge(ax, ay, bx, by, px, py) {
    return (ax - px) * (by - py) - (ay - py) * (bx - px);
  }
  var ceilInt = (x) => {
    const t = Math.trunc(x);
    return t + (t < x ? 1 : 0);
  };
  var floorInt = (x) => {
    const t = Math.trunc(x);
    return t - (t > x ? 1 : 0);
  };
  function rowSpan(a, b, width) {
    const left = Math.min(a, b) - 0.5, right = Math.max(a, b) - 0.5;
    if (!(right >= 0) || !(left <= width - 1)) return null;
    const lo = Math.max(ceilInt(Math.max(left, -1)), 0);
    const hi = Math.min(floorInt(Math.min(right, width)), width - 1);
    return lo <= hi ? [lo, hi] : null;
  }
  function rasterizeNearBand(xy, depth, faces, numFaces, ringLine, sidesLine, reach, near, width, height, coverage) {
    const x = [0, 0, 0], y = [0, 0, 0];
    for (let f = 0; f < numFaces; ++f) {
      let deepInHead = true, belowCut = true, behind = false;
      for (let k = 0; k < 3; ++k) {
        const v = faces[3 * f + k];
        x[k] = xy[2 * v];
        y[k] = xy[2 * v + 1];
        deepInHead = deepInHead && signedDistance(sidesLine, x[k], y[k]) > reach;
        belowCut = belowCut && signedDistance(ringLine, x[k], y[k]) < -reach;
        if (depth[v] < near) behind = true;
      }
      if (behind || deepInHead || belowCut) continue;
      const area = edge(x[1], y[1], x[2], y[2], x[0], y[0]);
      if (!((area > 1e-12 || area < -1e-12) && area - area === 0)) continue;
      rasterizeTriangle(x, y, width, height, coverage);
    }
    return coverage;
  }
  function rasterizeTriangle(x, y, width, height, coverage) {
    let a = 0, b = 1, c = 2;
    if (y[b] < y[a]) [a, b] = [b, a];
    if (y[c] < y[b]) [b, c] = [c, b];
    if (y[b] < y[a]) [a, b] = [b, a];
    const x0 = x[a], y0 = y[a], x1 = x[b], y1 = y[b], x2 = x[c], y2 = y[c];
    if (!(y2 - 0.5 >= 0) || !(y0 - 0.5 <= height - 1)) return;
    const v0 = Math.max(ceilInt(Math.max(y0 - 0.5, -1)), 0);
    const v1 = Math.min(floorInt(Math.min(y2 - 0.5, height)), height - 1);
    const longSlope = y2 > y0 ? (x2 - x0) / (y2 - y0) : 0;
    const upperSlope = y1 > y0 ? (x1 - x0) / (y1 - y0) : 0;
    const lowerSlope = y2 > y1 ? (x2 - x1) / (y2 - y1) : 0;
    const mark = (v, span) => {
      if (span) coverage.fill(1, v * width + span[0], v * width + span[1] + 1);
    };
    for (let v = v0; v <= v1; ++v) {
      const py = v + 0.5;
      const onLong = x0 + (py - y0) * longSlope;
      if (py < y1 || py === y1 && y1 === y2) {
        mark(v, rowSpan(onLong, y1 > y0 ? x0 + (py - y0) * upperSlope : x1, width));
        if (py === y1) mark(v, rowSpan(x1, x2, width));
      } else {
        mark(v, rowSpan(onLong, y2 > y1 ? x1 + (py - y1) * lowerSlope : x2, width));
        if (py === y1 && y0 === y1) mark(v, rowSpan(x0, x1, width));
      }
    }
  }
  function growByDisc(coverage, width, height, radius, grown) {
    const half = [];
    for (let dy = -radius; dy <= radius; ++dy) half.push(discHalfWidth(dy, radius));
    for (let v = 0; v < height; ++v) {
      const row2 = v * width;
      for (let u = 0; u < width; ) {
        if (!coverage[row2 + u]) {
          ++u;
          continue;
        }
        const start = u;
        while (u < width && coverage[row2 + u]) ++u;
        const end = u - 1;
        for (let dy = -radius; dy <= radius; ++dy) {
          const target = v + dy;
          if (target < 0 || target >= height) continue;
          const lo = Math.max(start - half[dy + radius], 0), hi = Math.min(end + half[dy + radius], width - 1);
          grown.fill(1, target * width + lo, target * width + hi + 1);
        }
      }
    }
    return grown;
  }
  function columnsOnHeadSide(line, py, width) {
    const inside = (u) => signedDistance(line, u + 0.5, py) >= 0;
    let loX = -2, hiX = width + 1;
    if (line.nx !== 0) {
      const root = line.px - (py - line.py) * line.ny / line.nx;
      if (line.nx > 0) loX = root;
      else hiX = root;
    } else if (!inside(0)) {
      hiX = loX - 1;
    }
    let lo = Math.max(0, Math.ceil(Math.max(loX, -2) - 0.5));
    let hi = Math.min(width - 1, Math.floor(Math.min(hiX, width + 1) - 0.5));
    if (lo > hi) return [lo, hi];
    while (lo > 0 && inside(lo - 1)) --lo;
    while (lo <= hi && !inside(lo)) ++lo;
    while (hi < width - 1 && inside(hi + 1)) ++hi;
    while (hi >= lo && !inside(hi)) --hi;
    return [lo, hi];
  }

  // src/sh.js
  var C0 = 0.28209479177387814;
  var C1 = 0.4886025119029199;
  var C2 = [1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396];
  var C3 = [
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435
  ];
  function shBasis(degree, x, y, z, out) {
    out[0] = C0;
    if (degree < 1) return out;
    out[1] = -C1 * y;
    out[2] = C1 * z;
    out[3] = -C1 * x;
    if (degree < 2) return out;
    const xx = x * x, yy = y * y, zz = z * z;
    out[4] = C2[0] * x * y;
    out[5] = C2[1] * y * z;
    out[6] = C2[2] * (2 * zz - xx - yy);
    out[7] = C2[3] * x * z;
    out[8] = C2[4] * (xx - yy);
    if (degree < 3) return out;
    out[9] = C3[0] * y * (3 * xx - yy);
    out[10] = C3[1] * x * y * z;
    out[11] = C3[2] * y * (4 * zz - xx - yy);
    out[12] = C3[3] * z * (2 * zz - 3 * xx - 3 * yy);
    out[13] = C3[4] * x * (4 * zz - xx - yy);
    out[14] = C3[5] * z * (xx - yy);
    out[15] = C3[6] * x * (xx - 3 * yy);
    return out;
  }
  function shColours(world, shRest, degree, eye, colours) {
    const k = (degree + 1) ** 2;
    const basis = new Float64Array(16);
    const rest = (k - 1) * 3;
    const { means, shDc } = world;
    for (let i = 0; i < world.count; ++i) {
      const i3 = 3 * i;
      let dx = means[i3] - eye[0], dy = means[i3 + 1] - eye[1], dz = means[i3 + 2] - eye[2];
      const norm = Math.max(Math.sqrt(dx * dx + dy * dy + dz * dz), 1e-12);
      dx /= norm;
      dy /= norm;
      dz /= norm;
      shBasis(degree, dx, dy, dz, basis);
      let r = C0 * shDc[i3], g = C0 * shDc[i3 + 1], b = C0 * shDc[i3 + 2];
      for (let j = 1, at = i * rest; j < k; ++j, at += 3) {
        const w = basis[j];
        r += w * shRest[at];
        g += w * shRest[at + 1];
        b += w * shRest[at + 2];
      }
      colours[i3] = Math.max(r + 0.5, 0);
      colours[i3 + 1] = Math.max(g + 0.5, 0);
      colours[i3 + 2] = Math.max(b + 0.5, 0);
    }
    return colours;
  }

  // src/view_cone.js
  function viewOrigin(cone, params, position) {
    if (!cone) return position;
    const r = axisAngleToMatrix(params.rotation[0], params.rotation[1], params.rotation[2]);
    const c = cone.centre, t = params.translation;
    const centre = [0, 1, 2].map((i) => r[3 * i] * c[0] + r[3 * i + 1] * c[1] + r[3 * i + 2] * c[2] + t[i]);
    const offset = [0, 1, 2].map((i) => position[i] - centre[i]);
    const distance = Math.hypot(offset[0], offset[1], offset[2]);
    const u = offset.map((v) => v / Math.max(distance, 1e-12));
    const a = cone.axis;
    const cos = u[0] * a[0] + u[1] * a[1] + u[2] * a[2];
    if (cos >= Math.cos(cone.half_angle)) return position;
    let side = [0, 1, 2].map((i) => u[i] - cos * a[i]);
    if (Math.hypot(side[0], side[1], side[2]) < 1e-9) {
      side = cross2(a, [0, 1, 0]);
      if (Math.hypot(side[0], side[1], side[2]) < 1e-9) side = cross2(a, [1, 0, 0]);
    }
    const n = Math.hypot(side[0], side[1], side[2]);
    const ca = Math.cos(cone.half_angle), sa = Math.sin(cone.half_angle);
    return [0, 1, 2].map((i) => centre[i] + distance * (ca * a[i] + sa * side[i] / n));
  }
  function cross2(a, b) {
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  }

  // src/splats.js
  var WORDS_PER_SPLAT = 8;
  var ALPHA_MIN = 1 / 255;
  var COLOUR_STEPS = 511.5;
  var HalfArray = globalThis.Float16Array && globalThis.__avatarNoFloat16Array !== true ? globalThis.Float16Array : null;
  var f32 = new Float32Array(1);
  var u32 = new Uint32Array(f32.buffer);
  var SplatPacker = class {
    constructor(count) {
      this.keys = new Uint32Array(count);
      this.order = new Uint32Array(count);
      this.scratchKeys = new Uint32Array(count);
      this.scratchOrder = new Uint32Array(count);
      this.histogram = new Uint32Array(65536);
    }
    /** The visible Gaussians sorted front to back (Uint32Array view of indices). */
    sorted(world, camera) {
      const m = camera.w2c;
      let visible = 0;
      for (let i = 0; i < world.count; ++i) {
        const x = world.means[3 * i], y = world.means[3 * i + 1], z = world.means[3 * i + 2];
        const depth = m[8] * x + m[9] * y + m[10] * z + m[11];
        if (!(depth > camera.near && depth <= camera.far) || !(world.opacities[i] >= ALPHA_MIN)) continue;
        f32[0] = depth;
        this.keys[visible] = u32[0];
        this.order[visible++] = i;
      }
      this.radixSort(visible);
      return this.order.subarray(0, visible);
    }
    /** Stable LSD radix sort of keys[0..n) with order alongside, two passes of 16 bits. */
    radixSort(n) {
      let keys = this.keys, order = this.order, outKeys = this.scratchKeys, outOrder = this.scratchOrder;
      const histogram = this.histogram;
      for (const shift of [0, 16]) {
        histogram.fill(0);
        for (let i = 0; i < n; ++i) histogram[keys[i] >>> shift & 65535]++;
        let sum = 0;
        for (let b = 0; b < 65536; ++b) {
          const c = histogram[b];
          histogram[b] = sum;
          sum += c;
        }
        for (let i = 0; i < n; ++i) {
          const slot = histogram[keys[i] >>> shift & 65535]++;
          outKeys[slot] = keys[i];
          outOrder[slot] = order[i];
        }
        [keys, outKeys] = [outKeys, keys];
        [order, outOrder] = [outOrder, order];
      }
    }
    /** The draw order (back to front) of the sorted visible Gaussians, into out [>= sorted.length]. */
    drawOrder(sorted, out) {
      const n = sorted.length;
      for (let s = 0; s < n; ++s) out[s] = sorted[n - 1 - s];
      return out.subarray(0, n);
    }
    /** words [WORDS_PER_SPLAT * N]: every Gaussian, in its own order. */
    pack(world, colours, words) {
      const n = world.count;
      const floats = new Float32Array(words.buffer, words.byteOffset, words.length);
      const halves = HalfArray ? new HalfArray(words.buffer, words.byteOffset, 2 * words.length) : this.staging && this.staging.length === 2 * words.length ? this.staging : this.staging = new Float32Array(2 * words.length);
      const q = world.quats, sc = world.scales, op = world.opacities, means = world.means;
      for (let i = 0; i < n; ++i) {
        const o = WORDS_PER_SPLAT * i, i3 = 3 * i, i4 = 4 * i;
        floats[o] = means[i3];
        floats[o + 1] = means[i3 + 1];
        floats[o + 2] = means[i3 + 2];
        const r = Math.min(1023, Math.round(colours[i3] * COLOUR_STEPS));
        const g = Math.min(1023, Math.round(colours[i3 + 1] * COLOUR_STEPS));
        const b = Math.min(1023, Math.round(colours[i3 + 2] * COLOUR_STEPS));
        words[o + 3] = (r | g << 10 | b << 20) >>> 0;
        const h = 2 * o + 8;
        halves[h] = q[i4];
        halves[h + 1] = q[i4 + 1];
        halves[h + 2] = q[i4 + 2];
        halves[h + 3] = q[i4 + 3];
        halves[h + 4] = 1e3 * sc[i3];
        halves[h + 5] = 1e3 * sc[i3 + 1];
        halves[h + 6] = 1e3 * sc[i3 + 2];
        halves[h + 7] = op[i];
      }
      if (!HalfArray) stagedToHalves(this.staging, new Uint16Array(words.buffer, words.byteOffset, 2 * words.length), n);
      return words;
    }
  };
  function stagedToHalves(staged, halves, n) {
    const bits = new Uint32Array(staged.buffer, staged.byteOffset, staged.length);
    for (let i = 0; i < n; ++i) {
      for (let k = 16 * i + 8; k < 16 * i + 16; ++k) {
        const x = bits[k];
        const sign = x >>> 16 & 32768;
        const exponent = x >>> 23 & 255;
        let mantissa = x & 8388607;
        let out;
        if (exponent === 255) out = sign | 31744 | (mantissa ? 512 : 0);
        else {
          const e = exponent - 112;
          if (e >= 31) out = sign | 31744;
          else if (e <= 0) {
            if (e < -10) out = sign;
            else {
              mantissa |= 8388608;
              const shift = 14 - e;
              const half = mantissa >>> shift, rest = mantissa & (1 << shift) - 1, midpoint = 1 << shift - 1;
              out = sign | half + (rest > midpoint || rest === midpoint && half & 1 ? 1 : 0);
            }
          } else {
            const half = e << 10 | mantissa >>> 13, rest = mantissa & 8191;
            out = sign | half + (rest > 4096 || rest === 4096 && half & 1 ? 1 : 0);
          }
        }
        halves[k] = out;
      }
    }
  }

  // src/engine.js
  var AvatarEngine = class {
    constructor(avatar) {
      this.avatar = avatar;
      this.poser = new RigPoser(avatar.rig);
      this.blender = new Blender(avatar);
      this.packer = new SplatPacker(avatar.gaussians.count);
      this.colours = new Float32Array(avatar.gaussians.count * 3);
      this.cutter = new HeadCutter();
    }
    /** The frame of params seen by camera: {words (Uint32Array, WORDS_PER_SPLAT for each Gaussian,
     * in its own order), order (Uint32Array: the visible Gaussians back to front), count (of them),
     * region (Uint8Array [H * W], 1 = kept; null without a cut), ms per stage}. `reuse`: the last
     * frame's {words, order, region}, filled again where big enough. */
    frame(params, camera, reuse = {}) {
      const clock = new Clock();
      const verts = this.poser.pose(params);
      const poseMs = clock.lap();
      const world = this.blender.blend(verts, params);
      const blendMs = clock.lap();
      const { gaussians } = this.avatar;
      const n = gaussians.count;
      const eye = viewOrigin(this.avatar.viewCone, params, cameraPosition(camera));
      shColours(world, gaussians.shRest, gaussians.degree, eye, this.colours);
      const colourMs = clock.lap();
      const sorted = this.packer.sorted(world, camera);
      const order = this.packer.drawOrder(sorted, whole(reuse.order, n) || new Uint32Array(n));
      const sortMs = clock.lap();
      const words = this.packer.pack(
        world,
        this.colours,
        whole(reuse.words, WORDS_PER_SPLAT * n) || new Uint32Array(WORDS_PER_SPLAT * n)
      );
      const packMs = clock.lap();
      const cut = this.avatar.headCut;
      const region = cut ? this.cutter.region(cut, verts, this.avatar.rig, camera, reuse.region) : null;
      const cutMs = clock.lap();
      return {
        words,
        order,
        count: order.length,
        region,
        verts,
        world,
        colours: this.colours,
        ms: { pose: poseMs, blend: blendMs, colour: colourMs, sort: sortMs, pack: packMs, cut: cutMs }
      };
    }
  };
  function whole(array, length) {
    if (!array || array.buffer.byteLength !== length * array.BYTES_PER_ELEMENT) return null;
    return new array.constructor(array.buffer);
  }
  var Clock = class {
    constructor() {
      this.last = performance.now();
    }
    lap() {
      const now = performance.now(), ms = now - this.last;
      this.last = now;
      return ms;
    }
  };

  // src/worker.js
  function startWorker(scope) {
    let engine = null;
    scope.onmessage = ({ data }) => {
      try {
        if (data.type === "load") {
          const avatar = readWebAvatar(data.buffer, data.name);
          engine = new AvatarEngine(avatar);
          scope.postMessage({ type: "loaded", summary: summary(avatar) });
        } else if (data.type === "frame") {
          const started = performance.now();
          const out = engine.frame(data.params, data.camera, data.reuse || {});
          const ms = { ...out.ms, total: performance.now() - started };
          const transfer = [out.words.buffer, out.order.buffer];
          if (out.region) transfer.push(out.region.buffer);
          scope.postMessage({
            type: "frame",
            id: data.id,
            words: out.words,
            order: out.order,
            count: out.count,
            region: out.region,
            ms
          }, transfer);
        }
      } catch (error) {
        scope.postMessage({ type: "error", id: data.id, message: String(error && error.message ? error.message : error) });
      }
    };
  }
  function summary(avatar) {
    const { rig, gaussians } = avatar;
    return {
      rig: rig.name,
      numExpr: rig.numExpr,
      exprNames: rig.exprNames,
      numGaussians: gaussians.count,
      shDegree: gaussians.degree,
      background: avatar.background,
      hasCut: Boolean(avatar.headCut),
      expressionRange: avatar.expressionRange
    };
  }

  // src/main.js
  if (typeof WorkerGlobalScope !== "undefined" && self instanceof WorkerGlobalScope) {
    startWorker(self);
  } else {
    const scriptUrl = document.currentScript.src;
    window.addEventListener("DOMContentLoaded", () => main(scriptUrl));
  }
  async function main(scriptUrl) {
    const query = new URLSearchParams(location.search);
    const hud = document.getElementById("hud");
    const transparent = query.get("bg") === "transparent";
    if (transparent) document.documentElement.classList.add("transparent");
    try {
      const player = new Player(document.getElementById("view"), scriptUrl, {
        size: Number(query.get("size")) || Math.min(512, Math.floor(Math.min(innerWidth, innerHeight) * devicePixelRatio)),
        target: query.get("target") || "auto",
        transparent
      });
      window.avatarPlayer = player;
      const summary2 = await player.load(new URL(".", location.href));
      document.title = `${player.manifest.name} \xB7 avatar`;
      hud.textContent = `${summary2.numGaussians} Gaussians`;
      buildUi(player, query);
      const wanted = query.get("seq");
      const sequence = player.sequences.find((s) => s.name === wanted);
      if (sequence) player.play(sequence);
      if (!query.get("manual")) player.start();
      player.ready = true;
    } catch (error) {
      const box = document.getElementById("error");
      box.textContent = String(error.message || error);
      box.hidden = false;
      hud.textContent = "failed";
      window.avatarPlayerError = String(error.message || error);
    }
  }
})();
