// The avatar's per-frame work on the GPU (WebGL2, no extension): its arrays uploaded once
// (gpu/layout.js), then per frame the rig posed, its triangles' frames, and every Gaussian
// blended, coloured and projected into the splats the renderer draws, with their depths for the
// sort. The CPU hands over the frame's few inputs (frame_inputs.js): expression weights, the
// joints' transforms, the offsets' factors, the viewpoint and the camera. The frame's outputs
// (posed vertices, splats, depth read-back) live in SLOTS slots, one a frame under way. A level of
// detail (meta.levels, gpu/layout.js) runs the Gaussians' pass and the read-back over its rows
// only: the first rows, where its Gaussians' places are.

import { FRAMES_FRAGMENT, FULL_VIEWPORT_VERTEX, poseFragment } from "./pose_shaders.js";
import { gaussianFragment } from "./gaussian_shaders.js";
import { bindTextures, dataTexture, program, readTarget, renderTarget, rowsFor, runPass } from "./gl_util.js";
import { TEXTURE_WIDTH } from "./layout.js";

const FRUSTUM_MARGIN = 0.3; // avatar/splat/projection.py's widened frustum for the Jacobian's clamp
const FACTORS_BINDING = 0;
const DEPTH_ATTACHMENT = 2; // the splats' target: a, b, then the depth keys
// Slots: 1. With 2, the next frame's passes queue behind a frame's draw while the frame before
// waits for its sort; under SwiftShader that gained 2-4 % in frame time but the page's thread
// then waited 65-110 ms a frame in getBufferSubData behind the queued draw (Chromium runs the
// read-back after all the commands before it).
export const SLOTS = 1;

export class AvatarGpu {
  constructor(gl, layout) {
    const { arrays, meta } = layout;
    this.gl = gl;
    this.meta = meta;
    this.count = meta.count;
    const t = (internal, name, what) => dataTexture(gl, internal, arrays[name], what);
    this.data = {
      vertices: t("RGBA32UI", "vertices", "the rig's vertices"),
      exprs: t("R32UI", "exprs", "the rig's expressions"),
      faces: t("RGBA32UI", "faces", "the rig's faces"),
      gaussians: t("RGBA32UI", "gaussians", "the Gaussians"),
      offsets: t("RGBA32UI", "offsets", "the Gaussians' offsets"),
      sh: t("RGBA32UI", "shRest", "the Gaussians' SH"),
    };
    if (arrays.posedirs) this.data.posedirs = t("R32UI", "posedirs", "the rig's pose correctives");
    this.poseProgram = program(gl, FULL_VIEWPORT_VERTEX, poseFragment(meta.numExpr, meta.numJoints, meta.numPoseFeatures));
    this.framesProgram = program(gl, FULL_VIEWPORT_VERTEX, FRAMES_FRAGMENT);
    this.splatProgram = program(gl, FULL_VIEWPORT_VERTEX, gaussianFragment(meta));
    this.worldProgram = null; // the tests' variant, made when asked
    const vertexRows = rowsFor(gl, meta.numVertices, "the rig's vertices");
    this.posed = Array.from({ length: SLOTS }, () => renderTarget(gl, ["RGBA32UI"], TEXTURE_WIDTH, vertexRows));
    this.frames = renderTarget(gl, ["RGBA32UI", "RGBA32UI", "RGBA32UI", "RGBA32UI"], TEXTURE_WIDTH,
      rowsFor(gl, meta.numFaces, "the rig's faces"));
    this.positions = layout.arrays.positions; // per Gaussian its place (texel), gpu/layout.js
    const rows = rowsFor(gl, meta.places, "the Gaussians");
    this.splats = Array.from({ length: SLOTS }, () => {
      const target = renderTarget(gl, ["RGBA32UI", "RGBA32UI", "R32UI"], TEXTURE_WIDTH, rows);
      // places without a Gaussian are never drawn into: their depth keys stay "not drawn"
      gl.bindFramebuffer(gl.FRAMEBUFFER, target.framebuffer);
      gl.clearBufferuiv(gl.COLOR, DEPTH_ATTACHMENT, [0xffffffff, 0, 0, 0]);
      gl.bindFramebuffer(gl.FRAMEBUFFER, null);
      return target;
    });
    this.factors = gl.createBuffer();
    gl.bindBuffer(gl.UNIFORM_BUFFER, this.factors);
    gl.bufferData(gl.UNIFORM_BUFFER, 4 * 4 * 5 * (meta.drivers + 1), gl.DYNAMIC_DRAW);
    gl.bindBuffer(gl.UNIFORM_BUFFER, null);
    // per slot, the depth keys' asynchronous read-back: a pixel-pack buffer, its fence and the rows read
    this.keyBuffers = Array.from({ length: SLOTS }, () => null);
    this.keyFences = Array.from({ length: SLOTS }, () => null);
    this.keyRows = Array.from({ length: SLOTS }, () => 0);
  }

