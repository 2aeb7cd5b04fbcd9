// Upload page: choosing or dropping a file starts the upload at once; on success the
// browser moves on to the capture page (/c/<id>). The owner token stays in localStorage.
import { setOwnerToken, show } from "./api.js";

const drop = document.getElementById("drop");
const input = document.getElementById("file");
const progress = document.getElementById("progress");
const bar = document.getElementById("progress-bar");
const text = document.getElementById("progress-text");
const error = document.getElementById("error");

function fail(message) {
  show(progress, false);
  error.textContent = message;
  show(error, true);
  drop.classList.remove("busy");
  input.value = "";
}

function order(files) {
  // Two files: the one named like "right" is the right view.
  const list = [...files];
  if (list.length === 2 && /right|_r\b|-r\b/i.test(list[0].name) && !/right/i.test(list[1].name)) list.reverse();
  return list;
}

function upload(files) {
  if (!files.length) return;
  if (files.length > 2) return fail("Choose one stereo photo or video, or two files (left and right view of a photo).");
  const [left, right] = order(files);
  show(error, false);
  show(progress, true);
  drop.classList.add("busy");
  text.textContent = `Uploading ${left.name}…`;
  bar.style.width = "0%";
  try { sessionStorage.setItem("parallax.uploadStartedAt", String(Date.now())); } catch { /* timing only */ }
  const form = new FormData();
  form.append("file", left, left.name);
  if (right) form.append("right", right, right.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/captures");
  xhr.responseType = "json";
  xhr.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable) {
      const pct = Math.round((100 * e.loaded) / e.total);
      bar.style.width = `${pct}%`;
      text.textContent = pct < 100 ? `Uploading ${left.name}… ${pct}%` : "Reading the file…";
    }
  });
  xhr.addEventListener("load", () => {
    const body = xhr.response || {};
    if (xhr.status === 201 && body.id) {
      setOwnerToken(body.id, body.owner_token);
      text.textContent = "Opening the 3D view…";
      window.location.assign(body.url);
    } else {
      fail(body.detail || `Upload failed (${xhr.status}).`);
    }
  });
  xhr.addEventListener("error", () => fail("Upload failed: the server could not be reached."));
  xhr.send(form);
}

input.addEventListener("change", () => upload(input.files));
for (const type of ["dragenter", "dragover"]) {
  drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
}
for (const type of ["dragleave", "drop"]) {
  drop.addEventListener(type, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  upload(e.dataTransfer.files);
});
