// mefkit serve: the page's logic. Plain JavaScript, no libraries, no build step.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { files: [], catalog: null, jobs: [] };  // jobs: {id, method, card, status}

function showMessage(text) {
  const box = $("#message");
  box.textContent = text || "";
  box.hidden = !text;
}

async function errorText(response) {
  try { return (await response.json()).error || response.statusText; } catch (e) { return response.statusText; }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

// ---- methods and their parameter forms ------------------------------------------------
async function loadCatalog() {
  const response = await fetch("/api/methods");
  state.catalog = await response.json();
  const box = $("#methods");
  for (const m of state.catalog.methods) {
    const input = el("input", { type: "checkbox", value: m.name, "data-method": m.name });
    if (m.name === "mertens") input.checked = true;
    input.addEventListener("change", renderParams);
    box.append(el("label", { title: m.summary }, input, " " + m.name + " ", el("span", { class: "kind", text: m.kind })));
  }
  for (const a of state.catalog.align) $("#align").append(el("option", { value: a, text: a }));
  for (const b of state.catalog.border) $("#border").append(el("option", { value: b, text: b }));
  renderParams();
}

function selectedMethods() {
  return [...document.querySelectorAll("#methods input:checked")].map((i) => i.value);
}

function paramControl(method, p) {
  const id = `p-${method}-${p.name}`;
  const def = p.default === null ? "" : Array.isArray(p.default) ? p.default.join(",") : String(p.default);
  let input;
  if (p.control === "checkbox") {
    input = el("input", { type: "checkbox", id });
    input.checked = p.default === true;
  } else if (p.control === "select") {
    input = el("select", { id });
    for (const c of p.choices) input.append(el("option", { value: String(c), text: String(c) }));
    input.value = def;
  } else {
    input = el("input", { type: p.control === "text" ? "text" : "number", id, placeholder: p.type });
    if (p.control === "int") input.step = "1";
    if (p.control === "float") input.step = "any";
    input.value = def;
  }
  input.dataset.param = p.name;
  input.dataset.default = p.control === "checkbox" ? String(p.default === true) : def;
  return el("label", { class: "param", for: id, title: p.summary },
    `${p.name} (${p.type})`, input, el("small", { text: p.summary }));
}

function renderParams() {
  const box = $("#params");
  const keep = new Set(selectedMethods());
  for (const fs of [...box.children]) if (!keep.has(fs.dataset.method)) fs.remove();
  for (const name of keep) {
    if (box.querySelector(`fieldset[data-method="${name}"]`)) continue;
    const m = state.catalog.methods.find((x) => x.name === name);
    const fs = el("fieldset", { "data-method": name }, el("legend", { text: `${name} parameters` }));
    if (!m.params.length) fs.append(el("span", { class: "note", text: "no parameters" }));
    for (const p of m.params) fs.append(paramControl(name, p));
    box.append(fs);
  }
  updateFuseButton();
}

function paramsOf(method) {
  // Only the values changed from their defaults travel, as typed; the server parses them
  // with the command line's own parser, so a bad value is refused in the same words.
  const out = {};
  const fs = document.querySelector(`#params fieldset[data-method="${method}"]`);
  if (!fs) return out;
  for (const input of fs.querySelectorAll("[data-param]")) {
    const value = input.type === "checkbox" ? String(input.checked) : input.value.trim();
    if (value !== input.dataset.default && !(input.type !== "checkbox" && value === "")) out[input.dataset.param] = value;
  }
  return out;
}

function updateFuseButton() {
  $("#fuse").disabled = state.files.length < 2 || selectedMethods().length === 0;
}

// ---- frames ------------------------------------------------------------------------------
function framesForm() {
  const form = new FormData();
  for (const f of state.files) form.append("frames", f, f.name);
  return form;
}

async function setFiles(files) {
  state.files = [...files];
  $("#thumbs").replaceChildren();
  $("#order-note").textContent = "";
  showMessage("");
  updateFuseButton();
  if (!state.files.length) return;
  $("#order-note").textContent = "reading frames…";
  const response = await fetch("/api/inspect", { method: "POST", body: framesForm() });
  if (!response.ok) {
    $("#order-note").textContent = "";
    showMessage(await errorText(response));
    state.files = [];
    updateFuseButton();
    return;
  }
  const info = await response.json();
  const how = info.order_by === "exif" ? "exposure time × ISO / aperture² (EXIF)" : "mean brightness";
  $("#order-note").textContent =
    `${info.frames.length} frames, ${info.width}×${info.height}, ${info.bit_depth}-bit, darkest first by ${how}` +
    (info.notes.length ? ` · ${info.notes.join("; ")}` : "");
  info.frames.forEach((f, i) => {
    const label = i === 0 ? "darkest" : i === info.frames.length - 1 ? "brightest" : "";
    $("#thumbs").append(el("figure", { class: "thumb" }, el("img", { src: f.thumbnail, alt: f.name }),
      el("figcaption", { text: `${i + 1}${label ? " · " + label : ""} · ${f.name}` })));
  });
  updateFuseButton();
}

async function useExample() {
  const list = await (await fetch("/api/example")).json();
  const files = [];
  for (const f of list.frames) {
    const blob = await (await fetch(f.url)).blob();
    files.push(new File([blob], f.name, { type: "image/jpeg" }));
  }
  await setFiles(files);
}

// ---- fusion jobs ---------------------------------------------------------------------------
const DOWNLOADS = [["png", 8, "PNG 8-bit"], ["png", 16, "PNG 16-bit"], ["tif", 8, "TIFF 8-bit"],
  ["tif", 16, "TIFF 16-bit"], ["jpg", 8, "JPEG"]];

function resultCard(job) {
  const select = el("select", { class: "format" });
  DOWNLOADS.forEach(([fmt, bits, text], i) => select.append(el("option", { value: i, text })));
  const link = el("a", { class: "download button", href: "#", download: "" }, "Download");
  const cancel = el("button", { type: "button", class: "cancel" }, "Cancel");
  cancel.addEventListener("click", () => fetch(`/api/jobs/${job.id}/cancel`, { method: "POST" }));
  const card = el("div", { class: "result", "data-method": job.method, "data-job": job.id, "data-state": "queued" },
    el("h3", { text: job.method }), el("div", { class: "stage", text: "queued" }), el("progress", {}), cancel,
    el("img", { class: "result-img", alt: `result of ${job.method}`, hidden: "" }),
    el("div", { class: "stats" }), el("div", { class: "save", hidden: "" }, select, " ", link));
  const setLink = () => {
    const [fmt, bits] = DOWNLOADS[select.value];
    link.href = `/api/jobs/${job.id}/result?format=${fmt}&bits=${bits}&download=1`;
  };
  select.addEventListener("change", setLink);
  setLink();
  return card;
}

function showStatus(job, s) {
  const card = job.card;
  card.dataset.state = s.state;
  const stage = card.querySelector(".stage");
  const bar = card.querySelector("progress");
  if (s.state === "queued") stage.textContent = s.position ? `queued (${s.position} ahead)` : "queued";
  else if (s.state === "running") stage.textContent = s.total ? `${s.stage}: tile ${s.done}/${s.total}` : s.stage + "…";
  if (s.total) { bar.max = s.total; bar.value = s.done; } else bar.removeAttribute("value");
  if (!["done", "failed", "cancelled"].includes(s.state)) return;
  bar.remove();
  card.querySelector(".cancel").remove();
  if (s.state === "done") {
    stage.textContent = `${s.width}×${s.height}`;
    const img = card.querySelector(".result-img");
    img.src = `/api/jobs/${job.id}/result?format=png&bits=8`;
    img.hidden = false;
    const score = s.mef_ssim === null ? "" : `MEF-SSIM ${s.mef_ssim.toFixed(4)} · `;
    card.querySelector(".stats").textContent = `${score}${s.seconds.toFixed(2)} s`;
    card.querySelector(".save").hidden = false;
    updateCompare(job);
  } else if (s.state === "failed") {
    stage.replaceWith(el("div", { class: "error", text: s.error }));
  } else {
    stage.textContent = "cancelled";
  }
}

async function poll(job) {
  for (;;) {
    let response;
    try {
      response = await fetch(`/api/jobs/${job.id}`);
    } catch (e) {
      showStatus(job, { state: "failed", error: `cannot reach the mefkit server (${e.message || e})` });
      return;
    }
    if (!response.ok) { showStatus(job, { state: "failed", error: await errorText(response) }); return; }
    const s = await response.json();
    showStatus(job, s);
    if (["done", "failed", "cancelled"].includes(s.state)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function fuseAll() {
  showMessage("");
  for (const method of selectedMethods()) {
    const form = framesForm();
    form.append("method", method);
    form.append("params", JSON.stringify(paramsOf(method)));
    form.append("align", $("#align").value);
    form.append("deghost", $("#deghost").checked ? "consistency" : "");
    form.append("border", $("#border").value);
    const response = await fetch("/api/jobs", { method: "POST", body: form });
    if (!response.ok) { showMessage(`${method}: ${await errorText(response)}`); continue; }
    const s = await response.json();
    const job = { id: s.id, method, frames: s.frames };
    job.card = resultCard(job);
    $("#results").append(job.card);
    state.jobs.push(job);
    poll(job);
  }
}

// ---- before / after ----------------------------------------------------------------------------
function updateCompare(job) {
  $("#compare-section").hidden = false;
  const before = $("#cmp-before");
  const after = $("#cmp-after");
  if (!before.querySelector("option[data-kind=frame]")) {
    job.frames.forEach((name, k) => before.append(el("option", { value: `/api/jobs/${job.id}/frames/${k}`,
      "data-kind": "frame", text: `input ${k + 1}: ${name}` })));
  }
  const url = `/api/jobs/${job.id}/result?format=png&bits=8`;
  before.append(el("option", { value: url, "data-kind": "result", text: `result: ${job.method}` }));
  after.append(el("option", { value: url, "data-kind": "result", text: `result: ${job.method}` }));
  after.value = url;
  showCompare();
}

function showCompare() {
  $("#cmp-before-img").src = $("#cmp-before").value;
  $("#cmp-after-img").src = $("#cmp-after").value;
  applyZoom();
  moveSlider();
}

function applyZoom() {
  const zoom = $("#zoom").value;
  const box = $("#compare");
  box.classList.toggle("fit", zoom === "fit");
  // The "before" image covers the "after" one, which sets the size. 1:1 means one image
  // pixel per screen pixel, whatever the display's pixel ratio.
  const img = $("#cmp-after-img");
  const size = () => { img.style.width = zoom === "fit" ? "" : `${img.naturalWidth * Number(zoom) / devicePixelRatio}px`; };
  if (img.complete) size(); else img.addEventListener("load", size, { once: true });
}

function moveSlider() {
  const v = Number($("#slider").value);
  $("#cmp-before-img").style.clipPath = `inset(0 ${100 - v}% 0 0)`;
  $("#divider").style.left = `${v}%`;
}

// ---- wiring -------------------------------------------------------------------------------------------
window.addEventListener("DOMContentLoaded", () => {
  loadCatalog().catch((e) => showMessage(`cannot list the methods: ${e}`));
  const reportFailure = (e) => showMessage(`cannot reach the mefkit server (${e.message || e}); is it still running?`);
  $("#frames").addEventListener("change", (e) => setFiles(e.target.files).catch(reportFailure));
  $("#use-example").addEventListener("click", () => useExample().catch(reportFailure));
  $("#fuse").addEventListener("click", () => fuseAll().catch(reportFailure));
  $("#cmp-before").addEventListener("change", showCompare);
  $("#cmp-after").addEventListener("change", showCompare);
  $("#zoom").addEventListener("change", applyZoom);
  $("#slider").addEventListener("input", moveSlider);
  const drop = $("#drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    setFiles(e.dataTransfer.files).catch(reportFailure);
  });
});
