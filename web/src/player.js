// The page's side of the player: loads the exported folder, then one frame at a time (the newest
// params and camera): the frame's inputs on the CPU (frame_inputs.js), the avatar posed, blended,
// coloured and projected on the GPU (gpu/avatar_gpu.js), the splats' depths read back without
// waiting and sorted in the worker, and the frame drawn in its own order with the cut
// (gpu/cut_gpu.js) as soon as the sort is back, and the next frame begun at once. One frame in
// SORT_EVERY is sorted so; the frames between draw at once in the last sort's order (the read-back
// and the sort are most of the page's CPU time a frame; a head moves little in a frame). It counts
// frames for the on-page fps, and times each frame from its start to its draw: with `lod: "auto"`
// those times choose the level of detail it draws (level_switch.js; a level is the file's first
// Gaussians, drawn from the same textures). What drives the avatar is a "source": the neutral
// face, the sliders, a sequence (embedded or a dropped Live Link CSV) or a parameter stream.

import { framingDistance, orbit } from "./camera.js";
import { FrameInputs } from "./frame_inputs.js";
import { SplatRenderer } from "./gl/renderer.js";
import { AvatarGpu, SLOTS } from "./gpu/avatar_gpu.js";
import { CutGpu } from "./gpu/cut_gpu.js";
import { DisplayPeriod, LevelSwitch } from "./level_switch.js";
import { liveLinkSequence, readLiveLinkCsv } from "./livelink.js";
import { copyParams, Sequence, zeroParams } from "./params.js";
import { ParamStream } from "./stream.js";

// Frames a sort's order is drawn in: its own and the next SORT_EVERY - 1 (same level of detail).
// Measured against the engine: docs/web.md, "The page's CPU time".
export const SORT_EVERY = 2;

