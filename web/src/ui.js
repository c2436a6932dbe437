// The page's controls: orbit (drag, wheel, pinch), the source (neutral, sliders, sequences, a
// dropped Live Link CSV, a parameter stream), playback, resolution, the expression sliders, the
// fps counter with the level of detail drawn.

const SIZES = [256, 384, 512, 768, 1024];

export function buildUi(player, query) {
  const $ = (id) => document.getElementById(id);
  const panel = $("panel");
  const show = (message) => { $("error").textContent = message; $("error").hidden = false; };
  player.onError = show;
  $("toggle").onclick = () => { panel.hidden = !panel.hidden; };

  const sources = element("select", { id: "source" });
  const playButton = element("button", { textContent: "Pause" });
  const seekBar = element("input", { type: "range", min: 0, max: 0, value: 0 });
  const frameLabel = element("span", { textContent: "" });
  const sizeSelect = element("select");
  for (const s of SIZES) sizeSelect.append(element("option", { value: s, textContent: `${s} px` }));
  sizeSelect.value = String(player.size);
  const streamUrl = element("input", { type: "text", value: query.get("ws") || defaultStreamUrl() });
  const streamButton = element("button", { textContent: "Connect" });
  const status = element("div", { id: "status" });
  const fileInput = element("input", { type: "file", accept: ".csv,text/csv" });
  const reset = element("button", { textContent: "Reset view" });

  panel.append(
    heading("Source"), row(sources), row(playButton, frameLabel), row(seekBar),
    heading("Live Link Face recording"), row(fileInput), hint("or drop a .csv anywhere on the page"),
    heading("Stream (avatar view --serve)"), row(streamUrl, streamButton), status,
    heading("View"), row(sizeSelect, reset), hint("drag to turn, wheel or pinch to zoom, double-click to reset"),
    heading("Expressions"),
  );
  const sliders = expressionSliders(panel, player);

  const refreshSources = () => {
    sources.replaceChildren(element("option", { value: "neutral", textContent: "Neutral" }),
      element("option", { value: "sliders", textContent: "Sliders" }),
      ...player.sequences.map((s, i) => element("option", { value: `seq:${i}`, textContent: `${s.name} (${s.frames} frames)` })),
      element("option", { value: "stream", textContent: "Stream" }));
    const s = player.source;
    sources.value = s.kind === "sequence" ? `seq:${player.sequences.indexOf(s.sequence)}` : s.kind;
  };
  sources.onchange = () => {
    const v = sources.value;
    if (v === "neutral") player.useNeutral();
    else if (v === "sliders") player.useSliders();
    else if (v === "stream") player.useStream();
    else player.play(player.sequences[Number(v.slice(4))]);
  };
  playButton.onclick = () => player.setPaused(!player.source.paused);
  seekBar.oninput = () => { player.setPaused(true); player.seek(Number(seekBar.value)); };
  sizeSelect.onchange = () => { player.size = Number(sizeSelect.value); player.dirty = true; };
  reset.onclick = () => player.resetView();

  const connect = () => {
    if (player.stream) {
      player.disconnect();
      streamButton.textContent = "Connect";
      status.textContent = "disconnected";
      return;
    }
    player.connect(streamUrl.value, (text) => { status.textContent = text; });
    streamButton.textContent = "Disconnect";
  };
  streamButton.onclick = connect;
  if (query.get("ws")) connect();

  const loadCsv = async (file) => {
    try {
      player.loadLiveLink(await file.text(), file.name);
      $("error").hidden = true;
    } catch (error) {
      show(String(error.message || error));
    }
  };
  fileInput.onchange = () => { if (fileInput.files[0]) loadCsv(fileInput.files[0]); };
  dropTarget(document.body, $("drop"), loadCsv);
  orbitControls(player.canvas, player);

  player.onChange(() => {
    refreshSources();
    const s = player.source;
    playButton.disabled = s.kind !== "sequence";
    playButton.textContent = s.paused ? "Play" : "Pause";
    seekBar.max = s.kind === "sequence" ? s.sequence.frames - 1 : 0;
  });
  player.emit();

  const hud = $("hud");
  setInterval(() => {
    const st = player.stats, s = player.source;
    if (s.kind === "sequence") {
      const frame = player.sequenceFrame();
      seekBar.value = frame;
      frameLabel.textContent = `frame ${frame + 1} / ${s.sequence.frames}`;
    } else frameLabel.textContent = "";
    if (s.kind !== "sliders" && !panel.hidden) sliders.show(player.currentParams()); // hidden: no DOM work
    const gpu = player.renderer.gpuMs === null ? "" : `  gpu ${player.renderer.gpuMs.toFixed(1)} ms`;
    const rate = performance.now() - st.lastFrame > 1000 ? "idle" : `${st.fps.toFixed(1)} fps`;
    hud.textContent = `${rate}  ${player.size} px  ${st.splats ?? 0} splats\n`
      + `frame ${st.frameMs.toFixed(0)} ms  page ${st.pageMs.toFixed(1)} ms  worker ${st.workerMs.toFixed(1)} ms${gpu}\n`
      + `${describeLevel(player)}  ${player.renderer.target.name}`;
  }, 250);
}

