// Capture page (/c/<id>): follows the server's progress events, shows the first 3D
// view as soon as the fast preview depth exists, swaps in the refined one, and offers
// modes, downloads, the share link and (for the owner) delete / contribute / withdraw.
//
// A stereo video (kind "clip") plays in the same viewer as soon as its first seconds are processed
// (the first-seconds event), while the rest follows segment by segment (progress events); clip.js plays it.
//
// For tests and the benchmark the page exposes window.parallax = {viewer, stage,
// firstFrame: {at, sinceUploadMs, stage} once the first 3D frame is drawn, shown: {stage: time
// its files were loaded (ms since the epoch)}, loads (stages loaded), uploadStartedAt, events,
// kind ("photo" or "clip"), player (a video's ClipPlayer), clip: {frame, time, segment, shown}}.
import { api, forgetOwnerToken, ownerToken, setOwnerToken, show } from "./api.js";
import { ClipPlayer } from "./clip.js";
import { Viewer } from "./viewer.js";

const id = decodeURIComponent(window.location.pathname.split("/").filter(Boolean).pop() || "");
const base = `/api/captures/${encodeURIComponent(id)}`;
const $ = (sel) => document.getElementById(sel);
const status = $("status");
const bar = $("progress-bar");
const progressText = $("progress-text");
const state = { viewer: null, stage: null, firstFrame: null, events: [], done: false, kind: "photo", player: null };
// `parallax view FILE` hands the local owner its token in the fragment (never sent to the server).
const fragment = new URLSearchParams(window.location.hash.slice(1));
if (fragment.get("owner")) {
  setOwnerToken(id, fragment.get("owner"));
  history.replaceState(null, "", window.location.pathname);
}
window.parallax = state;

function setProgress(fraction, message) {
  bar.style.width = `${Math.round(fraction * 100)}%`;
  progressText.textContent = message;
  status.textContent = message;
}

function fail(message) {
  const el = $("error");
  el.textContent = message;
  show(el, true);
  show($("stage-progress"), false);
  status.textContent = "Error";
}

function onFrame(info) {
  document.body.dataset.frames = String(info.frames);
  if (!state.firstFrame && state.stage) {
    const at = Date.now();
    let started = NaN;
    try { started = Number(sessionStorage.getItem("parallax.uploadStartedAt")); } catch { /* no timing */ }
    state.uploadStartedAt = started || null;
    state.firstFrame = { at, stage: state.stage, sinceUploadMs: started ? at - started : null, frames: info.frames };
    try { sessionStorage.removeItem("parallax.uploadStartedAt"); } catch { /* ignore */ }
    document.body.dataset.firstFrame = state.stage;
  }
}

const viewer = new Viewer($("view"), { onFrame });
state.viewer = viewer;

// Stages load one after another, each once; the refined depth is never replaced by the first look.
let loading = Promise.resolve();
const requested = new Set();

function showStage(stage, view) {
  if (requested.has(stage)) return Promise.resolve();
  requested.add(stage);
  const next = loading.catch(() => {}).then(async () => {
    if (state.stage === "full") return;
    state.loads = (state.loads || 0) + 1;
    await viewer.load(`${base}/files/${stage}`, view);
    state.stage = stage;
    state.shown = { ...(state.shown || {}), [stage]: Date.now() };
    document.body.dataset.stage = stage;
    updateModes();
    show($("stage-progress"), stage !== "full" && !state.done);
    $("download-note").textContent = stage === "full"
      ? "Made from the refined depth."
      : "Made from the quick first depth; they use the refined depth once it is ready.";
  });
  loading = next;
  return next;
}

function updateModes() {
  for (const b of $("modes").querySelectorAll("button[data-mode]")) {
    const why = viewer.unavailable(b.dataset.mode);
    b.disabled = Boolean(why);
    b.title = why;
    b.classList.toggle("active", b.dataset.mode === viewer.mode);
  }
  const note = $("modes-note");
  note.textContent = viewer.clip ? "Points and splats are for photos: a video shows as a 3D mesh, side by side, anaglyph or one view." : "";
  show(note, Boolean(viewer.clip));
}

$("modes").addEventListener("click", async (e) => {
  const b = e.target.closest("button[data-mode]");
  if (!b || b.disabled) return;
  try {
    await viewer.setMode(b.dataset.mode);
  } catch (err) {
    fail(`Could not switch to ${b.textContent}: ${err.message}`);
  }
  updateModes();
  document.body.dataset.mode = viewer.mode;
});

