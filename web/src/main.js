// The one bundled script of the web player (player.js in an exported folder). In the page it
// builds the player and its controls; started as a Worker (the page starts this same script as
// its worker, so the folder ships one script), it runs the engine.
//
// Query parameters: ?size=N (render size, px), ?ws=URL (connect to a parameter stream),
// ?seq=NAME (play an embedded sequence), ?manual=1 (no loop: only window.avatarPlayer.renderNow
// draws, for tests and benchmarks), ?target=rgba16f|rgba8 (force a lesser blend target),
// ?lod=0|1|auto (the level of detail: the full avatar, the export's coarser level, or chosen from
// the frame time; by default auto, and 0 with ?manual=1, whose frames stay as asked).

import { Player } from "./player.js";
import { buildUi } from "./ui.js";
import { startWorker } from "./worker.js";

if (typeof WorkerGlobalScope !== "undefined" && self instanceof WorkerGlobalScope) {
  startWorker(self);
} else {
  const scriptUrl = document.currentScript.src;
  window.addEventListener("DOMContentLoaded", () => main(scriptUrl));
}

async function main(scriptUrl) {
  const query = new URLSearchParams(location.search);
  const hud = document.getElementById("hud");
  // ?bg=transparent: only the avatar, over whatever is behind the page (an OBS browser source).
  const transparent = query.get("bg") === "transparent";
  if (transparent) document.documentElement.classList.add("transparent");
  try {
    const player = new Player(document.getElementById("view"), scriptUrl, {
      size: Number(query.get("size")) || Math.min(512, Math.floor(Math.min(innerWidth, innerHeight) * devicePixelRatio)),
      target: query.get("target") || "auto",
      transparent,
      lod: query.get("lod") || (query.get("manual") ? 0 : "auto"),
    });
    window.avatarPlayer = player;
    const summary = await player.load(new URL(".", location.href));
    document.title = `${player.manifest.name} · avatar`;
    hud.textContent = `${summary.numGaussians} Gaussians`;
    buildUi(player, query);
    const wanted = query.get("seq");
    const sequence = player.sequences.find((s) => s.name === wanted);
    if (sequence) player.play(sequence);
    if (!query.get("manual")) player.start();
    player.ready = true;
  } catch (error) {
    const box = document.getElementById("error");
    box.textContent = String(error.message || error);
    box.hidden = false;
    hud.textContent = "failed";
    window.avatarPlayerError = String(error.message || error);
  }
}
