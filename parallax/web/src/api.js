// Small helpers shared by the two pages.

/** The owner token of a capture, kept in this browser only (given once at upload). */
export function ownerToken(id) {
  try { return localStorage.getItem(`parallax.owner.${id}`); } catch { return null; }
}

export function setOwnerToken(id, token) {
  try { localStorage.setItem(`parallax.owner.${id}`, token); } catch { /* private mode: owner controls stay hidden */ }
}

export function forgetOwnerToken(id) {
  try { localStorage.removeItem(`parallax.owner.${id}`); } catch { /* nothing stored */ }
}

/** fetch() that returns parsed JSON and throws Error(detail) on a non-2xx answer. */
export async function api(url, options = {}) {
  const r = await fetch(url, options);
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!r.ok) throw new Error((body && body.detail) || `${r.status} ${r.statusText}`);
  return body;
}

export function show(el, on = true) { el.hidden = !on; }
