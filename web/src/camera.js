// OpenCV pinhole cameras as avatar/splat/camera.py and framing.py make them: x right, y down,
// z forward; pixel (u, v) has its centre at (u + 0.5, v + 0.5). A camera is
// {K [9] row-major, w2c [16] row-major world-to-camera, width, height, near, far}.

export const FRAMING_FOV_Y_DEG = 20;
const FRAMING = 1.15; // head height over the visible height

export function intrinsics(width, height, fovYDeg) {
  const f = 0.5 * height / Math.tan((fovYDeg * Math.PI) / 360);
  return [f, 0, width / 2, 0, f, height / 2, 0, 0, 1];
}

export function lookAt(eye, target, width, height, fovYDeg = FRAMING_FOV_Y_DEG, up = [0, 1, 0]) {
  const z = unit(sub(target, eye));
  const x = unit(cross(z, up)); // image right = forward x up; y = forward x right points down
  const y = cross(z, x);
  const w2c = [x[0], x[1], x[2], -dot(x, eye), y[0], y[1], y[2], -dot(y, eye), z[0], z[1], z[2], -dot(z, eye), 0, 0, 0, 1];
  return { K: intrinsics(width, height, fovYDeg), w2c, width, height, near: 0.01, far: 100 };
}

/** On a sphere around target; angle 0 looks at the face (from +z). */
export function orbit(angleDeg, elevationDeg, distance, target, width, height, fovYDeg = FRAMING_FOV_Y_DEG) {
  const a = (angleDeg * Math.PI) / 180, e = (elevationDeg * Math.PI) / 180;
  const eye = [target[0] + distance * Math.sin(a) * Math.cos(e), target[1] + distance * Math.sin(e),
    target[2] + distance * Math.cos(a) * Math.cos(e)];
  return lookAt(eye, target, width, height, fovYDeg);
}

/** Distance at which a head `extent` metres tall fills 1 / FRAMING of the view's height. */
export function framingDistance(extent, fovYDeg = FRAMING_FOV_Y_DEG) {
  return (FRAMING * extent) / (2 * Math.tan((fovYDeg * Math.PI) / 360));
}

/** The camera's centre in world space: -R^T t. */
export function cameraPosition(camera) {
  const m = camera.w2c;
  return [0, 1, 2].map((c) => -(m[c] * m[3] + m[4 + c] * m[7] + m[8 + c] * m[11]));
}

function sub(a, b) { return [a[0] - b[0], a[1] - b[1], a[2] - b[2]]; }
function dot(a, b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
function cross(a, b) { return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]; }
function unit(v) { const n = Math.hypot(v[0], v[1], v[2]); return [v[0] / n, v[1] / n, v[2] / n]; }
