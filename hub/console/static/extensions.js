// Goosuke console: the extensions page's tool search keeps the selection across searches. A search sends,
// with its words, every tool picked so far (those of earlier searches, kept as hidden fields, and the boxes
// ticked now); the next page ticks them again, and the bulk buttons act on all of them.
(function () {
  "use strict";
  var search = document.getElementById("search-tools");
  var tools = document.getElementById("tool-form");
  if (!search || !tools) { return; }
  function picked() {
    var found = [];
    tools.querySelectorAll("input[name=sel]").forEach(function (input) {
      if (input.type === "hidden" || input.checked) { found.push(input.value); }
    });
    return found;
  }
  search.addEventListener("submit", function () {
    search.querySelectorAll("input[name=sel]").forEach(function (input) { input.remove(); });
    picked().forEach(function (value) {
      var hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "sel";
      hidden.value = value;
      search.appendChild(hidden);
    });
  });
  tools.addEventListener("change", function () {
    tools.setAttribute("data-picked", String(picked().length));
  });
})();
