// Stereo video playback in the 3D viewer: segments of video and depth, played in step, frame by frame.
//
// The server cuts a processed clip into segments (parallax/server/clip_worker.py). Each has
//   seg-NNN.mp4    H.264, the rectified left view on the left half and the right view on the right half
//                  (one decoder keeps the eyes in step), frame times from 0 within the segment;
//   seg-NNN.depth  depth grids (grid_width x grid_height each, one per frame), sent gzipped (the browser
//                  inflates them): per row, the float16 bit pattern of the first depth, then differences
//                  modulo 2^16 to the previous one (clip_segments.encode_depth_grid); NaN = not valid;
// and a description (times_s: each frame's time in the segment's video, start_s: where the segment
// starts in the clip). A <video> element per segment decodes it; requestVideoFrameCallback says which
// frame is on screen (its mediaTime), and that frame's depth grid moves the mesh in the same step, so
// texture and geometry never drift apart. THREE.VideoTexture uploads the frame.
//
// Playback runs through the segments in order; at the end of the last one it loops to the start
// (while the rest of the clip is still being processed it always loops over what is there, so the
// first seconds play at once; with loop off it waits for the next segment, or stops when the clip is
// complete). seek(t) jumps anywhere in what is there.

import * as THREE from "three";

// float16 -> float32, all 65536 values (NaN stays NaN: "not valid").
const HALF = new Float32Array(65536);
for (let h = 0; h < 65536; h++) {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) HALF[h] = sign * fraction * 2 ** -24;
  else if (exponent === 31) HALF[h] = fraction ? NaN : sign * Infinity;
  else HALF[h] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Index of the frame shown at `time` (seconds in the segment): the last whose time is not after it. */
function frameAt(times, time) {
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= time + 1e-3) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function once(target, type) {
  return new Promise((resolve, reject) => {
    target.addEventListener(type, resolve, { once: true });
    target.addEventListener("error", () => reject(new Error("the video could not be decoded")), { once: true });
  });
}

export class ClipPlayer {
  /**
   * @param {import("./viewer.js").Viewer} viewer  shows the frames (viewer.loadClip(view) is called here)
   * @param {string} baseUrl  where the clip's files are (/api/captures/<id>/files/clip)
   * @param {object} view  the clip's view.json (grid size, fps, frames_total, duration_s)
   * @param {{onFrame?: (info: object) => void, onState?: (info: object) => void}} options
   */
  constructor(viewer, baseUrl, view, options = {}) {
    this.viewer = viewer;
    this.base = baseUrl;
    this.view = view;
    this.onFrame = options.onFrame || (() => {});
    this.onState = options.onState || (() => {});
    this.segments = [];
    this.current = null;
    this.playing = true; // what the user wants (the video may be waiting for data)
    this.loop = true;
    this.complete = false; // the server has processed the whole clip
    this.waiting = false;
    this.frame = -1;
    this.time = 0;
    this.framesShown = 0;
    this.grid = new Float32Array(view.grid_width * view.grid_height);
    this.holder = document.createElement("div"); // the <video> elements: in the page, never visible
    this.holder.className = "clip-videos";
    this.holder.setAttribute("aria-hidden", "true");
    document.body.append(this.holder);
    viewer.loadClip(view);
  }

  /** Seconds of the clip that are ready (the end of the last segment). */
  get available() {
    const last = this.segments[this.segments.length - 1];
    return last ? last.desc.start_s + last.desc.duration_s : 0;
  }

  /** Add the next segment (descriptions arrive in order; a repeat is ignored). */
  addSegment(desc) {
    if (this.segments[desc.index]) return;
    if (desc.index !== this.segments.length) throw new Error(`segment ${desc.index} arrived out of order`);
    const seg = { desc, video: null, texture: null, depth: null, ready: null };
    this.segments.push(seg);
    seg.ready = this._load(seg);
    seg.ready.catch(() => {}); // reported when it is played
    if (!this.current) this._switch(seg, 0);
    else if (this.waiting && seg.desc.index === this.current.desc.index + 1) this._switch(seg, 0);
    this._state();
  }

  /** The server finished the clip: no more segments will come. */
  finish() {
    this.complete = true;
    this._state();
  }

