// Says once that a front end rendered the widget (widgets/_publish.py): the saved static fallback of a
// widget shown on a live page is then left alone.
function render({ model, el }) {
  el.style.display = "none";
  model.send({ kind: "seen" });
}
export default { render };
