// One frame of an avatar for the GPU, without the GPU: pose the rig, blend the Gaussians onto
// it, colour them for the camera, sort and pack them, and compute the cut below the head. The
// worker runs it off the page's thread; the tests run it in Node against the Python engine.

import { Blender } from "./blend.js";
import { cameraPosition } from "./camera.js";
import { HeadCutter } from "./cut.js";
import { RigPoser } from "./rig.js";
import { shColours } from "./sh.js";
import { viewOrigin } from "./view_cone.js";
import { SplatPacker, WORDS_PER_SPLAT } from "./splats.js";

export class AvatarEngine {
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
    const words = this.packer.pack(world, this.colours,
      whole(reuse.words, WORDS_PER_SPLAT * n) || new Uint32Array(WORDS_PER_SPLAT * n));
    const packMs = clock.lap();
    const cut = this.avatar.headCut;
    const region = cut ? this.cutter.region(cut, verts, this.avatar.rig, camera, reuse.region) : null;
    const cutMs = clock.lap();
    return { words, order, count: order.length, region, verts, world, colours: this.colours,
      ms: { pose: poseMs, blend: blendMs, colour: colourMs, sort: sortMs, pack: packMs, cut: cutMs } };
  }
}

/** A view over all of `array`'s buffer when it holds `length` elements of its type, else null
 * (the page hands back views of a frame's length; the buffers are the Gaussian count's). */
function whole(array, length) {
  if (!array || array.buffer.byteLength !== length * array.BYTES_PER_ELEMENT) return null;
  return new array.constructor(array.buffer);
}

class Clock {
  constructor() { this.last = performance.now(); }
  lap() { const now = performance.now(), ms = now - this.last; this.last = now; return ms; }
}
