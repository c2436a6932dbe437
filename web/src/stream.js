// The parameter stream of `avatar view --serve PORT` (viewer/param_server.py; docs/formats.md,
// "The parameter stream"): a hello naming the rig, then one JSON message per frame the viewer
// shows. The newest frame wins; keys this version does not know are ignored.

import { FRAME_KEYS } from "./params.js";

const PROTOCOL_VERSION = 1;
const RETRY_MS = 1000;

export class ParamStream {
  /** onParams(params, message) for each frame; onStatus(text, state) as the connection changes
   * (state: connecting | open | closed | error). A connection that fails or drops is tried again
   * every RETRY_MS (the viewer may start after the page, or restart), unless the rig does not fit. */
  constructor(url, rig, onParams, onStatus) {
    this.url = url;
    this.rig = rig;
    this.onParams = onParams;
    this.onStatus = onStatus;
    this.frames = 0;
    this.closedByUs = false;
    this.open();
  }

  open() {
    const url = this.url, onStatus = this.onStatus;
    onStatus(`connecting to ${url}`, "connecting");
    this.hello = null;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => onStatus(`connected to ${url}, waiting for its hello`, "open");
    socket.onclose = () => {
      if (this.closedByUs) return;
      onStatus(`${url}: no stream (trying again)`, "closed");
      this.retry = setTimeout(() => this.open(), RETRY_MS);
    };
    socket.onmessage = ({ data }) => {
      let message;
      try { message = JSON.parse(data); } catch { onStatus(`${url}: a message that is not JSON`, "error"); return; }
      if (message.type === "hello") {
        const problem = this.mismatch(message);
        if (problem) {
          onStatus(`${url}: ${problem}`, "error");
          this.close();
          return;
        }
        this.hello = message;
        onStatus(`driven by ${url} (rig ${message.rig}, ${message.fps ? `${message.fps} fps` : "no source"})`, "open");
      } else if (message.type === "params" && this.hello) {
        const params = toParams(message, this.rig.numExpr);
        if (params) {
          this.frames += 1;
          this.onParams(params, message);
        }
      }
    };
  }

  mismatch(hello) {
    if (hello.version !== PROTOCOL_VERSION) return `protocol version ${hello.version}, this player reads ${PROTOCOL_VERSION}`;
    if (hello.rig !== this.rig.name) return `its rig is '${hello.rig}', this avatar's is '${this.rig.name}'`;
    if (hello.num_expr !== this.rig.numExpr) return `${hello.num_expr} expressions, this avatar's rig has ${this.rig.numExpr}`;
    return null;
  }

  close() {
    this.closedByUs = true;
    clearTimeout(this.retry);
    this.socket.close();
  }
}

/** params of a `params` message, or null when a value is missing or not a finite number. */
function toParams(message, numExpr) {
  const params = {};
  for (const [key, width] of [["expr", numExpr], ...FRAME_KEYS]) {
    const values = message[key];
    if (!Array.isArray(values) || values.length !== width || !values.every(Number.isFinite)) return null;
    params[key] = values;
  }
  return params;
}
