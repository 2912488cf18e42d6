// Goosuke console: the template editor's live part. As the user types, the draft is posted (with the
// page's CSRF token) to the console's draft endpoint, which checks it as template_create would, renders the
// preview with the sample values and ranks the catalog for the prompt; the answer's errors go next to their
// fields, the preview is shown as text, the recommendations arrive as HTML the hub rendered (and escaped).
(function () {
  "use strict";
  var form = document.getElementById("template-form");
  if (!form || !window.fetch) { return; }
  var rows = document.getElementById("params");
  var blank = document.getElementById("param-row");
  var preview = document.getElementById("preview");
  var previewInstructions = document.getElementById("preview-instructions");
  var recommendations = document.getElementById("recommendations");
  var timer = null;
  var asked = 0;

  function show(span, text) {
    span.textContent = text || "";
    span.hidden = !text;
  }

  function apply(answer) {
    var errors = answer.errors || {};
    form.querySelectorAll("span.field-error[id^='err-']").forEach(function (span) {
      show(span, errors[span.id.slice(4)]);
    });
    rows.querySelectorAll("tr.param-row").forEach(function (row) {
      var key = row.querySelector(".p-key").value.trim();
      show(row.querySelector(".p-error"), errors["param:" + key] || errors["sample:" + key]);
    });
    var invalid = Object.keys(errors).length > 0;
    form.setAttribute("data-valid", invalid ? "no" : "yes");
    preview.textContent = answer.prompt === null ? "" : answer.prompt;
    previewInstructions.textContent = answer.instructions || "";
    previewInstructions.hidden = !answer.instructions;
    recommendations.innerHTML = answer.recommendations;
    form.setAttribute("data-checks", String(Number(form.getAttribute("data-checks") || "0") + 1));
  }

  function check() {
    var mine = ++asked;
    fetch(form.getAttribute("data-draft"), { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        if (response.redirected || !response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (answer) { if (mine === asked) { apply(answer); } })
      .catch(function () { form.setAttribute("data-valid", "unknown"); });
  }

  function soon() {
    if (timer) { window.clearTimeout(timer); }
    timer = window.setTimeout(check, 300);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  form.addEventListener("click", function (event) {
    var target = event.target;
    if (target.id === "add-param") {
      event.preventDefault();
      rows.appendChild(blank.content.cloneNode(true));
      rows.lastElementChild.querySelector(".p-key").focus();
      soon();
    } else if (target.classList && target.classList.contains("remove-param")) {
      target.closest("tr").remove();
      soon();
    }
  });
  check();
})();
