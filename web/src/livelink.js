// Live Link Face recordings (.csv from the iPhone app) dropped on the page, mapped as the engine
// maps them (avatar/data/livelink.py, avatar/model/expression_range.py): ARKit weights through
// the exporter's matrix onto the rig's expressions, the jaw joint from JawOpen where the rig
// opens its mouth with it, head and eye angles as rig-space axis-angle, then the weights put on
// the avatar's resting face and kept inside the range its training frames showed. The column
// names and the mapping come from the exporter (the manifest's `livelink`): the engine's own.

import { sequenceOf, zeroParams } from "./params.js";

const MAX_ABS_VALUE = 1e4;
const DEFAULT_FPS = 60;
const TORSO_SECONDS = 1.0; // avatar/rig/torso.py TORSO_SIGMA_SECONDS: the torso's lag behind the head
const TIMECODE_RATES = [24, 25, 30, 48, 50, 60, 72, 90, 100, 120, 240];
const TIMECODE = /^\s*(\d+):(\d+):(\d+)[:;.](\d+(?:\.\d*)?)\s*$/;

export class LiveLinkError extends Error {
  constructor(file, what, row = null, column = null) {
    const where = row === null ? "" : `, row ${row}${column ? `, column '${column}'` : ""}`;
    super(`${file}${where}: ${what}`);
  }
}

/** {fps, values: Float32Array [T * C]} of a Live Link Face CSV's text: the C required `columns`
 * (the 52 blendshapes, then head and eye yaw, pitch, roll), in that order. */
export function readLiveLinkCsv(text, file, columns) {
  const lines = parseCsv(text.replace(/^\uFEFF/, ""));
  if (!lines.length) throw new LiveLinkError(file, "empty file: no header row");
  const header = lines[0].fields;
  const byLower = new Map();
  header.forEach((name, i) => { const key = name.trim().toLowerCase(); if (!byLower.has(key)) byLower.set(key, i); });
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
      throw new LiveLinkError(file, `row has ${fields.length} fields, the header has ${header.length}`, line,
        header[fields.length].trim());
    }
    index.forEach((column, c) => {
      const text = fields[column];
      const value = text.trim() === "" ? NaN : Number(text);
      if (!Number.isFinite(value) || Math.abs(value) > MAX_ABS_VALUE) {
        throw new LiveLinkError(file, `not a finite number within ±${MAX_ABS_VALUE}: '${text.trim()}'`, line,
          columns[c]);
      }
      values[r * columns.length + c] = value;
    });
    if (timecodeColumn !== undefined) {
      const text = fields[timecodeColumn];
      try { timecodeFields(text); } catch (e) { throw new LiveLinkError(file, e.message, line, "Timecode"); }
      timecodes.push(text);
    }
  });
  return { fps: (timecodes.length && fpsFromTimecodes(timecodes)) || DEFAULT_FPS, values };
}

/** Lines of CSV text as {fields, line} (RFC 4180 quotes; line: 1-based, of the row's start). */
function parseCsv(text) {
  const out = [];
  let fields = [], field = "", quoted = false, line = 1, start = 1;
  for (let i = 0; i < text.length; ++i) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; ++i; } else if (ch === '"') quoted = false;
      else { if (ch === "\n") ++line; field += ch; }
    } else if (ch === '"') quoted = true;
    else if (ch === ",") { fields.push(field); field = ""; }
    else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") ++i;
      fields.push(field);
      out.push({ fields, line: start });
      fields = []; field = ""; ++line; start = line;
    } else field += ch;
  }
  if (field || fields.length) { fields.push(field); out.push({ fields, line: start }); }
  return out;
}

function timecodeFields(text) {
  const match = TIMECODE.exec(text);
  if (!match) return null;
  const whole = [match[1], match[2], match[3], match[4].split(".")[0]];
  const limits = [24, 60, 60, TIMECODE_RATES[TIMECODE_RATES.length - 1]];
  const numbers = whole.map((f) => (f.replace(/^0+/, "").length <= 3 ? Number(f) : null));
  if (numbers.some((n, i) => n === null || n >= limits[i])) {
    throw new Error(`timecode '${text.trim()}' is out of range (HH:MM:SS:FF: hours below 24, minutes and seconds `
      + `below 60, frames below ${limits[3]})`);
  }
  return [numbers[0], numbers[1], numbers[2], Number(match[4])];
}

