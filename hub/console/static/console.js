// Goosuke console: the one script. A live page (an element with data-live="<event stream URL>") is kept
// current by server-sent events: each "update" event carries the page part, already rendered (and escaped)
// by the hub. EventSource reconnects by itself when the stream drops; the badge says whether it is live.
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  var badge = document.getElementById("live-state");
  function mark(ok) {
    if (!badge) { return; }
    badge.textContent = ok ? badge.getAttribute("data-live-text") : badge.getAttribute("data-offline-text");
    badge.className = ok ? "badge ok" : "badge";
    badge.setAttribute("data-connected", ok ? "yes" : "no");
  }
  if (!live || !window.EventSource) { if (badge) { badge.hidden = true; } return; }
  var source = new EventSource(live.getAttribute("data-live"));
  source.onopen = function () { mark(true); };
  source.onerror = function () { mark(false); };
  source.addEventListener("update", function (event) {
    live.innerHTML = event.data;
    live.setAttribute("data-updates", String(Number(live.getAttribute("data-updates") || "0") + 1));
    mark(true);
  });
  source.addEventListener("signin", function (event) {
    source.close();
    var to = JSON.parse(event.data).to;
    window.location.href = to + (to.indexOf("?") < 0 ? "?" : "&") + "next=" +
      encodeURIComponent(window.location.pathname + window.location.search);
  });
  source.addEventListener("gone", function () { source.close(); mark(false); });
  // Leaving the page (a form posted, a link followed): stop listening, so a late event cannot redirect.
  document.addEventListener("submit", function () { source.close(); });
  window.addEventListener("beforeunload", function () { source.close(); });
})();
