// The viewer's geometry and flat-mode shader, shared by photos and videos (viewer.js).
//
// Geometry: one vertex per value of the depth grid (float32, row-major, top row first, depth along the
// optical axis z; metres or relative). A grid pixel (u, v) unprojects with the pinhole intrinsics of the
// grid (OpenCV axes: x right, y down, z forward) to X = (u - cx) / fx * Z, Y = (v - cy) / fy * Z; three.js
// looks down -z with y up, so the vertex is (X, -Y, -Z). NaN depth marks grid cells that are not valid
// (DepthResult.valid): no triangle is drawn there. Triangles across depth jumps (neighbour depths differ by
// more than EDGE_RATIO) are dropped so foreground and background do not melt into a rubber sheet.

import * as THREE from "three";

export const EDGE_RATIO = 1.3;

export const FLAT_VERTEX = `
varying vec2 vUv;
void main() { vUv = uv; gl_Position = vec4(position.xy, 0.0, 1.0); }`;

// Letterboxed display of the two views; mode 0 anaglyph, 1 side by side, 2 left, 3 right.
// Colour: the textures are sRGB, decoded to linear light when sampled; everything here works in
// linear light and the last line encodes for the canvas (three.js's colorspace_fragment), as
// three.js's own materials do. The anaglyph is Dubois' least-squares projection in linear light
// with the matrices the server also uses for the downloadable anaglyph (/api/config "anaglyph").
export const FLAT_FRAGMENT = `
uniform sampler2D leftMap;
uniform sampler2D rightMap;
uniform vec4 leftRect;  // where each view sits in its texture: offset xy, size zw (uv units)
uniform vec4 rightRect;
uniform bool decodeSrgb;  // video textures arrive sRGB-encoded (three.js uploads them without decoding)
uniform int mode;
uniform float canvasAspect;
uniform float imageAspect;
uniform vec3 background;
uniform mat3 anaglyphLeft;
uniform mat3 anaglyphRight;
varying vec2 vUv;
vec2 fit(vec2 uv, float boxAspect) {
  vec2 p = uv - 0.5;
  if (boxAspect > imageAspect) p.x *= boxAspect / imageAspect; else p.y *= imageAspect / boxAspect;
  return p + 0.5;
}
bool inside(vec2 uv) { return uv.x >= 0.0 && uv.x <= 1.0 && uv.y >= 0.0 && uv.y <= 1.0; }
vec3 view(sampler2D map, vec4 rect, vec2 uv) {
  vec4 c = texture2D(map, rect.xy + uv * rect.zw);
  return decodeSrgb ? sRGBTransferEOTF(c).rgb : c.rgb;
}
vec3 flat_colour() {
  if (mode == 1) {
    bool rightHalf = vUv.x >= 0.5;
    vec2 uv = fit(vec2(fract(vUv.x * 2.0), vUv.y), canvasAspect * 0.5);
    if (!inside(uv)) return background;
    return rightHalf ? view(rightMap, rightRect, uv) : view(leftMap, leftRect, uv);
  }
  vec2 uv = fit(vUv, canvasAspect);
  if (!inside(uv)) return background;
  vec3 l = view(leftMap, leftRect, uv);
  vec3 r = view(rightMap, rightRect, uv);
  if (mode == 0) return clamp(anaglyphLeft * l + anaglyphRight * r, 0.0, 1.0);
  return mode == 2 ? l : r;
}
void main() {
  gl_FragColor = vec4(flat_colour(), 1.0);
  #include <colorspace_fragment>
}`;

/** A THREE.Matrix3 from a row-major 3x3 array (rows: output R, G, B). */
export function matrix3(rows) {
  if (!Array.isArray(rows) || rows.length !== 3 || rows.some((r) => !Array.isArray(r) || r.length !== 3)) {
    throw new Error("an anaglyph matrix must be 3x3 (rows of output R, G, B)");
  }
  return new THREE.Matrix3().set(...rows.flat().map(Number));
}

/**
 * Vertex positions (three.js axes) and uvs of the depth grid, into `positions` and `uvs` when given;
 * `uScale` shrinks the uvs' u (0.5: the left half of a side-by-side video texture).
 */
export function unproject(view, depth, positions = null, uvs = null, uScale = 1) {
  const W = view.grid_width;
  const H = view.grid_height;
  positions = positions || new Float32Array(W * H * 3);
  const fillUvs = !uvs;
  uvs = uvs || new Float32Array(W * H * 2);
  for (let v = 0; v < H; v++) {
    for (let u = 0; u < W; u++) {
      const i = v * W + u;
      const z = Number.isFinite(depth[i]) ? depth[i] : 0; // not valid: parked at the camera, never drawn
      positions[3 * i] = ((u - view.cx_px) / view.fx_px) * z;
      positions[3 * i + 1] = -((v - view.cy_px) / view.fy_px) * z;
      positions[3 * i + 2] = -z;
      if (fillUvs) {
        uvs[2 * i] = ((u + 0.5) / W) * uScale;
        uvs[2 * i + 1] = 1 - (v + 0.5) / H;
      }
    }
  }
  return { positions, uvs };
}

