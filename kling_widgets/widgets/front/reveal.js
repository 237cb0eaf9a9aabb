// Reveal (widgets/reveal.py): scroll a widget of this bundle into view and outline it for a moment.
// The kernel sends {kind: "reveal", css, block}; css is the class it gave the target widget.
function render({ model, el }) {
  el.style.display = "none";
  const onMessage = (message) => {
    if (!message || message.kind !== "reveal" || !/^kw-reveal-[\w-]+$/.test(message.css || "")) return;
    const root = el.closest(".kw-root") || document;
    let tries = 0;
    const find = () => {
      const target = root.querySelector("." + message.css);
      if (!target || !target.offsetParent) {  // the card's view may not be drawn yet
        if (tries++ < 40) setTimeout(find, 50);
        return;
      }
      const still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      target.scrollIntoView({ behavior: still ? "auto" : "smooth", block: message.block || "nearest" });
      target.classList.remove("kw-flash");
      void target.offsetWidth;  // restart the outline's animation when shown twice
      target.classList.add("kw-flash");
      setTimeout(() => target.classList.remove("kw-flash"), 2600);
    };
    find();
  };
  model.on("msg:custom", onMessage);
  return () => model.off("msg:custom", onMessage);
}
export default { render };