export class Player {
  constructor(canvas, workerUrl, options = {}) {
    this.canvas = canvas;
    this.renderer = new SplatRenderer(canvas, options.target || "auto", Boolean(options.transparent));
    this.worker = new Worker(workerUrl);
    this.options = options;
    this.size = options.size || 512;
    // the frames under way, oldest first, at most one a slot of the GPU's (gpu/avatar_gpu.js):
    // {id, slot, camera, inputs, state: "gpu" (its depths being read back) | "sorting", cpuMs
    // (the page's so far), exact, capture, resolve, reject}
    this.frames = [];
    this.nextId = 1;
    this.spare = { keys: [], orders: [] }; // buffers handed back and forth with the worker
    this.sorted = null; // the order drawn last: {level, count, served (frames drawn in it)}
    // Display frames: `ticks` counts animation frames, `inTick` is true inside one's callback, and
    // `presentAt` is the tick whose rendering update shows the last frame drawn (a frame drawn in
    // a tick's callback is shown at that tick's update, one drawn in another task at the next).
    this.ticks = 0;
    this.inTick = false;
    this.presentAt = -1;
    this.deferred = false; // a frame in the last order waits for the tick's update to pass
    this.dirty = true;
    this.listeners = [];
    // per drawn frame: the page's main-thread ms (inputs, GL calls, read-back, draw), the
    // worker's (the sort) and the frame's, from its start to its draw; cpu: the running sums, for
    // benchmarks
    this.stats = { frames: 0, fps: 0, workerMs: 0, pageMs: 0, frameMs: 0, windowStart: performance.now(),
      windowFrames: 0, lastFrame: 0, cpu: { page: 0, worker: 0, frames: 0 } };
    // the level of detail drawn (0: the full avatar) and, with lod "auto", what chooses it
    this.level = 0;
    this.levelSwitch = null;
    this.display = new DisplayPeriod();
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
    const loaded = await this.call({ type: "load", buffer, name: this.manifest.avatar }, [buffer], "loaded");
    this.summary = loaded.summary;
    const gl = this.renderer.gl;
    this.gpu = new AvatarGpu(gl, loaded.layout);
    this.inputs = new FrameInputs(loaded.avatar);
    const cut = loaded.avatar.headCut;
    this.cut = cut ? new CutGpu(gl, this.inputs.cutLines.faces, Boolean(cut.hanging_hair)) : null;
    const numExpr = this.summary.numExpr;
    this.sequences = await Promise.all(this.manifest.sequences.map(async (s) => {
      const rows = new Float32Array(await fetchBytes(new URL(s.file, manifestUrl)));
      return new Sequence(s.name, s.fps, numExpr, rows);
    }));
    this.background = this.summary.background;
    this.levels = this.summary.levels;
    this.setLevel(this.options.lod ?? "auto");
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
    return s.paused ? s.frame : (s.frame + s.sequence.frameAt((now - s.started) / 1000)) % s.sequence.frames;
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
  connect(url, onStatus = () => {}) {
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

  onChange(listener) { this.listeners.push(listener); }
  emit() { for (const listener of this.listeners) listener(this); }

  /** The level of detail to draw from the next frame on: k (0 the full avatar; clamped to the
   * levels there are) or "auto" (chosen from the frames' times, from the full avatar on). */
  setLevel(level) {
    const last = this.levels.length - 1;
    if (level === "auto") {
      this.levelSwitch = new LevelSwitch(this.levels.length);
      this.level = 0;
    } else {
      this.levelSwitch = null;
      this.level = Math.max(0, Math.min(last, Math.floor(Number(level)) || 0));
    }
    this.dirty = true;
  }

  /** Starts the loop: a new frame whenever a slot is free and something changed (always while a
   * sequence plays or a stream drives); each animation frame looks whether the GPU has the
   * oldest frame's depths for the sort, and times the display's refresh. */
  start() {
    this.looping = true;
    const tick = (timestamp) => {
      this.ticks += 1;
      this.inTick = true;
      this.display.tick(timestamp);
      this.pollDepths();
      this.next();
      this.inTick = false;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  /** The loop's next frame, if a slot is free and something changed or moves: begun as soon as
   * one is, its GPU work queued right behind the last frame's draw. */
  next() {
    if (this.frames.length >= SLOTS || this.frames.some((f) => f.exact)) return;
    const moving = (this.source.kind === "sequence" && !this.source.paused) || this.source.kind === "stream";
    if (!this.dirty && !moving) return;
    const how = this.reusesOrder() ? "last" : "read back";
    if (how === "last" && !this.lastFrameShown()) {
      // Drawn now, it would replace the last frame before the display showed it: after this
      // tick's update instead (a task queued in its callback runs after it), or at the next tick.
      if (this.inTick && !this.deferred) {
        this.deferred = true;
        setTimeout(() => {
          this.deferred = false;
          this.next();
        }, 0);
      }
      return;
    }
    this.begin(this.currentParams(), this.camera(), how);
  }

  /** Whether the display has shown the last frame drawn (at a tick's rendering update). */
  lastFrameShown() {
    return this.inTick ? this.presentAt < this.ticks : this.presentAt <= this.ticks;
  }

  /** Whether the next frame draws in the last sort's order: it has served fewer than SORT_EVERY
   * frames and was sorted for the level drawn now. */
  reusesOrder() {
    const s = this.sorted;
    return s !== null && s.level === this.level && s.served < SORT_EVERY;
  }

  /** Starts a frame of params seen by camera in a free slot: its inputs and GPU passes, then its
   * order: `how` "exact" (its depths read back now, waiting for the GPU, and sorted), "read back"
   * (read back without waiting, polled by the loop, then sorted) or "last" (drawn at once in the
   * last sort's order). Resolves once drawn with {pixels (capture: the canvas's RGBA, rows from
   * the top, else null), workerMs, pageMs, splats, level, sorted (false: the last order)}. */
  begin(params, camera, how, capture = false) {
    this.dirty = false;
    const started = performance.now();
    const exact = how === "exact";
    const slot = Array.from({ length: SLOTS }, (_, k) => k).find((k) => !this.frames.some((f) => f.slot === k));
    const frame = { id: this.nextId++, slot, camera, exact, capture, state: "gpu", cpuMs: 0, started, level: this.level };
    frame.done = new Promise((resolve, reject) => { frame.resolve = resolve; frame.reject = reject; });
    frame.settled = frame.done.catch(() => null);
    this.frames.push(frame);
    try {
      frame.inputs = this.inputs.frame(params, camera, slot);
      this.renderer.beginSpan(frame.id);
      this.gpu.pose(frame.inputs, slot);
      this.gpu.project(frame.inputs, camera, slot, frame.level);
      this.renderer.endSpan();
      if (exact) this.sort(frame, { keys: this.gpu.readDepthKeys(slot, frame.level), stride: 1 }, started);
      else if (how === "read back") this.gpu.startDepthKeys(slot, frame.level);
      else if (!this.sorted || this.sorted.level !== frame.level) throw new Error("no order of this level to draw in");
    } catch (error) {
      this.fail(error.message || String(error));
      return frame.done;
    }
    if (frame.state === "gpu") frame.cpuMs += performance.now() - started; // else sort() counted it
    if (how === "last") {
      this.sorted.served += 1;
      this.draw(frame, null, 0, this.sorted.count);
    }
    return frame.done;
  }

  /** The oldest frame's depths, if the GPU has them: off to the worker's sort (in frame order). */
  pollDepths() {
    const frame = this.frames[0];
    if (!frame || frame.state !== "gpu") return;
    const started = performance.now();
    const read = this.gpu.takeDepthKeys(frame.slot, this.spare.keys.pop());
    if (read) this.sort(frame, read, started);
    else frame.cpuMs += performance.now() - started;
  }

  sort(frame, { keys, stride }, started) {
    frame.state = "sorting";
    const order = this.spare.orders.pop();
    const transfer = [keys.buffer];
    if (order) transfer.push(order.buffer);
    const gaussians = this.levels[frame.level].count; // the level's: the file's first ones
    this.worker.postMessage({ type: "sort", id: frame.id, keys, stride, order, gaussians }, transfer);
    frame.cpuMs += performance.now() - started;
  }

  /** Waits until no frame is under way. */
  async idle() {
    while (this.frames.length) await this.frames[this.frames.length - 1].settled;
  }

  /** Renders params seen by camera now, the depths read back at once, and resolves with the
   * canvas's pixels (RGBA, rows from the top) and the times: what the tests compare with the
   * engine's own render. */
  async renderNow(params, camera) {
    await this.idle();
    return this.begin(params, camera, "exact", true);
  }

  /** As renderNow, but drawn in the last sort's order (of the last exact or read-back frame):
   * what the frames between sorts show, for the tests to compare with the engine. */
  async renderInLastOrder(params, camera) {
    await this.idle();
    return this.begin(params, camera, "last", true);
  }

  /** For the tests: what the GPU computes of params seen by camera, read back: the posed vertices,
   * the world Gaussians (avatar_gpu.js's readWorld), the draw order (Uint32Array of Gaussians) and
   * the cut's region (Uint8Array [H * W], rows from the top, 1 = kept; null without a cut). */
  async stages(params, camera) {
    await this.idle();
    const inputs = this.inputs.frame(params, camera, 0);
    const world = this.gpu.readWorld(inputs, camera);
    this.gpu.project(inputs, camera, 0);
    const keys = this.gpu.readDepthKeys(0);
    const frame = { id: this.nextId++, slot: 0, state: "sorting", cpuMs: 0, exact: true, stages: true };
    frame.done = new Promise((resolve, reject) => { frame.resolve = resolve; frame.reject = reject; });
    frame.settled = frame.done.catch(() => null);
    this.frames.push(frame);
    this.worker.postMessage({ type: "sort", id: frame.id, keys, stride: 1 }, [keys.buffer]);
    const order = await frame.done;
    let region = null;
    if (this.cut) {
      this.renderer.drawRegion(this.cut.region(inputs.cut, this.gpu.posedTexture(0), camera), camera);
      const rgba = this.renderer.readPixels();
      region = new Uint8Array(camera.width * camera.height);
      for (let i = 0; i < region.length; ++i) region[i] = rgba[4 * i] > 127 ? 1 : 0;
    }
    return { ...world, order, region };
  }

  /** The worker's sort of the oldest frame: drawn now, in its own order. */
  received(data) {
    if (data.type === "error") {
      this.fail(data.message);
      return;
    }
    const frame = this.frames[0];
    if (data.type !== "sorted" || !frame || data.id !== frame.id) return;
    const order = data.order.subarray(0, data.count);
    this.spare.keys.push(data.keys);
    this.spare.orders.push(data.order);
    if (frame.stages) { // places back to Gaussians
      this.frames.shift();
      const gaussian = new Map(Array.from(this.gpu.positions, (place, i) => [place, i]));
      frame.resolve(Uint32Array.from(order, (place) => gaussian.get(place)));
      return;
    }
    this.sorted = { level: frame.level, count: data.count, served: 1 };
    if (this.draw(frame, order, data.ms, data.count) && this.looping) this.next();
  }

  /** Draws the oldest frame (its passes done) in `order`, or in the last sort's (null), and
   * resolves it; false where that failed (the frames under way rejected). */
  draw(frame, order, workerMs, splats) {
    const started = performance.now();
    let pixels = null;
    try {
      if (order) this.renderer.setOrder(order);
      const camera = frame.camera;
      this.renderer.beginSpan(frame.id);
      const cut = frame.inputs.cut ? this.cut.region(frame.inputs.cut, this.gpu.posedTexture(frame.slot), camera) : null;
      this.renderer.draw(this.gpu.splatTextures(frame.slot), cut, camera, this.background);
      this.renderer.endSpan(true);
      if (frame.capture) pixels = this.renderer.readPixels();
    } catch (error) {
      this.fail(error.message || String(error));
      return false;
    }
    const now = performance.now();
    frame.cpuMs += now - started;
    this.presentAt = this.inTick ? this.ticks : this.ticks + 1;
    this.frames.shift();
    this.count(workerMs, frame.cpuMs, splats, now - frame.started);
    // Only sorted frames time the GPU's round trip (their depths read back): a frame in the last
    // order is drawn as soon as it is begun, and its time says nothing of what the level costs.
    if (this.levelSwitch && order) this.chooseLevel(now - frame.started, frame.level, now);
    frame.resolve({ pixels, workerMs, pageMs: frame.cpuMs, splats, level: frame.level, sorted: order !== null });
    return true;
  }

  fail(message) {
    const frames = this.frames;
    this.frames = [];
    this.emitError(message);
    for (const frame of frames) frame.reject(new Error(message));
  }

  /** With lod "auto": a frame of level `level` took `ms`, drawn at `now`; the level switch says
   * which level the next frames draw (the display's refresh period is their budget). */
  chooseLevel(ms, level, now) {
    const next = this.levelSwitch.frame(ms, level, now, this.display.ms() || 0);
    if (next === this.level) return;
    this.level = next;
    this.dirty = true;
  }

  count(workerMs, pageMs, splats, frameMs) {
    const s = this.stats, now = performance.now();
    s.frames += 1;
    s.windowFrames += 1;
    s.lastFrame = now;
    s.workerMs = workerMs;
    s.pageMs = pageMs;
    s.frameMs = frameMs;
    s.splats = splats;
    s.cpu.page += pageMs;
    s.cpu.worker += workerMs;
    s.cpu.frames += 1;
    if (now - s.windowStart >= 1000) {
      s.fps = (1000 * s.windowFrames) / (now - s.windowStart);
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
        else if (data.type === expect) resolve(data);
      };
      this.worker.onerror = (event) => reject(new Error(event.message || "the player's worker failed to start"));
      this.worker.postMessage(message, transfer);
    });
  }
}

async function fetchJson(url) {
  return JSON.parse(new TextDecoder().decode(await fetchBytes(url)));
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  return response.arrayBuffer();
}
