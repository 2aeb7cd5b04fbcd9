// The Parallax 3D viewer: a photo displaced by its depth, drawn with three.js.
//
// Geometry: one vertex per value of the depth grid (depth.f32, float32, row-major,
// top row first, depth along the optical axis z; metres or relative). A grid pixel
// (u, v) unprojects with the pinhole intrinsics of the grid (OpenCV axes: x right,
// y down, z forward) to X = (u - cx) / fx * Z, Y = (v - cy) / fy * Z; three.js
// looks down -z with y up, so the vertex is (X, -Y, -Z). NaN depth marks grid cells
// that are not valid (DepthResult.valid): no triangle, point or splat is drawn
// there. Triangles across depth jumps (neighbour depths differ by more than
// EDGE_RATIO) are dropped so foreground and background do not melt into a rubber sheet.
// Behind the mesh hangs a backdrop: the photo on a plane just beyond the farthest depth
// (BACKDROP_FACTOR x depth_max), drawn first and never over the mesh, and cut out to the
// cells without a valid depth, the far cells and the cracks beside depth jumps (grid.js
// backdropMask). Seen from the capture camera it is the photo itself, so pixels without a
// value (a plain sky) and the cracks at depth edges show their own colours instead of
// black holes; moving away, they behave as distant background. It carries no depth of its
// own, and near objects are not on it, so they do not reappear where they move aside.
//
// Modes: "3d" (parallax follows pointer, touch and device tilt; drag orbits, wheel
// and pinch zoom, all within limits), "wiggle" (the viewpoint swings left-right),
// "anaglyph" (red-cyan, Dubois, the downloadable anaglyph's matrices), "sbs" (left | right), "left", "right",
// "points" (a point cloud), "splat" (Gaussian splats drawn by Spark).
//
// A stereo video (loadClip, driven by clip.js) is the same mesh, its vertices and texture following the
// playing frame: the texture is the video (left view | right view side by side), the depth grid the
// frame's. Points and splats are photo-only modes (they would be rebuilt every frame).

import * as THREE from "three";

import { FLAT_FRAGMENT, FLAT_VERTEX, backdropMask, backdropPlane, matrix3, triangles, unproject } from "./grid.js";

const HOVER_YAW = 0.1; // radians of parallax when the pointer is at the edge
const HOVER_PITCH = 0.07;
const MAX_YAW = 0.55; // orbit limits (radians)
const MAX_PITCH = 0.35;
const ZOOM_MIN = 0.45; // camera distance, as a fraction of the median depth
const ZOOM_MAX = 1.6;
const BACKDROP_FACTOR = 1.05; // the backdrop's depth, as a multiple of the farthest depth
export const MODES = ["3d", "wiggle", "anaglyph", "sbs", "left", "right", "points", "splat"];
const FLAT_MODES = { anaglyph: 0, sbs: 1, left: 2, right: 3 };

function loadTexture(url) {
  return new Promise((resolve, reject) => {
    new THREE.TextureLoader().load(
      url,
      (tex) => {
        tex.colorSpace = THREE.SRGBColorSpace;
        tex.minFilter = THREE.LinearFilter;
        tex.generateMipmaps = false;
        resolve(tex);
      },
      undefined,
      () => reject(new Error(`could not load ${url}`)),
    );
  });
}

