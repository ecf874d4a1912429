// Your turn's page side (gr.HTML's js_on_load: `element` is the component, `trigger` sends it an event).
// One websocket per game: the start message, then the held controls whenever they change; images come back
// as binary messages (13-byte header: kind, number, the last key message it answers, step): the game's frames
// (PNG, drawn with their pixels doubled) and once a step the agent's panel (JPEG), laid out as Play's video
// frame; news comes as JSON.
const canvas = element.querySelector(".yt-canvas");
const context = canvas.getContext("2d");
const news = element.querySelector(".yt-news");
const handOver = element.querySelector(".yt-agent");
const BITS = { ArrowUp: 1, ArrowDown: 2, ArrowLeft: 4, ArrowRight: 8, Space: 16 };
const stats = { sent: new Map(), latencies: [], frames: [], drawn: 0, steps: 0, state: "idle", result: null };
let socket = null;
let held = 0;
let keyId = 0;
let agentPlays = false;
let lastDrawn = 0;
let layout = null;

const say = (text) => { news.textContent = text; };
const playing = () => stats.state === "playing";

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function setHeld(bits) {
  if (bits === held || !playing()) return;
  held = bits;
  keyId += 1;
  stats.sent.set(keyId, performance.now());
  send({ type: "keys", bits: held, id: keyId });
}

function setAgent(on) {
  agentPlays = on;
  handOver.textContent = on ? "Take back control (A)" : "Let the agent play (A)";
  handOver.classList.toggle("yt-on", on);
  send({ type: "control", agent: on });
}

function draw(buffer) {
  const header = new DataView(buffer, 0, 13);
  const kind = header.getUint8(0);
  const number = header.getUint32(1, true);
  const answers = header.getUint32(5, true);
  const type = kind === 0 ? "image/png" : "image/jpeg";
  createImageBitmap(new Blob([buffer.slice(13)], { type })).then((image) => {
    if (!layout) return;
    if (kind === 1) {  // the agent's panel for this step, as Play draws it
      const [x, y, w, h] = layout.panel;
      context.drawImage(image, x, y, w, h);
      return;
    }
    if (number <= lastDrawn) return;  // an older frame decoded late
    lastDrawn = number;
    const [x, y, w, h] = layout.game;
    context.imageSmoothingEnabled = false;  // the emulator's pixels doubled, crisp, as in Play's video
    context.drawImage(image, x, y, w, h);
    const now = performance.now();
    stats.drawn += 1;
    stats.frames.push(now);
    if (stats.frames.length > 600) stats.frames.shift();
    for (const [id, at] of stats.sent) {
      if (id > answers) break;
      stats.latencies.push(now - at);
      stats.sent.delete(id);
    }
  });
}

function onNews(message) {
  if (message.type === "loading") say(`Loading the agent for ${message.game}…`);
  else if (message.type === "queued") {
    const when = message.starts_within_s === null ? "after the games ahead of you"
      : `within ${message.starts_within_s} s at the latest (when a game reaches its step cap), sooner if a player stops`;
    say(`All ${message.games} games are taken: you are number ${message.position} in line. Your game starts ${when}.`);
  } else if (message.type === "started") {
    stats.state = "playing";
    stats.started = message;
    layout = message.layout;
    canvas.width = layout.size[0];
    canvas.height = layout.size[1];
    context.fillStyle = "#12121c";  // the panel's background, as Play's renderer draws it
    context.fillRect(0, 0, canvas.width, canvas.height);
    element.querySelector(".yt-keys").textContent = "Keys: " + message.controls.map(
      (c) => ({ UP: "↑", DOWN: "↓", LEFT: "←", RIGHT: "→", FIRE: "Space = FIRE" })[c]).join(" · ") +
      " · A = let the agent play / take back";
    element.querySelectorAll(".yt-pad button").forEach((button) => {
      button.hidden = !message.controls.includes(button.dataset.control);
    });
    say(`${message.title}, seed ${message.seed}: your turn! The agent's panel says what it would do.`);
    handOver.disabled = false;
    canvas.focus({ preventScroll: true });
  } else if (message.type === "step") {
    stats.steps = message.step;
    const who = message.who === "agent" ? "the agent plays" : `you play ${message.action}`;
    say(`Step ${message.step}: score ${message.score}, lives ${message.lives}; ${who}; the agent would play ${message.agent_would}.`);
  } else if (message.type === "paused") say(`Paused: no key for a while. Press a key to go on; the game ends in ${message.ends_in_s} s.`);
  else if (message.type === "finishing") {
    stats.state = "finishing";
    say(`Game over (${message.ended}): you scored ${message.score}. The agent plays the same seed, and both videos are being made…`);
  } else if (message.type === "over") {
    stats.state = "over";
    stats.result = message;
    say(`${message.sentence}.`);
    trigger("submit", { token: message.token });
  } else if (message.type === "error") {
    stats.state = "error";
    say(`Could not play: ${message.message}`);
  }
}

