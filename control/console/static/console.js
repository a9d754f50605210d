// provedge console: progressive enhancement only. Every page works without this script
// (forms post, links navigate); it adds confirmations, copy buttons, changed-field marks,
// live job progress and small editors. No inline scripts: the CSP forbids them.
"use strict";

function onClick(selector, handler) {
  document.addEventListener("click", (event) => {
    const target = event.target.closest(selector);
    if (target) handler(event, target);
  });
}

// Confirmation before destructive actions (remove, delete, reboot).
onClick("[data-confirm]", (event, button) => {
  if (!window.confirm(button.dataset.confirm)) event.preventDefault();
});

// Copy buttons: the text of the element the button names.
onClick("[data-copy]", async (event, button) => {
  const source = document.getElementById(button.dataset.copy);
  const text = source.href && source.tagName === "A" ? source.href : source.textContent.trim();
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch (error) {
    const range = document.createRange();
    range.selectNodeContents(source);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
    button.textContent = "Selected: press Ctrl+C";
  }
  button.dataset.copied = text;
});

onClick("[data-back]", (event) => {
  if (window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});

// "Select all" for a table of checkboxes.
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (!all) return;
  for (const box of all.form.querySelectorAll(`input[name="${all.dataset.selectAll}"]`)) {
    box.checked = all.checked;
  }
});

// "Every page's devices": the ticked rows no longer matter, so they show as all taken.
document.addEventListener("change", (event) => {
  const every = event.target.closest("[data-all-matching]");
  if (!every) return;
  for (const box of every.form.querySelectorAll(`input[name="${every.dataset.allMatching}"]`)) {
    box.checked = every.checked || box.checked;
    box.disabled = every.checked;
  }
});

// Changed fields are marked until saved; leaving with unsaved changes asks first.
let unsaved = 0;
for (const form of document.querySelectorAll("form[data-track-changes]")) {
  const initial = new Map();
  for (const field of form.elements) initial.set(field, field.type === "checkbox" || field.type === "radio" ? field.checked : field.value);
  const mark = () => {
    let changed = 0;
    for (const [field, value] of initial) {
      const now = field.type === "checkbox" || field.type === "radio" ? field.checked : field.value;
      const differs = now !== value;
      field.classList.toggle("changed", differs);
      if (differs) changed += 1;
    }
    form.dataset.changed = changed;
    unsaved = [...document.querySelectorAll("form[data-track-changes]")].reduce((n, f) => n + Number(f.dataset.changed || 0), 0);
  };
  form.addEventListener("input", mark);
  form.addEventListener("change", mark);
  form.addEventListener("submit", () => { form.dataset.changed = 0; unsaved = 0; });
}
window.addEventListener("beforeunload", (event) => {
  if (unsaved > 0) {
    event.preventDefault();
    event.returnValue = "";
  }
});

// Authentication method: the IP field only for IP authentication.
for (const box of document.querySelectorAll("[data-auth-switch]")) {
  const show = () => {
    const method = box.querySelector('input[name="auth_method"]:checked');
    for (const part of box.querySelectorAll("[data-auth]")) part.hidden = !method || part.dataset.auth !== method.value;
  };
  box.addEventListener("change", show);
  show();
}

// Access rules: one more empty row.
onClick("[data-add-rule]", (event, button) => {
  const body = button.closest("fieldset").querySelector("table[data-rules] tbody");
  const row = body.rows[body.rows.length - 1].cloneNode(true);
  const index = body.rows.length + 1;
  row.querySelector("select").setAttribute("aria-label", `Action of rule ${index}`);
  const input = row.querySelector("input");
  input.value = "";
  input.setAttribute("aria-label", `Network of rule ${index}`);
  body.appendChild(row);
});

// A password revealed on click, in place: the reveal's answer page (audited, never cached)
// holds it as #revealed; without this script the browser shows that page itself.
for (const form of document.querySelectorAll("form[data-reveal]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" });
    const answer = new DOMParser().parseFromString(await response.text(), "text/html");
    const revealed = answer.getElementById("revealed");
    if (!response.ok || !revealed) { form.submit(); return; }
    document.getElementById(form.dataset.reveal).textContent = revealed.textContent;
  });
}

// Live progress: refetch the part while the job is queued or running.
for (const box of document.querySelectorAll("[data-refresh]")) {
  const tick = async () => {
    const response = await fetch(box.dataset.refresh, { credentials: "same-origin" });
    if (!response.ok) return;
    box.innerHTML = await response.text();
    const state = box.querySelector("[data-state]");
    if (state && ["queued", "running"].includes(state.dataset.state)) setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
}
