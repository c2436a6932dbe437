// The cut below the head per frame on the GPU (cut_shaders.js): the rig's pixels from the posed
// vertices, grown by the neck margin's disc, and the lines' per-row spans from the CPU (cut.js);
// the renderer's composite keeps a pixel where the spans and the grown pixels say so.

import { COVERAGE_FRAGMENT, COVERAGE_VERTEX, GROW_FRAGMENT, ROW_DISTANCE_FRAGMENT } from "./cut_shaders.js";
import { FULL_VIEWPORT_VERTEX } from "./pose_shaders.js";
import { bindTextures, dataTexture, nearest, program, renderTarget } from "./gl_util.js";

export class CutGpu {
  /** faces: the coverage faces [F' * 3] (cut.js's coverageFaces); hanging: the neck line alone. */
  constructor(gl, faces, hanging) {
    this.gl = gl;
    this.hanging = hanging;
    this.spanTexture = gl.createTexture();
    this.halfTexture = gl.createTexture();
    this.size = [0, 0];
    this.radius = -1;
    if (hanging) return;
    this.faceCount = faces.length / 3;
    const texels = new Uint32Array(4 * 2048 * Math.max(1, Math.ceil(this.faceCount / 2048)));
    for (let f = 0; f < this.faceCount; ++f) texels.set(faces.subarray(3 * f, 3 * f + 3), 4 * f);
    this.faces = dataTexture(gl, "RGBA32UI", texels, "the cut's faces");
    this.coverageProgram = program(gl, COVERAGE_VERTEX, COVERAGE_FRAGMENT);
    this.distanceProgram = program(gl, FULL_VIEWPORT_VERTEX, ROW_DISTANCE_FRAGMENT);
    this.growProgram = program(gl, FULL_VIEWPORT_VERTEX, GROW_FRAGMENT);
  }

  /** The frame's cut (frame_inputs.js's `cut`) for the rig posed in `posed` seen by camera:
   * {spans (RGBA32I [H]), grown (R8UI [H, W], GL rows) or null, hanging} for the composite. */
  region(cut, posed, camera) {
    const gl = this.gl, { width, height } = camera;
    gl.bindTexture(gl.TEXTURE_2D, this.spanTexture);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 4);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32I, height, 1, 0, gl.RGBA_INTEGER, gl.INT, cut.spans);
    nearest(gl);
    if (this.hanging) return { spans: this.spanTexture, grown: null, hanging: true };
    if (this.size[0] !== width || this.size[1] !== height) {
      this.size = [width, height];
      this.covered = renderTarget(gl, ["R8UI"], width, height);
      this.distance = renderTarget(gl, ["R8UI"], width, height);
      this.grown = renderTarget(gl, ["R8UI"], width, height);
    }
    if (cut.radius !== this.radius) {
      this.radius = cut.radius;
      gl.bindTexture(gl.TEXTURE_2D, this.halfTexture);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.R32I, cut.radius + 1, 1, 0, gl.RED_INTEGER, gl.INT, cut.halfWidths);
      nearest(gl);
    }
    const result = { spans: this.spanTexture, grown: this.grown.textures[0], hanging: false };
    const band = bandBox(cut.spans, width, height);
    if (!band) return result; // no pixel between the lines: the composite reads no grown pixel
    const r = cut.radius;
    gl.disable(gl.BLEND);
    gl.viewport(0, 0, width, height);
    gl.enable(gl.SCISSOR_TEST);
    // the rig's pixels, where the growth reads them (the band's box and the disc around it)
    scissor(gl, band, r, r, width, height);
    let p = this.coverageProgram;
    gl.useProgram(p);
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.covered.framebuffer);
    gl.clearBufferuiv(gl.COLOR, 0, [0, 0, 0, 0]);
    bindTextures(gl, p, { u_faces: this.faces, u_posed: posed });
    const m = camera.w2c, k = camera.K;
    gl.uniform4fv(p.uniform("u_view"), [m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11]]);
    gl.uniform3fv(p.uniform("u_k"), k.slice(0, 9));
    gl.uniform3f(p.uniform("u_frame"), width, height, camera.near);
    gl.drawArrays(gl.TRIANGLES, 0, 6 * this.faceCount);
    // grown by the disc: the row distance (in the band's rows and the disc's), then the disc's rows
    for (const [prog, source, target, rows] of [[this.distanceProgram, this.covered, this.distance, r],
      [this.growProgram, this.distance, this.grown, 0]]) {
      scissor(gl, band, 0, rows, width, height);
      p = prog;
      gl.useProgram(p);
      gl.bindFramebuffer(gl.FRAMEBUFFER, target.framebuffer);
      bindTextures(gl, p, p === this.growProgram ? { u_distance: source.textures[0], u_half: this.halfTexture }
        : { u_covered: source.textures[0] });
      gl.uniform1i(p.uniform("u_radius"), cut.radius);
      gl.uniform2i(p.uniform("u_size"), width, height);
      gl.drawArrays(gl.TRIANGLES, 0, 3);
    }
    gl.disable(gl.SCISSOR_TEST);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    return result;
  }
}

/** The box {x0, x1, v0, v1} (columns, rows from the top, inclusive) of the pixels between the two
 * lines, where the composite reads the grown pixels (spans: cut.js's), or null when there are none. */
function bandBox(spans, width, height) {
  let x0 = width, x1 = -1, v0 = height, v1 = -1;
  for (let v = 0; v < height; ++v) {
    const ringLo = spans[4 * v], ringHi = spans[4 * v + 1], sidesLo = spans[4 * v + 2], sidesHi = spans[4 * v + 3];
    if (ringLo > ringHi) continue;
    // the ring's columns less the sides': what remains at either end
    const whole = sidesLo > sidesHi || sidesHi < ringLo || sidesLo > ringHi;
    const left = whole ? ringLo : sidesLo > ringLo ? ringLo : null;
    const right = whole ? ringHi : sidesHi < ringHi ? ringHi : null;
    if (left === null && right === null) continue;
    x0 = Math.min(x0, left ?? sidesHi + 1);
    x1 = Math.max(x1, right ?? sidesLo - 1);
    v0 = Math.min(v0, v);
    v1 = Math.max(v1, v);
  }
  return v1 < 0 ? null : { x0, x1, v0, v1 };
}

/** The scissor box of `band` widened by dx columns and dy rows (GL's rows from the bottom). */
function scissor(gl, band, dx, dy, width, height) {
  const x0 = Math.max(band.x0 - dx, 0), x1 = Math.min(band.x1 + dx, width - 1);
  const top = Math.max(band.v0 - dy, 0), bottom = Math.min(band.v1 + dy, height - 1);
  gl.scissor(x0, height - 1 - bottom, x1 - x0 + 1, bottom - top + 1);
}
