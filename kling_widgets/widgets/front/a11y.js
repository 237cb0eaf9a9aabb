// Keyboard and screen-reader support ipywidgets cannot give from Python (widgets/a11y.py says what and why).
// Installed once per page however many parts carry it; kept true by a MutationObserver as widgets redraw.
const SCOPE = ".kw-root, .kw-part, .kw-task";  // every part of the package marks its root with one of these

const inScope = (sel) => SCOPE.split(",").map((s) => `${s.trim()} ${sel}`).join(",");
const set = (el, name, value) => { if (el.getAttribute(name) !== value) el.setAttribute(name, value); };
const PRESS = inScope(".jupyter-widget-Collapse-header") + "," + inScope(".kw-press");

function apply() {
  for (const root of document.querySelectorAll(SCOPE)) set(root, "data-lm-suppress-shortcuts", "true");
  for (const el of document.querySelectorAll(inScope(".widget-toggle-button"))) {
    set(el, "aria-pressed", String(el.classList.contains("mod-active")));
  }
  for (const el of document.querySelectorAll(inScope(".widget-toggle-buttons"))) set(el, "role", "group");
  for (const el of document.querySelectorAll(inScope("button .fa"))) set(el, "aria-hidden", "true");
  for (const el of document.querySelectorAll(inScope(".jupyter-widget-Collapse-header"))) {
    set(el, "role", "button");
    set(el, "tabindex", "0");
    set(el, "aria-expanded", String(!!el.querySelector(".fa-caret-down")));
    const icon = el.querySelector(".fa");
    if (icon) set(icon, "aria-hidden", "true");
  }
  for (const el of document.querySelectorAll(".kw-named")) {
    // The control itself, or the field inside the widget; a group of toggle buttons is named as a group.
    const fields = "button, input, textarea, select";
    const own = el.matches(fields) || el.classList.contains("widget-toggle-buttons");
    const control = own ? el : el.querySelector(fields);
    const label = el.querySelector(":scope > .widget-label");  // where a toggle group keeps its tooltip
    const name = (control && control.getAttribute("title")) || el.getAttribute("title") || label?.getAttribute("title");
    if (control && name) set(control, "aria-label", name);
  }
  for (const el of document.querySelectorAll(inScope("button"))) {
    // A label drawn by the stylesheet (content: var(--kw-name)) is the button's name.
    const drawn = getComputedStyle(el).getPropertyValue("--kw-name").trim().replace(/^["']|["']$/g, "");
    if (drawn) set(el, "aria-label", drawn);
  }
  for (const el of document.querySelectorAll(".kw-live")) {
    set(el, "aria-live", "polite");
    set(el, "role", "status");
  }
  for (const el of document.querySelectorAll(inScope(".kw-press"))) {
    set(el, "tabindex", "0");
    if (!el.getAttribute("role")) set(el, "role", "button");
  }
  for (const el of document.querySelectorAll(inScope(".widget-hprogress"))) {
    set(el, "role", "progressbar");
    set(el, "aria-valuemin", "0");
    set(el, "aria-valuemax", "100");
    if (!el.getAttribute("aria-label")) set(el, "aria-label", "Progress");
    const bar = el.querySelector(".progress-bar");
    const width = bar ? parseFloat(bar.style.width || bar.style.height || "0") : NaN;
    if (!Number.isNaN(width)) set(el, "aria-valuenow", String(Math.round(width)));
  }
}

function install() {
  let queued = false;
  const schedule = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; apply(); });
  };
  new MutationObserver(schedule).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["class", "title", "style"],
  });
  // Enter or Space on a header or a kw-press element acts as a click, as on a button.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {  // Escape closes a picture's larger view
      for (const box of document.querySelectorAll(".kw-preview-toggle:checked")) box.checked = false;
      return;
    }
    if (event.key !== "Enter" && event.key !== " ") return;
    const target = event.target;
    if (!(target instanceof Element) || !target.matches(PRESS)) return;
    event.preventDefault();
    event.stopPropagation();
    target.click();
    schedule();
  }, true);
  apply();
}

function render({ el }) {
  el.style.display = "none";
  if (!window.__klingWidgetsA11y) {
    window.__klingWidgetsA11y = true;
    install();
  }
}
export default { render };
