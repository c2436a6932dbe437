// Which level of detail the player draws (`?lod=auto`): the full avatar while its frames make the
// display's budget, the coarser level (a prefix of the file's Gaussians, avatar/export/web_levels.py)
// when they miss it for a sustained while, and back up with hysteresis, never flapping.
//
// A frame's time is from its start to its draw (player.js). The budget is the display's frame
// period (the animation frames' interval, DisplayPeriod below), never under 1/60 s: a 120 Hz phone
// is asked for 60 frames a second, a phone in low-power mode (30 Hz) for 30. Frames land on the
// display's refreshes, so a level that keeps up takes one period and one that misses two or more:
//
//   down  the median of the frames drawn at this level in the last WINDOW_MS (at least the last
//         MIN_FRAMES; the level drawn for WINDOW_MS or more) is above MISS x the budget: the next
//         coarser level;
//   up    at a coarser level whose median is within MEET x the budget, once it has been drawn for
//         the hold (HOLD_MS at first): the next finer level is tried again. Where that one misses
//         again before it has lasted the hold, the hold doubles (up to MAX_HOLD_MS): a device
//         between two levels tries the finer one ever less often, and never switches back and forth
//         frame after frame. A finer level that lasted at least the hold resets it.
//
// Frames begun at another level (in flight at a switch) are not counted. Only times are given to
// it: the unit tests drive it with simulated frames (web/tests/level_switch.test.mjs).

export const WINDOW_MS = 1500;
export const MIN_FRAMES = 8; // a slow device's window: 8 frames of 1 s take 8 s
export const MISS = 1.5; // a median above this many budgets misses (two refreshes or more)
export const MEET = 1.2; // within this many, it keeps up (one refresh, with jitter)
export const HOLD_MS = 4000;
export const MAX_HOLD_MS = 120000;
export const MIN_BUDGET_MS = 1000 / 60;

export class LevelSwitch {
  /** levels: how many the avatar has (1: nothing to switch); start at level `level`. */
  constructor(levels, level = 0) {
    this.levels = levels;
    this.level = level;
    this.hold = HOLD_MS;
    this.times = []; // [ms, drawn at] of the frames drawn at this level: the window
    this.since = null; // when this level's first frame was drawn
    this.probe = false; // this level was stepped up to: a try
    this.switches = 0;
  }

  /** A frame of level `level` took `ms`, drawn at `now` (ms), the budget `budgetMs`: returns the
   * level to draw next (this.level). */
  frame(ms, level, now, budgetMs) {
    if (level !== this.level || this.levels < 2) return this.level;
    if (this.since === null) this.since = now;
    this.times.push([ms, now]);
    while (this.times.length > MIN_FRAMES && now - this.times[0][1] > WINDOW_MS) this.times.shift();
    if (this.times.length < MIN_FRAMES || now - this.since < WINDOW_MS) return this.level;
    const typical = median(this.times.map(([t]) => t)), budget = Math.max(budgetMs, MIN_BUDGET_MS);
    if (typical > MISS * budget && this.level < this.levels - 1) {
      const lasted = now - this.since;
      this.hold = this.probe && lasted < this.hold ? Math.min(2 * this.hold, MAX_HOLD_MS) : HOLD_MS;
      this.enter(this.level + 1, false);
    } else if (typical <= MEET * budget && this.level > 0 && now - this.since >= this.hold) {
      this.enter(this.level - 1, true);
    }
    return this.level;
  }

  /** Draws `level` from the next frame on (probe: a step up, tried). */
  enter(level, probe) {
    this.level = level;
    this.probe = probe;
    this.times = [];
    this.since = null;
    this.switches += 1;
  }
}

/** The display's frame period from the animation frames' timestamps: a low quantile of the last
 * intervals (frames the page was too busy for only lengthen intervals), null before there are any. */
export class DisplayPeriod {
  constructor(count = 120) {
    this.count = count;
    this.intervals = [];
    this.last = null;
  }

  /** An animation frame at `timestamp` (ms, requestAnimationFrame's argument). */
  tick(timestamp) {
    if (this.last !== null && timestamp > this.last) {
      this.intervals.push(timestamp - this.last);
      if (this.intervals.length > this.count) this.intervals.shift();
    }
    this.last = timestamp;
  }

  /** ms, or null. */
  ms() {
    if (!this.intervals.length) return null;
    const sorted = [...this.intervals].sort((a, b) => a - b);
    return sorted[Math.floor(0.1 * (sorted.length - 1))];
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b), mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
}