// Progress events (server-sent events, each with an id). On a dropped connection EventSource
// fires its own "error" event (no data) and reconnects with Last-Event-ID, and the server resumes
// after that id; the ids seen are also remembered here, so no event is ever handled twice.
function follow() {
  const source = new EventSource(`${base}/events`);
  const seen = new Set();
  const on = (name, handler) => source.addEventListener(name, (e) => {
    let data;
    try { data = JSON.parse(e.data); } catch { return; } // not one of the server's events
    if (data.id != null) {
      if (seen.has(data.id)) return;
      seen.add(data.id);
    }
    state.events.push(data);
    handler(data);
  });
  setProgress(0.15, state.kind === "clip" ? "Reading the video…" : "Reading the photo…");
  on("read", (d) => {
    if (d.kind === "clip") {
      const p = d.processing || {};
      const cut = p.cut ? ` (the first ${p.duration_s.toFixed(1)} s)` : "";
      setProgress(0.1, `Waiting for the video worker: ${p.frames} frames of ${d.width}×${d.height} ${d.format}${cut}…`);
    } else {
      setProgress(0.3, `Computing depth (${d.width}×${d.height} ${d.format})…`);
    }
  });
  on("processing", (d) => setProgress(0.15, `Processing the first seconds of ${d.frames_total} frames…`));
  on("first-seconds", (d) => {
    setProgress(d.frames_done / d.frames_total, clipProgress(d));
    try {
      showClip(d.view);
    } catch (err) {
      fail(`Could not play the video: ${err.message}`);
    }
  });
  on("progress", (d) => {
    setProgress(d.frames_done / d.frames_total, clipProgress(d));
    if (d.segment && state.player) state.player.addSegment(d.segment);
  });
  on("preview-ready", (d) => {
    setProgress(0.6, "3D ready · refining the depth in the background…");
    showStage("preview", d.view).catch((err) => fail(`Could not show the 3D view: ${err.message}`));
  });
  on("refining", () => setProgress(0.7, "3D ready · refining the depth in the background…"));
  on("full-ready", (d) => {
    setProgress(1, "Refined depth ready");
    showStage("full", d.view).catch((err) => fail(`Could not show the refined view: ${err.message}`));
  });
  on("done", (d) => {
    state.done = true;
    if (state.kind === "clip") {
      setProgress(1, `3D video ready (${(d.summary && d.summary.frames) || ""} frames)`);
      if (state.player) state.player.finish();
      clipDownloadsReady();
    } else {
      setProgress(1, state.stage === "full" ? "Refined depth ready" : "3D ready");
    }
    show($("stage-progress"), false);
    source.close();
  });
  on("failed", (d) => {
    state.done = true;
    source.close();
    if (state.player) {
      state.player.finish();
      status.textContent = `Processing stopped: ${d.message}`;
      show($("stage-progress"), false);
    } else if (state.stage) {
      status.textContent = `Refinement failed: ${d.message}`;
    } else {
      fail(d.message);
    }
  });
  on("deleted", () => { state.done = true; source.close(); fail("This capture was deleted by its owner."); });
  source.addEventListener("open", () => { status.textContent = progressText.textContent; });
  source.addEventListener("error", () => {
    // EventSource's own event: the connection dropped (it reconnects by itself) or was refused.
    if (state.done) return;
    if (source.readyState === EventSource.CONNECTING) {
      status.textContent = "Connection lost · reconnecting…";
    } else if (!state.stage) {
      fail("Lost the connection to the server; reload the page.");
    } else {
      status.textContent = "Lost the connection to the server; reload the page for the refined depth.";
    }
  });
}

function clipProgress(d) {
  if (d.frames_done >= d.frames_total) return "3D video ready · finishing…";
  return `3D ready · processing the rest: ${d.frames_done} of ${d.frames_total} frames`;
}

