// Reads a .webavatar file (avatar/export/web_format.py writes it; docs/formats.md describes it)
// into typed arrays: the rig with the person's identity folded into its template, the Gaussians
// and their sparse 8-bit blendshape offsets (gpu/layout.js lays them out for the GPU). Float16
// blocks are kept as bits too, for the GPU, and the SH codes as they are (dequantised there).

const MAGIC = [65, 86, 87, 69, 66, 0, 0, 0]; // "AVWEB\0\0\0"
const VERSION = 1;
const ALIGN = 16;
const TYPES = {
  uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, uint32: Uint32Array,
  float16: Uint16Array, float32: Float32Array,
};
// The offsets' column groups, in the file's order (GaussianAvatar.OFFSETS): name, width, first
// column of the 14 local attributes (xyz 3, rot 4, log_scale 3, opacity logit 1, colour 3).
export const OFFSET_GROUPS = [["d_xyz", 3, 0], ["d_rot", 4, 3], ["d_log_scale", 3, 7], ["d_opacity", 1, 10],
  ["d_color", 3, 11]];
export const LOCAL_SIZE = 14;

export class WebAvatarError extends Error {}

let halfTable = null;

/** float32 values of every float16 bit pattern [65536], built once. */
function halfToFloatTable() {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; ++h) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    let value;
    if (exponent === 0) value = mantissa * 2 ** -24;
    else if (exponent === 31) value = mantissa ? NaN : Infinity;
    else value = (1 + mantissa / 1024) * 2 ** (exponent - 15);
    halfTable[h] = sign * value;
  }
  return halfTable;
}

/** Float32Array of float16 bit patterns (Uint16Array). */
export function halfToFloat(bits) {
  const table = halfToFloatTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; ++i) out[i] = table[bits[i]];
  return out;
}

/** {meta, blocks: {name: typed array}, halves: {name: Uint16Array}} of a .webavatar file's bytes
 * (ArrayBuffer): float16 blocks dequantised in `blocks`, their bits in `halves`. */
export function unpack(buffer, name = "avatar.webavatar") {
  const bytes = new Uint8Array(buffer);
  const fail = (what) => { throw new WebAvatarError(`${name}: not a readable .webavatar file: ${what}`); };
  if (bytes.length < 16 || MAGIC.some((b, i) => bytes[i] !== b)) fail("no .webavatar magic");
  const view = new DataView(buffer);
  const version = view.getUint32(8, true);
  const length = view.getUint32(12, true);
  if (version !== VERSION) fail(`version ${version} is not supported (want ${VERSION})`);
  if (16 + length > bytes.length) fail("the header runs past the end of the file");
  const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length)));
  if (meta.format !== "avatar-web") fail(`format tag ${JSON.stringify(meta.format)}`);
  const blocks = {}, halves = {};
  for (const [block, entry] of Object.entries(meta.blocks)) {
    const Type = TYPES[entry.dtype];
    if (!Type) fail(`block ${block} has dtype ${entry.dtype}`);
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (entry.offset % ALIGN || entry.offset < 16 + length || entry.offset + entry.length > bytes.length) {
      fail(`block ${block} lies outside the file or is not aligned`);
    }
    if (count * Type.BYTES_PER_ELEMENT !== entry.length) fail(`block ${block}: shape and length disagree`);
    const raw = new Type(buffer, entry.offset, count);
    blocks[block] = entry.dtype === "float16" ? halfToFloat(raw) : raw;
    if (entry.dtype === "float16") halves[block] = raw;
  }
  return { meta, blocks, halves };
}

/** The avatar of a .webavatar file's bytes, ready to pose and blend (see rig.js, blend.js). */
export function readWebAvatar(buffer, name) {
  const { meta, blocks, halves } = unpack(buffer, name);
  const rig = readRig(meta.rig, blocks, halves);
  const gaussians = readGaussians(meta.gaussians, blocks, rig, name);
  const offsets = readOffsets(meta.offsets, blocks, gaussians.count);
  const drivers = gaussians.blendExpr.length + 3 + (gaussians.pose ? 3 : 0);
  if (offsets.drivers !== drivers) {
    throw new WebAvatarError(`${offsets.drivers} offset drivers, the Gaussians have ${drivers}`);
  }
  return {
    rig, gaussians, offsets,
    levels: readLevels(meta.levels, gaussians.count),
    background: meta.background || [1, 1, 1],
    headCut: meta.head_cut || null,
    viewCone: meta.view_cone || null,
    expressionRange: meta.expression_range || null,
  };
}

/** The levels of detail, finest first: [{count, psnrDb, psnrMinDb}], level k the file's first
 * count Gaussians (files written before them: one, the whole file). */
function readLevels(levels, count) {
  if (levels === undefined || levels === null) return [{ count, psnrDb: null, psnrMinDb: null }];
  const counts = Array.isArray(levels) ? levels.map((level) => level && level.count) : [];
  if (!counts.length || counts[0] !== count || counts.some((c, k) => !Number.isInteger(c) || c < 1 || (k && c >= counts[k - 1]))) {
    throw new WebAvatarError(`levels of detail of ${JSON.stringify(counts)} Gaussians: not ${count}, then fewer each`);
  }
  return levels.map(({ count: c, psnr_db: psnrDb = null, psnr_min_db: psnrMinDb = null }) => ({ count: c, psnrDb, psnrMinDb }));
}

