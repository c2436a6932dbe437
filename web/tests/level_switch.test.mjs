// The level of detail's switch (src/level_switch.js) driven by simulated frames: a device whose
// frames at each level take a given time, landing on a display's refreshes as browsers show them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { DisplayPeriod, HOLD_MS, LevelSwitch, MAX_HOLD_MS, MIN_FRAMES, WINDOW_MS } from "../src/level_switch.js";

const PERIOD = 1000 / 60;

/** Plays `seconds` of frames on a 60 Hz display: a frame of level k takes work(k, t) ms, shown at
 * the next refresh. Returns {switches: [{at, to}], levels: per frame its level, time: ms at each}. */
function play(sw, work, seconds, budget = PERIOD, start = 0) {
  let now = start;
  const switches = [], levels = [];
  while (now < start + 1000 * seconds) {
    const level = sw.level;
    const ms = Math.max(1, Math.ceil(work(level, now) / PERIOD)) * PERIOD;
    now += ms;
    levels.push({ level, ms });
    const next = sw.frame(ms, level, now, budget);
    if (next !== level) switches.push({ at: now, to: next });
  }
  return { switches, levels, now };
}

test("a level that keeps up is kept: the full avatar, no switch", () => {
  const sw = new LevelSwitch(2);
  const { switches } = play(sw, () => 10, 120);
  assert.deepEqual(switches, []);
  assert.equal(sw.level, 0);
});

test("frames that miss for a sustained while step down; a few slow frames do not", () => {
  // 9 slow frames in every 20 (a median within budget), and bursts of 9 slow frames: never a switch
  const jittery = new LevelSwitch(2);
  assert.deepEqual(play(jittery, (_, t) => (Math.floor(t / PERIOD) % 20 < 9 ? 40 : 10), 60).switches, []);
  const bursts = new LevelSwitch(2);
  let frame = 0;
  assert.deepEqual(play(bursts, () => (frame++ % 60 < 9 ? 40 : 10), 60).switches, []);
  // every frame misses: down once they have for WINDOW_MS
  const sw = new LevelSwitch(2);
  const slow = play(sw, (level) => (level === 0 ? 40 : 10), 4);
  assert.deepEqual(slow.switches.map((s) => s.to), [1]);
  const waited = slow.switches[0].at;
  assert.ok(waited >= WINDOW_MS && waited <= WINDOW_MS + 2 * 50, `stepped down after ${waited} ms`);
  // a device far too slow (a second a frame): down after MIN_FRAMES frames, not a minute
  const crawling = new LevelSwitch(2);
  const { switches } = play(crawling, (level) => (level === 0 ? 990 : 400), 60);
  assert.deepEqual(switches.map((s) => s.to), [1]);
  assert.ok(Math.abs(switches[0].at - MIN_FRAMES * 1000) < 100, `stepped down after ${switches[0].at} ms`);
});

test("it steps back up once the full avatar keeps up again, after the hold", () => {
  const sw = new LevelSwitch(2);
  let heavy = true; // the device is busy at first (another app, a hot phone), then free
  const work = (level) => (heavy && level === 0 ? 40 : level === 0 ? 12 : 8);
  const first = play(sw, work, 10);
  assert.equal(first.switches[0].to, 1);
  heavy = false;
  const second = play(sw, work, 30, PERIOD, first.now);
  assert.equal(sw.level, 0);
  assert.ok(second.switches.length <= 1, JSON.stringify(second.switches));
});

test("a device between two levels tries the finer one ever less often: no flapping", () => {
  const sw = new LevelSwitch(2);
  const minutes = 20;
  const { switches, levels } = play(sw, (level) => (level === 0 ? 25 : 10), 60 * minutes);
  const ups = switches.filter((s) => s.to === 0).map((s) => s.at);
  // each failed try doubles the wait: 4, 8, 16, 32, 64 s, then every 2 minutes
  const gaps = ups.slice(1).map((at, i) => at - ups[i]);
  gaps.forEach((gap, i) => assert.ok(i === 0 || gap >= gaps[i - 1] - 1 || gap >= MAX_HOLD_MS, `gaps ${gaps}`));
  assert.ok(ups.length <= 5 + Math.ceil((60000 * minutes) / MAX_HOLD_MS), `${ups.length} tries in ${minutes} min`);
  for (let i = 1; i < switches.length; ++i) assert.ok(switches[i].at - switches[i - 1].at >= WINDOW_MS);
  // the time spent drawing the level that misses: the tries only, a few percent
  const missed = levels.filter((f) => f.level === 0).reduce((a, f) => a + f.ms, 0);
  const total = levels.reduce((a, f) => a + f.ms, 0);
  assert.ok(missed / total < 0.03, `${(100 * missed / total).toFixed(1)} % of the time at the level that misses`);
  assert.equal(sw.hold, MAX_HOLD_MS);
});

test("frames in flight from before a switch are not counted, and nothing switches with one level", () => {
  const sw = new LevelSwitch(2, 1);
  for (let i = 0; i < 200; ++i) sw.frame(100, 0, 100 * i, PERIOD); // level 0's, late
  assert.equal(sw.level, 1);
  const single = new LevelSwitch(1);
  for (let i = 0; i < 200; ++i) single.frame(100, 0, 100 * i, PERIOD);
  assert.equal(single.level, 0);
  assert.equal(single.switches, 0);
});

test("where even the coarsest level misses, it stays there and never tries the finer one", () => {
  const sw = new LevelSwitch(2);
  const { switches } = play(sw, (level) => (level === 0 ? 400 : 170), 600);
  assert.deepEqual(switches.map((s) => s.to), [1]);
});

test("the budget is the display's: a 30 Hz display asks for 30 frames a second, never more than 60", () => {
  const frames = (period) => { const d = new DisplayPeriod(); for (let i = 0; i < 50; ++i) d.tick(i * period + (i % 7 ? 3 : 0)); return d; };
  assert.ok(Math.abs(frames(1000 / 30).ms() - 1000 / 30) < 4);
  assert.equal(new DisplayPeriod().ms(), null);
  // 30 ms frames on a 30 Hz display keep up; on a 60 Hz or 120 Hz one they miss
  const at30 = new LevelSwitch(2);
  for (let i = 0; i < 100; ++i) at30.frame(1000 / 30, at30.level, (1000 / 30) * i, 1000 / 30);
  assert.equal(at30.level, 0);
  const at120 = new LevelSwitch(2);
  for (let i = 0; i < 100; ++i) at120.frame(1000 / 30, at120.level, (1000 / 30) * i, 1000 / 120);
  assert.equal(at120.level, 1);
  assert.ok(HOLD_MS < MAX_HOLD_MS);
});