  /** Slot `slot`'s splats, the textures the renderer draws from: [a, b] (gaussian_shaders.js's o_a, o_b). */
  splatTextures(slot) { return this.splats[slot].textures.slice(0, 2); }

  /** Slot `slot`'s posed vertices (float bits, a texel a vertex): the cut's coverage reads them. */
  posedTexture(slot) { return this.posed[slot].textures[0]; }

  /** Poses the rig and its triangles' frames for the frame's inputs (frame_inputs.js) into slot `slot`. */
  pose(inputs, slot) {
    const gl = this.gl, meta = this.meta;
    let p = this.poseProgram;
    gl.useProgram(p);
    const textures = { u_vertices: this.data.vertices, u_exprs: this.data.exprs };
    if (meta.numPoseFeatures) {
      textures.u_posedirs = this.data.posedirs;
      gl.uniform1fv(p.uniform("u_feature"), inputs.feature);
    }
    bindTextures(gl, p, textures);
    gl.uniform1i(p.uniform("u_count"), meta.numVertices);
    gl.uniform1fv(p.uniform("u_expr"), inputs.exprWeights);
    gl.uniform4fv(p.uniform("u_skin"), inputs.transforms);
    gl.uniform3fv(p.uniform("u_translation"), inputs.translation);
    runPass(gl, this.posed[slot]);
    p = this.framesProgram;
    gl.useProgram(p);
    bindTextures(gl, p, { u_faces: this.data.faces, u_posed: this.posedTexture(slot) });
    gl.uniform1i(p.uniform("u_count"), meta.numFaces);
    runPass(gl, this.frames);
  }

  /** Blends, colours and projects every Gaussian of level of detail `level` (0: all) for the
   * frame's inputs seen by camera into slot `slot` (after pose). */
  project(inputs, camera, slot, level = 0) {
    this.runGaussians(this.splatProgram, this.splats[slot], inputs, camera, this.meta.levels[level].rows);
  }