export class Viewer {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{onFrame?: (info: object) => void}} options
   */
  constructor(canvas, options = {}) {
    this.canvas = canvas;
    this.onFrame = options.onFrame || (() => {});
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: false, preserveDrawingBuffer: true, alpha: false });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.background = new THREE.Color(0x111318); // sRGB hex; three.js keeps it in linear light
    this.renderer.setClearColor(this.background, 1);
    this.renderer.xr.enabled = true;
    this.renderer.xr.setReferenceSpaceType("local");
    this.scene = new THREE.Scene();
    this.group = new THREE.Group(); // everything in capture-camera coordinates
    this.scene.add(this.group);
    this.camera = new THREE.PerspectiveCamera(50, 1, 0.01, 1000);
    this.flatScene = new THREE.Scene();
    this.flatCamera = new THREE.OrthographicCamera(-1, 1, 1, -1, 0, 1);
    this.flatMaterial = new THREE.ShaderMaterial({
      vertexShader: FLAT_VERTEX,
      fragmentShader: FLAT_FRAGMENT,
      uniforms: {
        leftMap: { value: null },
        rightMap: { value: null },
        leftRect: { value: new THREE.Vector4(0, 0, 1, 1) },
        rightRect: { value: new THREE.Vector4(0, 0, 1, 1) },
        decodeSrgb: { value: false },
        mode: { value: 0 },
        canvasAspect: { value: 1 },
        imageAspect: { value: 1 },
        background: { value: this.background },
        anaglyphLeft: { value: new THREE.Matrix3().set(0, 0, 0, 0, 0, 0, 0, 0, 0) },
        anaglyphRight: { value: new THREE.Matrix3().set(0, 0, 0, 0, 0, 0, 0, 0, 0) },
      },
      depthTest: false,
    });
    this.flatScene.add(new THREE.Mesh(new THREE.PlaneGeometry(2, 2), this.flatMaterial));
    this.mode = "3d";
    this.frames = 0;
    this.yaw = 0; this.pitch = 0; this.zoom = 1; // current (damped)
    this.orbitYaw = 0; this.orbitPitch = 0; this.targetZoom = 1; // from dragging / zooming
    this.hoverYaw = 0; this.hoverPitch = 0; // from pointer position or device tilt
    this.dirty = true;
    this.started = performance.now();
    this._bindInput();
    this._resize();
    new ResizeObserver(() => this._resize()).observe(canvas);
    this.renderer.setAnimationLoop((t) => this._tick(t));
  }

  /**
   * The anaglyph's matrices: {left, right}, each 3x3 row-major (rows: output R, G, B), applied in
   * linear light to the left and right view (the server's /api/config "anaglyph", the same matrices
   * as the downloadable anaglyph).
   */
  setAnaglyph(anaglyph) {
    this.flatMaterial.uniforms.anaglyphLeft.value = matrix3(anaglyph.left);
    this.flatMaterial.uniforms.anaglyphRight.value = matrix3(anaglyph.right);
    this.dirty = true;
  }

  /** Show one stage's files (view.json fields, depth grid, textures); replaces what was shown. */
  async load(baseUrl, view) {
    const [depthBuf, leftTex, rightTex] = await Promise.all([
      fetch(`${baseUrl}/depth.f32`).then((r) => {
        if (!r.ok) throw new Error(`depth not available (${r.status})`);
        return r.arrayBuffer();
      }),
      loadTexture(`${baseUrl}/left.jpg`),
      view.has_right ? loadTexture(`${baseUrl}/right.jpg`) : Promise.resolve(null),
    ]);
    const depth = new Float32Array(depthBuf);
    if (depth.length !== view.grid_width * view.grid_height) throw new Error("depth grid has the wrong size");
    const { positions, uvs } = unproject(view, depth);
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute("position", new THREE.BufferAttribute(positions, 3));
    geometry.setAttribute("uv", new THREE.BufferAttribute(uvs, 2));
    geometry.setIndex(new THREE.BufferAttribute(triangles(view, depth), 1));
    geometry.computeBoundingSphere();
    const mesh = new THREE.Mesh(geometry, new THREE.MeshBasicMaterial({ map: leftTex, side: THREE.DoubleSide }));
    this._dispose();
    this.clip = false;
    this._setViews(new THREE.Vector4(0, 0, 1, 1), new THREE.Vector4(0, 0, 1, 1), false);
    this.view = view;
    this.depth = depth;
    this.positions = positions;
    this.mesh = mesh;
    this.leftTex = leftTex;
    this.rightTex = rightTex;
    this.group.add(mesh);
    this._addBackdrop(view, leftTex, 1);
    this._maskBackdrop(depth);
    this.flatMaterial.uniforms.leftMap.value = leftTex;
    this.flatMaterial.uniforms.rightMap.value = rightTex || leftTex;
    this.flatMaterial.uniforms.imageAspect.value = view.image_width / view.image_height;
    this.median = view.depth_median;
    this.fovY = THREE.MathUtils.radToDeg(2 * Math.atan(view.grid_height / 2 / view.fy_px));
    if (this.mode === "points" || this.mode === "splat") await this.setMode(this.mode, true);
    this.dirty = true;
  }

  /**
   * Show a stereo video (its view.json): a grid mesh whose vertices and texture follow the frame that
   * clip.js hands to showClipFrame. Nothing is drawn until the first frame arrives.
   */
  loadClip(view) {
    const W = view.grid_width;
    const H = view.grid_height;
    const geometry = new THREE.BufferGeometry();
    const positions = new Float32Array(W * H * 3);
    const { uvs } = unproject(view, new Float32Array(W * H).fill(NaN), positions, null, 0.5); // the left half
    geometry.setAttribute("position", new THREE.BufferAttribute(positions, 3).setUsage(THREE.DynamicDrawUsage));
    geometry.setAttribute("uv", new THREE.BufferAttribute(uvs, 2));
    const index = new Uint32Array((W - 1) * (H - 1) * 6);
    geometry.setIndex(new THREE.BufferAttribute(index, 1).setUsage(THREE.DynamicDrawUsage));
    geometry.setDrawRange(0, 0);
    const mesh = new THREE.Mesh(geometry, new THREE.MeshBasicMaterial({ side: THREE.DoubleSide }));
    mesh.frustumCulled = false; // the vertices move every frame
    this._dispose();
    this.clip = true;
    this.view = view;
    this.positions = positions;
    this.mesh = mesh;
    this.group.add(mesh);
    this._addBackdrop(view, null, 0.5);
    this._setViews(new THREE.Vector4(0, 0, 0.5, 1), new THREE.Vector4(0.5, 0, 0.5, 1), true);
    this.flatMaterial.uniforms.imageAspect.value = view.image_width / view.image_height;
    this.median = view.depth_median;
    this.fovY = THREE.MathUtils.radToDeg(2 * Math.atan(view.grid_height / 2 / view.fy_px));
    if (!this.availableModes().includes(this.mode)) this.setMode("3d");
    this.dirty = true;
  }

  /**
   * One frame of the video: `texture` (a THREE.VideoTexture of the segment playing: left view | right
   * view) and the frame's depth grid (Float32Array, grid_width x grid_height, NaN = not valid).
   */
  showClipFrame(texture, depth) {
    if (!this.clip || !this.mesh) return;
    const geometry = this.mesh.geometry;
    unproject(this.view, depth, this.positions, geometry.attributes.uv.array);
    const index = triangles(this.view, depth, geometry.index.array);
    geometry.attributes.position.needsUpdate = true;
    geometry.index.needsUpdate = true;
    geometry.setDrawRange(0, index.length);
    for (const obj of [this.mesh, this.backdrop]) {
      if (obj && obj.material.map !== texture) {
        obj.material.map = texture;
        obj.material.needsUpdate = true;
      }
    }
    if (this.backdrop) {
      this.backdrop.visible = this.mesh.visible;
      this._maskBackdrop(depth);
    }
    this.flatMaterial.uniforms.leftMap.value = texture;
    this.flatMaterial.uniforms.rightMap.value = texture;
    this.depth = depth;
    this.dirty = true;
  }

  _setViews(leftRect, rightRect, decodeSrgb) {
    const u = this.flatMaterial.uniforms;
    u.leftRect.value = leftRect;
    u.rightRect.value = rightRect;
    u.decodeSrgb.value = decodeSrgb;
  }

  /** The backdrop (see the header): the photo (`texture`, its u scaled by `uScale`) beyond the farthest depth. */
  _addBackdrop(view, texture, uScale) {
    const { positions, uvs, index } = backdropPlane(view, uScale);
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute("position", new THREE.BufferAttribute(positions, 3));
    geometry.setAttribute("uv", new THREE.BufferAttribute(uvs, 2));
    geometry.setIndex(new THREE.BufferAttribute(index, 1));
    const mask = new THREE.DataTexture(
      new Uint8Array(view.grid_width * view.grid_height * 4),
      view.grid_width,
      view.grid_height,
    );
    mask.magFilter = mask.minFilter = THREE.NearestFilter;
    mask.repeat.set(1 / uScale, 1); // its uvs span the mask, not the video's left half
    const material = new THREE.MeshBasicMaterial({
      map: texture,
      alphaMap: mask,
      alphaTest: 0.5,
      side: THREE.DoubleSide,
      depthWrite: false,
    });
    const backdrop = new THREE.Mesh(geometry, material);
    const far = Number.isFinite(view.depth_max) && view.depth_max > 0 ? view.depth_max : 10 * view.depth_median;
    backdrop.scale.setScalar(BACKDROP_FACTOR * far);
    backdrop.renderOrder = -1; // drawn first, without writing depth: the mesh always covers it
    backdrop.frustumCulled = false;
    backdrop.visible = this.mode !== "points" && this.mode !== "splat" && texture !== null;
    this.backdrop = backdrop;
    this.group.add(backdrop);
  }

  /** Cut the backdrop out to the cells the mesh leaves empty for this depth grid. */
  _maskBackdrop(depth) {
    const mask = this.backdrop.material.alphaMap;
    backdropMask(this.view, depth, this.backdrop.scale.x / BACKDROP_FACTOR, mask.image.data);
    mask.needsUpdate = true;
  }

  _dispose() {
    for (const obj of [this.mesh, this.points, this.backdrop]) {
      if (obj) {
        this.group.remove(obj);
        obj.geometry.dispose();
        obj.material.alphaMap?.dispose();
        obj.material.dispose();
      }
    }
    if (this.splats) { this.group.remove(this.splats); this.splats.dispose?.(); }
    for (const tex of [this.leftTex, this.rightTex]) tex?.dispose();
    this.mesh = this.points = this.splats = this.backdrop = this.leftTex = this.rightTex = null;
  }

  /** Modes this capture supports (no right view: no anaglyph, side by side, right; a video: no points, splats). */
  availableModes() {
    return MODES.filter((m) => !this.unavailable(m));
  }

  /** Why `mode` is not available for what is shown (a sentence), or "" when it is. */
  unavailable(mode) {
    if (this.clip && (mode === "points" || mode === "splat")) return "Points and splats are for photos, not videos";
    if (["anaglyph", "sbs", "right"].includes(mode) && !(this.view && this.view.has_right)) {
      return "This capture has no right view";
    }
    return "";
  }

  async setMode(mode, force = false) {
    if (!MODES.includes(mode)) throw new Error(`unknown mode ${mode}`);
    if (mode === this.mode && !force) return;
    this.mode = mode;
    if (this.mesh) this.mesh.visible = mode !== "points" && mode !== "splat";
    if (this.backdrop && this.mesh) this.backdrop.visible = this.mesh.visible && this.backdrop.material.map !== null;
    if (this.points) this.points.visible = mode === "points";
    if (this.splats) this.splats.visible = mode === "splat";
    if (mode === "points" && !this.points && this.mesh) this._makePoints();
    if (mode === "splat" && !this.splats && this.mesh) await this._makeSplats();
    if (mode in FLAT_MODES) this.flatMaterial.uniforms.mode.value = FLAT_MODES[mode];
    this.dirty = true;
  }

  _colors(step) {
    // Sample the left image at the grid (every `step`-th value) for point / splat colours.
    const img = this.leftTex.image;
    const W = this.view.grid_width;
    const H = this.view.grid_height;
    const c = document.createElement("canvas");
    c.width = W; c.height = H;
    const ctx = c.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(img, 0, 0, W, H);
    const rgba = ctx.getImageData(0, 0, W, H).data;
    const out = [];
    for (let v = 0; v < H; v += step) {
      for (let u = 0; u < W; u += step) {
        const i = v * W + u;
        if (Number.isFinite(this.depth[i])) out.push(i); // valid cells only
      }
    }
    return { rgba, indices: out };
  }

  _makePoints() {
    const step = Math.max(1, Math.round(Math.max(this.view.grid_width, this.view.grid_height) / 384));
    const { rgba, indices } = this._colors(step);
    const pos = new Float32Array(indices.length * 3);
    const col = new Float32Array(indices.length * 3);
    const color = new THREE.Color();
    indices.forEach((i, k) => {
      pos.set(this.positions.subarray(3 * i, 3 * i + 3), 3 * k);
      color.setRGB(rgba[4 * i] / 255, rgba[4 * i + 1] / 255, rgba[4 * i + 2] / 255, THREE.SRGBColorSpace);
      col[3 * k] = color.r; col[3 * k + 1] = color.g; col[3 * k + 2] = color.b;
    });
    const g = new THREE.BufferGeometry();
    g.setAttribute("position", new THREE.BufferAttribute(pos, 3));
    g.setAttribute("color", new THREE.BufferAttribute(col, 3));
    // Sized in screen pixels (see _pointSize), so far points are as large as their spacing too.
    const m = new THREE.PointsMaterial({ size: 1, vertexColors: true, sizeAttenuation: false });
    this.pointStep = step;
    this.points = new THREE.Points(g, m);
    this.group.add(this.points);
  }

  async _makeSplats() {
    // Gaussian splats from the depth grid, drawn by Spark (lazy-loaded: 2.8 MB).
    const { SparkRenderer, SplatMesh } = await import("@sparkjsdev/spark");
    if (!this.spark) {
      this.spark = new SparkRenderer({ renderer: this.renderer, onDirty: () => { this.dirty = true; } });
      this.scene.add(this.spark);
    }
    const step = Math.max(1, Math.round(Math.max(this.view.grid_width, this.view.grid_height) / 320));
    const { rgba, indices } = this._colors(step);
    const positions = this.positions;
    const fx = this.view.fx_px;
    const center = new THREE.Vector3();
    const scales = new THREE.Vector3();
    const quat = new THREE.Quaternion();
    const color = new THREE.Color();
    const splats = new SplatMesh({
      constructSplats: (packed) => {
        for (const i of indices) {
          const z = -positions[3 * i + 2];
          const s = (0.7 * step * z) / fx; // footprint of `step` grid pixels at depth z
          center.set(positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]);
          scales.set(s, s, s * 0.3);
          color.setRGB(rgba[4 * i] / 255, rgba[4 * i + 1] / 255, rgba[4 * i + 2] / 255);
          packed.pushSplat(center, scales, quat, 1.0, color);
        }
      },
    });
    await splats.initialized;
    this.splats = splats;
    this.splats.visible = this.mode === "splat";
    this.group.add(splats);
  }

  _bindInput() {
    const c = this.canvas;
    const pointers = new Map();
    let pinch = 0;
    c.addEventListener("pointermove", (e) => {
      const r = c.getBoundingClientRect();
      if (e.pointerType === "mouse" && !pointers.size) {
        this.hoverYaw = ((e.clientX - r.left) / r.width - 0.5) * 2 * HOVER_YAW;
        this.hoverPitch = ((e.clientY - r.top) / r.height - 0.5) * 2 * HOVER_PITCH;
        this.dirty = true;
      }
      const p = pointers.get(e.pointerId);
      if (!p) return;
      if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        p.x = e.clientX; p.y = e.clientY;
        const dist = Math.hypot(a.x - b.x, a.y - b.y);
        if (pinch) this.targetZoom = THREE.MathUtils.clamp(this.targetZoom * (pinch / dist), ZOOM_MIN, ZOOM_MAX);
        pinch = dist;
      } else {
        this.orbitYaw = THREE.MathUtils.clamp(this.orbitYaw + ((e.clientX - p.x) / r.width) * 2, -MAX_YAW, MAX_YAW);
        this.orbitPitch = THREE.MathUtils.clamp(this.orbitPitch + ((e.clientY - p.y) / r.height) * 2, -MAX_PITCH, MAX_PITCH);
        p.x = e.clientX; p.y = e.clientY;
      }
      this.dirty = true;
    });
    c.addEventListener("pointerdown", (e) => {
      // iOS asks before giving device tilt to a page, and only from a user gesture.
      const DOE = window.DeviceOrientationEvent;
      if (!this._tiltAsked && DOE && typeof DOE.requestPermission === "function") {
        this._tiltAsked = true;
        DOE.requestPermission().catch(() => { /* tilt stays off; touch still works */ });
      }
      c.setPointerCapture(e.pointerId);
      pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      pinch = 0;
    });
    const up = (e) => { pointers.delete(e.pointerId); pinch = 0; };
    c.addEventListener("pointerup", up);
    c.addEventListener("pointercancel", up);
    c.addEventListener("dblclick", () => { this.orbitYaw = this.orbitPitch = 0; this.targetZoom = 1; this.dirty = true; });
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.targetZoom = THREE.MathUtils.clamp(this.targetZoom * Math.exp(e.deltaY * 0.001), ZOOM_MIN, ZOOM_MAX);
      this.dirty = true;
    }, { passive: false });
    window.addEventListener("deviceorientation", (e) => {
      if (e.gamma == null || e.beta == null) return;
      this.hoverYaw = THREE.MathUtils.clamp((e.gamma / 30) * HOVER_YAW, -HOVER_YAW, HOVER_YAW);
      this.hoverPitch = THREE.MathUtils.clamp(((e.beta - 45) / 30) * HOVER_PITCH, -HOVER_PITCH, HOVER_PITCH);
      this.dirty = true;
    });
  }

  _resize() {
    const w = Math.max(1, this.canvas.clientWidth);
    const h = Math.max(1, this.canvas.clientHeight);
    if (this.renderer.xr.isPresenting) return;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.flatMaterial.uniforms.canvasAspect.value = w / h;
    this.dirty = true;
  }

  _placeCamera(time) {
    let yawGoal = this.orbitYaw + this.hoverYaw;
    const pitchGoal = this.orbitPitch + this.hoverPitch;
    if (this.mode === "wiggle") yawGoal += Math.sin(((time - this.started) / 1000) * 2 * Math.PI * 1.5) * 0.05;
    // Damped approach to the goal; snap once within 0.5 mrad (invisible) so idle pages stop drawing.
    const k = this.mode === "wiggle" ? 1 : 0.3;
    const approach = (value, goal, eps) => (Math.abs(goal - value) < eps ? goal : value + (goal - value) * k);
    this.yaw = approach(this.yaw, yawGoal, 5e-4);
    this.pitch = approach(this.pitch, pitchGoal, 5e-4);
    this.zoom = approach(this.zoom, this.targetZoom, 1e-3);
    const settled = this.yaw === yawGoal && this.pitch === pitchGoal && this.zoom === this.targetZoom;
    const m = this.median;
    const dist = m * this.zoom;
    const target = new THREE.Vector3(0, 0, -m);
    this.camera.position.set(
      target.x + dist * Math.sin(this.yaw) * Math.cos(this.pitch),
      target.y + dist * Math.sin(this.pitch),
      target.z + dist * Math.cos(this.yaw) * Math.cos(this.pitch),
    );
    this.camera.lookAt(target);
    // Fit the photo: its own vertical field of view, widened when the canvas is narrower.
    const imageAspect = this.view.image_width / this.view.image_height;
    let fov = this.fovY;
    if (this.camera.aspect < imageAspect) {
      const t = Math.tan(THREE.MathUtils.degToRad(fov / 2)) * (imageAspect / this.camera.aspect);
      fov = THREE.MathUtils.radToDeg(2 * Math.atan(t));
    }
    this.camera.fov = Math.min(fov * 1.04, 120);
    this.camera.near = m * 0.01;
    this.camera.far = Math.max(this.view.depth_max * 4, m * 10);
    this.camera.updateProjectionMatrix();
    return settled && this.mode !== "wiggle";
  }

  /**
   * Point size in CSS pixels: seen from the capture camera every grid sample lands `step` grid
   * pixels from its neighbours whatever its depth, i.e. `step * (canvas height / 2) / (fy * tan(fovY / 2))`
   * pixels (divided by the zoom), so points that size plus a little overlap leave no gaps.
   */
  _pointSize() {
    const tanHalf = Math.tan(THREE.MathUtils.degToRad(this.camera.fov / 2));
    const spacing = (this.pointStep * (this.canvas.clientHeight / 2)) / (this.view.fy_px * tanHalf * this.zoom);
    return Math.max(1, 1.25 * spacing);
  }

  _tick(time) {
    if (!this.view) return;
    const xr = this.renderer.xr.isPresenting;
    if (!xr && !this.dirty && this.mode !== "wiggle") return;
    if (xr) {
      this.renderer.render(this.scene, this.camera);
    } else if (this.mode in FLAT_MODES) {
      this.renderer.render(this.flatScene, this.flatCamera);
      this.dirty = false;
    } else {
      const settled = this._placeCamera(time);
      if (this.points && this.points.visible) this.points.material.size = this._pointSize();
      this.renderer.render(this.scene, this.camera);
      this.dirty = !settled;
    }
    this.frames += 1;
    this.onFrame({ frames: this.frames, mode: this.mode });
  }

  /** Start an immersive WebXR session (only call when navigator.xr offers immersive-vr). */
  async enterVR() {
    const session = await navigator.xr.requestSession("immersive-vr", { optionalFeatures: ["local-floor"] });
    await this.renderer.xr.setSession(session);
    session.addEventListener("end", () => { this.dirty = true; this._resize(); });
  }
}