function start(game, seed) {
  if (socket) socket.close();
  Object.assign(stats, { sent: new Map(), latencies: [], frames: [], drawn: 0, steps: 0, state: "starting", result: null });
  held = 0; keyId = 0; lastDrawn = 0; agentPlays = false; layout = null;
  setAgent(false);
  handOver.disabled = true;
  const url = new URL("yourturn/ws", location.href.split(/[?#]/)[0].replace(/[^/]*$/, ""));
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const current = socket = new WebSocket(url);
  current.binaryType = "arraybuffer";
  current.onopen = () => current.send(JSON.stringify({
    type: "start", game, seed: Math.max(0, Math.round(Number(seed) || 0)), stacked: window.innerWidth < 700,
  }));
  current.onmessage = (event) => {
    if (current !== socket) return;
    if (typeof event.data === "string") onNews(JSON.parse(event.data));
    else draw(event.data);
  };
  current.onclose = () => {
    if (current !== socket) return;
    handOver.disabled = true;
    if (stats.state === "playing" || stats.state === "finishing" || stats.state === "starting") {
      stats.state = "closed";
      say("The connection to the game was lost: the game has ended.");
    }
  };
  say("Connecting…");
  if (window.innerWidth < 700) element.scrollIntoView({ behavior: "smooth" });  // a phone: game and buttons in sight
}

const visible = () => element.offsetParent !== null;
window.addEventListener("keydown", (event) => {
  if (!playing() || !visible() || event.target.closest?.("input, textarea")) return;
  if (event.code === "KeyA") { if (!event.repeat) setAgent(!agentPlays); return; }
  const bit = BITS[event.code];
  if (bit === undefined) return;
  event.preventDefault();
  setHeld(held | bit);
});
window.addEventListener("keyup", (event) => {
  const bit = BITS[event.code];
  if (bit === undefined || !playing()) return;
  event.preventDefault();
  setHeld(held & ~bit);
});
const CONTROL_BITS = { UP: 1, DOWN: 2, LEFT: 4, RIGHT: 8, FIRE: 16 };
element.querySelectorAll(".yt-pad button").forEach((button) => {
  const bit = CONTROL_BITS[button.dataset.control];
  const press = (event) => { event.preventDefault(); button.classList.add("yt-down"); setHeld(held | bit); };
  const release = (event) => { event.preventDefault(); button.classList.remove("yt-down"); setHeld(held & ~bit); };
  button.addEventListener("pointerdown", press);
  ["pointerup", "pointerleave", "pointercancel"].forEach((name) => button.addEventListener(name, release));
  button.addEventListener("contextmenu", (event) => event.preventDefault());  // a long press holds, no menu
});
handOver.addEventListener("click", () => setAgent(!agentPlays));
window.addEventListener("pagehide", () => socket && socket.close());
window.arenaYourTurn = { start, stats };
