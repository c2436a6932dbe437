// WebGL2 splatting of a packed frame (splats.js): every splat a quad, accumulated in
// a float target where the browser can (RGBA32F with blending, else RGBA16F, else the 8-bit
// canvas itself), then put over the background with the cut below the head; or, transparent,
// left premultiplied in a canvas with alpha (what OBS's browser source and page compositing take).

import { COMPOSITE_FRAGMENT, COMPOSITE_VERTEX, SPLAT_FRAGMENT, SPLAT_VERTEX } from "./shaders.js";

const ROW_TEXELS = 2048; // splat texture width (WebGL2 guarantees textures of 2048)
const FRUSTUM_MARGIN = 0.3;

export class SplatRenderer {
  /** target: "auto" (the most precise the browser blends into), or "rgba16f" / "rgba8" to
   * force a lesser one (as on browsers without float blending). transparent: no background, the
   * canvas holds premultiplied colour and the avatar's coverage (0 outside it and below the cut). */
  constructor(canvas, target = "auto", transparent = false) {
    const gl = canvas.getContext("webgl2", { antialias: false, alpha: transparent, depth: false, stencil: false,
      premultipliedAlpha: transparent, preserveDrawingBuffer: false, powerPreference: "high-performance" });
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
    this.splatTexture = null; // every Gaussian's packed words (splats.js)
    this.splatRows = 0;
    this.orderTexture = null; // the draw order: indices of the visible Gaussians, back to front
    this.orderRows = 0;
    this.regionTexture = gl.createTexture();
    this.framebuffer = null;
    this.size = [0, 0];
    // GPU time of each frame where the browser measures it (EXT_disjoint_timer_query_webgl2;
    // many phones' browsers do not): read back a few frames later, never waited for.
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

    // Into the float target from transparent black, or straight into the canvas over the
    // background (premultiplied "over", back to front, gives the same sum).
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
    const row = width * 4;
    for (let y = 0; y < height; ++y) out.set(bottomUp.subarray((height - 1 - y) * row, (height - y) * row), y * row);
    return out;
  }

  prepareTargets(width, height) {
    const gl = this.gl;
    if (this.size[0] === width && this.size[1] === height) return;
    this.size = [width, height];
    if (this.target.internal === null) return; // the canvas is the target
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
}

/** The accumulation target: {internal, type, name}; internal null means the canvas itself. */
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
  gl.uniform4fv(gl.getUniformLocation(p, "u_view"), [m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9],
    m[10], m[11]]);
  const fx = k[0], fy = k[4], cx = k[2], cy = k[5];
  gl.uniform4f(gl.getUniformLocation(p, "u_intrinsics"), fx, fy, cx, cy);
  const tanX = (0.5 * width) / fx, tanY = (0.5 * height) / fy;
  gl.uniform4f(gl.getUniformLocation(p, "u_limits"), cx / fx + FRUSTUM_MARGIN * tanX,
    (width - cx) / fx + FRUSTUM_MARGIN * tanX, cy / fy + FRUSTUM_MARGIN * tanY, (height - cy) / fy + FRUSTUM_MARGIN * tanY);
  gl.uniform2f(gl.getUniformLocation(p, "u_size"), width, height);
}

function bindCorners(gl, p, buffer) {
  const location = gl.getAttribLocation(p, "a_corner");
  gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
  gl.enableVertexAttribArray(location);
  gl.vertexAttribPointer(location, 2, gl.FLOAT, false, 0, 0);
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