/** The level of detail drawn (of the levels 0..last), whether chosen by the frame time, its
 * Gaussians and what it costs against the full avatar (PSNR, mean and worst of the frames the
 * export measured): "lod 1/1 auto: 43571 Gaussians, 43.4 dB (worst 27.6)". */
export function describeLevel(player) {
  const levels = player.levels, level = levels[player.level];
  const cost = player.level === 0 ? "full"
    : level.psnrDb === null ? "PSNR not measured" : `${level.psnrDb.toFixed(1)} dB (worst ${level.psnrMinDb === null ? "-" : level.psnrMinDb.toFixed(1)})`;
  return `lod ${player.level}/${levels.length - 1}${player.levelSwitch ? " auto" : ""}: ${level.count} Gaussians, ${cost}`;
}

function expressionSliders(panel, player) {
  const names = player.summary.exprNames || player.sliderParams.expr.map((_, i) => `expression ${i}`);
  const range = player.summary.expressionRange;
  const inputs = [];
  const add = (label, min, max, get, set) => {
    const input = element("input", { type: "range", min, max, step: 0.01, value: get(player.sliderParams) });
    const value = element("span", { textContent: Number(input.value).toFixed(2) });
    input.oninput = () => {
      if (player.source.kind !== "sliders") player.useSliders();
      set(player.sliderParams, Number(input.value));
      value.textContent = Number(input.value).toFixed(2);
      player.dirty = true;
    };
    const line = element("div", { className: "slider" });
    line.append(element("span", { textContent: label, title: label }), input, value);
    panel.append(line);
    inputs.push({ input, value, get });
  };
  add("jaw open", 0, 0.4, (p) => p.jaw[0], (p, v) => { p.jaw[0] = v; });
  add("head turn", -0.8, 0.8, (p) => p.rotation[1], (p, v) => { p.rotation[1] = v; });
  add("head nod", -0.5, 0.5, (p) => p.rotation[0], (p, v) => { p.rotation[0] = v; });
  names.forEach((name, e) => {
    const high = range ? Math.max(1, range.expr_high[e]) : 1;
    add(name, range ? Math.min(0, range.expr_low[e]) : 0, high, (p) => p.expr[e], (p, v) => { p.expr[e] = v; });
  });
  return {
    show(params) {
      for (const { input, value, get } of inputs) {
        input.value = get(params);
        value.textContent = Number(get(params)).toFixed(2);
      }
    },
  };
}

function orbitControls(canvas, player) {
  const pointers = new Map();
  let pinch = null;
  canvas.addEventListener("pointerdown", (e) => { canvas.setPointerCapture(e.pointerId); pointers.set(e.pointerId, e); });
  canvas.addEventListener("pointerup", (e) => { pointers.delete(e.pointerId); pinch = null; });
  canvas.addEventListener("pointercancel", (e) => { pointers.delete(e.pointerId); pinch = null; });
  canvas.addEventListener("pointermove", (e) => {
    if (!pointers.has(e.pointerId)) return;
    const last = pointers.get(e.pointerId);
    pointers.set(e.pointerId, e);
    const v = player.view;
    if (pointers.size === 1) {
      v.yaw -= 0.4 * (e.clientX - last.clientX);
      v.pitch = Math.max(-80, Math.min(80, v.pitch + 0.4 * (e.clientY - last.clientY)));
    } else if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const spread = Math.hypot(a.clientX - b.clientX, a.clientY - b.clientY);
      if (pinch) v.distance *= pinch / spread;
      pinch = spread;
    }
    player.dirty = true;
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    player.view.distance *= Math.exp(0.001 * e.deltaY);
    player.dirty = true;
  }, { passive: false });
  canvas.addEventListener("dblclick", () => player.resetView());
}

function dropTarget(zone, overlay, onFile) {
  zone.addEventListener("dragover", (e) => { e.preventDefault(); overlay.classList.add("shown"); });
  zone.addEventListener("dragleave", () => overlay.classList.remove("shown"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    overlay.classList.remove("shown");
    const file = e.dataTransfer.files[0];
    if (file) onFile(file);
  });
}

function defaultStreamUrl() {
  return `ws://${location.hostname || "localhost"}:8765`;
}

function element(tag, props = {}) {
  return Object.assign(document.createElement(tag), props);
}

function heading(text) { return element("h3", { textContent: text }); }
function hint(text) { return element("div", { textContent: text, style: "font-size:12px;color:#999" }); }
function row(...children) {
  const div = element("div", { className: "row" });
  div.append(...children);
  return div;
}
