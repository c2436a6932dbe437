// WebGL2 splatting of a frame's splats (the GPU's projected Gaussians, gpu/avatar_gpu.js) in a
// draw order (the worker's sort): every splat a quad, accumulated in a float target where the
// browser can (RGBA32F with blending, else RGBA16F, else the 8-bit canvas itself), then put over
// the background with the cut below the head (gpu/cut_gpu.js); or, transparent, left
// premultiplied in a canvas with alpha (what OBS's browser source and page compositing take).

import { nearest, program } from "../gpu/gl_util.js";
import { TEXTURE_WIDTH } from "../gpu/layout.js";

const TIMED_EVERY = 8; // frames
import { COMPOSITE_FRAGMENT, COMPOSITE_VERTEX, SPLAT_FRAGMENT, SPLAT_VERTEX } from "./shaders.js";

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
    this.orderTexture = null; // the draw order: indices of the visible Gaussians, back to front
    this.orderRows = 0;
    this.orderCount = 0;
    this.framebuffer = null;
    this.size = [0, 0];
    // GPU time of each frame where the browser measures it (EXT_disjoint_timer_query_webgl2;
    // many phones' browsers do not): its spans of GPU work (the passes, the draw) timed apart,
    // since the frame waits for its sort between them; read back a few frames later, never waited for.
    this.timer = gl.getExtension("EXT_disjoint_timer_query_webgl2");
    this.queries = []; // {frame, query} in flight
    this.open = null;
    this.frameMs = new Map(); // frame -> {ms, closed}
    this.gpuMs = null;
  }

  /** Starts timing a span of frame `frame`'s GPU work (ended by endSpan; last: the frame's last);
   * one frame in TIMED_EVERY is timed (each query costs the page's thread some time). */
  beginSpan(frame) {
    if (!this.timer || frame % TIMED_EVERY) return;
    this.collectTimings();
    if (this.queries.length >= 8) return;
    this.open = { frame, query: this.gl.createQuery() };
    this.gl.beginQuery(this.timer.TIME_ELAPSED_EXT, this.open.query);
    if (!this.frameMs.has(frame)) this.frameMs.set(frame, { ms: 0, closed: false, lost: false });
  }

  endSpan(last = false) {
    if (!this.open) return;
    this.gl.endQuery(this.timer.TIME_ELAPSED_EXT);
    this.queries.push(this.open);
    if (last) this.frameMs.get(this.open.frame).closed = true;
    this.open = null;
  }

  /** The draw order (indices back to front, Uint32Array) the next draws use. */
  setOrder(order) {
    this.orderTexture = this.upload(this.orderTexture, order);
    this.orderCount = order.length;
  }

  /** Draws the splats (textures [a, b] of gaussian_shaders.js) in the last setOrder's order
   * seen by camera over background [3], with the cut (cut_gpu.js's region, or null). */
  draw(splats, cut, camera, background) {
    const count = this.orderCount;
    const gl = this.gl;
    const { width, height } = camera;
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.prepareTargets(width, height);

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
    gl.uniform2f(gl.getUniformLocation(p, "u_size"), width, height);
    [...splats, this.orderTexture].forEach((texture, unit) => {
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, texture);
      gl.uniform1i(gl.getUniformLocation(p, ["u_a", "u_b", "u_order"][unit]), unit);
    });
    if (count) {
      this.bindQuadIndices(count);
      gl.drawElements(gl.TRIANGLES, 6 * count, gl.UNSIGNED_INT, 0);
    }

    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.disable(gl.BLEND);
    if (!direct || cut) this.composite(direct, cut, width, height, background);
  }

  /** For the tests: the cut's region drawn into the canvas (white where kept, black where cut). */
  drawRegion(cut, camera) {
    const gl = this.gl;
    this.canvas.width = camera.width;
    this.canvas.height = camera.height;
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.viewport(0, 0, camera.width, camera.height);
    gl.disable(gl.BLEND);
    this.composite(false, cut, camera.width, camera.height, [0, 0, 0], true);
  }

  /** The GPU times of earlier frames that are ready (this.gpuMs: the newest whole frame's). */
  collectTimings() {
    const gl = this.gl;
    while (this.queries.length && gl.getQueryParameter(this.queries[0].query, gl.QUERY_RESULT_AVAILABLE)) {
      const { frame, query } = this.queries.shift();
      const entry = this.frameMs.get(frame);
      if (gl.getParameter(this.timer.GPU_DISJOINT_EXT)) entry.lost = true;
      else entry.ms += gl.getQueryParameter(query, gl.QUERY_RESULT) / 1e6;
      gl.deleteQuery(query);
    }
    for (const [frame, entry] of this.frameMs) {
      if (!entry.closed || this.queries.some((q) => q.frame === frame)) continue;
      if (!entry.lost) this.gpuMs = entry.ms;
      this.frameMs.delete(frame);
    }
  }

  /** The accumulated splats over the background, with the cut (direct: only the cut; showRegion:
   * the cut's region itself). */
  composite(direct, cut, width, height, background, showRegion = false) {
    const gl = this.gl;
    const c = this.compositeProgram;
    gl.useProgram(c);
    gl.uniform1i(gl.getUniformLocation(c, "u_cut_only"), direct ? 1 : 0);
    gl.uniform1i(gl.getUniformLocation(c, "u_show_region"), showRegion ? 1 : 0);
    gl.uniform2f(gl.getUniformLocation(c, "u_size"), width, height);
    [direct ? null : this.accumulated, cut && cut.spans, cut && cut.grown].forEach((texture, unit) => {
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, texture);
      gl.uniform1i(gl.getUniformLocation(c, ["u_accumulated", "u_spans", "u_grown"][unit]), unit);
    });
    gl.uniform1i(gl.getUniformLocation(c, "u_cut"), !cut ? 0 : cut.hanging ? 1 : 2);
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

  /** The draw order into an R32UI texture TEXTURE_WIDTH wide, made anew where it has too few
   * rows; returns the texture. */
  upload(texture, data) {
    const gl = this.gl;
    const rows = Math.max(1, Math.ceil(data.length / TEXTURE_WIDTH));
    if (!texture || rows > this.orderRows) {
      if (texture) gl.deleteTexture(texture);
      texture = gl.createTexture();
      this.orderRows = rows;
      gl.bindTexture(gl.TEXTURE_2D, texture);
      gl.texStorage2D(gl.TEXTURE_2D, 1, gl.R32UI, TEXTURE_WIDTH, rows);
      nearest(gl);
    }
    if (data.length === 0) return texture;
    gl.bindTexture(gl.TEXTURE_2D, texture);
    const full = Math.floor(data.length / TEXTURE_WIDTH);
    if (full) gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEXTURE_WIDTH, full, gl.RED_INTEGER, gl.UNSIGNED_INT, data, 0);
    const rest = data.length - full * TEXTURE_WIDTH;
    if (rest) {
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, full, rest, 1, gl.RED_INTEGER, gl.UNSIGNED_INT, data, full * TEXTURE_WIDTH);
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

function bindCorners(gl, p, buffer) {
  const location = gl.getAttribLocation(p, "a_corner");
  gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
  gl.enableVertexAttribArray(location);
  gl.vertexAttribPointer(location, 2, gl.FLOAT, false, 0, 0);
}
