// The console's few lines of script. Every page works without them; they only add:
// - `form[data-confirm]`: ask before a destructive action;
// - `[data-refresh]`: replace the element with the block at that URL every few seconds
//   (live progress), until the block it gets says `data-done`;
// - `input[data-check-all]`: a checkbox that checks every box of its form (bulk approve).
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

function refresh(element) {
  const url = element.dataset.refresh;
  const seconds = Number(element.dataset.every || "2");
  const tick = async () => {
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
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