  runGaussians(p, target, inputs, camera, rows = target.rows) {
    const gl = this.gl;
    gl.useProgram(p);
    gl.bindBuffer(gl.UNIFORM_BUFFER, this.factors);
    gl.bufferSubData(gl.UNIFORM_BUFFER, 0, inputs.factors);
    gl.bindBuffer(gl.UNIFORM_BUFFER, null);
    gl.uniformBlockBinding(p, gl.getUniformBlockIndex(p, "Factors"), FACTORS_BINDING);
    gl.bindBufferBase(gl.UNIFORM_BUFFER, FACTORS_BINDING, this.factors);
    const [origin, xaxis, normal, quat] = this.frames.textures;
    bindTextures(gl, p, { u_gaussians: this.data.gaussians, u_offsets: this.data.offsets, u_sh: this.data.sh,
      u_origin: origin, u_xaxis: xaxis, u_normal: normal, u_quat: quat });
    gl.uniform3fv(p.uniform("u_eye"), inputs.eye);
    const m = camera.w2c, k = camera.K, { width, height } = camera;
    gl.uniform4fv(p.uniform("u_view"), [m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11]]);
    const fx = k[0], fy = k[4], cx = k[2], cy = k[5];
    gl.uniform4f(p.uniform("u_intrinsics"), fx, fy, cx, cy);
    const tanX = (0.5 * width) / fx, tanY = (0.5 * height) / fy;
    gl.uniform4f(p.uniform("u_limits"), cx / fx + FRUSTUM_MARGIN * tanX, (width - cx) / fx + FRUSTUM_MARGIN * tanX,
      cy / fy + FRUSTUM_MARGIN * tanY, (height - cy) / fy + FRUSTUM_MARGIN * tanY);
    gl.uniform2f(p.uniform("u_depths"), camera.near, camera.far);
    runPass(gl, target, rows);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
  }

  /** The depth keys of slot `slot`'s last project() of level `level` now (waits for the GPU):
   * Uint32Array, a key a place of the level's rows. */
  readDepthKeys(slot, level = 0) {
    return readTarget(this.gl, this.splats[slot], DEPTH_ATTACHMENT, this.meta.levels[level].rows);
  }

  /** Starts reading slot `slot`'s depth keys of level `level` back without waiting: a pixel-pack
   * buffer filled by the GPU, and a fence polled by takeDepthKeys. */
  startDepthKeys(slot, level = 0) {
    const gl = this.gl, target = this.splats[slot];
    const width = target.width, rows = this.meta.levels[level].rows;
    gl.bindFramebuffer(gl.READ_FRAMEBUFFER, target.framebuffer);
    gl.readBuffer(gl.COLOR_ATTACHMENT0 + DEPTH_ATTACHMENT);
    if (!this.keyFormat) {
      this.keyFormat = gl.getParameter(gl.IMPLEMENTATION_COLOR_READ_FORMAT) === gl.RED_INTEGER
        && gl.getParameter(gl.IMPLEMENTATION_COLOR_READ_TYPE) === gl.UNSIGNED_INT ? gl.RED_INTEGER : gl.RGBA_INTEGER;
      this.keyStride = this.keyFormat === gl.RED_INTEGER ? 1 : 4;
    }
    if (!this.keyBuffers[slot]) { // room for every level's rows
      this.keyBuffers[slot] = gl.createBuffer();
      gl.bindBuffer(gl.PIXEL_PACK_BUFFER, this.keyBuffers[slot]);
      gl.bufferData(gl.PIXEL_PACK_BUFFER, 4 * this.keyStride * width * target.rows, gl.STREAM_READ);
    }
    gl.bindBuffer(gl.PIXEL_PACK_BUFFER, this.keyBuffers[slot]);
    gl.readPixels(0, 0, width, rows, this.keyFormat, gl.UNSIGNED_INT, 0);
    gl.bindBuffer(gl.PIXEL_PACK_BUFFER, null);
    gl.bindFramebuffer(gl.READ_FRAMEBUFFER, null);
    this.keyFences[slot] = gl.fenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0);
    this.keyRows[slot] = rows;
    gl.flush();
  }

  /** Slot `slot`'s keys that startDepthKeys asked for, once the GPU has them: {keys (into `out`
   * when it has their length), stride (values a place: 1, or 4 where the browser reads RGBA)},
   * else null. */
  takeDepthKeys(slot, out) {
    const gl = this.gl, fence = this.keyFences[slot];
    if (!fence || gl.getSyncParameter(fence, gl.SYNC_STATUS) !== gl.SIGNALED) return null;
    gl.deleteSync(fence);
    this.keyFences[slot] = null;
    const length = this.keyStride * this.splats[slot].width * this.keyRows[slot];
    const keys = out && out.length === length ? out : new Uint32Array(length);
    gl.bindBuffer(gl.PIXEL_PACK_BUFFER, this.keyBuffers[slot]);
    gl.getBufferSubData(gl.PIXEL_PACK_BUFFER, 0, keys);
    gl.bindBuffer(gl.PIXEL_PACK_BUFFER, null);
    return { keys, stride: this.keyStride };
  }

  /** For the tests (slot 0): the posed vertices [V * 3] and the world Gaussians {means [N * 3],
   * opacities [N], quats [N * 4], scales [N * 3], colours [N * 3]} of the frame's inputs seen by
   * camera, read back from the GPU (the same shaders, the Gaussians' pass writing them instead of
   * splats). */
  readWorld(inputs, camera) {
    const gl = this.gl, n = this.count, v = this.meta.numVertices;
    if (!this.worldProgram) {
      this.worldProgram = program(gl, FULL_VIEWPORT_VERTEX, gaussianFragment(this.meta, true));
      this.world = renderTarget(gl, ["RGBA32UI", "RGBA32UI", "RGBA32UI", "RGBA32UI"], TEXTURE_WIDTH, this.splats[0].rows);
    }
    this.pose(inputs, 0);
    const posed = new Float32Array(readTarget(gl, this.posed[0], 0).buffer);
    this.runGaussians(this.worldProgram, this.world, inputs, camera);
    const [mean, quat, scale, colour] = [0, 1, 2, 3].map((k) => new Float32Array(readTarget(gl, this.world, k).buffer));
    const places = this.positions;
    const pick = (texels, channels) => {
      const out = new Float32Array(n * channels);
      for (let i = 0; i < n; ++i) for (let c = 0; c < channels; ++c) out[channels * i + c] = texels[4 * places[i] + c];
      return out;
    };
    const verts = new Float32Array(3 * v);
    for (let i = 0; i < v; ++i) verts.set(posed.subarray(4 * i, 4 * i + 3), 3 * i);
    const opacities = new Float32Array(n);
    for (let i = 0; i < n; ++i) opacities[i] = mean[4 * places[i] + 3];
    return { verts, means: pick(mean, 3), opacities, quats: pick(quat, 4), scales: pick(scale, 3), colours: pick(colour, 3) };
  }
}
