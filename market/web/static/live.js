// A part of a page kept current by the server's event stream (no reload needed): the element with
// `data-stream` is replaced by each event's HTML. Without this script, or without EventSource, the
// page still works with its reload link.
(function () {
  "use strict";
  var part = document.querySelector("[data-stream]");
  if (!part || !window.EventSource) return;
  var waiting = null;
  // Someone writing in an opened form (a decline reason) keeps it until they close it.
  function busy() { return part.querySelector("details[open]") !== null; }
  function show(html) {
    if (busy()) { waiting = html; return; }
    waiting = null;
    part.innerHTML = html;
    if (window.marketTick) window.marketTick();
  }
  part.addEventListener("toggle", function () { if (waiting !== null) show(waiting); }, true);
  // The server ends each stream after a while; EventSource reconnects by itself.
  var source = new EventSource(part.getAttribute("data-stream"));
  source.onmessage = function (event) { show(event.data); };
})();
