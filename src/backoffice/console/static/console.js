// The console's few lines of script. Every page works without them; they only add:
// - `form[data-confirm]`: ask before a destructive action;
// - `[data-refresh]`: replace the element with the block at that URL every few seconds
//   (live progress), until the block it gets says `data-done`;
// - `input[data-check-all]`: a checkbox that checks every box of its form (bulk approve);
// - `form[data-preview]`: when one of its `data-preview-fields` changes, fetch that URL with
//   those fields and put the answer in place of its `[data-preview-part]` (the submit form's
//   chain of approvers; without script, a "Preview approvers" button does the same).
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

document.addEventListener("change", (event) => {
  const box = event.target;
  if (box instanceof HTMLInputElement && box.dataset.checkAll !== undefined && box.form) {
    // The form's elements: its own boxes and those outside it that name it (`form="..."`).
    for (const other of box.form.elements) {
      if (other instanceof HTMLInputElement && other.type === "checkbox" && other.name) {
        other.checked = box.checked;
      }
    }
  }
});

// Only the latest preview asked for is shown (an earlier answer arriving late is dropped).
let previewAsked = 0;

document.addEventListener("change", async (event) => {
  const form = event.target instanceof Element ? event.target.closest("form") : null;
  if (!form || !form.dataset.preview || !form.querySelector("[data-preview-part]")) return;
  const query = new URLSearchParams();
  for (const name of (form.dataset.previewFields || "").split(" ")) {
    const input = form.elements.namedItem(name);
    if (input && "value" in input) query.set(name, input.value);
  }
  const asked = ++previewAsked;
  try {
    const response = await fetch(`${form.dataset.preview}?${query}`, {
      headers: { Accept: "text/html" },
      credentials: "same-origin",
    });
    if (!response.ok || response.redirected || asked !== previewAsked) return;
    const holder = document.createElement("div");
    holder.innerHTML = await response.text();
    const fresh = holder.firstElementChild;
    const part = form.querySelector("[data-preview-part]");
    if (fresh && part && asked === previewAsked) part.replaceWith(fresh);
  } catch (_) {
    // The button still previews the chain.
  }
});

function refresh(element) {
  const url = element.dataset.refresh;
  const seconds = Number(element.dataset.every || "2");
  const tick = async () => {
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
      if (response.redirected) {
        window.location.reload(); // signed out meanwhile: the page itself leads to sign-in
        return;
      }
      if (!response.ok) return;
      const holder = document.createElement("div");
      holder.innerHTML = await response.text();
      const fresh = holder.firstElementChild;
      if (!fresh) return;
      element.replaceWith(fresh);
      if (fresh.dataset.refresh && fresh.dataset.done === undefined) refresh(fresh);
    } catch (_) {
      window.setTimeout(tick, seconds * 1000);
    }
  };
  window.setTimeout(tick, seconds * 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const element of document.querySelectorAll("[data-refresh]")) {
    if (element.dataset.done === undefined) refresh(element);
  }
});
