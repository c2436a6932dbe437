// One frame of an avatar for the GPU, without the GPU: pose the rig, blend the Gaussians onto
// it, colour them for the camera, sort and pack them, and compute the cut below the head. The
// worker runs it off the page's thread; the tests run it in Node against the Python engine.

import { Blender } from "./blend.js";
import { cameraPosition } from "./camera.js";
import { cutRegion } from "./cut.js";
import { RigPoser } from "./rig.js";
import { shColours } from "./sh.js";
import { SplatPacker, WORDS_PER_SPLAT } from "./splats.js";

export class AvatarEngine {
  constructor(avatar) {
    this.avatar = avatar;
    this.poser = new RigPoser(avatar.rig);
    this.blender = new Blender(avatar);
    this.packer = new SplatPacker(avatar.gaussians.count);
    this.colours = new Float32Array(avatar.gaussians.count * 3);
  }

  /** The frame of params seen by camera: {words (Uint32Array, WORDS_PER_SPLAT per splat, back to
   * front), count, region (Uint8Array [H * W], 1 = kept; null without a cut), ms per stage}.
   * `words` / `region`: buffers to reuse when big enough. */
  frame(params, camera, words = null, region = null) {
    const clock = new Clock();
    const verts = this.poser.pose(params);
    const poseMs = clock.lap();
    const world = this.blender.blend(verts, params);
    const blendMs = clock.lap();
    const { gaussians } = this.avatar;
    shColours(world, gaussians.shRest, gaussians.degree, cameraPosition(camera), this.colours);
    const colourMs = clock.lap();
    const sorted = this.packer.sorted(world, camera);
    const sortMs = clock.lap();
    const needed = WORDS_PER_SPLAT * sorted.length;
    const out = words && words.length >= needed ? words : new Uint32Array(WORDS_PER_SPLAT * gaussians.count);
    const count = this.packer.pack(world, this.colours, sorted, out);
    const packMs = clock.lap();
    const cut = this.avatar.headCut;
    const kept = cut ? cutRegion(cut, verts, this.avatar.rig.faces, this.avatar.rig.numFaces, camera, region) : null;
    const cutMs = clock.lap();
    return { words: out, count, region: kept, verts, world, colours: this.colours,
      ms: { pose: poseMs, blend: blendMs, colour: colourMs, sort: sortMs, pack: packMs, cut: cutMs } };
  }
}

class Clock {
  constructor() { this.last = performance.now(); }
  lap() { const now = performance.now(), ms = now - this.last; this.last = now; return ms; }
}
