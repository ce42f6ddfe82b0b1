// The dashboard's only script: draws the page's charts, guards dangerous buttons and
// turns keys into clicks where a page asks for it (data-key="x" on a button or link).
(function () {
  "use strict";
  var figures = JSON.parse(document.getElementById("figures").textContent || "{}");
  if (window.Plotly) {
    Object.keys(figures).forEach(function (id) {
      var element = document.getElementById(id);
      if (!element) { return; }
      var figure = figures[id];
      window.Plotly.newPlot(element, figure.data, figure.layout,
        { displaylogo: false, responsive: true });
    });
  }
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  var keyed = {};
  document.querySelectorAll("[data-key]").forEach(function (element) {
    keyed[element.getAttribute("data-key")] = element;
  });
  if (Object.keys(keyed).length === 0) { return; }
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.isContentEditable ||
      /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if (typing || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var element = keyed[event.key];
    if (element) { event.preventDefault(); element.click(); }
  });
}());
