// The worker's depth sort (sort.js): visible splats back to front, ties by index, culled ones left out.
import assert from "node:assert/strict";
import { test } from "node:test";

import { DepthSorter } from "../src/sort.js";

const bits = (values) => new Uint32Array(Float32Array.from(values).buffer);

test("the sorter orders visible splats back to front, ties by index, and leaves out culled ones", () => {
  const keys = bits([3, 1, 2, 1, 0.5]);
  keys[2] = 0xffffffff; // culled by the GPU (depth or opacity)
  const order = new DepthSorter(Uint32Array.from([0, 1, 2, 3, 4])).drawOrder(keys, new Uint32Array(5));
  // front to back: 4 (0.5), 1 and 3 (1: by index), 0 (3); drawn reversed
  assert.deepEqual(Array.from(order), [0, 3, 1, 4]);
});

test("a large random frame sorts as Array.prototype.sort does", () => {
  const n = 100000, depths = Float32Array.from({ length: n }, (_, i) => (i % 97 === 0 ? 1.5 : 0.3 + 2 * Math.random()));
  const keys = bits(depths);
  for (let i = 0; i < n; i += 13) keys[i] = 0xffffffff;
  const order = new DepthSorter(Uint32Array.from({ length: n }, (_, i) => i)).drawOrder(keys, new Uint32Array(n));
  const expected = Array.from({ length: n }, (_, i) => i).filter((i) => keys[i] !== 0xffffffff)
    .sort((a, b) => depths[a] - depths[b] || a - b).reverse();
  assert.deepEqual(Array.from(order), expected);
});

test("keys and order are by place; ties keep the Gaussians' order", () => {
  const places = Uint32Array.from([3, 0, 2, 1]); // Gaussian i's splat is at place places[i]
  const keys = bits([1, 2, 1, 1]); // by place: Gaussians 1, 3, 2, 0
  const order = new DepthSorter(places).drawOrder(keys, new Uint32Array(4));
  // front to back: Gaussians 0, 1, 2 (depth 1, by index), then 3 (2); drawn reversed, as places
  assert.deepEqual(Array.from(order), [1, 2, 0, 3]);
});

test("a level of detail sorts its Gaussians only: the first `count`, from the keys of its rows", () => {
  const places = Uint32Array.from([1, 3, 0, 5, 2, 4]); // the level's 3 Gaussians at places 0, 1, 3
  const keys = bits([2, 3, 9, 1]); // the keys of the level's places only (4 of 6); place 2 a finer level's
  const order = new DepthSorter(places).drawOrder(keys, new Uint32Array(6), 3);
  // Gaussians 0 (place 1, depth 3), 1 (place 3, depth 1), 2 (place 0, depth 2): back to front 0, 2, 1
  assert.deepEqual(Array.from(order), [1, 0, 3]);
});

test("keys of any spread sort exactly: one, two and three radix passes", () => {
  const n = 20000;
  for (const spread of [1500, 3000000, 0xfffffffe]) { // keys above the nearest: 11, 22 and 32 bits
    const keys = Uint32Array.from({ length: n }, (_, i) => (i % 11 === 0 ? 0xffffffff
      : spread === 0xfffffffe && i % 7 === 0 ? i % 2 * spread : 1000 + Math.floor(Math.random() * spread)));
    const order = new DepthSorter(Uint32Array.from({ length: n }, (_, i) => i)).drawOrder(keys, new Uint32Array(n));
    const expected = Array.from({ length: n }, (_, i) => i).filter((i) => keys[i] !== 0xffffffff)
      .sort((a, b) => keys[a] - keys[b] || a - b).reverse();
    assert.deepEqual(Array.from(order), expected, `spread ${spread}`);
  }
});
