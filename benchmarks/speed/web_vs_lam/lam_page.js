// LAM's renderer (npm gaussian-splat-renderer-for-lam, MIT) playing LAM's ARKit take, for
// benchmarks/speed/web_vs_lam.py. Only the calls its README and LAM_WebRender's demo show:
// GaussianSplatRenderer.getInstance(div, zip URL, { getExpressionData, getChatState }), the
// renderer then drawing on its own requestAnimationFrame loop. The benchmark serves this folder
// with the renderer's module as renderer.module.js, the avatar as avatar.zip, the take as take.json.
//
// window.lamPage: { ready, error, gaussians }; window.frameTimes: performance.now() of each
// frame the renderer drew (the benchmark empties it to start counting).
import { GaussianSplatRenderer, SceneRevealMode } from "./renderer.module.js";

const TAKE_FPS = 30; // LAM's demo steps the take's frames at 30 a second, by the clock
const page = (window.lamPage = { ready: false, error: null, gaussians: 0 });
window.frameTimes = [];

async function start() {
  const size = Number(new URLSearchParams(location.search).get("size") || 512);
  const div = document.getElementById("lam");
  div.style.width = div.style.height = `${size}px`; // the renderer draws at its container's size
  const take = await (await fetch("take.json")).json();
  const started = performance.now();
  // The take's weights by name at the clock's frame, as LAM's demo hands them over.
  const weights = () => {
    const frame = Math.floor(((performance.now() - started) / 1000) * TAKE_FPS) % take.frames.length;
    return Object.fromEntries(take.names.map((name, i) => [name, take.frames[frame].weights[i]]));
  };
  const renderer = await GaussianSplatRenderer.getInstance(div, "avatar.zip", {
    getExpressionData: weights,
    getChatState: () => "Idle", // the body's idle motion, LAM's state while nobody talks
  });
  if (!renderer) throw new Error("GaussianSplatRenderer.getInstance failed (its error is in the console)");
  const viewer = renderer.viewer;
  // Its steady state at once: the viewer fades the splats in from the scene's centre over about
  // 380 drawn frames (6 s at 60 fps, minutes at SwiftShader's few a second), the head invisible
  // meanwhile; `sceneRevealMode` is the viewer's own option that getInstance leaves at Default.
  viewer.sceneRevealMode = SceneRevealMode.Instant;
  // Time each drawn frame: the viewer's render() draws (it returns early until the splats are in).
  const draw = viewer.render;
  viewer.render = function () {
    const drawing = this.initialized && this.splatRenderReady && this.splatMesh;
    draw.call(this);
    if (!drawing) return;
    window.frameTimes.push(performance.now());
    page.gaussians = this.splatMesh.getSplatCount();
    page.ready = true;
  };
}

start().catch((e) => {
  page.error = String((e && e.stack) || e);
});