// A video: its first seconds play at once; later segments join the player as they arrive.
function showClip(view) {
  if (state.player) return;
  state.loads = (state.loads || 0) + 1;
  const player = new ClipPlayer(viewer, `${base}/files/clip`, view, {
    onFrame: (info) => {
      state.clip = info;
      if (!state.stage) {
        state.stage = "clip";
        state.shown = { clip: Date.now() };
        document.body.dataset.stage = "clip";
        updateModes();
      }
    },
    onState: (info) => {
      if (info.error) { fail(info.error); return; }
      $("play").textContent = info.playing ? "Pause" : "Play";
      $("play").setAttribute("aria-label", info.playing ? "Pause" : "Play");
      $("seek").max = String(Math.max(info.available, 0.001));
      const processed = info.duration ? Math.min(1, info.available / info.duration) : 1;
      $("seek").title = info.complete ? "" : `${Math.round(processed * 100)}% processed; the rest follows`;
    },
  });
  state.player = player;
  window.parallax.player = player;
  for (const segment of view.segments || []) player.addSegment(segment);
  show($("transport"), true);
  updateModes();
  let dragging = false;
  const seek = $("seek");
  seek.addEventListener("input", () => { dragging = true; player.seek(Number(seek.value)); });
  seek.addEventListener("change", () => { dragging = false; });
  $("play").addEventListener("click", () => (player.playing ? player.pause() : player.play()));
  $("loop").addEventListener("change", () => player.setLoop($("loop").checked));
  const tick = () => {
    if (state.clip && !dragging) seek.value = String(state.clip.time);
    $("time").textContent = `${(state.clip ? state.clip.time : 0).toFixed(1)} / ${player.available.toFixed(1)} s`;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

function clipDownloadsReady() {
  $("download-note").textContent = "Written when you ask for them (the frames folder is large: views and maps of every frame).";
  for (const a of $("downloads").querySelectorAll("a[data-format]")) a.hidden = false;
}

async function setupDownloads(formats) {
  const list = $("downloads");
  list.replaceChildren();
  for (const f of formats) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = `${base}/download/${encodeURIComponent(f.name)}`;
    a.setAttribute("download", "");
    a.dataset.format = f.name;
    a.textContent = `${f.name} (${f.extension})`;
    a.title = f.description;
    a.hidden = state.kind === "clip"; // a video's downloads exist once it is processed
    li.append(a, document.createTextNode(` ${f.description}`));
    list.append(li);
  }
  if (state.kind === "clip") $("download-note").textContent = "Available once the whole video is processed.";
}

function setupShare() {
  const url = `${window.location.origin}/c/${id}`;
  $("share-url").value = url;
  $("copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(url);
      $("copy").textContent = "Copied";
    } catch {
      $("share-url").select();
      $("copy").textContent = "Press Ctrl+C";
    }
  });
}

function setupOwner(config, meta) {
  const token = ownerToken(id);
  if (!token) return;
  show($("owner"), true);
  const headers = { "x-owner-token": token };
  const del = $("delete");
  del.addEventListener("click", async () => {
    if (del.dataset.confirm !== "1") {
      del.dataset.confirm = "1";
      del.textContent = "Really delete? Click again";
      return;
    }
    try {
      await api(base, { method: "DELETE", headers });
      forgetOwnerToken(id);
      window.location.assign("/");
    } catch (err) {
      fail(`Could not delete: ${err.message}`);
    }
  });
  if (!config.contribution) {
    $("contribute-box").replaceChildren(Object.assign(document.createElement("p"), {
      className: "fine",
      textContent: "This server does not collect contributions.",
    }));
    return;
  }
  for (const lic of config.licenses) $("license").append(new Option(lic, lic));
  const showContribution = (c) => {
    const contributed = c && c.status === "contributed";
    const withdrawn = c && c.status === "withdrawn";
    show($("contribute"), !contributed && !withdrawn);
    show($("contributed"), contributed || withdrawn);
    show($("withdraw"), contributed);
    const clips = c && c.sample_ids && c.sample_ids.length > 1 ? ` (${c.sample_ids.length} clips)` : "";
    if (contributed) $("contributed-text").textContent = `Contributed${clips} under ${c.license} on ${c.date.slice(0, 10)}. Thank you!`;
    if (withdrawn) $("contributed-text").textContent = "Withdrawn from the corpus: it is no longer in it or in later exports.";
  };
  showContribution(meta.contribution);
  $("contribute").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!$("consent").checked) return;
    try {
      const c = await api(`${base}/contribution`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({
          consent: true,
          license: $("license").value,
          allow_training: $("allow-training").checked,
          contributor: $("contributor").value,
        }),
      });
      showContribution(c);
    } catch (err) {
      fail(`Could not contribute: ${err.message}`);
    }
  });
  $("withdraw").addEventListener("click", async () => {
    try {
      showContribution(await api(`${base}/contribution`, { method: "DELETE", headers }));
    } catch (err) {
      fail(`Could not withdraw: ${err.message}`);
    }
  });
}

async function setupVR() {
  if (!navigator.xr) return;
  try {
    if (!(await navigator.xr.isSessionSupported("immersive-vr"))) return;
  } catch { return; }
  const b = $("vr");
  show(b, true);
  b.addEventListener("click", () => viewer.enterVR().catch((err) => fail(`Could not enter VR: ${err.message}`)));
}

async function main() {
  setupShare();
  let config, meta;
  try {
    [config, meta] = await Promise.all([api("/api/config"), api(base)]);
  } catch (err) {
    fail(err.message);
    return;
  }
  viewer.setAnaglyph(config.anaglyph);
  if (meta.expires) {
    const until = new Date(meta.expires).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    $("share-note").textContent = `Anyone with this link can view the capture until ${until}; then it is deleted.`;
  }
  $("name").textContent = meta.original_name || "";
  document.title = `${meta.original_name || "Capture"} · Parallax`;
  state.kind = meta.kind === "clip" ? "clip" : "photo";
  document.body.dataset.kind = state.kind;
  setupDownloads(state.kind === "clip" ? config.clip_formats : config.formats);
  setupOwner(config, meta);
  setupVR();
  follow();
}

main();