function readRig(header, blocks, halves) {
  const numExpr = header.num_expr;
  const rig = {
    name: header.name,
    numVertices: header.num_vertices,
    numExpr,
    exprNames: header.expr_names,
    parents: header.parents,
    template: blocks["rig.v_template"], // [V * 3], identity folded in
    faces: Uint32Array.from(blocks["rig.faces"]), // [F * 3]
    numFaces: header.num_faces,
    exprStart: blocks["rig.expr_start"], // [E + 1]
    exprVertex: Uint32Array.from(blocks["rig.expr_vertex"]), // [R]
    exprDelta: blocks["rig.expr_delta"], // int8 [R * 3]
    exprScale: blocks["rig.expr_scale"], // [E]
    jregStart: blocks["rig.jreg_start"], // [J + 1]
    jregVertex: blocks["rig.jreg_vertex"],
    jregWeight: blocks["rig.jreg_weight"],
    lbsWeights: blocks["rig.lbs_weights"], // [V * J]
    lbsWeightBits: halves["rig.lbs_weights"], // the same as float16 bits (the GPU's copy)
    numJoints: header.parents.length,
    posedirs: header.has_posedirs ? blocks["rig.posedirs"] : null, // [V * 3 * P]
    posedirBits: header.has_posedirs ? halves["rig.posedirs"] : null,
    numPoseFeatures: header.num_pose_features || 36,
  };
  if (rig.exprStart.length !== numExpr + 1) throw new WebAvatarError("rig.expr_start does not fit num_expr");
  return rig;
}

function readGaussians(header, blocks, rig, name) {
  const count = header.count;
  const degree = header.sh_degree;
  const width = ((degree + 1) ** 2 - 1) * 3;
  // SH coefficients beyond the DC: uint8 codes [N, K - 1, 3], value = low + step * code per
  // coefficient and channel (dequantised on the GPU)
  const shCodes = width ? blocks["g.sh_rest"] : new Uint8Array(0);
  const shLow = width ? header.sh_rest_low : [], shStep = width ? header.sh_rest_step : [];
  if (shCodes.length !== count * width || shLow.length !== width || shStep.length !== width) {
    throw new WebAvatarError("g.sh_rest does not fit the Gaussians' SH degree");
  }
  const parent = Uint32Array.from(blocks["g.parent"]);
  for (let g = 0; g < count; ++g) {
    if (parent[g] >= rig.numFaces) throw new WebAvatarError("g.parent names a triangle the rig does not have");
  }
  return {
    count, degree, parent,
    blendExpr: blendExpressions(header, rig.numExpr, name),
    pose: headPose(blocks),
    xyz: blocks["g.xyz"], rot: blocks["g.rot"], logScale: blocks["g.log_scale"],
    opacityLogit: blocks["g.opacity_logit"], shDc: blocks["g.sh_dc"], shCodes, shLow, shStep,
  };
}

/** The expressions whose weights drive the offsets [K] (`blend_expr`): drivers[k] = expr[blendExpr[k]],
 * then the jaw's 3 components. The g.expr_* blocks of files written while a PCA basis could drive
 * the offsets hold the same selection and are not read; blend_expr null (such a basis) is refused. */
function blendExpressions(header, numExpr, name = "avatar.webavatar") {
  const selected = header.blend_expr;
  if (selected === null || selected === undefined) {
    throw new WebAvatarError(`${name}: its offsets are driven by a PCA of the training expressions: it was trained `
      + "with the expr_pca_variance option, which has been removed; train it again");
  }
  if (!Array.isArray(selected) || selected.some((e) => !Number.isInteger(e) || e < 0 || e >= numExpr)) {
    throw new WebAvatarError("gaussians.blend_expr names expressions the rig does not have");
  }
  return Uint32Array.from(selected);
}

/** The head-pose drivers {mean [9] row-major, low [3], high [3]} when the file has their blocks
 * (avatar/gaussians/pose_drivers.py), else null. */
function headPose(blocks) {
  const names = ["g.pose_mean", "g.pose_low", "g.pose_high"];
  const present = names.filter((name) => blocks[name]);
  if (!present.length) return null;
  if (present.length !== names.length) {
    throw new WebAvatarError(`${present.join(", ")} without the rest of the g.pose_* blocks`);
  }
  const [mean, low, high] = names.map((name) => blocks[name]);
  if (mean.length !== 9 || low.length !== 3 || high.length !== 3) {
    throw new WebAvatarError("g.pose_* blocks are not [3, 3] / [3] / [3]");
  }
  return { mean, low, high };
}

/** Per offset group: for each driver the Gaussians it moves (from the mask) and their values. */
function readOffsets(header, blocks, count) {
  const groups = OFFSET_GROUPS.map(([name, width, column]) => {
    const mask = blocks[`${name}.mask`]; // uint8 [D, ceil(N / 8)]
    const start = blocks[`${name}.start`]; // [D + 1]
    const values = blocks[`${name}.values`]; // int8 [rows, width]
    const scale = blocks[`${name}.scale`]; // [D, width]
    const drivers = header.count;
    const stride = Math.ceil(count / 8);
    const gaussian = new Uint32Array(values.length / width); // [rows]: the Gaussian of each row
    let row = 0;
    for (let d = 0; d < drivers; ++d) {
      if (start[d] !== row) throw new WebAvatarError(`${name}.start disagrees with its mask`);
      for (let g = 0; g < count; ++g) {
        if (mask[d * stride + (g >> 3)] & (1 << (g & 7))) gaussian[row++] = g;
      }
    }
    if (row !== gaussian.length) throw new WebAvatarError(`${name}.mask disagrees with its values`);
    return { name, width, column, start, gaussian, values, scale };
  });
  return { drivers: header.count, groups };
}