  async _load(seg) {
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.preload = "auto";
    video.disablePictureInPicture = true;
    video.src = `${this.base}/${seg.desc.video}`;
    this.holder.append(video);
    const [buffer] = await Promise.all([
      fetch(`${this.base}/${seg.desc.depth}`).then((r) => {
        if (!r.ok) throw new Error(`the depth of segment ${seg.desc.index} is not available (${r.status})`);
        return r.arrayBuffer();
      }),
      video.readyState >= 2 ? Promise.resolve() : once(video, "loadeddata"),
    ]);
    const depth = new Uint16Array(buffer);
    if (depth.length !== seg.desc.frames * this.grid.length) throw new Error("a depth segment has the wrong size");
    seg.depth = depth;
    seg.video = video;
    seg.texture = new THREE.VideoTexture(video);
    seg.texture.colorSpace = THREE.SRGBColorSpace;
    video.addEventListener("ended", () => { if (this.current === seg) this._ended(); });
    video.addEventListener("seeked", () => { if (this.current === seg && video.paused) this._showTime(seg); });
    return seg;
  }

  async _switch(seg, timeInSegment) {
    const token = (this._token = (this._token || 0) + 1);
    const previous = this.current;
    this.current = seg;
    this.waiting = false;
    try {
      await seg.ready;
    } catch (err) {
      this.onState({ error: err.message });
      return;
    }
    if (token !== this._token) return; // another switch came first
    if (previous && previous !== seg && previous.video) previous.video.pause();
    const video = seg.video;
    video.currentTime = Math.min(timeInSegment, seg.desc.duration_s);
    this._watch(seg);
    if (this.playing) {
      video.play().catch((err) => this.onState({ error: `the video does not play: ${err.message}` }));
    }
    this._state();
  }

  _watch(seg) {
    const video = seg.video;
    if (seg.watching) return;
    seg.watching = true;
    const onFrame = (now, meta) => {
      if (this.current === seg) this._show(seg, frameAt(seg.desc.times_s, meta.mediaTime));
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  _showTime(seg) {
    seg.texture.needsUpdate = true;
    this._show(seg, frameAt(seg.desc.times_s, seg.video.currentTime));
  }

  _show(seg, k) {
    const W = this.view.grid_width;
    const n = this.grid.length;
    const deltas = seg.depth.subarray(k * n, (k + 1) * n);
    for (let row = 0; row < n; row += W) {
      let bits = 0;
      for (let i = row; i < row + W; i++) {
        bits = (bits + deltas[i]) & 0xffff;
        this.grid[i] = HALF[bits];
      }
    }
    this.viewer.showClipFrame(seg.texture, this.grid);
    this.frame = seg.desc.first_frame + k;
    this.time = seg.desc.start_s + seg.desc.times_s[k];
    this.framesShown += 1;
    this.onFrame({ frame: this.frame, time: this.time, segment: seg.desc.index, shown: this.framesShown });
  }

  _ended() {
    const next = this.segments[this.current.desc.index + 1];
    if (next) {
      this._switch(next, 0);
    } else if (this.loop || !this.complete) {
      // Loop over what is there: the whole clip, or (while the rest is processed) the first seconds.
      if (this.loop) this._switch(this.segments[0], 0);
      else this.waiting = true;
    } else {
      this.playing = false;
    }
    this._state();
  }

  play() {
    this.playing = true;
    const seg = this.current;
    if (seg && seg.video) {
      const last = seg.desc.index === this.segments.length - 1;
      if (seg.video.ended && last && this.complete) this._switch(this.segments[0], 0); // from the start again
      else if (seg.video.ended) this._ended();
      else seg.video.play().catch(() => {});
    }
    this._state();
  }

  pause() {
    this.playing = false;
    if (this.current && this.current.video) this.current.video.pause();
    this._state();
  }

  setLoop(on) {
    this.loop = Boolean(on);
    if (this.loop && this.waiting) this._switch(this.segments[0], 0);
    this._state();
  }

  /** Jump to `time` seconds of the clip (clamped to what is ready). */
  seek(time) {
    if (!this.segments.length) return;
    const t = Math.max(0, Math.min(time, this.available - 1e-3));
    const seg = this.segments.find((s) => t < s.desc.start_s + s.desc.duration_s) || this.segments[this.segments.length - 1];
    const within = t - seg.desc.start_s;
    if (seg === this.current && seg.video) {
      seg.video.currentTime = within;
      this.waiting = false;
    } else {
      this._switch(seg, within);
    }
  }

  _state() {
    this.onState({
      playing: this.playing,
      loop: this.loop,
      complete: this.complete,
      waiting: this.waiting,
      available: this.available,
      duration: this.view.duration_s,
      segments: this.segments.length,
    });
  }

  dispose() {
    for (const seg of this.segments) {
      if (seg.video) { seg.video.pause(); seg.video.removeAttribute("src"); seg.video.load(); }
      seg.texture?.dispose();
    }
    this.holder.remove();
  }
}
