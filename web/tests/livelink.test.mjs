// The Live Link CSV reader's errors and the angle conversion (livelink.js); what it maps to is
// compared with the engine in tests/test_web_player.py.
import assert from "node:assert/strict";
import { test } from "node:test";

import { eulerToAxisAngle, readLiveLinkCsv } from "../src/livelink.js";
import { Sequence, sequenceOf, zeroParams } from "../src/params.js";

// The columns as the exporter lists them (avatar.data.livelink.REQUIRED_COLUMNS); the reader takes any.
const REQUIRED_COLUMNS = ["EyeBlinkLeft", "EyeLookDownLeft", ...Array.from({ length: 50 }, (_, i) => `Shape${i}`),
  "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw", "RightEyePitch",
  "RightEyeRoll"];
const read = (text, file) => readLiveLinkCsv(text, file, REQUIRED_COLUMNS);
const header = ["Timecode", "BlendshapeCount", ...REQUIRED_COLUMNS].join(",");
const row = (t, value = "0.1") => [`00:00:00:${String(t).padStart(2, "0")}.000`, "61",
  ...REQUIRED_COLUMNS.map(() => value)].join(",");

test("a well-formed recording reads with its frame rate", () => {
  const text = [header, ...Array.from({ length: 30 }, (_, t) => row(t)), ""].join("\r\n");
  const { fps, values } = read(text, "take.csv");
  assert.equal(values.length, 30 * 61);
  assert.equal(fps, 60); // before the seconds roll over, the timecode's rate is taken as 60
  assert.ok(Math.abs(values[5] - 0.1) < 1e-7);
});

test("errors name the file, the row and the column", () => {
  assert.throws(() => read("", "a.csv"), /a\.csv: empty file/);
  assert.throws(() => read(`${header}\n${row(0)}\n`, "a.csv"), /too few rows/);
  assert.throws(() => read(`${header}\n${row(0)}\n${row(1, "nan")}\n`, "a.csv"),
    /a\.csv, row 3, column 'EyeBlinkLeft': not a finite number/);
  assert.throws(() => read(`${header}\n${row(0)}\n${row(1, "1e9")}\n`, "a.csv"), /within ±10000/);
  assert.throws(() => read(`${header}\n${row(0)}\n00:00:00:01.000,61,0.1\n`, "a.csv"),
    /row 3, column 'EyeLookDownLeft': row has 3 fields, the header has 63/);
  const badTime = `${header}\n${row(0)}\n${row(1).replace("00:00:00:01", "25:00:00:01")}\n`;
  assert.throws(() => read(badTime, "a.csv"), /row 3, column 'Timecode': timecode .* out of range/);
  assert.throws(() => read(header.replace(",Shape7", ""), "a.csv"), /missing column 'Shape7'/);
});

test("angles become rig-space axis-angle: yaw flips, pitch stays", () => {
  const close = (a, b) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-12, `${a} vs ${b}`));
  close(eulerToAxisAngle(0.3, 0, 0), [0, -0.3, 0]);
  close(eulerToAxisAngle(0, 0.2, 0), [0.2, 0, 0]);
  close(eulerToAxisAngle(0, 0, 0.1), [0, 0, -0.1]);
  close(eulerToAxisAngle(0, 0, 0), [0, 0, 0]);
});

test("a sequence gives back the params it was made of", () => {
  const a = zeroParams(3), b = zeroParams(3);
  b.expr = [0.5, 0.25, 1];
  b.jaw = [0.125, 0, 0]; // values a float32 holds exactly
  b.translation = [0, 0, 0.5];
  const sequence = sequenceOf("s", 30, 3, [a, b]);
  assert.ok(sequence instanceof Sequence);
  assert.equal(sequence.frames, 2);
  assert.deepEqual(sequence.params(1), b);
  assert.deepEqual(sequence.params(7), b); // clamped
  assert.equal(sequence.frameAt(1 / 30 + 1e-9), 1);
  assert.equal(sequence.frameAt(2 / 30 + 1e-9), 0); // loops
});
