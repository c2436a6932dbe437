// View-dependent colours: avatar/splat/sh.py. colour = max(sum_k basis_k(dir) sh_k + 0.5, 0)
// with dir the unit vector from the camera's centre to the Gaussian's mean (3DGS's convention
// and constants, degrees 0 to 3).

const C0 = 0.28209479177387814;
const C1 = 0.4886025119029199;
const C2 = [1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396];
const C3 = [-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
  -0.4570457994644658, 1.445305721320277, -0.5900435899266435];

/** The basis values [(degree + 1)^2] at the unit direction (x, y, z), into `out`. */
export function shBasis(degree, x, y, z, out) {
  out[0] = C0;
  if (degree < 1) return out;
  out[1] = -C1 * y; out[2] = C1 * z; out[3] = -C1 * x;
  if (degree < 2) return out;
  const xx = x * x, yy = y * y, zz = z * z;
  out[4] = C2[0] * x * y; out[5] = C2[1] * y * z; out[6] = C2[2] * (2 * zz - xx - yy);
  out[7] = C2[3] * x * z; out[8] = C2[4] * (xx - yy);
  if (degree < 3) return out;
  out[9] = C3[0] * y * (3 * xx - yy); out[10] = C3[1] * x * y * z; out[11] = C3[2] * y * (4 * zz - xx - yy);
  out[12] = C3[3] * z * (2 * zz - 3 * xx - 3 * yy); out[13] = C3[4] * x * (4 * zz - xx - yy);
  out[14] = C3[5] * z * (xx - yy); out[15] = C3[6] * x * (xx - 3 * yy);
  return out;
}

/** colours [N * 3] of the world Gaussians seen from the camera centre `eye` [3]; shRest [N, K-1, 3]. */
export function shColours(world, shRest, degree, eye, colours) {
  const k = (degree + 1) ** 2;
  const basis = new Float64Array(16);
  const rest = (k - 1) * 3;
  const { means, shDc } = world;
  for (let i = 0; i < world.count; ++i) {
    const i3 = 3 * i;
    let dx = means[i3] - eye[0], dy = means[i3 + 1] - eye[1], dz = means[i3 + 2] - eye[2];
    const norm = Math.max(Math.sqrt(dx * dx + dy * dy + dz * dz), 1e-12);
    dx /= norm; dy /= norm; dz /= norm;
    shBasis(degree, dx, dy, dz, basis);
    let r = C0 * shDc[i3], g = C0 * shDc[i3 + 1], b = C0 * shDc[i3 + 2];
    for (let j = 1, at = i * rest; j < k; ++j, at += 3) { // the coefficients of one Gaussian are adjacent
      const w = basis[j];
      r += w * shRest[at];
      g += w * shRest[at + 1];
      b += w * shRest[at + 2];
    }
    colours[i3] = Math.max(r + 0.5, 0);
    colours[i3 + 1] = Math.max(g + 0.5, 0);
    colours[i3 + 2] = Math.max(b + 0.5, 0);
  }
  return colours;
}