/**
 * The backdrop's plane: the grid's image rectangle (pixel edges -0.5 .. W - 0.5) unprojected at depth 1
 * (three.js axes), with uvs over the whole image (`uScale` as in unproject). Scaled by a depth Z it is
 * the photo on the plane z = Z, which from the capture camera covers exactly the photo.
 */
export function backdropPlane(view, uScale = 1) {
  const W = view.grid_width;
  const H = view.grid_height;
  const x = (u) => (u - view.cx_px) / view.fx_px;
  const y = (v) => -((v - view.cy_px) / view.fy_px);
  const [x0, x1, y0, y1] = [x(-0.5), x(W - 0.5), y(-0.5), y(H - 0.5)];
  const positions = new Float32Array([x0, y0, -1, x1, y0, -1, x0, y1, -1, x1, y1, -1]);
  const uvs = new Float32Array([0, 1, uScale, 1, 0, 0, uScale, 0]);
  return { positions, uvs, index: new Uint16Array([0, 2, 1, 1, 2, 3]) };
}

/** Valid depths at least this share of the farthest one are background: the backdrop shows them too. */
export const BACKDROP_FAR_SHARE = 0.5;

/**
 * Where the backdrop shows (RGBA bytes, one texel per grid cell, bottom row first as a DataTexture wants):
 * 255 at cells without a valid depth, at far cells (depth at least BACKDROP_FAR_SHARE of `depthMax`) and
 * within one cell of a triangle the mesh leaves out (the cracks at depth jumps); 0 elsewhere, so a near object's photo
 * does not reappear on the backdrop where it moves aside.
 */
export function backdropMask(view, depth, depthMax, out = null) {
  const W = view.grid_width;
  const H = view.grid_height;
  out = out || new Uint8Array(W * H * 4);
  const show = new Uint8Array(W * H);
  const edge = new Uint8Array(W * H);
  const far = BACKDROP_FAR_SHARE * depthMax;
  const ok = (a, b, c) => keeps(depth, a, b, c);
  for (let v = 0; v < H; v++) {
    for (let u = 0; u < W; u++) {
      const i = v * W + u;
      if (!(depth[i] < far)) show[i] = 1; // NaN (not valid) or far
      if (u + 1 < W && v + 1 < H) {
        const [b, c, d] = [i + 1, i + W, i + W + 1];
        if (!ok(i, c, b)) edge[i] = edge[b] = edge[c] = 1; // a triangle the mesh leaves out
        if (!ok(b, c, d)) edge[b] = edge[c] = edge[d] = 1;
      }
    }
  }
  for (let v = 0; v < H; v++) {
    for (let u = 0; u < W; u++) {
      let on = show[v * W + u];
      for (let dv = -1; dv <= 1 && !on; dv++) {
        for (let du = -1; du <= 1 && !on; du++) {
          const vv = v + dv;
          const uu = u + du;
          on = vv >= 0 && vv < H && uu >= 0 && uu < W ? edge[vv * W + uu] : 0;
        }
      }
      const t = 4 * ((H - 1 - v) * W + u);
      out.fill(on ? 255 : 0, t, t + 4);
    }
  }
  return out;
}

/** Whether the mesh draws the triangle of grid cells a, b, c: all valid and no depth jump (EDGE_RATIO). */
function keeps(depth, a, b, c) {
  const lo = Math.min(depth[a], depth[b], depth[c]);
  const hi = Math.max(depth[a], depth[b], depth[c]);
  return hi <= lo * EDGE_RATIO; // false when any corner is NaN (not valid)
}

export function triangles(view, depth, index = null) {
  const W = view.grid_width;
  const H = view.grid_height;
  index = index || new Uint32Array((W - 1) * (H - 1) * 6);
  let n = 0;
  const ok = (a, b, c) => keeps(depth, a, b, c);
  for (let v = 0; v < H - 1; v++) {
    for (let u = 0; u < W - 1; u++) {
      const a = v * W + u;
      const b = a + 1;
      const c = a + W;
      const d = c + 1;
      if (ok(a, c, b)) { index[n++] = a; index[n++] = c; index[n++] = b; }
      if (ok(b, c, d)) { index[n++] = b; index[n++] = c; index[n++] = d; }
    }
  }
  return index.subarray(0, n);
}

