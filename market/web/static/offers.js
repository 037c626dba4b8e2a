// The volunteer's offers list, kept current by the server's event stream (no reload needed).
// Without this script, or without EventSource, the page still works with its reload link.
(function () {
  "use strict";
  var list = document.getElementById("offer-list");
  if (!list || !window.EventSource) return;
  var waiting = null;
  // Someone writing a decline reason keeps their form until they close it.
  function busy() { return list.querySelector("details[open]") !== null; }
  function show(html) {
    if (busy()) { waiting = html; return; }
    waiting = null;
    list.innerHTML = html;
    if (window.marketTick) window.marketTick();
  }
  list.addEventListener("toggle", function () { if (waiting !== null) show(waiting); }, true);
  // The server ends each stream after a while; EventSource reconnects by itself.
  var source = new EventSource(list.getAttribute("data-stream"));
  source.onmessage = function (event) { show(event.data); };
})();
