// Small WebGL2 helpers the passes share: programs, integer data textures TEXTURE_WIDTH wide, render
// targets of several attachments, a pass over N items and reading a target back.

import { TEXTURE_WIDTH } from "./layout.js";

export function program(gl, vertexSource, fragmentSource) {
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
  const locations = new Map();
  p.uniform = (name) => {
    if (!locations.has(name)) locations.set(name, gl.getUniformLocation(p, name));
    return locations.get(name);
  };
  return p;
}

export function nearest(gl) {
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
}

/** Rows a texture TEXTURE_WIDTH wide needs for `count` texels; an Error naming `what` when the
 * GPU's textures are not that tall. */
export function rowsFor(gl, count, what) {
  const rows = Math.max(1, Math.ceil(count / TEXTURE_WIDTH));
  if (rows > gl.getParameter(gl.MAX_TEXTURE_SIZE)) {
    throw new Error(`${what}: ${count} texels do not fit this GPU's textures (${gl.getParameter(gl.MAX_TEXTURE_SIZE)} px)`);
  }
  return rows;
}

const FORMATS = { RGBA32UI: ["RGBA_INTEGER", "UNSIGNED_INT", 4], R32UI: ["RED_INTEGER", "UNSIGNED_INT", 1] };

/** An immutable integer texture of `data` (whole rows of TEXTURE_WIDTH texels, gpu/layout.js). */
export function dataTexture(gl, internal, data, what) {
  const [format, type, channels] = FORMATS[internal];
  const rows = rowsFor(gl, data.length / channels, what);
  const texture = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, texture);
  gl.texStorage2D(gl.TEXTURE_2D, 1, gl[internal], TEXTURE_WIDTH, rows);
  nearest(gl);
  gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEXTURE_WIDTH, rows, gl[format], gl[type], data);
  return texture;
}

/** A framebuffer of textures (internal formats, e.g. "RGBA32UI") width x rows: {framebuffer,
 * textures, width, rows}. */
export function renderTarget(gl, internals, width, rows) {
  const framebuffer = gl.createFramebuffer();
  gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
  const textures = internals.map((internal, k) => {
    const texture = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.texStorage2D(gl.TEXTURE_2D, 1, gl[internal], width, rows);
    nearest(gl);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0 + k, gl.TEXTURE_2D, texture, 0);
    return texture;
  });
  gl.drawBuffers(internals.map((_, k) => gl.COLOR_ATTACHMENT0 + k));
  const status = gl.checkFramebufferStatus(gl.FRAMEBUFFER);
  gl.bindFramebuffer(gl.FRAMEBUFFER, null);
  if (status !== gl.FRAMEBUFFER_COMPLETE) throw new Error(`this GPU cannot render into ${internals.join(" + ")} (${status})`);
  return { framebuffer, textures, width, rows, internals };
}

/** Binds textures to units 0.. and their samplers (names) of program p. */
export function bindTextures(gl, p, named) {
  Object.entries(named).forEach(([name, texture], unit) => {
    gl.activeTexture(gl.TEXTURE0 + unit);
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.uniform1i(p.uniform(name), unit);
  });
}

/** Draws program p (already in use, its inputs bound) over `target`'s first `rows` rows (all by
 * default): one fragment an item. */
export function runPass(gl, target, rows = target.rows) {
  gl.bindFramebuffer(gl.FRAMEBUFFER, target.framebuffer);
  gl.viewport(0, 0, target.width, rows);
  gl.disable(gl.BLEND);
  gl.drawArrays(gl.TRIANGLES, 0, 3);
}

/** Attachment k of target, its first `rows` rows (all by default) read back now (waits for the
 * GPU): Uint32Array [rows * width * channels] (channels of its format). */
export function readTarget(gl, target, k = 0, rows = target.rows) {
  gl.bindFramebuffer(gl.READ_FRAMEBUFFER, target.framebuffer);
  gl.readBuffer(gl.COLOR_ATTACHMENT0 + k);
  const [format, type, channels] = FORMATS[target.internals[k]];
  const out = new Uint32Array(target.width * rows * 4);
  // RGBA_INTEGER / UNSIGNED_INT reads every unsigned integer target; a browser may take the
  // one-channel format of an R32UI target too (a quarter of the bytes)
  const narrow = channels === 1 && gl.getParameter(gl.IMPLEMENTATION_COLOR_READ_FORMAT) === gl[format]
    && gl.getParameter(gl.IMPLEMENTATION_COLOR_READ_TYPE) === gl[type];
  gl.readPixels(0, 0, target.width, rows, narrow ? gl[format] : gl.RGBA_INTEGER, gl.UNSIGNED_INT, out);
  gl.bindFramebuffer(gl.READ_FRAMEBUFFER, null);
  if (channels === 4 || narrow) return narrow ? out.subarray(0, target.width * rows) : out;
  return out.filter((_, i) => i % 4 === 0);
}
