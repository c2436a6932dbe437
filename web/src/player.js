// The page's side of the player: loads the exported folder, keeps the worker busy with one frame
// request at a time (the newest params and camera), draws each frame that comes back, and
// counts frames for the on-page fps. What drives the avatar is a "source": the neutral face,
// the sliders, a sequence (embedded or a dropped Live Link CSV) or a parameter stream.

import { framingDistance, orbit } from "./camera.js";
import { SplatRenderer } from "./gl/renderer.js";
import { liveLinkSequence, readLiveLinkCsv } from "./livelink.js";
import { copyParams, Sequence, zeroParams } from "./params.js";
import { ParamStream } from "./stream.js";

export class Player {
  constructor(canvas, workerUrl, options = {}) {
    this.canvas = canvas;
    this.renderer = new SplatRenderer(canvas, options.target || "auto", Boolean(options.transparent));
    this.worker = new Worker(workerUrl);
    this.options = options;
    this.size = options.size || 512;
    this.pending = null; // {id, resolve?} of the request in flight
    this.nextId = 1;
    this.spare = {}; // the last frame's buffers (words, order, region), handed back to the worker
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

  /** Starts the loop: a new frame whenever the worker is free and something changed (always while
   * a sequence plays or a stream drives). */
  start() {
    const tick = () => {
      const moving = (this.source.kind === "sequence" && !this.source.paused) || this.source.kind === "stream";
      if (!this.pending && (this.dirty || moving)) this.request(this.currentParams(), this.camera());
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  request(params, camera, capture = false) {
    this.dirty = false;
    const id = this.nextId++;
    let resolve, reject;
    const done = new Promise((res, rej) => { resolve = res; reject = rej; });
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
        else if (data.type === expect) resolve(data.summary);
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