/** Rows per second from the timecodes, or null (livelink.fps_from_timecodes). */
function fpsFromTimecodes(timecodes) {
  const parsed = timecodes.map(timecodeFields);
  if (parsed.length < 2 || parsed.some((p) => !p)) return null;
  const seconds = parsed.map((p) => 3600 * p[0] + 60 * p[1] + p[2]);
  const frames = parsed.map((p) => p[3]);
  let rate = DEFAULT_FPS;
  if (new Set(seconds).size > 1) {
    const top = Math.floor(Math.max(...frames));
    rate = TIMECODE_RATES.find((r) => r > top);
    if (rate === undefined) return null;
  }
  let sum = 0, count = 0;
  for (let i = 1; i < parsed.length; ++i) {
    let step = seconds[i] + frames[i] / rate - (seconds[i - 1] + frames[i - 1] / rate);
    if (step < -43200) step += 86400;
    if (step > 0 && step < 0.5) { sum += step; ++count; }
  }
  if (!count) return null;
  const fps = count / sum;
  return fps >= 1 && fps <= 1000 ? fps : null;
}

/** Rig-space axis-angle [3] of Live Link (yaw, pitch, roll): R_y(-yaw) R_x(pitch) R_z(-roll). */
export function eulerToAxisAngle(yaw, pitch, roll) {
  const about = (axis, angle) => {
    const q = [Math.cos(angle / 2), 0, 0, 0];
    q[1 + axis] = Math.sin(angle / 2);
    return q;
  };
  return quatToAxisAngle(multiply(multiply(about(1, -yaw), about(0, pitch)), about(2, -roll)));
}

/** Axis-angle [3] of a unit quaternion [w, x, y, z], the rotation's shorter way round. */
function quatToAxisAngle(q) {
  if (q[0] < 0) q = q.map((v) => -v);
  const norm = Math.hypot(q[1], q[2], q[3]);
  const scale = norm > 1e-12 ? (2 * Math.atan2(norm, q[0])) / norm : 2 / q[0];
  return [q[1] * scale, q[2] * scale, q[3] * scale];
}

function axisAngleToQuat(v) {
  const angle = Math.hypot(v[0], v[1], v[2]);
  const s = angle > 1e-12 ? Math.sin(angle / 2) / angle : 0.5;
  return [Math.cos(angle / 2), v[0] * s, v[1] * s, v[2] * s];
}

const conjugate = (q) => [q[0], -q[1], -q[2], -q[3]];

/** SlowTorso (avatar/rig/torso.py) over frames played at fps: the head's turn (root then neck)
 * shared between a torso that follows it through a lag of TORSO_SECONDS and the neck. */
export function slowTorso(frames, fps) {
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
  return [a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3], a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
    a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1], a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0]];
}

/** The recording as a Sequence of the avatar's params. mapping: the manifest's `livelink`
 * ({columns, jaw_open (its column), matrix [E * 52], jaw_from_jawopen, max_jaw_angle}); range: the
 * avatar's expression range or null. */
export function liveLinkSequence(name, recording, mapping, numExpr, range) {
  const columns = mapping.columns.length;
  const jawOpen = mapping.jaw_open;
  const frames = [];
  for (let t = 0; t < recording.values.length / columns; ++t) {
    const row = recording.values.subarray(t * columns, (t + 1) * columns);
    const params = zeroParams(numExpr);
    for (let e = 0; e < numExpr; ++e) {
      let sum = 0;
      for (let a = 0; a < 52; ++a) sum += mapping.matrix[e * 52 + a] * row[a];
      params.expr[e] = sum;
    }
    if (mapping.jaw_from_jawopen) params.jaw[0] = row[jawOpen] * mapping.max_jaw_angle;
    params.rotation = eulerToAxisAngle(row[52], row[53], row[54]);
    params.eyes = [...eulerToAxisAngle(row[55], row[56], row[57]), ...eulerToAxisAngle(row[58], row[59], row[60])];
    frames.push(range ? onto(params, range) : params);
  }
  return sequenceOf(name, recording.fps, numExpr, slowTorso(frames, recording.fps));
}

/** ExpressionRange.onto: another person's weights on the avatar's resting face, kept in range. */
export function onto(params, range) {
  const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
  params.expr = params.expr.map((v, e) => clamp(v + range.expr_neutral[e], range.expr_low[e], range.expr_high[e]));
  params.jaw = params.jaw.map((v, k) => clamp(v, range.jaw_low[k], range.jaw_high[k]));
  if (range.eyes_low) params.eyes = params.eyes.map((v, k) => clamp(v, range.eyes_low[k], range.eyes_high[k]));
  return params;
}
